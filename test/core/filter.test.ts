import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../core/config/load';
import { MetricFilter } from '../../core/filter/filter';
import { compileGlobs, globError } from '../../core/filter/glob';
import { FieldType, Metric } from '../../core/metric';
import { RunningInput } from '../../core/models/running_input';
import { RunningOutput } from '../../core/models/running_output';
import { Logger } from '../../core/log';
import { loadRegistry } from '../../core/registry';

function m(name: string, tags: Record<string, string>, fields: string[]): Metric {
  const x = new Metric(name, 1n);
  for (const [k, v] of Object.entries(tags)) x.setTag(k, v);
  for (const f of fields) x.addField(f, FieldType.Int, 1);
  return x;
}

describe('globs (gobwas/glob syntax)', () => {
  test('wildcards, classes, alternatives, escapes', () => {
    const g = compileGlobs(['cpu*', 'mem?', 'disk[0-9]', 'net[!x]', '{a,b}c', 'lit\\*']);
    for (const yes of ['cpu', 'cpu_total', 'mem1', 'disk7', 'neta', 'ac', 'bc', 'lit*']) assert.ok(g.match(yes), yes);
    for (const no of ['xcpu', 'mem', 'mem12', 'diskx', 'netx', 'cc', 'litx']) assert.ok(!g.match(no), no);
  });
  test('exact matching when no glob characters', () => {
    const g = compileGlobs(['a.b', '{x}']);
    assert.ok(g.match('a.b'));
    assert.ok(!g.match('aXb'));
    assert.ok(g.match('{x}'));
  });
  test('separators stop * but not **', () => {
    const g = compileGlobs(['ipvs.*'], '.');
    assert.ok(g.match('ipvs.conn'));
    assert.ok(!g.match('ipvs.conn.x'));
    assert.ok(compileGlobs(['ipvs.**'], '.').match('ipvs.conn.x'));
  });
  test('invalid globs are reported', () => {
    assert.match(globError('a[bc') ?? '', /unclosed/);
    assert.match(globError('{a,b') ?? '', /unclosed/);
    assert.equal(globError('a*'), undefined);
  });
});

describe('metric filters', () => {
  test('namepass and namedrop', () => {
    const f = new MetricFilter({ namepass: ['ipvs_*'], namedrop: ['ipvs_real_*'] });
    assert.ok(f.select(m('ipvs_virtual_server', {}, ['a'])));
    assert.ok(!f.select(m('ipvs_real_server', {}, ['a'])));
    assert.ok(!f.select(m('conntrack', {}, ['a'])));
  });
  test('tagpass is OR across keys and values; tagdrop drops on any match', () => {
    const f = new MetricFilter({ tagpass: { protocol: ['tcp'], port: ['80', '44*'] } });
    assert.ok(f.select(m('x', { protocol: 'tcp', port: '1' }, ['a'])));
    assert.ok(f.select(m('x', { protocol: 'udp', port: '443' }, ['a'])));
    assert.ok(!f.select(m('x', { protocol: 'udp', port: '53' }, ['a'])));
    assert.ok(!f.select(m('x', {}, ['a'])));
    const d = new MetricFilter({ tagdrop: { address: ['10.0.*'] } });
    assert.ok(!d.select(m('x', { address: '10.0.1.1' }, ['a'])));
    assert.ok(d.select(m('x', { address: '10.1.1.1' }, ['a'])));
    const both = new MetricFilter({ tagpass: { a: ['1'] }, tagdrop: { b: ['2'] } });
    assert.ok(both.select(m('x', { a: '1', b: '3' }, ['f'])));
    assert.ok(!both.select(m('x', { a: '1', b: '2' }, ['f'])));
  });
  test('fieldinclude/fieldexclude and taginclude/tagexclude modify in place', () => {
    const f = new MetricFilter({ fieldinclude: ['*_in', 'cps'], fieldexclude: ['pps_*'], taginclude: ['addr*', 'port'], tagexclude: ['address_family'] });
    const x = m('x', { address: 'a', address_family: 'inet', port: '80', sched: 'rr' }, ['bytes_in', 'pps_in', 'cps', 'bytes_out']);
    f.modify(x);
    assert.deepEqual(x.fields.map((q) => q.key), ['bytes_in', 'cps']);
    assert.deepEqual(x.tags(), { address: 'a', port: '80' });
  });
});

describe('order of operations', () => {
  const log = new Logger('test');
  test('inputs: selectors see the raw metric, before renaming and plugin/global tags; modifiers after', () => {
    const ri = new RunningInput(
      {
        name: 'x',
        intervalNs: 10_000_000_000n,
        precisionNs: 1_000_000_000n,
        collectionJitterNs: 0n,
        collectionOffsetNs: 0n,
        nameOverride: 'renamed',
        tags: { role: 'lb', dc: 'plugin' },
        filter: { namepass: ['raw'], tagpass: { dc: ['global'] }, tagexclude: ['role'], fieldexclude: ['drop_me'] },
        startupErrorBehavior: 'error',
      },
      { gather: () => undefined },
      log,
      { dc: 'global', host: 'h' },
    );
    // namepass matches the raw name only; tagpass cannot see tags added afterwards.
    assert.equal(ri.makeMetric(m('raw', {}, ['a'])), undefined);
    const out = ri.makeMetric(m('raw', { dc: 'global' }, ['a', 'drop_me']))!;
    assert.equal(out.name, 'renamed');
    assert.deepEqual(out.tags(), { dc: 'global', host: 'h' }, 'metric tag wins over plugin and global tags; role excluded after being added');
    assert.deepEqual(out.fields.map((f) => f.key), ['a']);
    assert.equal(ri.makeMetric(m('renamed', { dc: 'global' }, ['a'])), undefined);
    // a metric left without fields by the modifiers is dropped
    assert.equal(ri.makeMetric(m('raw', { dc: 'global' }, ['drop_me'])), undefined);
  });

  test('tag precedence: metric > plugin tags > global tags', () => {
    const ri = new RunningInput(
      { name: 'x', intervalNs: 1n, precisionNs: 1n, collectionJitterNs: 0n, collectionOffsetNs: 0n, tags: { a: 'plugin', b: 'plugin' }, filter: {}, startupErrorBehavior: 'error' },
      { gather: () => undefined },
      log,
      { a: 'global', b: 'global', c: 'global' },
    );
    const out = ri.makeMetric(m('n', { a: 'metric' }, ['f']))!;
    assert.deepEqual(out.tags(), { a: 'metric', b: 'plugin', c: 'global' });
  });

  test('outputs: selectors then modifiers then name changes, so namepass sees the original name', () => {
    const written: Metric[] = [];
    const ro = new RunningOutput(
      {
        name: 'o',
        flushIntervalNs: 1n,
        flushJitterNs: 0n,
        metricBatchSize: 10,
        metricBufferLimit: 10,
        namePrefix: 'pre_',
        filter: { namepass: ['ipvs'], fieldexclude: ['x'] },
        startupErrorBehavior: 'error',
      },
      { write: async (b) => void written.push(...b) },
      log,
    );
    ro.add(m('ipvs', {}, ['a', 'x']));
    ro.add(m('pre_ipvs', {}, ['a']));
    ro.add(m('ipvs', {}, ['x']));
    assert.equal(ro.buffer.length, 1);
    assert.equal(ro.stats.metricsFiltered.value, 2);
    return ro.flush().then(() => {
      assert.equal(written[0].name, 'pre_ipvs');
      assert.deepEqual(written[0].fields.map((f) => f.key), ['a']);
    });
  });
});

describe('empty filter lists are no filter (issue 13 item 1)', () => {
  // Telegraf: models/filter.go 72-73 (a modifier is active only when its list is non-empty) and
  // filter/filter.go 31-34 (an empty list compiles to no filter); config/config.go buildFilter
  // appends the deprecated `pass`/`fieldpass` (`drop`/`fielddrop`) to fieldinclude (fieldexclude).
  test('fieldinclude = [], taginclude = [], namepass = [] and the rest keep every metric, field and tag', () => {
    const empty = { namepass: [], namedrop: [], fieldinclude: [], fieldexclude: [], taginclude: [], tagexclude: [] };
    const f = new MetricFilter(empty);
    assert.equal(f.isActive, false);
    const x = m('ipvs_virtual_server', { address: '10.0.0.1', port: '80' }, ['connections', 'cps']);
    assert.ok(f.select(x));
    f.modify(x);
    assert.deepEqual(x.fields.map((q) => q.key), ['connections', 'cps']);
    assert.deepEqual(x.tags(), { address: '10.0.0.1', port: '80' });
  });

  test('through the config loader: the metric reaches the output with its fields and tags', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-filter-'));
    const file = path.join(dir, 'c.conf');
    fs.writeFileSync(
      file,
      `[[inputs.internal]]
  fieldinclude = []
  taginclude = []
  fieldpass = []
  pass = []
  namepass = []
[[outputs.file]]
  fieldinclude = []
  taginclude = []
`,
    );
    const cfg = loadConfig({ files: [file], directories: [], registry: loadRegistry() });
    const s = cfg.inputs[0];
    assert.deepEqual(cfg.warnings, [], 'pass/drop are Telegraf aliases, not ignored keys');
    const ri = new RunningInput(
      { name: 'internal', intervalNs: 1n, precisionNs: 1n, collectionJitterNs: 0n, collectionOffsetNs: 0n, tags: {}, filter: s.filter, startupErrorBehavior: 'error' },
      { gather: () => undefined },
      new Logger('test'),
      { host: 'h' },
    );
    const out = ri.makeMetric(m('internal_agent', { version: '1' }, ['metrics_gathered']));
    assert.ok(out, 'metric kept');
    assert.deepEqual(out.tags(), { host: 'h', version: '1' });
    assert.deepEqual(out.fields.map((q) => q.key), ['metrics_gathered']);
    const written: Metric[] = [];
    const ro = new RunningOutput(
      { name: 'file', flushIntervalNs: 1n, flushJitterNs: 0n, metricBatchSize: 10, metricBufferLimit: 10, filter: cfg.outputs[0].filter, startupErrorBehavior: 'error' },
      { write: async (b) => void written.push(...b) },
      new Logger('test'),
    );
    ro.add(out);
    await ro.flush();
    assert.equal(written.length, 1);
    assert.deepEqual(written[0].tags(), { host: 'h', version: '1' });
  });

  test('pass and drop are the deprecated aliases of fieldinclude and fieldexclude', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-filter-'));
    const file = path.join(dir, 'c.conf');
    fs.writeFileSync(file, '[[inputs.internal]]\n  pass = ["a*"]\n  fieldinclude = ["b"]\n  drop = ["ax"]\n[[outputs.file]]\n');
    const s = loadConfig({ files: [file], directories: [], registry: loadRegistry() }).inputs[0];
    assert.deepEqual(s.filter.fieldinclude, ['a*', 'b']);
    assert.deepEqual(s.filter.fieldexclude, ['ax']);
  });
});
