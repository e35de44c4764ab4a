/**
 * outputs.http remote write throughput into a real VictoriaMetrics (private,
 * loopback): 1,008,000 samples of `ipvs_real_server` metrics as lvsagent
 * emits them (bench/_ipvs-metrics.ts, 16 numeric fields each), buffered in a
 * RunningOutput and written by timer flushes in batches of 1,000 metrics
 * (encoding included), beside curl posting the same requests pre-encoded,
 * one keep-alive connection, in the same run against the same server. The
 * sides alternate every 4 batches (order flipped each time) so that load
 * from other processes hits both alike; each side writes its own series (a
 * `side` label). curl's start-up time is subtracted, which can only favour
 * curl. Target: ours ≥ 0.9 × curl.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '../core/log';
import type { Metric, TagSet } from '../core/metric';
import { RunningOutput } from '../core/models/running_output';
import { RemoteWriteSerializer } from '../core/serializers/remote_write';
import plugin from '../plugins/outputs/http/index';
import type { HttpOutputOptions } from '../plugins/outputs/http/options';
import { HttpOutput } from '../plugins/outputs/http/output';
import { withDefaults } from '../test/support/options';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../test/support/victoriametrics';
import { curlStartup, runCurl } from './_curl';
import { gather, SERVERS } from './_ipvs-metrics';

const GATHERS = 63;
const CHUNK = 4;
const SAMPLES_PER_METRIC = 16;

/** Frozen tag sets with the `side` label, one per series and side (as the agent's input step keeps its sets frozen). */
const sided = new Map<string, Map<TagSet, TagSet>>();

/** Gather g's metrics for one side, at a recent time so that VictoriaMetrics keeps them. */
function batch(g: number, side: string, base: bigint): Metric[] {
  let sets = sided.get(side);
  if (!sets) sided.set(side, (sets = new Map()));
  const ms = gather(g);
  for (const m of ms) {
    let tags = sets.get(m.tagSet);
    if (!tags) {
      const t = m.tagSet.clone();
      t.set('side', side);
      sets.set(m.tagSet, (tags = t.freeze()));
    }
    m.tagSet = tags;
    m.time = base + BigInt(g) * 10_000_000_000n;
  }
  return ms;
}

async function runOurs(out: HttpOutput, from: number, to: number, base: bigint): Promise<number> {
  const ro = new RunningOutput(
    { name: 'http', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: SERVERS, metricBufferLimit: SERVERS * CHUNK, filter: {}, startupErrorBehavior: 'error' },
    out,
    new Logger('outputs.http', 'warn'),
  );
  for (let g = from; g < to; g++) for (const m of batch(g, 'ours', base)) ro.add(m);
  const t = process.hrtime.bigint();
  const ok = await ro.flush();
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  if (!ok || ro.buffer.length !== 0) throw new Error('flush failed');
  return secs;
}

/** The same requests our output sends, encoded ahead into files, and a curl config posting them in order. */
function prepareCurl(vm: VictoriaMetricsServer, dir: string, from: number, to: number, base: bigint): string {
  const ser = new RemoteWriteSerializer({ maxSamplesPerRequest: 10_000 });
  const lines: string[] = [];
  for (let g = from; g < to; g++) {
    ser.serializeBatch(batch(g, 'curl', base)).forEach((r, i) => {
      const file = path.join(dir, `g${g}-${i}.bin`);
      fs.writeFileSync(file, r.body);
      if (lines.length > 0) lines.push('next');
      lines.push(
        `url = "${vm.url}/api/v1/write"`,
        `data-binary = "@${file}"`,
        'header = "Content-Encoding: snappy"',
        'header = "Content-Type: application/x-protobuf"',
        'header = "X-Prometheus-Remote-Write-Version: 0.1.0"',
        'header = "Expect:"',
        'output = "/dev/null"',
        'silent',
        'fail',
      );
    });
  }
  const cfg = path.join(dir, `curl-${from}.cfg`);
  fs.writeFileSync(cfg, lines.join('\n') + '\n');
  return cfg;
}

async function main(): Promise<void> {
  const vm = await startVictoriaMetrics();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-bench-vm-'));
  try {
    const base = (BigInt(Date.now()) / 1000n - 3600n) * 1_000_000_000n;
    const cfgs: string[] = [];
    for (let g = 1; g <= GATHERS - (GATHERS % CHUNK); g += CHUNK) cfgs.push(prepareCurl(vm, dir, g, g + CHUNK, base));
    const out = new HttpOutput(withDefaults<HttpOutputOptions>(plugin.schema, { url: `${vm.url}/api/v1/write`, data_format: 'prometheusremotewrite', timeout: '60s' }), {
      log: new Logger('outputs.http', 'warn'),
      section: 'outputs.http',
      intervalNs: 10_000_000_000n,
      oneShot: false,
    });
    // Warm-up: new series cost both sides the same; register ours and curl's before timing.
    await runOurs(out, 0, 1, base);
    const spawnCost = curlStartup(dir);
    let ours = 0;
    let curl = 0;
    for (let c = 0; c < cfgs.length; c++) {
      const from = 1 + c * CHUNK;
      if (c % 2 === 0) {
        ours += await runOurs(out, from, from + CHUNK, base);
        curl += runCurl(cfgs[c]) - spawnCost;
      } else {
        curl += runCurl(cfgs[c]) - spawnCost;
        ours += await runOurs(out, from, from + CHUNK, base);
      }
    }
    out.close();
    await vm.flush();
    const samples = cfgs.length * CHUNK * SERVERS * SAMPLES_PER_METRIC;
    for (const side of ['ours', 'curl']) {
      const rows = await vm.query(`sum(count_over_time({side="${side}", __name__=~"ipvs_real_server_.*"}[1d]))`, Number(base / 1_000_000_000n) + GATHERS * 10 + 1);
      const stored = rows.reduce((a, r) => a + Number(r.value[1]), 0);
      const expected = side === 'ours' ? samples + SERVERS * SAMPLES_PER_METRIC : samples;
      if (stored !== expected) throw new Error(`${side}: ${stored} samples stored, expected ${expected}`);
    }
    const rate = (s: number) => `${(samples / s / 1e6).toFixed(2)} M samples/s`;
    console.log(`remote write into VictoriaMetrics 1.79 on loopback: ${samples.toLocaleString('en-US')} samples (${SERVERS} metrics x 16 fields per batch), requests of <= 10,000 samples`);
    console.log(`  ours (encode + POST, RunningOutput flushes): ${ours.toFixed(2)} s  ${rate(ours)}`);
    console.log(`  curl (pre-encoded bodies, one connection): ${curl.toFixed(2)} s  ${rate(curl)}`);
    console.log(`  curl start-up subtracted per invocation: ${(spawnCost * 1000).toFixed(1)} ms (${cfgs.length} invocations)`);
    console.log(`  ratio ours/curl throughput: ${(curl / ours).toFixed(2)} (target >= 0.90)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await vm.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
