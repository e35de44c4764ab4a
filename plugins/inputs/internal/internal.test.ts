/**
 * inputs.internal as its README documents it: Telegraf's measurements, tags
 * and int fields from the agent's self statistics; collect_memstats adds
 * internal_memstats; per_instance and collect_gostats change nothing. First on
 * the process-wide statistics directly, then in a running agent.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FieldType, type Metric } from '../../../core/metric';
import { selfStats, type StatGroup } from '../../../core/selfstat';
import { version } from '../../../core/version';
import { TestAccumulator } from '../../../test/support/accumulator';
import { CaptureLogger, inputContext } from '../../../test/support/capture-log';
import { sourcePath } from '../../../test/support/paths';
import { AgentProcess, tempDir } from '../../../test/support/process';
import plugin from './index';
import { InternalInput } from './input';
import { DEFAULT_OPTIONS, type InternalOptions } from './options';

const AGENT_FIELDS = ['gather_errors', 'gather_timeouts', 'metrics_dropped', 'metrics_gathered', 'metrics_rejected', 'metrics_written', 'write_errors'];
const MEMSTATS_FIELDS = ['alloc_bytes', 'array_buffers_bytes', 'external_bytes', 'heap_alloc_bytes', 'heap_idle_bytes', 'heap_in_use_bytes', 'heap_sys_bytes', 'rss_bytes', 'sys_bytes'];

function gather(options: Partial<InternalOptions> = {}): TestAccumulator {
  const acc = new TestAccumulator();
  new InternalInput({ ...DEFAULT_OPTIONS, ...options }).gather(acc);
  return acc;
}

function only(acc: TestAccumulator, name: string, tags: Record<string, string> = {}): Metric {
  const found = acc.find(name, tags);
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(tags)}, got ${found.length}`);
  return found[0];
}

function fields(m: Metric): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of m.fields) {
    assert.equal(f.type, FieldType.Int, `${m.name}.${f.key} is an integer field`);
    out[f.key] = Number(f.value);
  }
  return out;
}

describe('inputs.internal on the self statistics', () => {
  const ipvs = { input: 'ipvs', alias: 'lb1' };
  const conn = { input: 'ip_vs_conn' };
  const file = { output: 'file' };
  const conntrackStats = { namespace: 'blue' };
  const groups: StatGroup[] = [
    { measurement: 'internal_gather', tags: ipvs },
    { measurement: 'internal_gather', tags: conn },
    { measurement: 'internal_write', tags: file },
    { measurement: 'internal_conntrack', tags: conntrackStats },
  ];
  selfStats.register('internal_gather', 'metrics_gathered', ipvs).incr(12);
  selfStats.register('internal_gather', 'errors', ipvs).incr(2);
  for (const ns of [100, 300]) selfStats.register('internal_gather', 'gather_time_ns', ipvs, true).set(ns);
  selfStats.register('internal_gather', 'gather_timeouts', ipvs);
  selfStats.register('internal_gather', 'startup_errors', ipvs);
  selfStats.register('internal_gather', 'metrics_gathered', conn).incr(30);
  selfStats.register('internal_write', 'metrics_written', file).incr(40);
  selfStats.register('internal_write', 'buffer_limit', file).set(10000);
  selfStats.register('internal_agent', 'write_errors').incr(3);
  selfStats.register('internal_conntrack', 'events', conntrackStats).incr(5);
  after(() => {
    for (const g of groups) selfStats.unregister(g);
  });

  test('internal_gather: one series per input with its tags and version; gather_errors repeats errors; gather_time_ns is the average since the last gather', () => {
    const m = only(gather(), 'internal_gather', ipvs);
    assert.deepEqual(m.tags(), { ...ipvs, version });
    assert.deepEqual(fields(m), { errors: 2, gather_errors: 2, gather_time_ns: 200, gather_timeouts: 0, metrics_gathered: 12, startup_errors: 0 });
    const next = fields(only(gather(), 'internal_gather', ipvs));
    assert.equal(next.gather_time_ns, 0, 'the timing restarts at each gather');
    assert.equal(next.metrics_gathered, 12, 'counters count since the start');
    assert.deepEqual(only(gather(), 'internal_gather', conn).tags(), { ...conn, version });
  });

  test('internal_write and a plugin\'s own internal_<plugin> series are reported with their tags and version', () => {
    const acc = gather();
    assert.deepEqual(only(acc, 'internal_write', file).tags(), { ...file, version });
    assert.deepEqual(fields(only(acc, 'internal_write', file)), { metrics_written: 40, buffer_limit: 10000 });
    const own = only(acc, 'internal_conntrack', conntrackStats);
    assert.deepEqual(own.tags(), { ...conntrackStats, version });
    assert.deepEqual(fields(own), { events: 5 });
  });

  test('internal_agent: all seven fields, metrics_gathered the sum over the inputs, go_version the Node.js version', () => {
    const m = only(gather(), 'internal_agent');
    assert.deepEqual(m.tags(), { version, go_version: process.version });
    const f = fields(m);
    assert.deepEqual(Object.keys(f).sort(), AGENT_FIELDS);
    assert.equal(f.metrics_gathered, 42);
    assert.equal(f.write_errors, 3);
    assert.equal(f.gather_errors, 0);
  });

  test('collect_memstats (default true) adds internal_memstats with the V8 heap and RSS under Telegraf\'s names; false leaves it out', () => {
    assert.equal(DEFAULT_OPTIONS.collect_memstats, true);
    const m = only(gather(), 'internal_memstats');
    assert.deepEqual(m.tags(), {});
    const f = fields(m);
    assert.deepEqual(Object.keys(f).sort(), MEMSTATS_FIELDS);
    assert.ok(f.sys_bytes > 0 && f.heap_alloc_bytes > 0 && f.heap_sys_bytes >= f.heap_in_use_bytes);
    assert.equal(f.rss_bytes, f.sys_bytes);
    assert.equal(f.alloc_bytes, f.heap_alloc_bytes);
    assert.deepEqual(gather({ collect_memstats: false }).find('internal_memstats'), []);
  });

  test('per_instance and collect_gostats are accepted and change nothing: same series, no _id tag, no Go runtime fields', () => {
    const shape = (acc: TestAccumulator): string[] =>
      acc.metrics.map((m) => `${m.name} ${Object.keys(m.tags()).sort().join(',')} ${m.fields.map((f) => f.key).sort().join(',')}`).sort();
    const plain = shape(gather());
    for (const options of [{ per_instance: true }, { collect_gostats: true }, { per_instance: true, collect_gostats: true }]) {
      const acc = gather(options);
      assert.deepEqual(shape(acc), plain, JSON.stringify(options));
      assert.ok(acc.metrics.every((m) => m.getTag('_id') === undefined));
      assert.ok(acc.metrics.every((m) => !m.getField('mallocs') && !m.getField('num_gc')));
    }
  });

  test('a series retired by a reload is no longer reported', () => {
    const gone = { input: 'removed' };
    selfStats.register('internal_gather', 'metrics_gathered', gone).incr(1);
    assert.equal(gather().find('internal_gather', gone).length, 1);
    selfStats.retire([{ measurement: 'internal_gather', tags: gone }], []);
    assert.deepEqual(gather().find('internal_gather', gone), []);
  });

  test('the descriptor creates the input from the configured options', () => {
    const acc = new TestAccumulator();
    plugin.create({ ...DEFAULT_OPTIONS, collect_memstats: false }, inputContext(new CaptureLogger('inputs.internal'), 'inputs.internal')).gather(acc);
    assert.equal(acc.find('internal_agent').length, 1);
    assert.deepEqual(acc.find('internal_memstats'), []);
  });
});

test('in a running agent: internal_gather per input (alias tag too), internal_write per output, internal_agent totals', async () => {
  const dir = tempDir('lvsagent-internal-');
  const out = path.join(dir, 'out.lp');
  const mode = path.join(dir, 'conn_reuse_mode');
  fs.writeFileSync(mode, '0\n');
  const conf = path.join(dir, 'agent.conf');
  fs.writeFileSync(
    conf,
    `[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true
[[inputs.ip_vs_conn]]
  alias = "fixture"
  path = "${sourcePath(__dirname, '..', 'ip_vs_conn', 'testdata', 'uml-6.1-ip_vs_conn.txt')}"
  conn_reuse_mode_path = "${mode}"
[[inputs.internal]]
  collect_memstats = false
[[outputs.file]]
  files = ["${out}"]
`,
  );
  const agent = new AgentProcess(['--config', conf]);
  const lines = (): string[] => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n') : []);
  const reported = (re: RegExp): string | undefined => lines().find((l) => re.test(l));
  const gatherLine = /^internal_gather,alias=fixture,input=ip_vs_conn,version=\S+ .*metrics_gathered=([1-9]\d*)i/;
  const writeLine = /^internal_write,output=file,version=\S+ .*metrics_written=([1-9]\d*)i/;
  try {
    const end = Date.now() + 30_000;
    while (!(reported(gatherLine) && reported(writeLine))) {
      assert.ok(agent.alive(), `the agent exited: ${agent.stderr}`);
      assert.ok(Date.now() < end, `no internal_gather/internal_write with counts within 30 s:\n${lines().join('\n')}\n${agent.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const gathered = reported(gatherLine)!;
    const keys = gathered.split(' ')[1].split(',').map((kv) => kv.split('=')[0]).sort();
    assert.deepEqual(keys, ['errors', 'gather_errors', 'gather_time_ns', 'gather_timeouts', 'metrics_gathered', 'startup_errors']);
    assert.match(gathered, /[ ,]errors=0i/);
    assert.match(reported(writeLine)!, /buffer_limit=10000i/);
    // The agent's total counts at least what that input had gathered (it is summed afterwards, counters only grow).
    const stamp = gathered.split(' ').pop()!;
    const total = lines().find((l) => l.startsWith('internal_agent,') && l.endsWith(` ${stamp}`));
    assert.ok(total, `an internal_agent line from the same gather (${stamp})`);
    assert.match(total, new RegExp(`^internal_agent,go_version=v[\\d.]+,version=${version.replace(/\./g, '\\.')} `));
    assert.ok(Number(/metrics_gathered=(\d+)i/.exec(total)![1]) >= Number(gatherLine.exec(gathered)![1]));
    assert.ok(!lines().some((l) => l.startsWith('internal_memstats')), 'collect_memstats = false');
  } finally {
    agent.signal('SIGTERM');
    await agent.exit();
  }
});
