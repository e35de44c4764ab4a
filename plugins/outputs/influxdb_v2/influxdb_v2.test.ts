/**
 * outputs.influxdb_v2 against a local server that follows the documented v2
 * write API (no InfluxDB 2.x can be installed here).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { float, int, Metric, uint } from '../../../core/metric';
import { PartialWriteError } from '../../../core/plugin';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { startInfluxDB2Stub, type InfluxDB2Stub, type StubOptions } from '../../../test/support/influxdb2-stub';
import { withDefaults } from '../../../test/support/options';
import plugin from './index';
import type { InfluxDBv2Options } from './options';
import { InfluxDBv2Output } from './output';

const NOW = () => BigInt(Date.now()) * 1_000_000n;

const STUB: StubOptions = {
  org: 'acme',
  tokens: { 'tok-w': 'write', 'tok-r': 'read' },
  buckets: [{ name: 'metrics' }, { name: 'other' }, { name: 'short', retentionNs: 3_600_000_000_000n }],
};

let stubs: InfluxDB2Stub[] = [];
async function stub(extra: Partial<StubOptions> = {}): Promise<InfluxDB2Stub> {
  const s = await startInfluxDB2Stub({ ...STUB, ...extra });
  stubs.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stubs) await s.close();
  stubs = [];
});

function make(opts: Record<string, unknown>, clock?: { now: number }) {
  const log = new CaptureLogger('outputs.influxdb_v2');
  const o = withDefaults<InfluxDBv2Options>(plugin.schema, { token: 'tok-w', organization: 'acme', bucket: 'metrics', ...opts });
  const out = new InfluxDBv2Output(o, outputContext(log, 'outputs.influxdb_v2'), clock ? () => clock.now : undefined);
  return { out, log };
}

describe('outputs.influxdb_v2', () => {
  test('a batch prepared while another is written is sent as prepared; a changed batch is encoded anew', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url] });
    const t = NOW();
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => Metric.from('m', { k: String(from + i) }, { v: int(from + i) }, t));
    const a = batch(0, 3);
    const b = batch(3, 3);
    const pending = out.write(a);
    out.prepare(b);
    await pending;
    await out.write(b.slice()); // a fresh array of the same metrics, as the buffer hands it out
    out.prepare(batch(100, 2));
    await out.write(batch(6, 2)); // not the prepared one
    assert.deepEqual(s.points('metrics').map((p) => p.tags.k), ['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  test('writes gzip line protocol with token auth, org and bucket; values keep their types', async () => {
    const s = await stub();
    const { out, log } = make({ urls: [s.url], influx_uint_support: true });
    const t = NOW();
    await out.write([
      Metric.from('cpu', { host: 'a b', 'k=1': 'v,2' }, { i: int(-3), u: uint(18446744073709551615n), f: float(2.5), s: 'say "hi" \\o/', b: true }, t),
      Metric.from('cpu', { host: 'c' }, { i: int(4) }, t + 1n),
    ]);
    const r = s.requests[0];
    assert.equal(r.status, 204);
    assert.deepEqual(r.query, { bucket: 'metrics', org: 'acme' });
    assert.equal(r.headers.authorization, 'Token tok-w');
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    const p = s.points('metrics');
    assert.equal(p.length, 2);
    assert.deepEqual(p[0].tags, { host: 'a b', 'k=1': 'v,2' });
    assert.deepEqual(p[0].fields, {
      i: { type: 'int', value: -3n },
      u: { type: 'uint', value: 18446744073709551615n },
      f: { type: 'float', value: 2.5 },
      s: { type: 'string', value: 'say "hi" \\o/' },
      b: { type: 'bool', value: true },
    });
    assert.equal(p[0].time, t);
    assert.ok(out.stats().bytes_written > 0);
    assert.equal(log.lines.filter((l) => l.startsWith('E!')).length, 0);
    out.close();
  });

  test('a large batch is sent as one request of several gzip members and parsed whole', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url] });
    const t = NOW();
    const batch: Metric[] = [];
    for (let i = 0; i < 2500; i++) batch.push(Metric.from('big', { n: String(i) }, { v: int(i) }, t));
    await out.write(batch);
    assert.equal(s.requests.length, 1);
    assert.equal(s.points('metrics').length, 2500);
    out.close();
  });

  test('identity encoding sends a plain body', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url], content_encoding: 'identity' });
    await out.write([Metric.from('m', {}, { v: int(1) }, NOW())]);
    assert.equal(s.requests[0].headers['content-encoding'], undefined);
    assert.equal(s.points('metrics').length, 1);
    out.close();
  });

  test('401 and 403 keep the batch for a retry (reject)', async () => {
    const s = await stub();
    for (const token of ['nope', 'tok-r']) {
      const { out } = make({ urls: [s.url], token });
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(1) }, NOW())]), token === 'nope' ? /401 Unauthorized\): unauthorized: unauthorized access/ : /403 Forbidden/);
      // No backoff for auth errors: the next flush tries again.
      const before = s.requests.length;
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(1) }, NOW())]));
      assert.equal(s.requests.length, before + 1);
      out.close();
    }
    assert.equal(s.points('metrics').length, 0);
  });

  test('400, 404 and 422 drop the batch with a log line', async () => {
    const s = await stub();
    const { out, log } = make({ urls: [s.url] });
    // A reserved tag key is rejected by the server as invalid line protocol.
    await out.write([Metric.from('m', { _field: 'x' }, { v: int(1) }, NOW())]);
    assert.match(log.text(), /Failed to write metric to metrics \(will be dropped: 400 Bad Request\): invalid: unable to parse points: tag key _field is reserved/);
    const missing = make({ urls: [s.url], bucket: 'nosuch' });
    await missing.out.write([Metric.from('m', {}, { v: int(1) }, NOW())]);
    assert.match(missing.log.text(), /Failed to write metric to nosuch \(will be dropped: 404 Not Found\): not found: bucket "nosuch" not found/);
    const old = make({ urls: [s.url], bucket: 'short' });
    await old.out.write([Metric.from('m', {}, { v: int(1) }, NOW() - 7_200_000_000_000n)]);
    assert.match(old.log.text(), /will be dropped: 422 Unprocessable Entity\): unprocessable entity: failure writing points to database: partial write: points beyond retention policy dropped=1/);
    for (const x of [out, missing.out, old.out]) x.close();
  });

  test('413 splits the batch in halves until the parts fit; every metric arrives once', async () => {
    const s = await stub({ maxBodyBytes: 300 });
    const { out, log } = make({ urls: [s.url] });
    const t = NOW();
    const batch: Metric[] = [];
    for (let i = 0; i < 16; i++) batch.push(Metric.from('split', { n: String(i) }, { v: int(i), pad: 'x'.repeat(20) }, t));
    await out.write(batch);
    const got = s.points('metrics').map((p) => Number((p.fields.v as { value: bigint }).value)).sort((a, b) => a - b);
    assert.deepEqual(got, [...Array(16).keys()]);
    assert.ok(s.requests.some((r) => r.status === 413));
    assert.match(log.text(), /Retrying write after splitting metric payload in half to reduce batch size/);
    assert.match(log.text(), /request was too large \(413\)/);
    // A single metric over the limit cannot be split: dropped with a log line.
    log.clear();
    await out.write([Metric.from('huge', {}, { pad: 'y'.repeat(1000) }, t)]);
    assert.match(log.text(), /will be dropped: 413 Request Entity Too Large/);
    out.close();
  });

  test('429/503 with Retry-After: no request until the delay is over, then the kept batch goes through', async () => {
    const s = await stub();
    const clock = { now: 1_000_000 };
    const { out, log } = make({ urls: [s.url] }, clock);
    const batch = [Metric.from('m', {}, { v: int(1) }, NOW())];
    s.failNext(1, 429, '30');
    await assert.rejects(out.write(batch), /waiting 30s for server \(metrics\) before sending metric again/);
    assert.match(log.text(), /Failed to write to metrics; will retry in 30s\. \(429 Too Many Requests\)/);
    const n = s.requests.length;
    clock.now += 29_000;
    await assert.rejects(out.write(batch), /retry time has not elapsed/);
    assert.equal(s.requests.length, n, 'no request during the back-off');
    clock.now += 1_500;
    await out.write(batch);
    assert.equal(s.points('metrics').length, 1);

    // Retry-After is capped at 10 minutes; an unparseable one counts as 10 s.
    s.failNext(1, 503, '99999');
    await assert.rejects(out.write(batch), /waiting 10m0s/);
    clock.now += 600_001;
    s.failNext(1, 502, 'Wed, 21 Oct 2015 07:28:00 GMT');
    await assert.rejects(out.write(batch), /waiting 10s/);
    clock.now += 10_001;
    // Without Retry-After the own back-off grows as n²/40 s (n = consecutive throttles: 3 → 225 ms).
    s.failNext(1, 504);
    await assert.rejects(out.write(batch), /waiting 225ms/);
    out.close();
  });

  test('other 5xx are retried at the next flush without back-off', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url] });
    s.failNext(1, 500);
    await assert.rejects(out.write([Metric.from('m', {}, { v: int(1) }, NOW())]), /failed to write metric to bucket "metrics": 500 Internal Server Error: internal error: internal error/);
    await out.write([Metric.from('m', {}, { v: int(1) }, NOW())]);
    assert.equal(s.points('metrics').length, 1);
    out.close();
  });

  test('bucket_tag routes metrics; exclude_bucket_tag removes the tag; a 404 bucket drops only its part', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url], bucket_tag: 'dest', exclude_bucket_tag: true });
    const t = NOW();
    await out.write([
      Metric.from('m', { dest: 'other', x: '1' }, { v: int(1) }, t),
      Metric.from('m', { x: '2' }, { v: int(2) }, t),
      Metric.from('m', { dest: 'gone', x: '3' }, { v: int(3) }, t),
    ]);
    assert.deepEqual(s.points('other').map((p) => p.tags), [{ x: '1' }]);
    assert.deepEqual(s.points('metrics').map((p) => p.tags), [{ x: '2' }]);
    out.close();
  });

  test('a retryable error after another bucket was written reports a partial write', async () => {
    const s = await stub();
    const { out } = make({ urls: [s.url], bucket_tag: 'dest' });
    const t = NOW();
    const batch = [Metric.from('m', { dest: 'other' }, { v: int(1) }, t), Metric.from('m', { dest: 'metrics' }, { v: int(2) }, t)];
    // Bucket "other" is written, bucket "metrics" is throttled.
    s.failWhen((q) => q.bucket === 'metrics', 503, '1');
    const err = await out.write(batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof PartialWriteError, String(err));
    assert.deepEqual(err.accepted, [0]);
    assert.deepEqual(err.rejected, []);
    out.close();
  });

  test('several URLs: a failing one is skipped for the batch', async () => {
    const bad = await stub();
    const good = await stub();
    const { out } = make({ urls: [bad.url, good.url] });
    bad.failNext(1000, 500);
    for (let i = 0; i < 5; i++) await out.write([Metric.from('m', {}, { v: int(i) }, NOW())]);
    assert.equal(good.points('metrics').length, 5);
    out.close();
  });
});
