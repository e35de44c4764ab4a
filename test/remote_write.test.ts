/**
 * Prometheus remote write end to end, into real receivers started here:
 * Prometheus 2.42 (`--web.enable-remote-write-receiver`) and VictoriaMetrics
 * 1.79. The metrics are real: inputs.conntrack statistics and per-service
 * flow histograms from traffic in a throw-away network namespace, and the
 * agent's own inputs.internal for the outage test, which runs the agent
 * binary. Expected series restate Telegraf's naming rules independently
 * (plugins/serializers/prometheusremotewrite/prometheusremotewrite.go 66-213,
 * plugins/serializers/prometheus/convert.go 146-164).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FieldType, Metric } from '../core/metric';
import { RunningOutput } from '../core/models/running_output';
import { formatBound } from '../core/prometheus/naming';
import { ConntrackNamespace, conntrackTestSkip } from './support/inputs/conntrack/namespace';
import { ConntrackInput } from '../plugins/inputs/conntrack/input';
import { DEFAULT_OPTIONS as CONNTRACK_DEFAULTS } from '../plugins/inputs/conntrack/options';
import { TestAccumulator } from './support/accumulator';
import httpPlugin from '../plugins/outputs/http/index';
import influxdbPlugin from '../plugins/outputs/influxdb/index';
import type { Output } from '../core/plugin';
import { CaptureLogger, inputContext, outputContext } from './support/capture-log';
import { skipOrFail } from './support/skip';
import { withDefaults } from './support/options';
import { PrometheusUnavailable, startPrometheus, type PrometheusServer } from './support/prometheus';
import { startVictoriaMetrics, VictoriaMetricsUnavailable, type VictoriaMetricsServer } from './support/victoriametrics';

const BIN = path.join(__dirname, '..', 'core', 'cli', 'main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let prom: PrometheusServer | undefined;
let vm: VictoriaMetricsServer | undefined;
let unavailable = '';

before(async () => {
  try {
    [prom, vm] = await Promise.all([startPrometheus([], { remoteWriteReceiver: true }), startVictoriaMetrics()]);
  } catch (err) {
    if (err instanceof PrometheusUnavailable || err instanceof VictoriaMetricsUnavailable) unavailable = err.message;
    else throw err;
  }
});

after(async () => {
  await prom?.stop();
  await vm?.destroy();
});

function output(opts: Record<string, unknown>, log = new CaptureLogger('outputs.http')): Output {
  return httpPlugin.create(withDefaults(httpPlugin.schema, opts), outputContext(log, 'outputs.http'));
}

/** Series id `name{k="v",…}` with labels sorted, as both sides are compared. */
function id(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).filter((k) => k !== '__name__').sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

/**
 * What a receiver must hold for these metrics. Remote write: every numeric
 * field is `<measurement>_<field>` with the tags as labels; histogram
 * buckets carry `le` as Go prints the bound and `_count` doubles as the
 * `+Inf` bucket. Line protocol into VictoriaMetrics: the same names, `le` as
 * the tag was written, no extra bucket.
 */
function expectedSeries(metrics: readonly Metric[], route: 'remote' | 'lineprotocol', extra: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metrics) {
    const tags: Record<string, string> = { ...extra };
    for (const [k, v] of Object.entries(m.tags())) if (v !== '') tags[k] = v;
    for (const f of m.fields) {
      if (f.type === FieldType.String) continue;
      const value = f.type === FieldType.Bool ? (f.value ? 1 : 0) : Number(f.value);
      const name = `${m.name}_${f.key}`;
      if (m.type === 'histogram' && route === 'remote') {
        if (f.key.endsWith('_bucket')) out.set(id(name, { ...tags, le: tags.le === '+Inf' ? '+Inf' : formatBound(Number(tags.le)) }), value);
        else {
          out.set(id(name, tags), value);
          if (f.key.endsWith('_count')) out.set(id(name.replace(/_count$/, '_bucket'), { ...tags, le: '+Inf' }), value);
        }
        continue;
      }
      out.set(id(name, tags), value);
    }
  }
  return out;
}

function stored(rows: { metric: Record<string, string>; value: [number, string] }[]): Map<string, number> {
  return new Map(rows.map((r) => [id(r.metric.__name__, r.metric), Number(r.value[1])]));
}

describe('remote write of conntrack metrics (flow histograms included) from a network namespace', () => {
  const skip = conntrackTestSkip();
  let metrics: Metric[] = [];
  const tMs = Math.floor(Date.now() / 1000) * 1000 - 30_000;

  before(async () => {
    if (skip) return;
    const ns = ConntrackNamespace.create('lvsrw', { accounting: true, timestamps: true });
    const input = new ConntrackInput(
      { ...CONNTRACK_DEFAULTS, namespace: ns.path, collect: ['all'], collect_service_flows: true, service_subnets: ['127.0.0.0/8'], enable_accounting: true, enable_timestamps: true },
      inputContext(new CaptureLogger('inputs.conntrack'), 'inputs.conntrack'),
    );
    try {
      input.init();
      input.start(new TestAccumulator());
      await ns.traffic(['tcp', '127.0.0.1', 8080, 12, 700]);
      await ns.traffic(['udp', '127.0.0.1', 5353, 5, 40]);
      ns.exec('conntrack', ['-F']);
      let acc = new TestAccumulator();
      for (let i = 0; i < 50; i++) {
        await sleep(100);
        acc = new TestAccumulator();
        await input.gather(acc);
        const ended = acc.find('conntrack_service').reduce((a, m) => a + Number(m.getField('flows_ended')?.value ?? 0), 0);
        if (ended >= 17) break;
      }
      assert.deepEqual(acc.errors, []);
      metrics = acc.metrics;
      for (const m of metrics) m.time = BigInt(tMs) * 1_000_000n;
    } finally {
      input.stop();
      ns.destroy();
    }
  });

  test('Prometheus returns every series and value written, histograms as _bucket/_sum/_count', { skip }, async (t) => {
    if (!prom) return skipOrFail(t, unavailable);
    assert.ok(metrics.some((m) => m.type === 'histogram'), 'flow histograms were gathered');
    const out = output({ url: `${prom.url}/api/v1/write`, data_format: 'prometheusremotewrite' });
    await out.write(metrics);
    const want = expectedSeries(metrics, 'remote');
    assert.ok([...want.keys()].some((k) => k.startsWith('conntrack_service_duration_seconds_bucket{') && k.includes('le="+Inf"')));
    assert.ok([...want.keys()].some((k) => k.startsWith('conntrack_service_connect_latency_seconds_bucket{') && k.includes('e-05"')), 'Go float text for small bounds');
    const got = stored(await prom.query('{__name__=~"conntrack.*"}', tMs / 1000));
    assert.deepEqual(got, want);
    await out.close?.();
  });

  test('VictoriaMetrics holds the same through remote write, outputs.influxdb and outputs.http with data_format = "influx"', { skip }, async (t) => {
    if (!vm) return skipOrFail(t, unavailable);
    // VictoriaMetrics turns outputs.influxdb's `?db=telegraf` into a `db` label.
    const routes: { route: string; out: Output; lp: boolean; labels?: Record<string, string> }[] = [
      { route: 'remote_write', out: output({ url: `${vm.url}/api/v1/write`, data_format: 'prometheusremotewrite' }), lp: false },
      { route: 'http_influx', out: output({ url: `${vm.url}/write`, content_encoding: 'gzip' }), lp: true },
      {
        route: 'influxdb',
        out: influxdbPlugin.create(withDefaults(influxdbPlugin.schema, { urls: [vm.url], skip_database_creation: true }), outputContext(new CaptureLogger('outputs.influxdb'))),
        lp: true,
        labels: { db: 'telegraf' },
      },
    ];
    for (const r of routes) {
      const tagged = metrics.map((m) => {
        const c = m.copy();
        c.setTag('route', r.route);
        return c;
      });
      await r.out.write(tagged);
      await r.out.close?.();
    }
    await vm.flush();
    for (const r of routes) {
      const got = stored(await vm.query(`{route="${r.route}"}`, tMs / 1000));
      const want = expectedSeries(metrics, r.lp ? 'lineprotocol' : 'remote', { route: r.route, ...r.labels });
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), r.route);
      // VictoriaMetrics keeps about 15 significant digits of a float (its decimal encoding).
      for (const [k, v] of want) assert.ok(Math.abs(got.get(k)! - v) <= Math.abs(v) * 1e-12, `${r.route} ${k}: ${got.get(k)} != ${v}`);
    }
  });
});

describe('remote write delivery rules with real receivers', () => {
  test('Prometheus answers 400 for out-of-order samples: the batch is dropped, counted as rejected, logged once; the next batch is written', async (t) => {
    if (!prom) return skipOrFail(t, unavailable);
    const log = new CaptureLogger('outputs.http');
    const out = output({ url: `${prom.url}/api/v1/write`, data_format: 'prometheusremotewrite', max_samples_per_request: 2 }, log);
    const ro = new RunningOutput(
      { name: 'http', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: 100, metricBufferLimit: 1000, filter: {}, startupErrorBehavior: 'error' },
      out,
      log,
    );
    const base = (Math.floor(Date.now() / 1000) - 20) * 1000;
    const at = (sec: number, n: number) => {
      for (let i = 0; i < n; i++) ro.add(Metric.from('ooo', { i: String(i) }, { v: sec * 10 + i }, BigInt(base + sec * 1000) * 1_000_000n));
    };
    at(10, 4);
    assert.equal(await ro.flush(), true);
    at(5, 4); // older than what Prometheus has for these series: 2 requests of 2 samples, both refused
    assert.equal(await ro.flush(), true, 'nothing left to retry');
    assert.equal(ro.buffer.length, 0);
    assert.equal(ro.stats.metricsRejected.value, 4);
    const errors = log.lines.filter((l) => l.startsWith('E! '));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /4 metrics dropped, not retried: when writing to \[http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write\] received status code 400 Bad Request, body: .*out of order sample/);
    at(15, 4);
    assert.equal(await ro.flush(), true);
    const got = stored(await prom.query('ooo_v', base / 1000 + 15));
    assert.deepEqual(got, new Map([0, 1, 2, 3].map((i) => [id('ooo_v', { i: String(i) }), 150 + i])));
    assert.equal(ro.stats.metricsWritten.value, 8);
    await out.close?.();
  });

  test('the agent with VictoriaMetrics stopped for 10 s: every 1 s interval arrives exactly once after the restart', async (t) => {
    if (!vm) return skipOrFail(t, unavailable);
    const server = vm;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-rw-outage-'));
    const conf = path.join(dir, 'agent.conf');
    fs.writeFileSync(
      conf,
      `[agent]
  interval = "1s"
  round_interval = true
  collection_jitter = "0s"
  flush_interval = "1s"
  flush_jitter = "0s"
  metric_buffer_limit = 100000
  omit_hostname = true
[[inputs.internal]]
  collect_memstats = false
  name_prefix = "outage_"
[[outputs.http]]
  url = "${server.url}/api/v1/write"
  data_format = "prometheusremotewrite"
  timeout = "2s"
`,
    );
    let stderr = '';
    const agent = spawn(process.execPath, [BIN, '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
    const series = 'outage_internal_agent_metrics_gathered';
    const samples = async (): Promise<number[]> => {
      await server.flush();
      return (await server.exportSeries(series)).flatMap((s) => s.timestamps).sort((a, b) => a - b);
    };
    const waitFor = async (what: string, ok: (ts: number[]) => boolean, ms: number): Promise<number[]> => {
      const end = Date.now() + ms;
      for (;;) {
        const ts = await samples();
        if (ok(ts)) return ts;
        if (Date.now() > end) throw new Error(`${what} not seen within ${ms} ms; have ${ts.length} samples; agent: ${stderr}`);
        await sleep(250);
      }
    };
    try {
      await waitFor('3 intervals', (ts) => ts.length >= 3, 20_000);
      await server.stop();
      const down = Date.now();
      await sleep(10_000); // the outage the scenario asks for
      await server.start();
      const up = Date.now();
      await waitFor('intervals after the restart', (ts) => ts.length > 0 && ts[ts.length - 1] >= up + 2000, 20_000);
      agent.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      const ts = await samples();
      const dupes = ts.filter((v, i) => i > 0 && v === ts[i - 1]);
      assert.deepEqual(dupes, [], 'no interval twice');
      const gaps = ts.filter((v, i) => i > 0 && v - ts[i - 1] !== 1000).map((v, i) => [ts[i], v]);
      assert.deepEqual(gaps, [], 'no interval missing');
      assert.ok(ts[0] < down && ts[ts.length - 1] > up, 'the outage lies inside the delivered run');
      assert.ok(ts.filter((v) => v > down && v < up).length >= 9, 'the intervals gathered while it was down were delivered');
      assert.match(stderr, /connect ECONNREFUSED/);
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

