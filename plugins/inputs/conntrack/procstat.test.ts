import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { sourcePath } from '../../../test/support/paths';
import { FieldType } from '../../../core/metric';
import { parseProcStat, StatLayoutError, TELEGRAF_STAT_FIELDS, type ProcStatTable } from './procstat';
import { procStatRows, netlinkStatRows } from './stats';

const fixture = (name: string): string => fs.readFileSync(sourcePath(__dirname, 'testdata', name), 'utf8');

function table(text: string): ProcStatTable {
  const t = parseProcStat(text);
  assert.ok(!(t instanceof StatLayoutError), t instanceof StatLayoutError ? t.message : '');
  return t as ProcStatTable;
}

function fieldValue(fields: Record<string, unknown>, name: string): number {
  const f = fields[name] as { type: FieldType; value: number } | undefined;
  assert.ok(f, `field ${name} missing`);
  assert.equal(f.type, FieldType.Uint, `${name} must be uint`);
  return Number(f.value);
}

describe('/proc/net/stat/nf_conntrack header parsing', () => {
  test('new header (clashres, chainlength) maps to Telegraf names', () => {
    const t = table(fixture('nf_conntrack.new'));
    assert.deepEqual(t.fields, [...TELEGRAF_STAT_FIELDS]);
    assert.equal(t.rows.length, 2);
    assert.equal(t.rows[0].values[t.fields.indexOf('searched')], 2); // clashres column
    assert.equal(t.rows[0].values[t.fields.indexOf('delete_list')], 1); // chainlength column
    assert.equal(t.rows[0].values[t.fields.indexOf('search_restart')], 0x29);
  });

  test('old header (searched, delete_list) gives the same field names', () => {
    const t = table(fixture('nf_conntrack.old'));
    assert.deepEqual(t.fields, [...TELEGRAF_STAT_FIELDS]);
    assert.equal(t.rows.length, 4);
    assert.deepEqual(t.rows.map((r) => r.values[1]), [0x100, 0x101, 0x102, 0x103]);
  });

  test('an unknown column is one clear error, not misread fields', () => {
    const t = parseProcStat(fixture('nf_conntrack.unknown'), '/x/nf_conntrack');
    assert.ok(t instanceof StatLayoutError);
    assert.match(t.message, /unknown column layout in \/x\/nf_conntrack/);
    assert.match(t.message, /"frobnicated"/);
  });

  test('a header not starting with entries is a layout error', () => {
    const t = parseProcStat('cpu found\n00000001 00000002\n');
    assert.ok(t instanceof StatLayoutError);
  });

  test('bad rows are skipped with warnings; CPU numbers follow the file rows', () => {
    const t = table(fixture('nf_conntrack.malformed'));
    assert.deepEqual(t.fields, ['entries', 'searched', 'found']);
    assert.equal(t.rows.length, 1);
    assert.equal(t.rows[0].cpu, 2);
    assert.deepEqual(t.rows[0].values, [2, 4, 5]);
    assert.equal(t.warnings.length, 2);
  });

  test('malformed content never throws', () => {
    const samples = ['', '\n\n', 'entries', 'entries found\n', 'entries entries\n1 2\n', '\u0000\u0001garbage', 'entries found\n-1 0x5\n', 'entries found\n1 2 3 4 5\n'];
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const base = fixture('nf_conntrack.new');
    for (let i = 0; i < 300; i++) {
      const chars = base.split('');
      for (let k = 0; k < 10; k++) chars[Math.floor(rnd() * chars.length)] = String.fromCharCode(Math.floor(rnd() * 128));
      samples.push(chars.join('').slice(0, Math.floor(rnd() * base.length)));
    }
    for (const s of samples) {
      const r = parseProcStat(s);
      assert.ok(r instanceof StatLayoutError || Array.isArray(r.rows));
    }
  });
});

describe('per-CPU stats rows', () => {
  test('cpu=all sums the counters but carries entries once (Telegraf multiplies it)', () => {
    const t = table(fixture('nf_conntrack.old'));
    const rows = procStatRows(t, { all: true, percpu: true }, {});
    assert.equal(rows.length, 5);
    assert.deepEqual(rows.map((r) => r.tags.cpu), ['cpu0', 'cpu1', 'cpu2', 'cpu3', 'all']);
    const all = rows[4].fields;
    assert.equal(fieldValue(all, 'entries'), 0x10);
    assert.equal(fieldValue(all, 'searched'), 0x100 + 0x101 + 0x102 + 0x103);
    assert.equal(fieldValue(all, 'insert'), 5 + 6 + 7 + 8);
    assert.equal(fieldValue(rows[1].fields, 'entries'), 0x10);
  });

  test('collect = ["all"] gives one row, ["percpu"] one per CPU', () => {
    const t = table(fixture('nf_conntrack.new'));
    assert.deepEqual(procStatRows(t, { all: true, percpu: false }, { namespace: 'x' }).map((r) => r.tags), [{ namespace: 'x', cpu: 'all' }]);
    assert.equal(procStatRows(t, { all: false, percpu: true }, {}).length, 2);
  });

  test('netlink rows use Telegraf names where they correspond, kernel names otherwise', () => {
    const cpus = [0, 1].map((cpu) => ({
      cpu,
      counters: new Map<string, number>([
        ['found', 1 + cpu],
        ['invalid', 2],
        ['error', 3],
        ['clash_resolve', 4],
        ['chain_toolong', 5],
      ]),
    }));
    const rows = netlinkStatRows(cpus, { entries: 42, maxEntries: 100 }, { all: true, percpu: true }, {});
    assert.deepEqual(rows.map((r) => r.tags.cpu), ['cpu0', 'cpu1', 'all']);
    const all = rows[2].fields;
    assert.equal(fieldValue(all, 'entries'), 42);
    assert.equal(fieldValue(all, 'found'), 3);
    assert.equal(fieldValue(all, 'icmp_error'), 6);
    assert.equal(fieldValue(all, 'clash_resolve'), 8);
    assert.equal(fieldValue(all, 'chain_toolong'), 10);
    assert.equal(all.error, undefined);
  });
});
