/**
 * `buffer_strategy = "disk"` against the memory buffer, into a real InfluxDB
 * 1.x (private `influxd` on loopback), in the same run.
 *
 * Part 1, throughput: 1,000,000 metrics (5 tags, 8 fields, 10,000 series)
 * through a RunningOutput with outputs.influxdb (gzip level 1, batches of
 * 5,000), the way the agent does it: metrics are added (copies, as routed)
 * and one timer flush writes them batch by batch. Measured per side: add +
 * flush, i.e. for the disk buffer encoding, the log write, fdatasync
 * (buffer_disk_sync = true), reading back and the acknowledgements. Sides:
 *   memory     the memory ring (the reference)
 *   disk       the disk buffer as configured by default
 *   disk-cold  the disk buffer with no decoded window, so every batch is
 *              read back and decoded from disk (what a backlog costs)
 * They take turns chunk by chunk (20,000 metrics each), the order rotated
 * every chunk, so load from other processes hits all alike; each side
 * writes into its own database. Reported: totals, and the median over
 * chunks of each disk side's throughput relative to the memory side of the
 * same round. Target: disk ≥ 0.7 × memory.
 *
 * Part 2, a backlog: 10,000,000 metrics are buffered on disk while the
 * output is down (a fresh process), then another process opens the buffer
 * and drains it into InfluxDB, sampling its RSS every 100 ms. Target: RSS
 * under 150 MB; the drain rate is reported, with the rate of draining into
 * an output that discards (the buffer's own cost) beside it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '../core/log';
import { Metric } from '../core/metric';
import type { OutputBuffer } from '../core/models/buffer';
import { DiskBuffer } from '../core/models/disk/disk_buffer';
import { RunningOutput } from '../core/models/running_output';
import type { Output } from '../core/plugin';
import plugin from '../plugins/outputs/influxdb/index';
import type { InfluxDBOptions } from '../plugins/outputs/influxdb/options';
import { InfluxDBOutput } from '../plugins/outputs/influxdb/output';
import { destroyInfluxDB, startInfluxDB, type InfluxDBServer } from '../test/support/influxdb';

const TOTAL = Number(process.env.BENCH_DISK_METRICS ?? 1_000_000);
const BACKLOG = Number(process.env.BENCH_DISK_BACKLOG ?? 10_000_000);
const BATCH = 5_000;
const SERIES = 10_000;
const CHUNK = 4; // batches per turn
const GZIP_LEVEL = 1;
const T0 = 1_700_000_000_000_000_000n;
const quiet = new Logger('outputs.influxdb', 'warn');

function pool(): Metric[] {
  const out: Metric[] = [];
  for (let i = 0; i < SERIES; i++) {
    const m = new Metric('ipvs_real_server', T0);
    m.setTag('address', `10.244.${(i >> 8) & 255}.${i & 255}`);
    m.setTag('port', String(8080 + (i % 4)));
    m.setTag('virtual_address', `10.96.${(i >> 6) & 255}.${i & 63}`);
    m.setTag('virtual_port', '443');
    m.setTag('virtual_protocol', 'tcp');
    m.addInt('active_connections', 17 + (i % 100));
    m.addInt('inactive_connections', 1234 + i);
    m.addInt('weight', 1);
    m.addUint('bytes_in', 123456789 + i * 7);
    m.addUint('bytes_out', 987654321 + i * 11);
    m.addUint('pkts_in', 12345 + i);
    m.addUint('pkts_out', 54321 + i);
    m.addFloat('cps', (i % 97) / 7);
    out.push(m);
  }
  return out;
}

/** Adds the k-th batch (copies of the pool with the timestamp of its round: every point distinct). */
function addBatch(ro: RunningOutput, p: Metric[], k: number): void {
  const perRound = SERIES / BATCH;
  const t = T0 + BigInt(Math.floor(k / perRound)) * 1_000_000_000n;
  const offset = (k % perRound) * BATCH;
  for (let i = 0; i < BATCH; i++) {
    const m = p[offset + i].copy();
    m.time = t;
    ro.add(m);
  }
}

function influxOutput(server: InfluxDBServer, db: string): InfluxDBOutput {
  const opts: Record<string, unknown> = { urls: [server.url], database: db, content_encoding: 'gzip', content_encoding_level: GZIP_LEVEL, timeout: '60s' };
  const schema = plugin.schema as { properties: Record<string, { default?: unknown }> };
  for (const [k, v] of Object.entries(schema.properties)) if (!(k in opts) && v.default !== undefined) opts[k] = JSON.parse(JSON.stringify(v.default));
  return new InfluxDBOutput(opts as unknown as InfluxDBOptions, { log: quiet, section: 'outputs.influxdb', intervalNs: 10_000_000_000n, oneShot: false });
}

function runningOutput(out: Output, limit: number, buffer?: OutputBuffer): RunningOutput {
  return new RunningOutput(
    { name: 'influxdb', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: BATCH, metricBufferLimit: limit, filter: {}, startupErrorBehavior: 'error' },
    out,
    quiet,
    buffer,
  );
}

function diskBuffer(dir: string, limit: number, keepWritten = true): DiskBuffer {
  return DiskBuffer.open({ dir, owner: { output: 'influxdb', section: '[[outputs.influxdb]]' }, limit, batchSize: BATCH, sync: true, log: quiet, keepWritten });
}

async function count(server: InfluxDBServer, db: string): Promise<number> {
  const rows = await server.select('SELECT count(active_connections) FROM ipvs_real_server', db);
  return Number(rows[0]?.count ?? 0);
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')} metrics/s`;

async function throughput(server: InfluxDBServer, dir: string): Promise<void> {
  const p = pool();
  interface Side {
    name: string;
    ro: RunningOutput;
    out: InfluxDBOutput;
    secs: number;
    perChunk: number[];
  }
  const sides: Side[] = [];
  const make = (name: string, buffer?: OutputBuffer): Side => {
    const out = influxOutput(server, `bench_${name.replace('-', '_')}`);
    return { name, ro: runningOutput(out, BATCH * CHUNK, buffer), out, secs: 0, perChunk: [] };
  };
  sides.push(make('memory'));
  sides.push(make('disk', diskBuffer(path.join(dir, 'disk'), BATCH * CHUNK)));
  // Nothing it just wrote is kept decoded: every batch is read back from disk, as a backlog after a restart is.
  sides.push(make('disk-cold', diskBuffer(path.join(dir, 'cold'), BATCH * CHUNK, false)));
  for (const s of sides) await s.out.connect();
  // Warm-up: shard creation and JIT, on every side.
  for (const s of sides) {
    for (let k = 0; k < CHUNK; k++) addBatch(s.ro, p, 1_000_000 + k);
    if (!(await s.ro.flush())) throw new Error(`${s.name}: warm-up flush failed`);
  }
  const chunks = TOTAL / (BATCH * CHUNK);
  for (let c = 0; c < chunks; c++) {
    const order = [0, 1, 2].map((i) => sides[(i + c) % 3]);
    for (const s of order) {
      const t = process.hrtime.bigint();
      for (let k = 0; k < CHUNK; k++) addBatch(s.ro, p, c * CHUNK + k);
      const ok = await s.ro.flush();
      const secs = Number(process.hrtime.bigint() - t) / 1e9;
      if (!ok || s.ro.buffer.length !== 0) throw new Error(`${s.name}: flush failed`);
      s.secs += secs;
      s.perChunk.push(secs);
    }
  }
  for (const s of sides) {
    s.out.close();
    s.ro.buffer.close?.();
    const stored = await count(server, `bench_${s.name.replace('-', '_')}`);
    if (stored !== TOTAL + CHUNK * BATCH) throw new Error(`${s.name}: ${stored} points stored, expected ${TOTAL + CHUNK * BATCH}`);
  }
  const mem = sides[0];
  console.log(`throughput: ${TOTAL.toLocaleString('en-US')} metrics (5 tags, 8 fields) added and flushed through a RunningOutput into InfluxDB 1.x, batches of ${BATCH}, gzip ${GZIP_LEVEL}, buffer_disk_sync = true`);
  for (const s of sides) {
    const ratios = s.perChunk.map((secs, i) => mem.perChunk[i] / secs);
    const vs = s === mem ? '(reference)' : `ratio vs memory: total ${(mem.secs / s.secs).toFixed(2)}, median of ${ratios.length} rounds ${median(ratios).toFixed(2)}`;
    console.log(`  ${s.name.padEnd(10)} ${s.secs.toFixed(2)} s  ${rate(TOTAL, s.secs).padStart(18)}  ${vs}`);
  }
  console.log(`  target: disk >= 0.70 x memory`);
}

/** Child: buffers BACKLOG metrics on disk (the output is down), in batches with the event loop turning between them. */
async function fillBacklog(dir: string): Promise<void> {
  const p = pool();
  const buf = DiskBuffer.open({ dir, owner: { output: 'influxdb', section: '[[outputs.influxdb]]' }, limit: BACKLOG, batchSize: BATCH, sync: true, log: quiet });
  const t = process.hrtime.bigint();
  const batch: Metric[] = new Array(BATCH);
  for (let k = 0; k < BACKLOG / BATCH; k++) {
    const perRound = SERIES / BATCH;
    const time = T0 + BigInt(Math.floor(k / perRound)) * 1_000_000_000n;
    const offset = (k % perRound) * BATCH;
    for (let i = 0; i < BATCH; i++) {
      const m = p[offset + i].copy();
      m.time = time;
      batch[i] = m;
    }
    buf.add(batch);
    await new Promise<void>((r) => setImmediate(r));
  }
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  const bytes = buf.diskBytes;
  buf.close();
  process.stdout.write(JSON.stringify({ secs, bytes, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

/** Child: drains the backlog in `dir` into InfluxDB (or a discarding output) the way the agent's flushes do, sampling RSS. */
async function drain(dir: string, url: string | undefined): Promise<void> {
  const buf = DiskBuffer.open({ dir, owner: { output: 'influxdb', section: '[[outputs.influxdb]]' }, limit: BACKLOG, batchSize: BATCH, sync: true, log: quiet });
  const discard: Output = { write: async () => {} };
  let out: Output = discard;
  if (url) {
    const opts: Record<string, unknown> = { urls: [url], database: 'bench_backlog', content_encoding: 'gzip', content_encoding_level: GZIP_LEVEL, timeout: '60s' };
    const schema = plugin.schema as { properties: Record<string, { default?: unknown }> };
    for (const [k, v] of Object.entries(schema.properties)) if (!(k in opts) && v.default !== undefined) opts[k] = JSON.parse(JSON.stringify(v.default));
    const o = new InfluxDBOutput(opts as unknown as InfluxDBOptions, { log: quiet, section: 'outputs.influxdb', intervalNs: 10_000_000_000n, oneShot: false });
    await o.connect();
    out = o;
  }
  const ro = runningOutput(out, BACKLOG, buf);
  const start = buf.length;
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const t = process.hrtime.bigint();
  while (buf.length > 0) if (!(await ro.flush())) throw new Error('drain flush failed');
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  buf.close();
  (out as { close?: () => void }).close?.();
  process.stdout.write(JSON.stringify({ metrics: start, secs, peakRssMB: peak / 1048576, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

function child(args: string[]): Record<string, number> {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed (${r.status ?? r.signal})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

async function backlog(server: InfluxDBServer, dir: string): Promise<void> {
  const fill = (name: string): { dir: string; fill: Record<string, number> } => {
    const d = path.join(dir, name);
    return { dir: d, fill: child(['fill', d]) };
  };
  const a = fill('backlog-influx');
  console.log(`backlog: ${BACKLOG.toLocaleString('en-US')} metrics buffered on disk in ${a.fill.secs.toFixed(1)} s (${rate(BACKLOG, a.fill.secs)}), ${(a.fill.bytes / 1048576).toFixed(0)} MiB, max RSS ${a.fill.maxRssMB.toFixed(0)} MB`);
  await server.query('CREATE DATABASE bench_backlog');
  const d1 = child(['drain', a.dir, server.url]);
  if ((await count(server, 'bench_backlog')) !== BACKLOG) throw new Error('backlog: not every metric reached InfluxDB');
  console.log(`  drain into InfluxDB:   ${d1.secs.toFixed(1)} s  ${rate(d1.metrics, d1.secs)}, peak RSS ${d1.peakRssMB.toFixed(0)} MB (sampled), max RSS ${d1.maxRssMB.toFixed(0)} MB  (target < 150 MB)`);
  fs.rmSync(a.dir, { recursive: true, force: true });
  const b = fill('backlog-discard');
  const d2 = child(['drain', b.dir]);
  console.log(`  drain, output discards: ${d2.secs.toFixed(1)} s  ${rate(d2.metrics, d2.secs)}, peak RSS ${d2.peakRssMB.toFixed(0)} MB (sampled), max RSS ${d2.maxRssMB.toFixed(0)} MB`);
  fs.rmSync(b.dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const [mode, a1, a2] = process.argv.slice(2);
  if (mode === 'fill') return fillBacklog(a1);
  if (mode === 'drain') return drain(a1, a2);
  const parts = (process.env.BENCH_DISK_PARTS ?? 'throughput,backlog').split(',');
  if (TOTAL % (BATCH * CHUNK) !== 0 || BACKLOG % BATCH !== 0) throw new Error('metric counts must be multiples of the batch and chunk sizes');
  const server = await startInfluxDB({ maxBodySize: 0, data: { 'cache-snapshot-memory-size': '"2g"', 'cache-max-memory-size': '"8g"', 'wal-fsync-delay': '"50ms"' } });
  // On the disk the agent would use (not a tmpfs): the fsyncs are real.
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DISK_DIR ?? os.tmpdir(), 'lvsagent-bench-disk-'));
  try {
    if (parts.includes('throughput')) await throughput(server, dir);
    if (parts.includes('backlog')) await backlog(server, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await destroyInfluxDB(server);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
