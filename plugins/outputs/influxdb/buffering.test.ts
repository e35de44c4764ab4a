/**
 * Delivery through the agent's RunningOutput (ring buffer, batches, retry at
 * the next flush) into a real InfluxDB that is stopped for a while: whatever
 * fits in metric_buffer_limit arrives exactly once after the restart, the
 * overflow is counted, and nothing is sent twice on the wire.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { int, Metric } from '../../../core/metric';
import { DiskBuffer } from '../../../core/models/disk/disk_buffer';
import { RunningOutput } from '../../../core/models/running_output';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { startFaultProxy, type FaultProxy } from '../../../test/support/faultproxy';
import { destroyInfluxDB, InfluxDBUnavailable, skipOrFail, startInfluxDB, type InfluxDBServer } from '../../../test/support/influxdb';
import { withDefaults } from '../../../test/support/options';
import plugin from './index';
import type { InfluxDBOptions } from './options';

let server: InfluxDBServer | undefined;
let proxy: FaultProxy | undefined;
let unavailable = '';
let wire = '';

before(async () => {
  try {
    server = await startInfluxDB();
    // Counts what reaches the server (identity encoding, so lines are readable).
    proxy = await startFaultProxy(server.port, '127.0.0.1', { onForward: (d) => (wire += d.toString('latin1')) });
  } catch (err) {
    if (err instanceof InfluxDBUnavailable) unavailable = err.message;
    else throw err;
  }
});

after(async () => {
  await proxy?.close();
  if (server) await destroyInfluxDB(server);
});

test('server down for a while: buffered metrics arrive once after restart, overflow counted', async (t) => {
  if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
  const log = new CaptureLogger('outputs.influxdb');
  const opts = withDefaults<InfluxDBOptions>(plugin.schema, { urls: [proxy.url], database: 'buffered', content_encoding: 'identity', timeout: '2s' });
  const output = plugin.create(opts, outputContext(log, 'outputs.influxdb'));
  const ro = new RunningOutput(
    {
      name: 'influxdb',
      alias: 'buffering-test',
      flushIntervalNs: 1_000_000_000n,
      flushJitterNs: 0n,
      metricBatchSize: 100,
      metricBufferLimit: 1000,
      filter: {},
      startupErrorBehavior: 'error',
    },
    output,
    log,
  );
  await output.connect?.();
  const base = BigInt(Date.now()) * 1_000_000n;
  let id = 0;
  const add = (n: number) => {
    for (let i = 0; i < n; i++, id++) ro.add(Metric.from('buf', { id: String(id) }, { v: int(id) }, base + BigInt(id)));
  };

  add(300);
  assert.equal(await ro.flush(), true);
  assert.equal(ro.buffer.length, 0);

  await server.stop();
  add(700);
  assert.equal(await ro.flush(), false, 'write fails while the server is down');
  assert.equal(ro.buffer.length, 700, 'failed batch kept');
  add(800); // 1500 buffered in total for a limit of 1000: the 500 oldest are overwritten
  assert.equal(ro.buffer.length, 1000);
  assert.equal(ro.stats.metricsDropped.value, 500);
  assert.equal(await ro.flush(), false);
  assert.match(log.text(), /Metric buffer overflow; 500 metrics have been dropped/);
  assert.match(log.text(), /could not write any address/);

  await server.start();
  assert.equal(await ro.flush(), true);
  assert.equal(ro.buffer.length, 0);

  const rows = await server.select('SELECT v FROM buf', 'buffered');
  const ids = rows.map((r) => Number(r.v)).sort((a, b) => a - b);
  const expected = [...Array(300).keys(), ...Array.from({ length: 1000 }, (_, i) => 800 + i)];
  assert.deepEqual(ids, expected, 'ids 0-299, then the newest 1000 (800-1799) of the 1500 (300-1799) buffered while down');
  // On the wire: every delivered metric was sent exactly once.
  const sent = new Map<string, number>();
  for (const m of wire.matchAll(/^buf,id=(\d+) /gm)) sent.set(m[1], (sent.get(m[1]) ?? 0) + 1);
  assert.equal(sent.size, 1300);
  assert.ok([...sent.values()].every((n) => n === 1), 'no metric sent twice');
  assert.equal(ro.stats.metricsWritten.value, 1300);
  await output.close?.();
});

test('disk buffer: server down across a restart of the output; after it comes back every metric arrives once, overflow counted', async (t) => {
  if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
  wire = '';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-influx-disk-'));
  const log = new CaptureLogger('outputs.influxdb');
  const opts = withDefaults<InfluxDBOptions>(plugin.schema, { urls: [proxy.url], database: 'buffered_disk', content_encoding: 'identity', timeout: '2s' });
  const config = {
    name: 'influxdb',
    alias: 'buffering-disk-test',
    flushIntervalNs: 1_000_000_000n,
    flushJitterNs: 0n,
    metricBatchSize: 100,
    metricBufferLimit: 1000,
    filter: {},
    startupErrorBehavior: 'error' as const,
  };
  // What an agent start builds for this output: the plugin, its disk buffer, the RunningOutput.
  const start = () => {
    const output = plugin.create(opts, outputContext(log, 'outputs.influxdb'));
    const buffer = DiskBuffer.open({ dir, owner: { output: 'influxdb', section: '[[outputs.influxdb]]' }, limit: 1000, batchSize: 100, sync: true, log });
    return { output, buffer, ro: new RunningOutput(config, output, log, buffer) };
  };
  const base = BigInt(Date.now()) * 1_000_000n;
  const add = (ro: RunningOutput, from: number, to: number) => {
    for (let id = from; id < to; id++) ro.add(Metric.from('bufdisk', { id: String(id) }, { v: int(id) }, base + BigInt(id)));
  };
  try {
    let s = start();
    await s.output.connect?.();
    add(s.ro, 0, 300);
    assert.equal(await s.ro.flush(), true);
    await server.stop();
    add(s.ro, 300, 1000);
    assert.equal(await s.ro.flush(), false, 'write fails while the server is down');
    // The process ends (its buffer closed as at a stop) and starts again while the server is still down.
    s.output.close?.();
    s.buffer.close();
    s = start();
    assert.equal(s.ro.buffer.length, 700, 'the backlog is back after the restart');
    add(s.ro, 1000, 1500); // 1200 for a limit of 1000: the 200 oldest go
    assert.equal(s.ro.buffer.length, 1000);
    assert.equal(s.ro.stats.metricsDropped.value, 200);
    assert.equal(await s.ro.flush(), false);
    assert.match(log.text(), /Metric buffer overflow; 200 metrics have been dropped/);
    await server.start();
    assert.equal(await s.ro.flush(), true);
    assert.equal(s.ro.buffer.length, 0);
    const rows = await server.select('SELECT v FROM bufdisk', 'buffered_disk');
    const ids = rows.map((r) => Number(r.v)).sort((a, b) => a - b);
    assert.deepEqual(ids, [...Array(300).keys(), ...Array.from({ length: 1000 }, (_, i) => 500 + i)], 'ids 0-299, then the newest 1000 of the 1200 buffered while down');
    const sent = new Map<string, number>();
    for (const m of wire.matchAll(/^bufdisk,id=(\d+) /gm)) sent.set(m[1], (sent.get(m[1]) ?? 0) + 1);
    assert.equal(sent.size, 1300);
    assert.ok([...sent.values()].every((n) => n === 1), 'no metric sent twice');
    s.output.close?.();
    s.buffer.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
