/**
 * Real kernel (one lab guest boot, test/lab): the plugin runs inside the guest with
 * the host's node and dist/. With conn_reuse_mode=0 a client on a fixed
 * source port reconnects within TIME_WAIT and the plugin reports a reuse on
 * the real server the kernel sent it to again; with conn_reuse_mode=1 the
 * kernel reschedules and the plugin reports it on the new real server. State
 * counts are compared with `ipvsadm -Lnc` taken around each gather, and a
 * second input reads another network namespace through withNetns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCompleted, labOrSkip, labTestTimeout, runGuest } from '../../../test/lab/lab';

const NET = 'dist/test/lab/guest/net.js';
const SCENARIO = 'dist/test/support/inputs/ip_vs_conn/lab/reuse-scenario.js';

interface PlainMetric {
  name: string;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
}
interface Pass {
  label: string;
  before: string;
  after: string;
  metrics: PlainMetric[];
  errors: string[];
}

/** `ipvsadm -Lnc` → counts keyed "proto vip dest state" (templates: client port 0, under "template"). */
function lncCounts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [pro, , state, src, vip, dst] = f;
    const key = src.endsWith(':0') ? `${pro.toLowerCase()} ${vip} ${dst} template` : `${pro.toLowerCase()} ${vip} ${dst} ${state.toLowerCase()}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** Plugin metrics → the same keys (non-zero counts only). */
function pluginCounts(ms: PlainMetric[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of ms) {
    if (x.name !== 'ipvs_conn' || x.tags.virtual_fwmark) continue;
    const ep = (a: string, p: string): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
    const prefix = `${x.tags.virtual_protocol} ${ep(x.tags.virtual_address, x.tags.virtual_port)} ${ep(x.tags.address, x.tags.port)}`;
    for (const [k, v] of Object.entries(x.fields)) {
      if (typeof v !== 'number' || v === 0 || ['entries', 'conn_reuse_mode', 'other'].includes(k)) continue;
      m.set(`${prefix} ${k === 'templates' ? 'template' : k}`, v);
    }
  }
  return m;
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => a[0].localeCompare(b[0]));

test('reuse and rescheduling seen by the plugin on a real IPVS kernel', { timeout: labTestTimeout(240_000) }, async (t) => {
  if (!labOrSkip(t, ['ipvsadm'])) return;
  const r = await runGuest({
    timeoutSec: 180,
    setup: `
      ip link add d0 type dummy && ip link set d0 up
      for a in 10.10.0.1 10.10.0.9 10.10.1.1 10.10.1.2; do ip addr add $a/32 dev d0; done
      ipvsadm -A -t 10.10.0.1:80 -s rr
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.1:8080 -m
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.2:8080 -m
      ipvsadm -A -u 10.10.0.1:53 -s rr
      ipvsadm -a -u 10.10.0.1:53 -r 10.10.1.1:5353 -m
      ipvsadm -a -u 10.10.0.1:53 -r 10.10.1.2:5353 -m
      lab_bg web lab_node ${NET} http-server 10.10.1.1:8080 10.10.1.2:8080
      # another network namespace with its own IPVS table and its own conn_reuse_mode
      ip netns add lb
      ip netns exec lb sh -c '
        ip link set lo up && ip link add d0 type dummy && ip link set d0 up &&
        ip addr add 10.20.0.1/32 dev d0 && ip addr add 10.20.1.1/32 dev d0 &&
        ipvsadm -A -t 10.20.0.1:80 -s rr && ipvsadm -a -t 10.20.0.1:80 -r 10.20.1.1:8080 -m &&
        echo 0 > /proc/sys/net/ipv4/vs/conn_reuse_mode'
      lab_bg nsweb ip netns exec lb "$NODE" ${NET} http-server 10.20.1.1:8080
      lab_wait_for "$LAB_DIR/web.out" ready && lab_wait_for "$LAB_DIR/nsweb.out" ready
      ip netns exec lb "$NODE" ${NET} http-get http://10.20.0.1/ 3 1
    `,
    steps: [{ name: 'scenario', node: SCENARIO, args: ['10.10.0.1:80', '10.10.0.9', 'lb'], timeoutSec: 60 }],
  });
  assertCompleted(r);
  const s = r.steps.scenario;
  assert.equal(s.code, 0, s.stderr);
  const out = JSON.parse(s.stdout) as { bodies: string[]; passes: Pass[]; nsPass: Pass };
  const [a1, a2, b1, b2, burst] = out.passes;
  for (const p of [...out.passes, out.nsPass]) assert.deepEqual(p.errors, [], p.label);

  // The kernel's behaviour the test relies on: mode 0 sticks, mode 1 reschedules (rr).
  assert.equal(out.bodies[1], out.bodies[0], 'conn_reuse_mode=0: the second connection went to the same real server');
  assert.notEqual(out.bodies[3], out.bodies[2], 'conn_reuse_mode=1: the second connection was scheduled again');

  const reuseOf = (p: Pass, rs: string): PlainMetric | undefined =>
    p.metrics.find((m) => m.name === 'ipvs_conn_reuse' && `${m.tags.address}:${m.tags.port}` === rs && m.tags.virtual_address === '10.10.0.1');
  const other = (rs: string): string => (rs === '10.10.1.1:8080' ? '10.10.1.2:8080' : '10.10.1.1:8080');

  // Phase A: nothing on the first pass, one reuse on the sticky real server on the second.
  assert.equal(a1.metrics.filter((m) => m.name === 'ipvs_conn_reuse_event').length, 0);
  assert.equal(reuseOf(a2, out.bodies[0])?.fields.reused_connections, 1);
  assert.equal(reuseOf(a2, out.bodies[0])?.fields.rescheduled_connections, 0);
  assert.equal(reuseOf(a2, other(out.bodies[0]))?.fields.reused_connections ?? 0, 0);
  const evA = a2.metrics.filter((m) => m.name === 'ipvs_conn_reuse_event');
  assert.equal(evA.length, 1);
  assert.equal(evA[0].fields.kind, 'reused');
  assert.equal(evA[0].fields.client_address, '10.10.0.9');
  assert.equal(evA[0].fields.client_port, 40000);
  assert.equal(`${evA[0].tags.address}:${evA[0].tags.port}`, out.bodies[0]);
  assert.ok(Number(evA[0].fields.expires) > Number(evA[0].fields.previous_expires) - Number(evA[0].fields.elapsed) + 1);
  const modeA = a2.metrics.find((m) => m.name === 'ipvs_conn');
  assert.equal(modeA?.fields.conn_reuse_mode, 0);

  // Phase B: the port moved to the other real server: rescheduled there, no new reuse.
  const evB = b2.metrics.filter((m) => m.name === 'ipvs_conn_reuse_event');
  assert.equal(evB.length, 1, JSON.stringify(evB));
  assert.equal(evB[0].fields.kind, 'rescheduled');
  assert.equal(evB[0].fields.client_port, 40001);
  assert.equal(`${evB[0].tags.address}:${evB[0].tags.port}`, out.bodies[3]);
  assert.equal(`${evB[0].fields.previous_address}:${evB[0].fields.previous_port}`, out.bodies[2]);
  assert.equal(reuseOf(b2, out.bodies[3])?.fields.rescheduled_connections, 1);
  assert.equal(reuseOf(b2, out.bodies[0])?.fields.reused_connections, 1, 'counters are cumulative');
  assert.equal(b2.metrics.find((m) => m.name === 'ipvs_conn')?.fields.conn_reuse_mode, 1);

  // State counts agree with ipvsadm -Lnc in the same guest at the same moment.
  let compared = 0;
  for (const p of [a1, a2, b1, b2, burst, out.nsPass]) {
    const before = lncCounts(p.before);
    if (JSON.stringify(sorted(before)) !== JSON.stringify(sorted(lncCounts(p.after)))) continue; // the table moved during the gather
    assert.deepEqual(sorted(pluginCounts(p.metrics)), sorted(before), p.label);
    compared++;
  }
  assert.ok(compared >= 3, `only ${compared} passes had a quiet table`);
  // 3000 UDP flows from distinct ports, split by rr over two real servers, read through many chunks.
  const udp = burst.metrics.filter((m) => m.name === 'ipvs_conn' && m.tags.virtual_protocol === 'udp');
  assert.equal(udp.length, 2);
  assert.equal(udp.reduce((a, m) => a + Number(m.fields.udp), 0), 3000);
  const table = burst.metrics.find((m) => m.name === 'ipvs_conn_table');
  assert.equal(table?.fields.malformed_lines, 0);
  assert.ok(Number(table?.fields.tracked_connections) >= 3000);
  const a2Counts = pluginCounts(a2.metrics);
  assert.ok([...a2Counts.keys()].some((k) => k.endsWith('time_wait')), 'TIME_WAIT entries counted');

  // The namespace: its own table (10.20.0.1 only), its own conn_reuse_mode, a namespace tag.
  const nsConn = out.nsPass.metrics.filter((m) => m.name === 'ipvs_conn');
  assert.ok(nsConn.length > 0);
  for (const m of nsConn) {
    assert.equal(m.tags.namespace, 'lb');
    assert.equal(m.tags.virtual_address, '10.20.0.1');
    assert.equal(m.fields.conn_reuse_mode, 0);
  }
  assert.equal(nsConn.reduce((a, m) => a + Number(m.fields.entries), 0), 3);
});
