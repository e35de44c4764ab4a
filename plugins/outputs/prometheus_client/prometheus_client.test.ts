/**
 * outputs.prometheus_client: names, types, HELP from field docs, histograms,
 * expiry, HTTP access control and TLS; `promtool check metrics` on the page;
 * and a real Prometheus server scraping the endpoint.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { sourcePath } from '../../../test/support/paths';
import { FieldType, int, Metric, TagSet, uint } from '../../../core/metric';
import type { MeasurementDoc } from '../../../core/plugin';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { skipOrFail } from '../../../test/support/influxdb';
import { withDefaults } from '../../../test/support/options';
import { promtoolCheckMetrics, PrometheusUnavailable, startPrometheus } from '../../../test/support/prometheus';
import plugin from './index';
import type { PrometheusClientOptions } from './options';
import { PrometheusClientOutput, type PrometheusClientExtras } from './output';

const T = 1_700_000_000_000_000_000n;

/** Field docs shaped like the ipvs input's: untyped metrics with per-field counter/gauge types. */
const DOCS: MeasurementDoc[] = [
  {
    name: 'ipvs_virtual_server',
    help: 'IPVS virtual servers',
    fields: [
      { name: 'connections', type: 'uint', valueType: 'counter', help: 'Connections scheduled to this virtual server' },
      { name: 'cps', type: 'uint', valueType: 'gauge', help: 'Connections per second' },
      { name: 'bytes_in', type: 'uint', help: 'Bytes received' },
    ],
  },
  { name: 'conntrack', help: 'Connection tracking', fields: [{ name: '<state>_count', type: 'int', valueType: 'gauge', help: 'Entries in a TCP state' }] },
];

const outputs: PrometheusClientOutput[] = [];
after(async () => {
  for (const o of outputs) await o.close();
});

function make(opts: Record<string, unknown> = {}, extras: PrometheusClientExtras & { docs?: MeasurementDoc[] } = {}) {
  const log = new CaptureLogger('outputs.prometheus_client');
  const o = withDefaults<PrometheusClientOptions>(plugin.schema, { listen: '127.0.0.1:0', ...opts });
  const out = new PrometheusClientOutput(o, { ...outputContext(log, 'outputs.prometheus_client'), measurements: extras.docs ?? DOCS }, extras);
  outputs.push(out);
  return { out, log };
}

/** Parses a text page into `name{labels}` → value, and name → TYPE/HELP. */
function parsePage(page: string) {
  const samples = new Map<string, string>();
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of page.split('\n')) {
    if (line === '') continue;
    let m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      types.set(m[1], m[2]);
      continue;
    }
    m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      help.set(m[1], m[2]);
      continue;
    }
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return { samples, types, help };
}

/** promtool must find no format errors; lint findings may only be naming ones. */
function assertPromtoolClean(page: string) {
  const r = promtoolCheckMetrics(page);
  if (!r.available) {
    if (process.env.CI === 'true') throw new Error('promtool missing in CI');
    return;
  }
  // Naming lints only: Telegraf's names (e.g. conntrack_drop, *_count gauges) cause them.
  const allowed = /counter metrics should have "_total" suffix$|non-histogram and non-summary metrics should not have "_(count|sum|bucket)" suffix$|metric names should not contain ':'$|use base unit|metric names should be written in 'snake_case'/;
  const bad = r.problems.filter((p) => !allowed.test(p));
  assert.deepEqual(bad, [], `promtool problems:\n${r.problems.join('\n')}\n--- page ---\n${page.slice(0, 2000)}`);
}

describe('outputs.prometheus_client page', () => {
  test('names, labels, types from metric type and field docs, HELP from docs', async () => {
    const { out } = make();
    await out.write([
      Metric.from('ipvs_virtual_server', { address: '10.0.0.1', port: '80', protocol: 'tcp' }, { connections: uint(12), cps: uint(3), bytes_in: uint(18446744073709551615n), sched: 'rr' }, T),
      Metric.from('conntrack', {}, { established_count: int(5), drop: int(0) }, T),
      Metric.from('conntrack', { cpu: 'all' }, { drop: int(7) }, T, 'counter'),
      Metric.from('prometheus', { job: 'x' }, { up: true, ready: false }, T, 'gauge'),
    ]);
    const page = out.collection.render();
    const { samples, types, help } = parsePage(page);
    const vs = '{address="10.0.0.1",port="80",protocol="tcp",sched="rr"}';
    assert.equal(samples.get('ipvs_virtual_server_connections' + vs), '12');
    assert.equal(samples.get('ipvs_virtual_server_bytes_in' + vs), '18446744073709551615');
    // Untyped metric: per-field types from the docs, untyped where the docs say nothing.
    assert.equal(types.get('ipvs_virtual_server_connections'), 'counter');
    assert.equal(types.get('ipvs_virtual_server_cps'), 'gauge');
    assert.equal(types.get('ipvs_virtual_server_bytes_in'), 'untyped');
    assert.equal(types.get('conntrack_established_count'), 'gauge', 'pattern doc <state>_count');
    assert.equal(help.get('ipvs_virtual_server_connections'), 'Connections scheduled to this virtual server');
    assert.equal(help.get('conntrack_established_count'), 'Entries in a TCP state');
    assert.equal(help.get('ipvs_virtual_server_bytes_in'), 'Bytes received');
    assert.equal(help.get('conntrack_drop'), 'Telegraf collected metric');
    // A family keeps the type it was created with; the counter-typed sample joins it.
    assert.equal(samples.get('conntrack_drop{cpu="all"}'), '7');
    // Measurement "prometheus" is left out of names; bools are 1/0.
    assert.equal(samples.get('up{job="x"}'), '1');
    assert.equal(samples.get('ready{job="x"}'), '0');
    assert.equal(types.get('up'), 'gauge');
    assertPromtoolClean(page);
  });

  test('frozen tag sets (shared by a series across gathers) render the same labels; string labels still follow each metric', async () => {
    const tags = TagSet.frozen(['addr', 'bad-name', 'port'], ['10.0.0.1', 'x', '80']);
    const metric = (v: number, s: string): Metric => {
      const m = new Metric('svc', T + BigInt(v), 'untyped', tags);
      m.addField('conns', FieldType.Int, v);
      m.addField('state', FieldType.String, s);
      return m;
    };
    const plain = Metric.from('svc', { addr: '10.0.0.1', 'bad-name': 'x', port: '80' }, { conns: int(1) }, T);
    const { out } = make({ string_as_label: false });
    await out.write([metric(1, 'up'), metric(2, 'up')]);
    const frozenPage = out.collection.render();
    const { out: other } = make({ string_as_label: false });
    await other.write([plain]);
    assert.deepEqual([...parsePage(frozenPage).samples.keys()], [...parsePage(other.collection.render()).samples.keys()]);
    const { out: withStrings } = make({ string_as_label: true });
    await withStrings.write([metric(1, 'up'), metric(2, 'down')]);
    const samples = parsePage(withStrings.collection.render()).samples;
    assert.equal(samples.get('svc_conns{addr="10.0.0.1",bad_name="x",port="80",state="up"}'), '1');
    assert.equal(samples.get('svc_conns{addr="10.0.0.1",bad_name="x",port="80",state="down"}'), '2');
  });

  test('string_as_label = false drops string fields; metric_types globs and counter_total_suffix', async () => {
    const { out } = make({ string_as_label: false, metric_types: { counter: ['*_packets'], gauge: ['app_l*'] }, counter_total_suffix: true });
    await out.write([
      Metric.from('app', { h: 'a' }, { rx_packets: int(10), level_x: int(4), s: 'text', c: int(1) }, T),
      Metric.from('app', { h: 'a' }, { errors: int(2) }, T, 'counter'),
      Metric.from('app', { h: 'a' }, { done_total: int(3) }, T, 'counter'),
    ]);
    const page = out.collection.render();
    const { samples, types } = parsePage(page);
    assert.equal(samples.get('app_rx_packets_total{h="a"}'), '10');
    assert.equal(types.get('app_rx_packets_total'), 'counter');
    assert.equal(types.get('app_level_x'), 'gauge');
    assert.equal(types.get('app_c'), 'untyped');
    assert.equal(samples.get('app_errors_total{h="a"}'), '2');
    assert.equal(samples.get('app_done_total{h="a"}'), '3', 'no double suffix');
    assert.ok(!page.includes('text'), 'string field dropped');
    const lint = promtoolCheckMetrics(page);
    if (lint.available) assert.ok(!lint.problems.some((p) => p.includes('_total" suffix')), lint.problems.join('\n'));
    assertPromtoolClean(page);
  });

  test('sanitization and escaping keep the page valid', async () => {
    const { out } = make();
    await out.write([
      Metric.from('9weird-name.x', { 'tag-with.dash': 'quote " backslash \\ newline \n end', '0lead': 'v', 'a b': 'c' }, { 'field/one': 1.5, 'f:colon': -2, inf: Infinity, nan: NaN }, T),
      Metric.from('tags', { 'a-b': 'first', a_b: 'second' }, { v: int(1) }, T),
    ]);
    const page = out.collection.render();
    assert.match(page, /^weird_name_x_field_one\{a_b="c",lead="v",tag_with_dash="quote \\" backslash \\\\ newline \\n end"\} 1\.5$/m);
    assert.match(page, /^weird_name_x_f:colon\{.*\} -2$/m);
    assert.match(page, /^weird_name_x_inf\{.*\} \+Inf$/m);
    assert.match(page, /^weird_name_x_nan\{.*\} NaN$/m);
    // Two tags sanitizing to one label name: the first (sorted by tag key) wins, no duplicate label.
    assert.match(page, /^tags_v\{a_b="first"\} 1$/m);
    assertPromtoolClean(page);
  });

  test('newest sample per series wins; series expire after expiration_interval', async () => {
    const clock = { now: 1_000_000 };
    const { out } = make({ expiration_interval: '10s' }, { now: () => clock.now });
    await out.write([Metric.from('m', { s: 'a' }, { v: int(2) }, T + 2n), Metric.from('m', { s: 'a' }, { v: int(1) }, T + 1n), Metric.from('m', { s: 'b' }, { v: int(9) }, T)]);
    let { samples } = parsePage(out.collection.render());
    assert.equal(samples.get('m_v{s="a"}'), '2');
    clock.now += 6_000;
    await out.write([Metric.from('m', { s: 'a' }, { v: int(3) }, T + 3n)]);
    clock.now += 6_000;
    ({ samples } = parsePage(out.collection.render()));
    assert.equal(samples.get('m_v{s="a"}'), '3');
    assert.equal(samples.has('m_v{s="b"}'), false, 'b expired');
    clock.now += 11_000;
    assert.equal(out.collection.render(), '', 'everything expired, family gone');
  });

  test('Telegraf histogram-aggregator metrics become one native histogram family', async () => {
    const { out } = make({}, { docs: [{ name: 'probe', help: '', fields: [{ name: 'rtt', type: 'float', help: 'Round-trip time of a probe in seconds' }] }] });
    const batch: Metric[] = [];
    const bounds: [string, number][] = [
      ['0.005', 1],
      ['0.01', 4],
      ['0.1', 9],
      ['+Inf', 10],
    ];
    for (const [le, n] of bounds) batch.push(Metric.from('probe', { le, target: 'a' }, { rtt_bucket: int(n) }, T, 'histogram'));
    batch.push(Metric.from('probe', { target: 'a' }, { rtt_sum: 0.42, rtt_count: int(10) }, T, 'histogram'));
    // Without a +Inf bucket the renderer adds it from the count.
    batch.push(Metric.from('probe', { le: '1', target: 'b' }, { rtt_bucket: int(2) }, T, 'histogram'));
    batch.push(Metric.from('probe', { target: 'b' }, { rtt_sum: 0.5, rtt_count: int(3) }, T, 'histogram'));
    await out.write(batch);
    const page = out.collection.render();
    const expected = [
      '# HELP probe_rtt Round-trip time of a probe in seconds',
      '# TYPE probe_rtt histogram',
      'probe_rtt_bucket{target="a",le="0.005"} 1',
      'probe_rtt_bucket{target="a",le="0.01"} 4',
      'probe_rtt_bucket{target="a",le="0.1"} 9',
      'probe_rtt_bucket{target="a",le="+Inf"} 10',
      'probe_rtt_sum{target="a"} 0.42',
      'probe_rtt_count{target="a"} 10',
      'probe_rtt_bucket{target="b",le="1"} 2',
      'probe_rtt_bucket{target="b",le="+Inf"} 3',
      'probe_rtt_sum{target="b"} 0.5',
      'probe_rtt_count{target="b"} 3',
    ];
    assert.equal(page, expected.join('\n') + '\n');
    assertPromtoolClean(page);
  });

  test('histogram HELP from the documentation of <field>_bucket/_sum/_count', async () => {
    const help = (what: string) => `Flow lifetime, seconds: ${what}`;
    const docs: MeasurementDoc[] = [
      {
        name: 'svc',
        help: '',
        fields: [
          { name: 'life_bucket', type: 'int', valueType: 'histogram', help: help('cumulative count of observations <= le') },
          { name: 'life_sum', type: 'float', valueType: 'histogram', help: help('sum of observations') },
          { name: 'life_count', type: 'int', valueType: 'histogram', help: help('number of observations') },
        ],
      },
    ];
    const { out } = make({}, { docs });
    await out.write([Metric.from('svc', { le: '+Inf' }, { life_bucket: int(1) }, T, 'histogram'), Metric.from('svc', {}, { life_sum: 2.5, life_count: int(1) }, T, 'histogram')]);
    assert.match(out.collection.render(), /^# HELP svc_life Flow lifetime, seconds\n# TYPE svc_life histogram\n/);
  });

  test('HELP and TYPE come from the input plugins\' docs that the agent puts in the output context', async (t) => {
    const { loadRegistry } = await import('../../../core/registry');
    let pick: { measurement: string; field: string; help: string; valueType: string } | undefined;
    for (const p of loadRegistry().inputs.values())
      for (const m of p.measurements ?? [])
        for (const f of m.fields)
          if (!pick && !f.name.includes('<') && (f.valueType === 'counter' || f.valueType === 'gauge') && f.help && (f.type === 'int' || f.type === 'uint' || f.type === 'float'))
            pick = { measurement: m.name, field: f.name, help: f.help, valueType: f.valueType };
    if (!pick) return t.skip('no input plugin with documented counter/gauge fields is built');
    const { Agent } = await import('../../../core/agent');
    const { loadConfig } = await import('../../../core/config/load');
    const registry = loadRegistry();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-prom-')), 'a.conf');
    fs.writeFileSync(file, '[[inputs.internal]]\n[[outputs.prometheus_client]]\n  listen = "127.0.0.1:0"\n');
    const agent = new Agent(loadConfig({ files: [file], directories: [], registry }), registry);
    const out = agent.outputs[0].output as PrometheusClientOutput;
    await out.write([Metric.from(pick.measurement, { host: 'h' }, { [pick.field]: int(1) }, T)]);
    const { help, types } = parsePage(out.collection.render());
    const name = `${pick.measurement}_${pick.field}`;
    assert.equal(help.get(name), pick.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n'));
    assert.equal(types.get(name), pick.valueType);
  });

  test('export_timestamp appends milliseconds', async () => {
    const { out } = make({ export_timestamp: true });
    await out.write([Metric.from('m', {}, { v: int(1) }, 1_700_000_000_123_456_789n)]);
    assert.match(out.collection.render(), /^m_v 1 1700000000123$/m);
  });

  test('100,000 series: page is valid for promtool', async () => {
    const { out } = make();
    const batch: Metric[] = [];
    for (let i = 0; i < 20_000; i++)
      batch.push(Metric.from('ipvs_virtual_server', { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: '80', protocol: 'tcp' }, { connections: uint(i), cps: uint(i % 7), bytes_in: uint(i * 1000), bytes_out: uint(i * 2), pkts_in: uint(i) }, T));
    await out.write(batch);
    assert.equal(out.collection.seriesCount, 100_000);
    const page = out.collection.render();
    assert.equal(page.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, 100_000);
    assertPromtoolClean(page);
  });
});

describe('outputs.prometheus_client HTTP endpoint', () => {
  test('serves the metrics at path; gzip on request; basic auth; ip_range', async () => {
    const { out } = make({ basic_username: 'scraper', basic_password: 'pw', ip_range: ['127.0.0.0/8'], http_headers: { 'X-Test': 'yes' } });
    await out.connect();
    await out.write([Metric.from('m', { a: 'b' }, { v: int(1) }, T)]);
    const url = out.server.url();
    const auth = { Authorization: 'Basic ' + Buffer.from('scraper:pw').toString('base64') };
    let r = await fetch(url, { headers: auth });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(r.headers.get('x-test'), 'yes');
    assert.match(await r.text(), /^m_v\{a="b"\} 1$/m);
    r = await fetch(url);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="prometheus"');
    r = await fetch(url, { headers: { Authorization: 'Basic ' + Buffer.from('scraper:wrong').toString('base64') } });
    assert.equal(r.status, 401);
    // Other paths get Telegraf's landing page (access.test.ts).
    r = await fetch(url.replace('/metrics', '/other'), { headers: auth });
    assert.equal(r.status, 200);
    assert.doesNotMatch(await r.text(), /^m_v/m);

    // gzip for a large page when asked.
    const big: Metric[] = [];
    for (let i = 0; i < 200; i++) big.push(Metric.from('big', { i: String(i) }, { v: int(i) }, T));
    await out.write(big);
    const raw = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
      const u = new URL(url);
      const req = require('node:http').get({ host: u.hostname, port: u.port, path: u.pathname, headers: { ...auth, 'Accept-Encoding': 'gzip' } }, (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
    });
    assert.equal(raw.enc, 'gzip');
    assert.match(zlib.gunzipSync(raw.body).toString(), /^big_v\{i="199"\} 199$/m);

    // An address outside ip_range is refused.
    const { out: out2 } = make({ ip_range: ['10.0.0.0/8', '192.168.1.0/30'] });
    await out2.connect();
    assert.equal((await fetch(out2.server.url())).status, 403);
  });

  test('TLS with required client certificates (tls_allowed_cacerts)', async () => {
    const td = (f: string) => sourcePath(__dirname, 'testdata', f);
    const { out } = make({ tls_cert: td('server.crt'), tls_key: td('server.key'), tls_allowed_cacerts: [td('ca.crt')] });
    await out.connect();
    await out.write([Metric.from('m', {}, { v: int(5) }, T)]);
    const url = out.server.url();
    assert.match(url, /^https:/);
    const get = (withCert: boolean) =>
      new Promise<string>((resolve, reject) => {
        const u = new URL(url);
        const req = https.get(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            ca: fs.readFileSync(td('ca.crt')),
            ...(withCert ? { cert: fs.readFileSync(td('client.crt')), key: fs.readFileSync(td('client.key')) } : {}),
          },
          (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve(`${res.statusCode} ${body}`));
          },
        );
        req.on('error', reject);
      });
    assert.match(await get(true), /^200 [\s\S]*m_v 5/);
    await assert.rejects(get(false));
  });
});

describe('outputs.prometheus_client with a real Prometheus server', () => {
  test('the target is up and queries return the written series', async (t) => {
    const { out } = make({ basic_username: 'prom', basic_password: 'secret' });
    await out.connect();
    const address = new URL(out.server.url()).host;
    let prom;
    try {
      prom = await startPrometheus([{ address, basicAuth: { username: 'prom', password: 'secret' } }]);
    } catch (err) {
      if (err instanceof PrometheusUnavailable) return skipOrFail(t, err.message);
      throw err;
    }
    try {
      const now = BigInt(Date.now()) * 1_000_000n;
      await out.write([
        Metric.from('ipvs_virtual_server', { address: '10.1.2.3', port: '443', protocol: 'tcp' }, { connections: uint(1234), cps: uint(7) }, now),
        Metric.from('probe', { le: '0.1', target: 'a' }, { rtt_bucket: int(3) }, now, 'histogram'),
        Metric.from('probe', { le: '+Inf', target: 'a' }, { rtt_bucket: int(4) }, now, 'histogram'),
        Metric.from('probe', { target: 'a' }, { rtt_sum: 0.3, rtt_count: int(4) }, now, 'histogram'),
        // Enough series for a page over 1 KiB, which is sent gzip-compressed to Prometheus.
        ...Array.from({ length: 200 }, (_, i) => Metric.from('filler', { n: String(i) }, { v: int(i) }, now, 'gauge')),
      ]);
      await prom.waitUp();
      let result: Awaited<ReturnType<typeof prom.query>> = [];
      for (let i = 0; i < 50 && result.length === 0; i++) {
        result = await prom.query('ipvs_virtual_server_connections{address="10.1.2.3"}');
        if (result.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(result.length, 1, prom.log());
      assert.equal(result[0].value[1], '1234');
      assert.equal(result[0].metric.port, '443');
      const buckets = await prom.query('probe_rtt_bucket{target="a"}');
      assert.deepEqual(buckets.map((b) => [b.metric.le, b.value[1]]).sort(), [
        ['+Inf', '4'],
        ['0.1', '3'],
      ]);
      const filler = await prom.query('sum(filler_v)');
      assert.equal(filler[0]?.value[1], String((199 * 200) / 2));
      const meta = await fetch(`${prom.url}/api/v1/metadata?metric=ipvs_virtual_server_connections`).then((r) => r.json() as Promise<{ data: Record<string, { type: string; help: string }[]> }>);
      assert.equal(meta.data.ipvs_virtual_server_connections?.[0]?.type, 'counter');
      assert.equal(meta.data.ipvs_virtual_server_connections?.[0]?.help, 'Connections scheduled to this virtual server');
    } finally {
      await prom.stop();
    }
  });
});
