/**
 * outputs.influxdb throughput into a real InfluxDB 1.x (private `influxd` on
 * loopback): 1,000,000 metrics written through the output in batches of
 * 5,000 (serialization and gzip included), beside curl posting the same
 * payloads pre-serialized and pre-compressed (same gzip level, same batch
 * size, one keep-alive connection), in the same run against the same server.
 * Each side writes into its own fresh database; the sides alternate every
 * two batches (order flipped each time) so that load from other processes and
 * InfluxDB's background work hit both alike. curl is started once per two
 * batches; its start-up time (measured, `curl file:///dev/null`) is
 * subtracted from its figure, which can only favour curl.
 * Target: ours ≥ 0.9 × curl.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Logger } from '../core/log';
import { Metric } from '../core/metric';
import { RunningOutput } from '../core/models/running_output';
import { LineProtocolSerializer } from '../core/serializers/influx';
import plugin from '../plugins/outputs/influxdb/index';
import type { InfluxDBOptions } from '../plugins/outputs/influxdb/options';
import { InfluxDBOutput } from '../plugins/outputs/influxdb/output';
import { destroyInfluxDB, startInfluxDB, type InfluxDBServer } from '../test/support/influxdb';
import { curlStartup, runCurl } from './_curl';

const TOTAL = Number(process.env.BENCH_INFLUX_METRICS ?? 1_000_000);
const BATCH = 5_000;
const SERIES = 10_000;
const GZIP_LEVEL = 1;
/** Batches per alternation step: small, so that load from other processes hits both sides alike. */
const CHUNK = 4;
const T0 = 1_700_000_000_000_000_000n;

/** SERIES distinct ipvs_real_server-like metrics (5 tags, 8 fields); their timestamps are moved on each round. */
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

/** The k-th batch: metrics of the pool with the timestamp of its round (every point is distinct). */
function fillBatch(p: Metric[], k: number, batch: Metric[]): void {
  const perRound = SERIES / BATCH;
  const round = Math.floor(k / perRound);
  const offset = (k % perRound) * BATCH;
  const t = T0 + BigInt(round) * 1_000_000_000n;
  for (let i = 0; i < BATCH; i++) {
    const m = p[offset + i];
    m.time = t;
    batch[i] = m;
  }
}

/**
 * Writes batches [from, to) the way the agent does: the metrics are buffered
 * in a RunningOutput (copies, as the agent routes them) and one timer flush
 * writes them batch by batch. Returns the seconds spent in the flush.
 */
async function runOurs(out: InfluxDBOutput, p: Metric[], from: number, to: number): Promise<number> {
  const ro = new RunningOutput(
    { name: 'influxdb', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: BATCH, metricBufferLimit: BATCH * CHUNK, filter: {}, startupErrorBehavior: 'error' },
    out,
    new Logger('outputs.influxdb', 'warn'),
  );
  const batch = new Array<Metric>(BATCH);
  for (let k = from; k < to; k++) {
    fillBatch(p, k, batch);
    for (const m of batch) ro.add(m.copy());
  }
  const t = process.hrtime.bigint();
  const ok = await ro.flush();
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  if (!ok || ro.buffer.length !== 0) throw new Error('flush failed');
  return secs;
}

function makeOutput(server: InfluxDBServer, db: string): InfluxDBOutput {
  const opts: Record<string, unknown> = { urls: [server.url], database: db, content_encoding: 'gzip', content_encoding_level: GZIP_LEVEL, timeout: '60s' };
  const schema = plugin.schema as { properties: Record<string, { default?: unknown }> };
  for (const [k, v] of Object.entries(schema.properties)) if (!(k in opts) && v.default !== undefined) opts[k] = JSON.parse(JSON.stringify(v.default));
  return new InfluxDBOutput(opts as unknown as InfluxDBOptions, { log: new Logger('outputs.influxdb', 'warn'), section: 'outputs.influxdb', intervalNs: 10_000_000_000n, oneShot: false });
}

/** Pre-serializes and pre-compresses batches [from, to) into files plus a curl config posting them in order. */
function prepareCurl(server: InfluxDBServer, db: string, p: Metric[], dir: string, from: number, to: number): string {
  const ser = new LineProtocolSerializer();
  const batch = new Array<Metric>(BATCH);
  const lines: string[] = [];
  for (let k = from; k < to; k++) {
    fillBatch(p, k, batch);
    const file = path.join(dir, `b${k}.gz`);
    fs.writeFileSync(file, zlib.gzipSync(Buffer.from(ser.serializeBatch(batch)), { level: GZIP_LEVEL }));
    if (k > from) lines.push('next');
    lines.push(`url = "${server.url}/write?db=${db}"`, `data-binary = "@${file}"`, 'header = "Content-Encoding: gzip"', 'header = "Content-Type: text/plain; charset=utf-8"', 'header = "Expect:"', 'output = "/dev/null"', 'silent', 'fail');
  }
  const cfg = path.join(dir, `curl-${from}.cfg`);
  fs.writeFileSync(cfg, lines.join('\n') + '\n');
  return cfg;
}

async function count(server: InfluxDBServer, db: string): Promise<number> {
  const rows = await server.select('SELECT count(active_connections) FROM ipvs_real_server', db);
  return Number(rows[0]?.count ?? 0);
}

/**
 * The two sides alternate chunk by chunk (CHUNK batches each, order flipped
 * every chunk), so load from other processes on the machine hits both alike.
 */
async function main(): Promise<void> {
  if (TOTAL % (BATCH * CHUNK) !== 0 || SERIES % BATCH !== 0) throw new Error('TOTAL must be a multiple of BATCH*CHUNK and SERIES of BATCH');
  // Snapshots and compactions of the cache would land on whichever side runs at the time; keep them out of the run.
  const server = await startInfluxDB({ maxBodySize: 0, data: { 'cache-snapshot-memory-size': '"2g"', 'cache-max-memory-size': '"4g"', 'wal-fsync-delay': '"50ms"' } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-bench-influx-'));
  try {
    const p = pool();
    const batches = TOTAL / BATCH;
    await server.query('CREATE DATABASE bench_curl');
    const cfgs: string[] = [];
    for (let k = 0; k < batches; k += CHUNK) cfgs.push(prepareCurl(server, 'bench_curl', p, dir, k, k + CHUNK));
    // Warm-up: the first writes pay for shard creation on both sides.
    const warm = makeOutput(server, 'bench_warmup');
    await warm.connect();
    await runOurs(warm, p, 0, CHUNK);
    warm.close();
    const out = makeOutput(server, 'bench_ours');
    await out.connect();
    const spawnCost = curlStartup(dir);
    let ours = 0;
    let curl = 0;
    const perChunk: number[] = [];
    for (let c = 0; c < cfgs.length; c++) {
      const from = c * CHUNK;
      let o: number;
      let u: number;
      if (c % 2 === 0) {
        o = await runOurs(out, p, from, from + CHUNK);
        u = runCurl(cfgs[c]) - spawnCost;
      } else {
        u = runCurl(cfgs[c]) - spawnCost;
        o = await runOurs(out, p, from, from + CHUNK);
      }
      ours += o;
      curl += u;
      perChunk.push(u / o);
    }
    out.close();
    const [a, b] = [await count(server, 'bench_ours'), await count(server, 'bench_curl')];
    if (a !== TOTAL || b !== TOTAL) throw new Error(`points stored: ours ${a}, curl ${b}, expected ${TOTAL} each`);
    const rate = (s: number) => `${Math.round(TOTAL / s).toLocaleString('en-US')} metrics/s`;
    console.log(`influxdb v1 write, ${TOTAL.toLocaleString('en-US')} metrics (5 tags, 8 fields), batches of ${BATCH}, gzip level ${GZIP_LEVEL}, InfluxDB 1.x on loopback`);
    console.log(`  ours (serialize + gzip + POST):      ${ours.toFixed(2)} s  ${rate(ours)}`);
    console.log(`  curl (pre-serialized, pre-gzipped): ${curl.toFixed(2)} s  ${rate(curl)}`);
    const sorted = perChunk.slice().sort((x, y) => x - y);
    const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))].toFixed(2);
    console.log(`  curl start-up subtracted per invocation: ${(spawnCost * 1000).toFixed(1)} ms (${cfgs.length} invocations)`);
    console.log(`  per-step ratios (curl/ours time): p10 ${q(0.1)}  median ${q(0.5)}  p90 ${q(0.9)}`);
    console.log(`  ratio ours/curl throughput: ${(curl / ours).toFixed(2)} (target >= 0.90)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await destroyInfluxDB(server);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
