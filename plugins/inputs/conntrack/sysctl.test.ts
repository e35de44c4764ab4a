import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseGoFloat, readSysctlFields, sysctlFieldName } from './sysctl';
import { withDefaults as withSchemaDefaults } from '../../../test/support/options';
import plugin from './index';
import type { ConntrackOptions } from './options';
import { TestAccumulator } from '../../../test/support/accumulator';
import { CaptureLogger, inputContext } from '../../../test/support/capture-log';

const read = (f: string): string => fs.readFileSync(f, 'utf8');

describe('sysctl files (Telegraf method A)', () => {
  test('field names: ip_ + the part after the first underscore', () => {
    assert.equal(sysctlFieldName('nf_conntrack_count'), 'ip_conntrack_count');
    assert.equal(sysctlFieldName('ip_conntrack_max'), 'ip_conntrack_max');
    assert.equal(sysctlFieldName('nf_conntrack_buckets'), 'ip_conntrack_buckets');
    assert.equal(sysctlFieldName('nounderscore'), undefined);
  });

  test('values are floats; missing files skipped; a later dir overwrites', () => {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-a-'));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-b-'));
    fs.writeFileSync(path.join(a, 'nf_conntrack_count'), '464\n');
    fs.writeFileSync(path.join(a, 'nf_conntrack_max'), '100\n');
    fs.writeFileSync(path.join(b, 'nf_conntrack_max'), '262144\n');
    const r = readSysctlFields([a, b], ['nf_conntrack_count', 'nf_conntrack_max', 'ip_conntrack_count', 'plain'], read);
    assert.deepEqual([...r.fields], [
      ['ip_conntrack_count', 464],
      ['ip_conntrack_max', 262144],
    ]);
    assert.deepEqual(r.errors, []);
  });

  test('parse errors use Telegraf text (two spaces before "found")', () => {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-c-'));
    fs.writeFileSync(path.join(a, 'nf_conntrack_count'), 'abc\n');
    const r = readSysctlFields([a], ['nf_conntrack_count'], read);
    assert.equal(r.fields.size, 0);
    assert.deepEqual(r.errors, ['failed to parse metric, expected number but  found "abc": strconv.ParseFloat: parsing "abc": invalid syntax']);
  });

  test('read errors use Telegraf text', () => {
    const r = readSysctlFields(['/d'], ['nf_conntrack_count'], () => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'open' });
    });
    assert.deepEqual(r.errors, ['failed to read file "/d/nf_conntrack_count": open /d/nf_conntrack_count: permission denied']);
  });

  test('Go float syntax', () => {
    assert.equal(parseGoFloat('12'), 12);
    assert.equal(parseGoFloat('-1.5e3'), -1500);
    assert.equal(parseGoFloat('+Inf'), Infinity);
    assert.equal(parseGoFloat(''), undefined);
    assert.equal(parseGoFloat('1 2'), undefined);
    assert.equal(parseGoFloat('0x10'), undefined);
  });
});

describe('dirs = [] and files = [] fall back to the defaults (Telegraf conntrack.go 148-156, issue 13 item 9)', () => {
  const gather = async (opts: Record<string, unknown>): Promise<TestAccumulator> => {
    const o = withSchemaDefaults<ConntrackOptions>(plugin.schema, opts);
    const input = plugin.create(o, inputContext(new CaptureLogger('inputs.conntrack'), 'inputs.conntrack'));
    await input.init?.();
    const acc = new TestAccumulator();
    await input.gather(acc);
    await input.stop?.();
    return acc;
  };

  test('files = []: the default file names are read in the configured dirs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-files-'));
    fs.writeFileSync(path.join(dir, 'nf_conntrack_count'), '42\n');
    const acc = await gather({ dirs: [dir], files: [] });
    assert.equal(acc.value('conntrack', {}, 'ip_conntrack_count'), 42);
  });

  test('dirs = []: the default directories are read', async () => {
    // What the defaults hold on this machine, read directly (the module may be absent: then no field either way).
    let expected: number | undefined;
    for (const d of ['/proc/sys/net/ipv4/netfilter', '/proc/sys/net/netfilter']) {
      try {
        expected = Number(fs.readFileSync(path.join(d, 'nf_conntrack_max'), 'utf8').trim());
      } catch {
        /* not there */
      }
    }
    const acc = await gather({ dirs: [], files: ['nf_conntrack_max'] });
    if (expected === undefined) assert.match(acc.errors.join('\n'), /conntrack input failed to collect metrics/);
    else assert.equal(acc.value('conntrack', {}, 'ip_conntrack_max'), expected);
  });
});
