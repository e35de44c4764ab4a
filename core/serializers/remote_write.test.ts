/**
 * The prometheusremotewrite serializer and its snappy encoder, read back with
 * independent decoders (native snappy, protobufjs). Expected names and labels
 * restate Telegraf's rules (plugins/serializers/prometheusremotewrite/
 * prometheusremotewrite.go 66-213 fields and histograms, 328-380 labels,
 * 393-411 series; plugins/serializers/prometheus/convert.go 146-236 names and
 * values) and the Remote Write 1.0 spec (labels unique, sorted, no empty
 * values; samples of a series in time order; milliseconds).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { uncompressSync } from 'snappy';
import SnappyJS from 'snappyjs';
import { SnappyEncoder } from '../compress/snappy';
import { FieldSchema, FieldType, int, Metric, TagSet, uint } from '../metric';
import { formatBound, labelPairs } from '../prometheus/naming';
import { decodeRemoteWrite, seriesId, type DecodedSeries } from '../../test/support/remote_write';
import { RemoteWriteSerializer } from './remote_write';

const T = 1_700_000_000_123_456_789n;
const T_MS = 1_700_000_000_123;

function decodeAll(s: RemoteWriteSerializer, metrics: Metric[]): DecodedSeries[] {
  return s.serializeBatch(metrics).flatMap((r) => (r.body.length ? decodeRemoteWrite(r.body) : []));
}

function byId(series: DecodedSeries[]): Map<string, { value: number; timestamp: number }[]> {
  return new Map(series.map((s) => [seriesId(s), s.samples]));
}

describe('snappy block encoder', () => {
  test('round-trips through native snappy and snappyjs: empty, tiny, random, repetitive, multi-block, long literals', () => {
    const enc = new SnappyEncoder();
    const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('abcabcabcabcabcabcabcabcabc'), crypto.randomBytes(70_000), Buffer.alloc(200_000, 7)];
    let text = '';
    for (let i = 0; i < 20_000; i++) text += `ipvs_real_server_bytes_in{address="10.0.${i % 256}.${i % 7}",port="80"} ${i * 13}\n`;
    inputs.push(Buffer.from(text));
    // Near the block boundary and with matches far back (2-byte offsets) and long runs (copies > 64 bytes).
    inputs.push(Buffer.concat([crypto.randomBytes(65_530), Buffer.from('0123456789'.repeat(30))]));
    // A view into a larger buffer (the encoder reads through its offset), and every short length near the input margin.
    inputs.push(Buffer.concat([crypto.randomBytes(13), Buffer.from(text), crypto.randomBytes(5)]).subarray(13, 13 + text.length));
    for (let n = 1; n <= 40; n++) inputs.push(Buffer.from('abcd'.repeat(n)).subarray(0, n + 3));
    for (let k = 0; k < 100; k++) {
      const b = Buffer.alloc(Math.floor(Math.random() * 3000));
      for (let i = 0; i < b.length; i++) b[i] = Math.random() < 0.7 ? 65 : 65 + Math.floor(Math.random() * 3);
      inputs.push(b);
    }
    for (const input of inputs) {
      const c = enc.compress(input);
      assert.ok((uncompressSync(c) as Buffer).equals(input), `native snappy decodes ${input.length} bytes`);
      assert.ok(Buffer.from(SnappyJS.uncompress(c)).equals(input), `snappyjs decodes ${input.length} bytes`);
    }
    assert.ok(enc.compress(Buffer.from(text)).length < text.length / 4, 'repetitive text compresses');
  });
});

describe('naming', () => {
  test('le bounds as Go formats float64 with %v / FormatFloat(g, -1)', () => {
    // Values as Go prints them: fmt.Sprint(1e-05) == "1e-05", fmt.Sprint(1e+06) == "1e+06".
    const cases: [number, string][] = [
      [0, '0'],
      [1, '1'],
      [0.005, '0.005'],
      [0.0001, '0.0001'],
      [1e-5, '1e-05'],
      [2.5e-4, '0.00025'],
      [100000, '100000'],
      [1e6, '1e+06'],
      [1234567, '1.234567e+06'],
      [120.015, '120.015'],
      [1e21, '1e+21'],
      [1e100, '1e+100'],
      [-3e-7, '-3e-07'],
      [Infinity, '+Inf'],
    ];
    for (const [v, s] of cases) assert.equal(formatBound(v), s, String(v));
  });

  test('labels: sanitized, first of a clash kept, empty values left out for remote write, sorted', () => {
    const m = Metric.from('m', { 'b-x': '1', b_x: '2', a: '', Z: 'z', '9bad': 'n' }, { v: 1 }, T);
    assert.deepEqual(labelPairs(m, false, true), { names: ['Z', 'b_x', 'bad'], values: ['z', '1', 'n'] });
    assert.deepEqual(labelPairs(m, false, false).names, ['Z', 'a', 'b_x', 'bad']);
  });
});

describe('prometheusremotewrite serializer', () => {
  test('one series per numeric field: name measurement_field, tags as labels sorted with __name__, ms timestamps, bools 1/0, strings skipped and counted', () => {
    const s = new RemoteWriteSerializer();
    const m = Metric.from('ipvs_virtual_server', { address: '10.0.0.1', port: '80', protocol: 'tcp', Upper: 'U', empty: '' }, { connections: uint(7n), cps: int(0), ratio: 0.25, up: true, down: false, sched: 'rr' }, T);
    const series = decodeAll(s, [m]);
    assert.deepEqual(
      series.map((x) => x.labels),
      ['connections', 'cps', 'ratio', 'up', 'down'].map((f) => [
        ['Upper', 'U'],
        ['__name__', `ipvs_virtual_server_${f}`],
        ['address', '10.0.0.1'],
        ['port', '80'],
        ['protocol', 'tcp'],
      ]),
    );
    assert.deepEqual(
      series.map((x) => x.samples),
      [7, 0, 0.25, 1, 0].map((value) => [{ value, timestamp: T_MS }]),
    );
    assert.equal(s.stringsSkipped, 1);
  });

  test('measurement "prometheus" is left out of names; invalid characters sanitized; a tag named __name__ never overrides the name', () => {
    const s = new RemoteWriteSerializer();
    const ids = [...byId(decodeAll(s, [Metric.from('prometheus', { __name__: 'evil', 'a.b': 'x' }, { 'go.goroutines': 5 }, T), Metric.from('net-stat', {}, { 'rx bytes': 1 }, T)])).keys()];
    assert.deepEqual(ids, ['go_goroutines{a_b="x"}', 'net_stat_rx_bytes{}']);
  });

  test('string fields become labels with prometheus_string_as_label (a tag of the same name wins)', () => {
    const s = new RemoteWriteSerializer({ stringAsLabel: true });
    const ids = [...byId(decodeAll(s, [Metric.from('m', { mode: 'tag' }, { mode: 'field', state: 'up', v: 1 }, T)])).keys()];
    assert.deepEqual(ids, ['m_v{mode="tag",state="up"}']);
    assert.equal(s.stringsSkipped, 0);
  });

  test('samples of one series come together in time order, later wins on equal times (frozen and unfrozen tag sets, compact and plain fields)', () => {
    const schema = new FieldSchema(['a', 'b'], [FieldType.Int, FieldType.Float]);
    const tags = TagSet.frozen(['host'], ['h1']);
    const compact = (t: bigint, a: number, b: number) => new Metric('c', t, 'untyped', tags, schema, [a, b]);
    const plain = (t: bigint, v: number) => Metric.from('p', { host: 'h1' }, { v }, t);
    const s = new RemoteWriteSerializer();
    const got = byId(decodeAll(s, [compact(T + 2_000_000n, 2, 20), plain(T + 2_000_000n, 2), compact(T, 1, 10), plain(T, 1), compact(T + 2_000_000n, 3, 30), plain(T + 1_000_000n, 5)]));
    assert.deepEqual(got.get('c_a{host="h1"}'), [
      { value: 1, timestamp: T_MS },
      { value: 3, timestamp: T_MS + 2 },
    ]);
    assert.deepEqual(got.get('c_b{host="h1"}')!.map((x) => x.value), [10, 30]);
    assert.deepEqual(got.get('p_v{host="h1"}')!.map((x) => [x.timestamp - T_MS, x.value]), [
      [0, 1],
      [1, 5],
      [2, 2],
    ]);
  });

  test('histograms: _bucket with le (Go float text), _sum, _count, and the count as the +Inf bucket', () => {
    const s = new RemoteWriteSerializer();
    const h = (le: string | undefined, fields: Record<string, number | ReturnType<typeof int>>) => Metric.from('conntrack_service', { port: '80', ...(le ? { le } : {}) }, fields, T, 'histogram');
    const got = byId(
      decodeAll(s, [
        h('0.00001', { connect_latency_seconds_bucket: int(2) }),
        h('1000000', { connect_latency_seconds_bucket: int(4) }),
        h('+Inf', { connect_latency_seconds_bucket: int(5) }),
        h(undefined, { connect_latency_seconds_sum: 0.5, connect_latency_seconds_count: int(5) }),
        h(undefined, { other: 1 }),
      ]),
    );
    const v = (id: string) => got.get(id)?.map((x) => x.value);
    assert.deepEqual(v('conntrack_service_connect_latency_seconds_bucket{le="1e-05",port="80"}'), [2]);
    assert.deepEqual(v('conntrack_service_connect_latency_seconds_bucket{le="1e+06",port="80"}'), [4]);
    assert.deepEqual(v('conntrack_service_connect_latency_seconds_bucket{le="+Inf",port="80"}'), [5]);
    assert.deepEqual(v('conntrack_service_connect_latency_seconds_sum{port="80"}'), [0.5]);
    assert.deepEqual(v('conntrack_service_connect_latency_seconds_count{port="80"}'), [5]);
    assert.equal(got.size, 5, [...got.keys()].join(' '));
    assert.equal(s.samplesSkipped, 1, 'the field without a histogram suffix');
  });

  test('max_samples_per_request splits a batch between metrics, in order; every metric in exactly one request', () => {
    const s = new RemoteWriteSerializer({ maxSamplesPerRequest: 5 });
    const ms: Metric[] = [];
    for (let i = 0; i < 10; i++) ms.push(Metric.from('m', { i: String(i) }, { a: 1, b: 2 }, T));
    ms.splice(3, 0, Metric.from('m', {}, { only: 'strings' }, T));
    const reqs = s.serializeBatch(ms);
    assert.deepEqual(
      reqs.map((r) => [r.start, r.end, r.samples]),
      [
        [0, 2, 4],
        [2, 5, 4],
        [5, 7, 4],
        [7, 9, 4],
        [9, 11, 4],
      ],
    );
    const all = reqs.flatMap((r) => decodeRemoteWrite(r.body).map(seriesId));
    assert.equal(all.length, 20);
    assert.equal(new Set(all).size, 20);
  });

  test('prometheus_sort_metrics orders series as Telegraf does: fewer labels first, then label by label', () => {
    const s = new RemoteWriteSerializer({ sortMetrics: true });
    const ids = decodeAll(s, [Metric.from('b', { x: '2' }, { v: 1 }, T), Metric.from('a', { x: '1', y: '1' }, { v: 1 }, T), Metric.from('b', { x: '1' }, { v: 1 }, T), Metric.from('a', {}, { v: 1 }, T)]).map(seriesId);
    assert.deepEqual(ids, ['a_v{}', 'b_v{x="1"}', 'b_v{x="2"}', 'a_v{x="1",y="1"}']);
  });

  test('large integers and special floats keep their value; times before 1970 encode as negative int64', () => {
    const s = new RemoteWriteSerializer();
    const got = decodeAll(s, [Metric.from('m', {}, { big: uint(18446744073709551615n), neg: int(-5), inf: -Infinity }, -1_500_000_000n)]);
    assert.deepEqual(
      got.map((x) => [seriesId(x), x.samples[0].value, x.samples[0].timestamp]),
      [
        ['m_big{}', 18446744073709551615, -1500],
        ['m_neg{}', -5, -1500],
        ['m_inf{}', -Infinity, -1500],
      ],
    );
  });
});
