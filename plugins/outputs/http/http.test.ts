/**
 * outputs.http against a real VictoriaMetrics (remote write on /api/v1/write,
 * line protocol on /write), with a recording proxy in front of it to see the
 * requests on the wire and to inject the statuses (429, 503, 409) a healthy
 * server does not give on demand. Telegraf's behaviour checked against
 * plugins/outputs/http/http.go (113-257: batch/per-metric bodies, headers,
 * non_retryable_statuscodes) and sample.conf; remote write delivery against
 * the Remote Write 1.0 spec ("Retries & Backoff").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadConfig } from '../../../core/config/load';
import { Metric, TagSet } from '../../../core/metric';
import { RunningOutput } from '../../../core/models/running_output';
import { PartialWriteError } from '../../../core/plugin';
import { loadRegistry } from '../../../core/registry';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { skipOrFail } from '../../../test/support/influxdb';
import { withDefaults } from '../../../test/support/options';
import { decodeRemoteWrite } from '../../../test/support/remote_write';
import { checkSample } from '../../../test/support/sample';
import { startStatusProxy, type RecordedRequest, type StatusProxy } from '../../../test/support/statusproxy';
import { startVictoriaMetrics, VictoriaMetricsUnavailable, type VictoriaMetricsServer } from '../../../test/support/victoriametrics';
import plugin from './index';
import type { HttpOutputOptions } from './options';
import { HttpOutput, type HttpOutputExtras } from './output';

let vm: VictoriaMetricsServer | undefined;
let proxy: StatusProxy | undefined;
let unavailable = '';
/** Each test writes its own series (a distinct `test` tag) at its own recent time. */
const NOW_MS = Math.floor(Date.now() / 1000) * 1000 - 60_000;
let nextTest = 0;

before(async () => {
  try {
    vm = await startVictoriaMetrics();
    proxy = await startStatusProxy(vm.url);
  } catch (err) {
    if (err instanceof VictoriaMetricsUnavailable) unavailable = err.message;
    else throw err;
  }
});

after(async () => {
  await proxy?.close();
  await vm?.destroy();
});

function need(t: { skip(msg?: string): void }): { vm: VictoriaMetricsServer; proxy: StatusProxy } | undefined {
  if (!vm || !proxy) {
    skipOrFail(t, unavailable || 'victoria-metrics not started');
    return undefined;
  }
  proxy.requests.length = 0;
  return { vm, proxy };
}

function make(opts: Record<string, unknown>, extras: HttpOutputExtras = {}): { out: HttpOutput; log: CaptureLogger } {
  const log = new CaptureLogger('outputs.http');
  const o = withDefaults<HttpOutputOptions>(plugin.schema, opts);
  return { out: new HttpOutput(o, outputContext(log, 'outputs.http'), extras), log };
}

/** ipvs-like metrics of one test: `n` real servers, frozen tag sets, a string field. */
function metrics(test: string, n: number, tMs: number): Metric[] {
  const out: Metric[] = [];
  for (let i = 0; i < n; i++) {
    const tags = TagSet.frozen(['address', 'port', 'test'], [`10.1.0.${i}`, '8080', test]);
    const m = new Metric('ipvs_real_server', BigInt(tMs) * 1_000_000n, 'untyped', tags);
    m.addUint('bytes_in', 1_000_000_007n * BigInt(i + 1));
    m.addInt('active_connections', i);
    m.addFloat('cps', i / 4);
    m.addString('fwd_method', 'masq');
    out.push(m);
  }
  return out;
}

async function exported(vm: VictoriaMetricsServer, test: string): Promise<Map<string, [number, number][]>> {
  await vm.flush();
  const rows = await vm.exportSeries(`{test="${test}"}`);
  const out = new Map<string, [number, number][]>();
  for (const r of rows) {
    const { __name__: name, ...labels } = r.metric;
    const id = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
    out.set(id, r.timestamps.map((t, i) => [t, r.values[i]]));
  }
  return out;
}

function expected(test: string, n: number, times: number[]): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (let i = 0; i < n; i++) {
    const labels = `{address="10.1.0.${i}",port="8080",test=${JSON.stringify(test)}}`;
    out.set(`ipvs_real_server_bytes_in${labels}`, times.map((t) => [t, 1_000_000_007 * (i + 1)]));
    out.set(`ipvs_real_server_active_connections${labels}`, times.map((t) => [t, i]));
    out.set(`ipvs_real_server_cps${labels}`, times.map((t) => [t, i / 4]));
  }
  return out;
}

describe('outputs.http (real VictoriaMetrics 1.79)', () => {
  test('remote write: the spec\'s headers on the wire, every sample stored once with its labels and value, strings counted', async (t) => {
    const s = need(t);
    if (!s) return;
    const name = `rw${nextTest++}`;
    const { out, log } = make({
      url: `${s.proxy.url}/api/v1/write`,
      data_format: 'prometheusremotewrite',
      headers: { 'X-Scope-OrgID': 'tenant-1', 'Content-Encoding': 'snappy', 'Content-Type': 'text/plain' },
    });
    assert.match(log.text(), /header Content-Type: "text\/plain" is not sent; remote write requires Content-Type: application\/x-protobuf/);
    assert.ok(!/Content-Encoding/.test(log.text()), 'the value the spec asks for is no conflict');
    await out.write(metrics(name, 20, NOW_MS));
    assert.equal(s.proxy.requests.length, 1);
    const req = s.proxy.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/api/v1/write');
    assert.equal(req.headers['content-encoding'], 'snappy');
    assert.equal(req.headers['content-type'], 'application/x-protobuf');
    assert.equal(req.headers['x-prometheus-remote-write-version'], '0.1.0');
    assert.equal(req.headers['x-scope-orgid'], 'tenant-1');
    assert.match(String(req.headers['user-agent']), /^lvsagent\/\S+ Node\.js\//);
    assert.equal(req.status, 204);
    assert.equal(decodeRemoteWrite(req.body).length, 60);
    assert.deepEqual(await exported(s.vm, name), expected(name, 20, [NOW_MS]));
    assert.deepEqual(out.stats(), { bytes_written: req.body.length, strings_skipped: 20, samples_skipped: 0 });
    out.close();
  });

  test('influx data format into /write: batch, gzip, and one request per metric without use_batch_format', async (t) => {
    const s = need(t);
    if (!s) return;
    for (const [encoding, batch] of [
      ['identity', true],
      ['gzip', true],
      ['identity', false],
    ] as const) {
      const name = `lp${nextTest++}`;
      s.proxy.requests.length = 0;
      const { out } = make({ url: `${s.proxy.url}/write`, content_encoding: encoding, use_batch_format: batch });
      await out.write(metrics(name, 5, NOW_MS));
      assert.equal(s.proxy.requests.length, batch ? 1 : 5);
      const req: RecordedRequest = s.proxy.requests[0];
      assert.equal(req.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(req.headers['content-encoding'], encoding === 'gzip' ? 'gzip' : undefined);
      const text = (encoding === 'gzip' ? zlib.gunzipSync(req.body) : req.body).toString();
      assert.match(text, /^ipvs_real_server,address=10\.1\.0\.0,port=8080,test=lp\d+ bytes_in=1000000007i,active_connections=0i,cps=0,fwd_method="masq" \d+\n/);
      // VictoriaMetrics names line protocol series measurement_field, as remote write does
      // (it stores a string field as 0, a series remote write leaves out).
      const stored = await exported(s.vm, name);
      for (const id of stored.keys()) if (id.startsWith('ipvs_real_server_fwd_method{')) stored.delete(id);
      assert.deepEqual(stored, expected(name, 5, [NOW_MS]));
      out.close();
    }
  });

  test('429 with Retry-After: nothing is sent before it has passed, then the batch is retried and stored once', async (t) => {
    const s = need(t);
    if (!s) return;
    const name = `rl${nextTest++}`;
    const { out, log } = make({ url: `${s.proxy.url}/api/v1/write`, data_format: 'prometheusremotewrite' });
    const ro = new RunningOutput(
      { name: 'http', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: 1000, metricBufferLimit: 10_000, filter: {}, startupErrorBehavior: 'error' },
      out,
      log,
    );
    for (const m of metrics(name, 3, NOW_MS)) ro.add(m);
    s.proxy.inject({ status: 429, headers: { 'Retry-After': '1' }, body: 'too many requests, slow down\nsecond line' });
    assert.equal(await ro.flush(), false, 'rejected: kept');
    const answered = Date.now();
    assert.equal(ro.buffer.length, 3);
    assert.match(log.text(), /received status code: 429\. body: too many requests, slow down; next attempt in 1\.000s/);
    assert.equal(await ro.flush(), false, 'within Retry-After: not sent');
    assert.equal(s.proxy.requests.length, 1);
    assert.match(log.text(), /retry time has not elapsed/);
    // Retry-After: 1 — the protocol's wait, not a guess about this machine.
    while (Date.now() - answered < 1000) await new Promise((r) => setTimeout(r, 1000 - (Date.now() - answered)));
    assert.equal(await ro.flush(), true);
    assert.equal(s.proxy.requests.length, 2);
    assert.equal(ro.buffer.length, 0);
    assert.equal(ro.stats.metricsWritten.value, 3);
    assert.deepEqual(await exported(s.vm, name), expected(name, 3, [NOW_MS]));
    out.close();
  });

  test('a 503 in the middle of a split batch: the requests before it count as written, the rest is kept and sent after the back-off', async (t) => {
    const s = need(t);
    if (!s) return;
    const name = `split${nextTest++}`;
    let clock = 1_000_000;
    const { out, log } = make({ url: `${s.proxy.url}/api/v1/write`, data_format: 'prometheusremotewrite', max_samples_per_request: 30 }, { now: () => clock });
    const ro = new RunningOutput(
      { name: 'http', flushIntervalNs: 10_000_000_000n, flushJitterNs: 0n, metricBatchSize: 1000, metricBufferLimit: 10_000, filter: {}, startupErrorBehavior: 'error' },
      out,
      log,
    );
    for (const m of metrics(name, 40, NOW_MS)) ro.add(m); // 120 samples: 4 requests of 10 metrics
    s.proxy.injectAt(1, { status: 503, body: 'storage busy' });
    assert.equal(await ro.flush(), false);
    assert.equal(s.proxy.requests.length, 2);
    assert.equal(ro.buffer.length, 30, 'the 10 metrics written stay written; 30 kept');
    assert.match(log.text(), /received status code: 503\. body: storage busy; next attempt in/);
    assert.equal(await ro.flush(), false, 'back-off not over');
    assert.equal(s.proxy.requests.length, 2);
    clock += 60_000;
    assert.equal(await ro.flush(), true);
    assert.equal(s.proxy.requests.length, 5, 'the 3 remaining requests');
    assert.deepEqual(await exported(s.vm, name), expected(name, 40, [NOW_MS]), 'every sample once');
    out.close();
  });

  test('non_retryable_statuscodes drop the batch with one log line; other statuses keep it (influx format, as Telegraf)', async (t) => {
    const s = need(t);
    if (!s) return;
    const { out } = make({ url: `${s.proxy.url}/write`, non_retryable_statuscodes: [409] });
    const batch = metrics(`nr${nextTest++}`, 4, NOW_MS);
    s.proxy.inject({ status: 409, body: 'conflict\n' });
    await assert.rejects(out.write(batch), (err: unknown) => {
      assert.ok(err instanceof PartialWriteError);
      assert.deepEqual(err.rejected, [0, 1, 2, 3]);
      assert.deepEqual(err.accepted, []);
      assert.match(err.message, /4 metrics dropped, not retried: when writing to \[http:\/\/127\.0\.0\.1:\d+\/write\] received status code 409 Conflict, body: conflict/);
      return true;
    });
    s.proxy.inject({ status: 400, body: 'bad' });
    await assert.rejects(out.write(batch), (err: unknown) => !(err instanceof PartialWriteError) && /received status code: 400\. body: bad/.test((err as Error).message));
    out.close();
  });

  test('bearer_token_file is read for every request (a rotated token is used at once); basic auth; PUT', async (t) => {
    const s = need(t);
    if (!s) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-token-'));
    try {
      const file = path.join(dir, 'token');
      fs.writeFileSync(file, 'first-token\n');
      const { out } = make({ url: `${s.proxy.url}/api/v1/write`, data_format: 'prometheusremotewrite', bearer_token_file: file });
      await out.write(metrics(`tok${nextTest++}`, 1, NOW_MS));
      fs.writeFileSync(file, 'rotated-token');
      await out.write(metrics(`tok${nextTest++}`, 1, NOW_MS));
      assert.deepEqual(s.proxy.requests.map((r) => r.headers.authorization), ['Bearer first-token', 'Bearer rotated-token']);
      fs.rmSync(file);
      await assert.rejects(out.write(metrics('x', 1, NOW_MS)), /reading bearer_token_file: ENOENT/);
      out.close();
      assert.throws(() => make({ url: s.proxy.url, bearer_token_file: file, username: 'u' }), /bearer_token_file cannot be combined/);

      s.proxy.requests.length = 0;
      const basic = make({ url: `${s.proxy.url}/anything`, method: 'put', username: 'user', password: 'pa$$word' });
      s.proxy.inject({ status: 204 });
      await basic.out.write(metrics('x', 1, NOW_MS));
      assert.equal(s.proxy.requests[0].method, 'PUT');
      assert.equal(s.proxy.requests[0].headers.authorization, 'Basic ' + Buffer.from('user:pa$$word').toString('base64'));
      basic.out.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('outputs.http configuration', () => {
  test('sample.conf: starts with the description; as shipped and with every option enabled it passes the schema', () => {
    assert.ok(plugin.sampleConfig.startsWith(`# ${plugin.description}\n[[outputs.http]]\n`));
    for (const uncomment of [false, true]) {
      const { section, errors } = checkSample(plugin.sampleConfig, 'outputs', 'http', plugin.schema, uncomment, plugin.telegrafOnlyKeys);
      assert.equal(errors, '', `uncommented=${uncomment}: ${JSON.stringify(section)}`);
      if (uncomment) assert.ok(Object.keys(section).length >= 25, Object.keys(section).join(','));
    }
  });

  test('Telegraf keys for OAuth2, AWS, Google and cookie auth load with one warning each; gzip with remote write is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-httpconf-'));
    try {
      const file = path.join(dir, 'a.conf');
      fs.writeFileSync(
        file,
        [
          '[[outputs.http]]',
          '  url = "https://mimir.example/api/v1/push"',
          '  data_format = "prometheusremotewrite"',
          '  client_id = "id"',
          '  client_secret = "secret"',
          '  token_url = "https://idp.example/token"',
          '  aws_service = "aps"',
          '  google_application_credentials = "/etc/g.json"',
          '  cookie_auth_url = "https://x.example/auth"',
          '  [outputs.http.headers]',
          '    X-Scope-OrgID = "fleet"',
          '',
        ].join('\n'),
      );
      const cfg = loadConfig({ files: [file], directories: [], registry: loadRegistry() });
      const warned = cfg.warnings.filter((w) => /outputs\.http/.test(w)).map((w) => /option "(\w+)"/.exec(w)?.[1]);
      assert.deepEqual(warned, ['client_id', 'client_secret', 'token_url', 'aws_service', 'google_application_credentials', 'cookie_auth_url']);
      const opts = cfg.outputs[0].options as unknown as HttpOutputOptions;
      assert.equal(opts.method, 'POST');
      assert.equal(opts.timeout, '5s');
      assert.equal(opts.use_batch_format, true);
      assert.equal(opts.content_encoding, 'identity');
      assert.deepEqual(opts.headers, { 'X-Scope-OrgID': 'fleet' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => make({ data_format: 'prometheusremotewrite', content_encoding: 'gzip' }), /content_encoding must be "identity"/);
    assert.throws(() => withDefaults(plugin.schema, { method: 'GET' }), /method/);
    assert.throws(() => make({ url: 'ftp://x' }), /unsupported scheme \[ftp\]/);
  });
});
