/**
 * Reuse detection on synthetic snapshots in the kernel's exact row format.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnCollector } from './collector';
import { VirtualServerFilter } from './filter';
import { buildMetrics } from './metrics';
import { ConnTracker, DUPLICATE, FIRST, NEW } from './tracker';

const hex4 = (ip: string): string =>
  ip
    .split('.')
    .map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0'))
    .join('');
const hexPort = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');

/** One row as the kernel prints it (IPv4). */
function row(proto: string, client: string, vip: string, dest: string, state: string, expires: number): string {
  const [ca, cp] = client.split(':');
  const [va, vp] = vip.split(':');
  const [da, dp] = dest.split(':');
  return `${proto.padEnd(3)} ${hex4(ca)} ${hexPort(+cp)} ${hex4(va)} ${hexPort(+vp)} ${hex4(da)} ${hexPort(+dp)} ${state.padEnd(11)} ${String(expires).padStart(7)}`;
}

const HEADER = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData';
const table = (...rows: string[]): string => [HEADER, ...rows, ''].join('\n');

const C = '10.0.0.9:40000';
const V = '10.96.0.10:53';
const A = '10.1.0.1:53';
const B = '10.1.0.2:53';

interface Pass {
  text: string;
  /** Monotonic seconds at the start of the read; reads take 0.1 s. */
  at: number;
}

function run(passes: Pass[], opts: { filter?: string[]; events?: number } = {}): ConnCollector {
  const f = new VirtualServerFilter(opts.filter ?? []);
  const c = new ConnCollector({ include: f.empty ? undefined : (t) => f.matches(t), maxEvents: opts.events ?? 100 });
  for (const p of passes) c.collectText(p.text, p.at, p.at + 0.1);
  return c;
}

function counters(c: ConnCollector): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const m of buildMetrics(c, { time: 1n, namespace: '', connReuseMode: 0, events: false })) {
    if (m.name !== 'ipvs_conn_reuse') continue;
    assert.equal(m.type, 'counter');
    out[`${m.getTag('address')}:${m.getTag('port')}`] = [Number(m.getField('reused_connections')!.value), Number(m.getField('rescheduled_connections')!.value)];
  }
  return out;
}

/** Reused count of the last pass for a two-pass scenario. */
function reusedAfter(prevState: string, prevExp: number, nowState: string, nowExp: number, elapsed: number): number {
  const c = run([
    { text: table(row('TCP', C, V, A, prevState, prevExp)), at: 100 },
    { text: table(row('TCP', C, V, A, nowState, nowExp)), at: 100.1 + elapsed },
  ]);
  return c.reusedNow;
}

describe('rule (a): a closing entry re-armed by a new connection', () => {
  test("ipvs-logger's example: TIME_WAIT 28 s left, 114 s six seconds later", () => {
    assert.equal(reusedAfter('TIME_WAIT', 28, 'TIME_WAIT', 114, 6), 1);
  });
  test('a re-arm to the full 120 s (skipped by ipvs-logger) counts', () => {
    assert.equal(reusedAfter('TIME_WAIT', 100, 'TIME_WAIT', 120, 15), 1);
  });
  test('the reused entry is open again (SYN_RECV, ESTABLISHED)', () => {
    assert.equal(reusedAfter('TIME_WAIT', 50, 'ESTABLISHED', 899, 10), 1);
    assert.equal(reusedAfter('LAST_ACK', 20, 'SYN_RECV', 59, 10), 1);
    assert.equal(reusedAfter('CLOSE', 5, 'ESTABLISHED', 900, 4), 1);
  });
  test('a countdown is not a reuse, also at the exact bound', () => {
    assert.equal(reusedAfter('TIME_WAIT', 100, 'TIME_WAIT', 90, 10), 0);
    // 91 > 100 - 10 + 1 is false: the truncated seconds of a countdown can land here.
    assert.equal(reusedAfter('TIME_WAIT', 100, 'TIME_WAIT', 91, 10), 0);
    assert.equal(reusedAfter('TIME_WAIT', 100, 'TIME_WAIT', 92, 10), 1);
  });
  test('an old entry that certainly expired before this read is not reused: the port was free again', () => {
    assert.equal(reusedAfter('TIME_WAIT', 5, 'TIME_WAIT', 115, 10), 0);
    assert.equal(reusedAfter('TIME_WAIT', 9, 'ESTABLISHED', 899, 10), 0);
    // 10 s left could still be 10.9 s: it may have been alive when the SYN came.
    assert.equal(reusedAfter('TIME_WAIT', 10, 'ESTABLISHED', 899, 10), 1);
    const c = run([
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 3)), at: 0 },
      { text: table(row('TCP', C, V, B, 'SYN_RECV', 60)), at: 10 },
    ]);
    assert.equal(c.rescheduledNow, 0);
  });
  test('the same connection finishing its close is not a reuse', () => {
    assert.equal(reusedAfter('FIN_WAIT', 115, 'TIME_WAIT', 118, 5), 0);
    assert.equal(reusedAfter('CLOSE_WAIT', 40, 'LAST_ACK', 30, 5), 0);
    // A half-closed connection still carrying data re-arms its own timer.
    assert.equal(reusedAfter('CLOSE_WAIT', 50, 'CLOSE_WAIT', 60, 5), 0);
    assert.equal(reusedAfter('FIN_WAIT', 100, 'FIN_WAIT', 120, 5), 0);
  });
  test('an entry that was not closing is not a reuse', () => {
    assert.equal(reusedAfter('ESTABLISHED', 800, 'ESTABLISHED', 900, 10), 0);
    assert.equal(reusedAfter('SYN_RECV', 30, 'ESTABLISHED', 900, 10), 0);
  });
  test('UDP entries are never "reused" (a UDP flow re-arms on every datagram)', () => {
    const c = run([
      { text: table(row('UDP', C, V, A, 'UDP', 100)), at: 0 },
      { text: table(row('UDP', C, V, A, 'UDP', 300)), at: 10 },
    ]);
    assert.equal(c.reusedNow + c.rescheduledNow, 0);
  });
  test('the first pass has nothing to compare with', () => {
    const c = run([{ text: table(row('TCP', C, V, A, 'TIME_WAIT', 120)), at: 0 }]);
    assert.equal(c.reusedNow, 0);
    assert.deepEqual(counters(c), { '10.1.0.1:53': [0, 0] });
  });
});

describe('rule (b): a client port moved to another real server', () => {
  test('counted on the new real server, cumulative, with an event naming both', () => {
    const D = '10.0.0.9:40001';
    const c = run([
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 100), row('TCP', D, V, A, 'ESTABLISHED', 900)), at: 0 },
      { text: table(row('TCP', C, V, B, 'SYN_RECV', 60), row('TCP', D, V, A, 'ESTABLISHED', 890)), at: 10 },
      { text: table(row('TCP', C, V, A, 'ESTABLISHED', 900), row('TCP', D, V, A, 'ESTABLISHED', 880)), at: 20 },
    ]);
    assert.deepEqual(counters(c), { '10.1.0.1:53': [0, 1], '10.1.0.2:53': [0, 1] });
    const ev = buildMetrics(c, { time: 5n, namespace: 'ns1', connReuseMode: 1, events: true }).filter((m) => m.name === 'ipvs_conn_reuse_event');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].getTag('address'), '10.1.0.1');
    assert.equal(ev[0].getTag('namespace'), 'ns1');
    assert.equal(ev[0].getField('kind')?.value, 'rescheduled');
    assert.equal(ev[0].getField('previous_address')?.value, '10.1.0.2');
    assert.equal(ev[0].getField('client_address')?.value, '10.0.0.9');
    assert.equal(ev[0].getField('client_port')?.value, 40000);
    assert.equal(ev[0].getField('previous_state')?.value, 'SYN_RECV');
  });
  test('an expiring entry beside its successor: each compared with the previous pass', () => {
    const c = run([
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 30)), at: 0 },
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 20), row('TCP', C, V, B, 'SYN_RECV', 60)), at: 10 },
    ]);
    assert.equal(c.reusedNow, 0);
    assert.equal(c.rescheduledNow, 1);
    // The tracker keeps the survivor (the longer timer) for the next pass.
    const c2 = run([
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 30)), at: 0 },
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 20), row('TCP', C, V, B, 'SYN_RECV', 60)), at: 10 },
      { text: table(row('TCP', C, V, B, 'ESTABLISHED', 900)), at: 20 },
    ]);
    assert.equal(c2.rescheduledNow, 0);
  });
  test('UDP flows moving to another real server count', () => {
    const c = run([
      { text: table(row('UDP', C, V, A, 'UDP', 100)), at: 0 },
      { text: table(row('UDP', C, V, B, 'UDP', 300)), at: 10 },
    ]);
    assert.equal(c.rescheduledNow, 1);
  });
});

test('IPv6 connections are tracked', () => {
  const v6 = (client: string, dest: string, state: string, exp: number): string =>
    `TCP fd00:0000:0000:0000:0000:0000:0000:0009 ${client} fd00:0000:0000:0000:0000:0000:0000:000a 0050 ${dest} 1F90 ${state.padEnd(11)} ${String(exp).padStart(7)}`;
  const d1 = 'fd00:0000:0000:0000:0000:0000:0001:0001';
  const c = run([
    { text: table(v6('9C40', d1, 'TIME_WAIT', 28), v6('9C41', d1, 'TIME_WAIT', 28)), at: 0 },
    { text: table(v6('9C40', d1, 'TIME_WAIT', 114), v6('9C41', d1, 'TIME_WAIT', 22)), at: 6 },
  ]);
  assert.equal(c.reusedNow, 1);
  const ev = buildMetrics(c, { time: 1n, namespace: '', connReuseMode: 0, events: true }).find((m) => m.name === 'ipvs_conn_reuse_event');
  assert.equal(ev?.getField('client_address')?.value, 'fd00::9');
  assert.equal(ev?.getTag('virtual_address'), 'fd00::a');
  assert.equal(ev?.getField('previous_expires')?.value, 28);
  assert.equal(ev?.getField('expires')?.value, 114);
});

test('virtual_servers leaves other services out of counting and tracking', () => {
  const other = '10.96.0.20:80';
  const c = run(
    [
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 28), row('TCP', C, other, A, 'TIME_WAIT', 28)), at: 0 },
      { text: table(row('TCP', C, V, A, 'TIME_WAIT', 114), row('TCP', C, other, A, 'TIME_WAIT', 114)), at: 6 },
    ],
    { filter: ['udp:10.96.0.10', 'tcp:10.96.0.10:53'] },
  );
  assert.equal(c.reusedNow, 1);
  assert.equal(c.filteredRows, 1);
  assert.equal(c.tracker.size, 1);
});

test('events beyond max_reuse_events are counted, not kept', () => {
  const prev: string[] = [];
  const now: string[] = [];
  for (let i = 0; i < 5; i++) {
    prev.push(row('TCP', `10.0.0.9:${40000 + i}`, V, A, 'TIME_WAIT', 28));
    now.push(row('TCP', `10.0.0.9:${40000 + i}`, V, A, 'TIME_WAIT', 114));
  }
  const c = run(
    [
      { text: table(...prev), at: 0 },
      { text: table(...now), at: 6 },
    ],
    { events: 2 },
  );
  assert.equal(c.reusedNow, 5);
  assert.equal(c.events.length, 2);
  assert.equal(c.eventsDropped, 3);
  const ev = buildMetrics(c, { time: 1000n, namespace: '', connReuseMode: 0, events: true }).filter((m) => m.name === 'ipvs_conn_reuse_event');
  assert.deepEqual(
    ev.map((m) => m.time),
    [1000n, 1001n],
  );
});

test('max_tracked_connections: beyond it connections are counted, not tracked', () => {
  const c = new ConnCollector({ maxTracked: 2 });
  const rows = [0, 1, 2, 3].map((i) => row('TCP', `10.0.0.9:${40000 + i}`, V, A, 'TIME_WAIT', 28));
  c.collectText(table(...rows), 0, 0.1);
  assert.equal(c.tracker.size, 2);
  assert.equal(c.untracked, 2);
  const m = buildMetrics(c, { time: 1n, namespace: '', connReuseMode: undefined, events: false });
  assert.equal(m.find((x) => x.name === 'ipvs_conn')?.getField('time_wait')?.value, 4);
  assert.equal(m.find((x) => x.name === 'ipvs_conn_table')?.getField('untracked_connections')?.value, 2);
  assert.equal(m.find((x) => x.name === 'ipvs_conn')?.getField('conn_reuse_mode'), undefined);
});

test('tracker: statuses and contents agree with a Map over many passes with churn', () => {
  const t = new ConnTracker();
  let rnd = 12345;
  const next = (): number => (rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0);
  let live = new Map<string, number>();
  for (let pass = 0; pass < 8; pass++) {
    t.beginSnapshot();
    const seen = new Map<string, number>();
    const keys: number[][] = [];
    // Keep ~70% of the previous keys, add new ones, and a few duplicates.
    for (const k of live.keys()) if (next() % 10 < 7) keys.push(k.split(',').map(Number));
    for (let i = 0; i < 20000; i++) keys.push([next(), next() & 0xff, next(), pass]);
    for (let i = 0; i < 100; i++) keys.push(keys[next() % keys.length]);
    for (const k of keys) {
      const id = k.join(',');
      const e = t.upsert(k[0], k[1], k[2], k[3]);
      const want = seen.has(id) ? DUPLICATE : live.has(id) ? FIRST : NEW;
      assert.equal(t.status, want);
      if (want === FIRST) assert.equal(t.prevExpires(e), live.get(id));
      if (want !== DUPLICATE) {
        const v = next() & 0xffff;
        t.set(e, 1, 1, v);
        seen.set(id, v);
      }
    }
    t.endSnapshot();
    live = seen;
    assert.equal(t.size, live.size);
  }
});
