import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../../core/conntrack/constants';
import { CtFlow, CtMessageKind } from '../../../core/conntrack/types';
import { Histogram, DEFAULT_BUCKETS } from './histogram';
import { FlowAggregator, isDnat } from './flows';
import { SubnetList, parseSubnet, contains6 } from './subnet';
import { TableAggregator } from './table';

const ip = (s: string): number => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);

function flow(o: Partial<{ kind: CtMessageKind; src: string; dst: string; proto: number; sport: number; dport: number; replySrc: string; replySport: number; status: number; tcpState: number; id: number; mark: number; zone: number; counters: [number, number, number, number]; start: number; stop: number; event: number }>): CtFlow {
  const f = new CtFlow();
  f.kind = o.kind ?? CtMessageKind.Entry;
  f.family = C.AF_INET;
  f.orig.family = f.reply.family = C.AF_INET;
  f.orig.src4 = ip(o.src ?? '10.0.0.1');
  f.orig.dst4 = ip(o.dst ?? '10.96.0.10');
  f.orig.proto = f.reply.proto = o.proto ?? 6;
  f.orig.sport = o.sport ?? 40000;
  f.orig.dport = o.dport ?? 80;
  f.reply.src4 = ip(o.replySrc ?? o.dst ?? '10.96.0.10');
  f.reply.dst4 = f.orig.src4;
  f.reply.sport = o.replySport ?? f.orig.dport;
  f.reply.dport = f.orig.sport;
  f.status = o.status ?? 0;
  f.tcpState = o.tcpState ?? (f.orig.proto === 6 ? 1 : -1);
  f.id = o.id ?? 1;
  f.mark = o.mark ?? 0;
  f.zone = o.zone ?? 0;
  if (o.counters) {
    f.hasCounters = true;
    [f.origPackets, f.origBytes, f.replyPackets, f.replyBytes] = o.counters;
  }
  f.startNs = o.start ?? 0;
  f.stopNs = o.stop ?? 0;
  f.eventNs = o.event ?? 0;
  return f;
}

const val = (fields: Record<string, unknown>, k: string): number => Number((fields[k] as { value: number }).value);

/** The aggregator's metrics as plain rows (what the serializer would write). */
function rows(a: FlowAggregator, baseTags: Record<string, string> = {}): { measurement: string; type: string; tags: Record<string, string>; fields: Record<string, { value: unknown }> }[] {
  return a.metrics(baseTags, 1n).map((m) => ({
    measurement: m.name,
    type: m.type,
    tags: m.tags(),
    fields: Object.fromEntries(m.fields.map((f) => [f.key, { value: f.value }])),
  }));
}

const flowOpts = {
  serviceSubnets: ['10.96.0.0/16'],
  excludeSubnets: ['10.96.0.0/24'],
  onlyDnat: false,
  buckets: { duration: [1, 10], connectLatency: [0.001, 0.01], finLatency: [0.1, 1], bytes: [100, 1000], packets: [10] },
  maxFlows: 2,
  maxServices: 10,
  reset: false,
  expireNs: 0,
};

describe('histogram', () => {
  test('le semantics, cumulative buckets, +Inf, sum and count', () => {
    const h = new Histogram([10, 1, 5, 5]);
    assert.deepEqual([...h.bounds], [1, 5, 10]);
    // Through the aggregator's metrics: flow durations 0.5, 1, 3, 5, 7 and 100 s.
    const a = new FlowAggregator({ ...flowOpts, buckets: { ...flowOpts.buckets, duration: [10, 1, 5, 5] } });
    [0.5, 1, 3, 5, 7, 100].forEach((seconds, id) => a.handle(flow({ kind: CtMessageKind.Destroy, dst: '10.96.1.1', id, start: 1e18, stop: 1e18 + seconds * 1e9 }), 1));
    const all = rows(a, { a: 'b' }).filter((r) => Object.keys(r.fields).some((k) => k.startsWith('duration_seconds')));
    assert.deepEqual(all.map((r) => r.tags.le), ['1', '5', '10', '+Inf', undefined]);
    assert.deepEqual(all.slice(0, 4).map((r) => val(r.fields, 'duration_seconds_bucket')), [2, 4, 5, 6]);
    assert.equal(val(all[4].fields, 'duration_seconds_sum'), 116.5);
    assert.equal(val(all[4].fields, 'duration_seconds_count'), 6);
  });

  test('le tags use Go decimal text without exponent', () => {
    const h = new Histogram(DEFAULT_BUCKETS.connectLatency);
    const les = h.labels;
    assert.ok(les.includes('0.00001'));
    assert.ok(les.includes('0.00075'));
    assert.equal(les[les.length - 1], '+Inf');
  });
});

describe('subnets', () => {
  test('IPv4 and IPv6 containment', () => {
    const l = new SubnetList(['10.96.0.0/16', '192.168.1.5', 'fd00::/64']);
    assert.equal(l.match4(ip('10.96.255.1')), 0);
    assert.equal(l.match4(ip('10.97.0.1')), -1);
    assert.equal(l.match4(ip('192.168.1.5')), 1);
    const a = new Uint8Array(16);
    a[0] = 0xfd;
    a[15] = 1;
    assert.equal(l.match6(a), 2);
    a[7] = 1;
    assert.equal(l.match6(a), -1);
    assert.ok(contains6(parseSubnet('::/0'), a));
    assert.throws(() => parseSubnet('10.0.0.0/33'));
    assert.throws(() => parseSubnet('nonsense'));
  });
});

describe('table aggregation', () => {
  test('groups per protocol, TCP state, zone, mark and subnet; zeroes persist', () => {
    const t = new TableAggregator({ byMark: true, markMask: 0xff, subnets: ['10.96.0.0/16'] });
    t.begin();
    t.add(flow({ tcpState: 3, status: C.IPS_SEEN_REPLY | C.IPS_ASSURED, mark: 0x101, counters: [1, 100, 2, 200] }));
    t.add(flow({ tcpState: 3, status: C.IPS_SEEN_REPLY, mark: 0x201, counters: [3, 300, 4, 400] }));
    t.add(flow({ tcpState: 1, dst: '10.1.0.1', zone: 7 }));
    t.add(flow({ proto: 17, dst: '10.96.0.53', dport: 53 }));
    let rows = t.rows({});
    const find = (m: string, k: string, v: string) => rows.find((r) => r.measurement === m && r.tags[k] === v)!;
    assert.equal(val(find('conntrack_table', 'protocol', 'tcp').fields, 'entries'), 3);
    assert.equal(find('conntrack_table', 'protocol', 'tcp').tags.family, 'ipv4');
    assert.equal(val(find('conntrack_table', 'protocol', 'tcp').fields, 'orig_bytes'), 400);
    assert.equal(val(find('conntrack_table', 'protocol', 'tcp').fields, 'unreplied'), 1);
    assert.equal(val(find('conntrack_table', 'protocol', 'udp').fields, 'entries'), 1);
    assert.equal(find('conntrack_table', 'protocol', 'udp').fields.orig_bytes, undefined);
    assert.equal(val(find('conntrack_table_tcp_state', 'state', 'ESTABLISHED').fields, 'entries'), 2);
    assert.equal(val(find('conntrack_table_tcp_state', 'state', 'SYN_SENT').fields, 'entries'), 1);
    assert.equal(val(find('conntrack_table_zone', 'zone', '7').fields, 'entries'), 1);
    assert.equal(val(find('conntrack_table_mark', 'mark', '1').fields, 'entries'), 2);
    assert.equal(val(find('conntrack_table_subnet', 'subnet', '10.96.0.0/16').fields, 'entries'), 3);
    t.begin();
    t.add(flow({ proto: 17 }));
    rows = t.rows({});
    assert.equal(val(find('conntrack_table_tcp_state', 'state', 'ESTABLISHED').fields, 'entries'), 0);
  });

  test('user-space re-check of kernel filters', () => {
    const t = new TableAggregator({ byMark: false, markMask: 0xffffffff, subnets: [], filterMark: 1, filterMarkMask: 0xf, filterZone: 0 });
    t.begin();
    t.add(flow({ mark: 0x11 }));
    t.add(flow({ mark: 0x12 }));
    t.add(flow({ mark: 0x1, zone: 3 }));
    assert.equal(t.seen, 1);
    assert.equal(t.filtered, 2);
  });
});

describe('service flow aggregation', () => {
  const opts = flowOpts;

  test('NEW → UPDATE(reply) → UPDATE(FIN) → DESTROY', () => {
    const a = new FlowAggregator(opts);
    const t0 = 1.7e18;
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 5, event: t0 }), t0 + 1e9);
    a.handle(flow({ kind: CtMessageKind.Update, dst: '10.96.1.1', id: 5, tcpState: 2, status: C.IPS_SEEN_REPLY, event: t0 + 2e6 }), t0 + 1e9);
    a.handle(flow({ kind: CtMessageKind.Update, dst: '10.96.1.1', id: 5, tcpState: 3, status: C.IPS_SEEN_REPLY | C.IPS_ASSURED, event: t0 + 3e6 }), 0);
    assert.equal(a.flowsTracked, 1, 'held until the FIN is seen');
    a.handle(flow({ kind: CtMessageKind.Update, dst: '10.96.1.1', id: 5, tcpState: 4, status: C.IPS_SEEN_REPLY, event: t0 + 500e6 }), 0);
    assert.equal(a.flowsTracked, 0, 'nothing left to measure before DESTROY');
    a.handle(
      flow({ kind: CtMessageKind.Destroy, dst: '10.96.1.1', id: 5, status: C.IPS_SEEN_REPLY, counters: [5, 500, 4, 4000], start: t0, stop: t0 + 5e9 }),
      0,
    );
    const all = rows(a, { host: 'h' });
    const counter = all.find((r) => r.type === 'counter')!;
    assert.deepEqual(counter.tags, { host: 'h', address: '10.96.1.1', port: '80', protocol: 'tcp' });
    assert.equal(val(counter.fields, 'flows_started'), 1);
    assert.equal(val(counter.fields, 'flows_ended'), 1);
    assert.equal(val(counter.fields, 'flows_unreplied'), 0);
    const sum = (name: string) => all.find((r) => r.fields[`${name}_sum`] !== undefined)!.fields;
    // Kernel ns timestamps are doubles near 1.7e18: 256 ns resolution.
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} != ${b}`);
    near(val(sum('connect_latency_seconds'), 'connect_latency_seconds_sum'), 0.002);
    near(val(sum('fin_latency_seconds'), 'fin_latency_seconds_sum'), 0.5);
    near(val(sum('duration_seconds'), 'duration_seconds_sum'), 5);
    assert.equal(val(sum('bytes_reply'), 'bytes_reply_sum'), 4000);
    assert.equal(val(sum('packets_orig'), 'packets_orig_count'), 1);
    const bucket = all.find((r) => r.tags.le === '0.01' && r.fields.connect_latency_seconds_bucket !== undefined)!;
    assert.equal(val(bucket.fields, 'connect_latency_seconds_bucket'), 1);
    assert.ok(all.filter((r) => r.type === 'histogram').every((r) => r.measurement === 'conntrack_service'));
  });

  test('a service yields its counter, then per histogram every bucket and a sum/count metric, on tag sets kept across gathers', () => {
    const a = new FlowAggregator(opts);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 1 }), 1);
    const base = { host: 'h' };
    const first = a.metrics(base, 1n);
    const second = a.metrics(base, 2n);
    const b = opts.buckets;
    const perHistogram = [b.duration, b.connectLatency, b.finLatency, b.bytes, b.bytes, b.packets, b.packets].map((bounds) => bounds.length + 2);
    assert.equal(first.length, 1 + perHistogram.reduce((x, y) => x + y, 0));
    assert.deepEqual(first.map((m) => m.tagSet), second.map((m) => m.tagSet), 'the same frozen sets every gather');
    assert.ok(first.every((m) => m.tagSet.frozen));
    assert.deepEqual(first.slice(1, 4).map((m) => [m.getTag('le'), m.fields[0].key]), [
      ['1', 'duration_seconds_bucket'],
      ['10', 'duration_seconds_bucket'],
      ['+Inf', 'duration_seconds_bucket'],
    ]);
    assert.equal(second[1].time, 2n);
    // Another base (a reload with other tags) gets its own sets.
    assert.equal(a.metrics({ host: 'other' }, 3n)[0].getTag('host'), 'other');
  });

  test('per-bound tag sets are kept up to a budget; beyond it metrics are the same, only not shared; expiry gives the budget back', () => {
    const min = 60e9;
    const a = new FlowAggregator({ ...opts, boundTagSetBudget: 5, expireNs: 10 * min });
    const t0 = 1.7e18;
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 1 }), t0);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.2', id: 2 }), t0 + 5 * min);
    const base = {};
    const lines = (ms: ReturnType<FlowAggregator['metrics']>): string[] => ms.map((m) => `${m.tags().address} ${m.getTag('le')} ${m.fields.map((f) => `${f.key}=${f.value}`)}`);
    const first = a.metrics(base, 1n);
    assert.equal(a.boundTagSetsKept, 5, 'the first service has 8 distinct bounds: 5 kept');
    const second = a.metrics(base, 1n);
    assert.deepEqual(lines(second), lines(first));
    const shared = second.filter((m, i) => m.tagSet === first[i].tagSet && m.getTag('le') !== undefined);
    assert.ok(shared.length > 0 && shared.every((m) => m.getTag('address') === '10.96.1.1'), 'only the first service got kept sets');
    assert.ok(second.filter((m) => m.getTag('address') === '10.96.1.2' && m.getTag('le') !== undefined).every((m) => !m.tagSet.frozen));
    assert.equal(a.expire(t0 + 12 * min), 1);
    assert.equal(a.boundTagSetsKept, 0, 'the forgotten service gave its sets back');
    a.metrics(base, 1n);
    assert.equal(a.boundTagSetsKept, 5, 'now the second service keeps some');
  });

  test('excluded and foreign destinations are ignored; cap evicts the oldest flow', () => {
    const a = new FlowAggregator(opts);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.0.10', id: 1 }), 1);
    a.handle(flow({ kind: CtMessageKind.New, dst: '8.8.8.8', id: 2 }), 1);
    assert.equal(a.counters.eventsIgnored, 2);
    for (let id = 10; id < 15; id++) a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.2.2', id }), 1);
    assert.equal(a.flowsTracked, 2);
    assert.equal(a.counters.flowsEvicted, 3);
    // A DESTROY of an evicted flow still counts, from its own message.
    a.handle(flow({ kind: CtMessageKind.Destroy, dst: '10.96.2.2', id: 10 }), 1);
    const c = rows(a).find((r) => r.type === 'counter')!;
    assert.equal(val(c.fields, 'flows_started'), 5);
    assert.equal(val(c.fields, 'flows_ended'), 1);
    assert.equal(val(c.fields, 'flows_unreplied'), 1);
  });

  test('service_expiration forgets quiet services (freeing room under max_services) and counts them', () => {
    const min = 60e9;
    const a = new FlowAggregator({ ...opts, maxServices: 2, expireNs: 10 * min });
    const t0 = 1.7e18;
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 1 }), t0);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.2', id: 2 }), t0);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.3', id: 3 }), t0);
    assert.equal(a.counters.servicesDropped, 1, 'full: the third service is refused');
    // 10.96.1.1 stays busy; 10.96.1.2 goes quiet.
    a.handle(flow({ kind: CtMessageKind.Destroy, dst: '10.96.1.1', id: 1 }), t0 + 9 * min);
    assert.equal(a.expire(t0 + 5 * min), 0);
    assert.equal(a.expire(t0 + 11 * min), 1);
    assert.equal(a.counters.servicesExpired, 1);
    assert.deepEqual(
      rows(a).filter((r) => r.type === 'counter').map((r) => r.tags.address),
      ['10.96.1.1'],
    );
    // Room again: a new service is taken; the expired one starts from zero when it comes back.
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.3', id: 4 }), t0 + 12 * min);
    a.handle(flow({ kind: CtMessageKind.Destroy, dst: '10.96.1.2', id: 2 }), t0 + 12 * min);
    assert.equal(a.serviceCount, 2);
    assert.equal(a.counters.servicesDropped, 2, '10.96.1.2 came back while the table was full again');
    const started = Object.fromEntries(rows(a).filter((r) => r.type === 'counter').map((r) => [r.tags.address, val(r.fields, 'flows_started')]));
    assert.deepEqual(started, { '10.96.1.1': 1, '10.96.1.3': 1 });
  });

  test('a flow that outlives its service\'s expiry is measured on the service as it is when it ends', () => {
    const min = 60e9;
    const a = new FlowAggregator({ ...opts, expireNs: 10 * min });
    const t0 = 1.7e18;
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 7, event: t0 }), t0);
    assert.equal(a.expire(t0 + 20 * min), 1);
    a.handle(flow({ kind: CtMessageKind.Update, dst: '10.96.1.1', id: 7, tcpState: 2, status: C.IPS_SEEN_REPLY, event: t0 + 20 * min }), t0 + 20 * min);
    a.handle(flow({ kind: CtMessageKind.Destroy, dst: '10.96.1.1', id: 7, status: C.IPS_SEEN_REPLY }), t0 + 21 * min);
    const c = rows(a).find((r) => r.type === 'counter')!;
    assert.equal(a.serviceCount, 1);
    assert.equal(val(c.fields, 'flows_started'), 0);
    assert.equal(val(c.fields, 'flows_ended'), 1);
    const latency = rows(a).find((r) => r.fields.connect_latency_seconds_count !== undefined)!;
    assert.equal(val(latency.fields, 'connect_latency_seconds_count'), 1, 'the latency lands on the live service');
  });

  test('only_dnat and reset', () => {
    const a = new FlowAggregator({ ...opts, onlyDnat: true, reset: true });
    assert.equal(isDnat(flow({ dst: '10.96.1.1', replySrc: '10.1.1.1' })), true);
    assert.equal(isDnat(flow({ dst: '10.96.1.1' })), false);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', id: 1 }), 1);
    a.handle(flow({ kind: CtMessageKind.New, dst: '10.96.1.1', replySrc: '10.1.1.1', id: 2 }), 1);
    assert.equal(val(rows(a).find((r) => r.type === 'counter')!.fields, 'flows_started'), 1);
    assert.equal(val(rows(a).find((r) => r.type === 'counter')!.fields, 'flows_started'), 0);
  });
});
