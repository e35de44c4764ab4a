/**
 * Real kernel: one lab guest boot (test/lab) with a real IPVS table.
 * Virtual server 10.10.0.1:80 has three HTTP real servers; 10.10.0.2:80 has
 * one that never answers, one answering 500 and one answering 401; a network
 * namespace `ns1` in the guest holds its own virtual server. The driver
 * (test/support/inputs/ipvs_probe/lab/driver.ts) runs the input in the guest
 * and prints what it emitted.
 * Needs root and a lab backend (QEMU or user-mode Linux): skipped otherwise, failed when
 * CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCompleted, labOrSkip, labTestTimeout, runGuest } from '../../../test/lab/lab';

interface Row {
  tags: Record<string, string>;
  fields: Record<string, number>;
}
interface Gathered {
  probes: Row[];
  round: Row[];
  errors: string[];
  ms: number;
  sinceStopMs?: number;
}

const driver = 'dist/test/support/inputs/ipvs_probe/lab/driver.js';
const netTool = 'dist/test/lab/guest/net.js';

function byAddress(rows: Row[]): Map<string, Row> {
  return new Map(rows.map((r) => [`${r.tags.address}:${r.tags.port}`, r]));
}

test('ipvs_probe in a lab guest: IPVS discovery, stop/restart, timeout, 500, 401, namespace', { timeout: labTestTimeout(240_000) }, async (t) => {
  if (!labOrSkip(t, ['ipvsadm'])) return;
  const r = await runGuest({
    timeoutSec: 200,
    setup: `
      ip link add d0 type dummy && ip link set d0 up
      for a in 10.10.0.1 10.10.0.2 10.10.1.1 10.10.1.2 10.10.1.3 10.10.2.1 10.10.2.2 10.10.2.3; do ip addr add $a/32 dev d0; done
      ipvsadm -A -t 10.10.0.1:80 -s rr
      for rs in 10.10.1.1 10.10.1.2 10.10.1.3; do ipvsadm -a -t 10.10.0.1:80 -r $rs:8080 -m; done
      ipvsadm -A -t 10.10.0.2:80 -s rr
      for rs in 10.10.2.1 10.10.2.2 10.10.2.3; do ipvsadm -a -t 10.10.0.2:80 -r $rs:8080 -m; done
      ipvsadm -A -u 10.10.0.1:53 -s rr && ipvsadm -a -u 10.10.0.1:53 -r 10.10.1.1:53 -m
      ip addr add fd00::1/128 dev d0 nodad && ip addr add fd00::11/128 dev d0 nodad
      ipvsadm -A -t [fd00::1]:80 -s rr && ipvsadm -a -t [fd00::1]:80 -r [fd00::11]:8080 -m
      ip netns add ns1 && ip -n ns1 link set lo up
      ip -n ns1 link add d1 type dummy && ip -n ns1 link set d1 up
      ip -n ns1 addr add 10.20.0.1/32 dev d1 && ip -n ns1 addr add 10.20.1.1/32 dev d1
      ip netns exec ns1 ipvsadm -A -t 10.20.0.1:80 -s rr
      ip netns exec ns1 ipvsadm -a -t 10.20.0.1:80 -r 10.20.1.1:8080 -m
      lab_bg nsweb ip netns exec ns1 "$NODE" "$LAB_REPO/${netTool}" http-server 10.20.1.1:8080
      lab_wait_for "$LAB_DIR/nsweb.out" ready 60
    `,
    steps: [
      { name: 'ipvsadm', sh: 'ipvsadm -Ln' },
      { name: 'scenario', node: driver, args: ['scenario'], timeoutSec: 120 },
    ],
  });
  assertCompleted(r);
  const step = r.steps.scenario;
  assert.equal(step.code, 0, `driver failed: ${step.stderr}`);
  const out = JSON.parse(step.stdout.trim().split('\n').pop()!) as {
    rounds: Gathered[];
    warnings: string[];
    inNamespace: Gathered;
    ownNamespace: Gathered;
    realServers: Row[];
    joinError: string;
  };
  const [first, stopped, restarted] = out.rounds;

  // Oracle: ipvsadm's TCP real servers are exactly the probed pairs.
  const ipvsadmPairs = new Set<string>();
  let vip = '';
  for (const line of r.steps.ipvsadm.stdout.split('\n')) {
    const v = /^(TCP|UDP)\s+(\S+)/.exec(line);
    if (v) vip = v[1] === 'TCP' ? v[2] : '';
    const d = /^\s+->\s+(\S+:\d+)\s/.exec(line);
    if (d && vip) ipvsadmPairs.add(`${vip}>${d[1]}`);
  }
  const hp = (a: string, port: string): string => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`);
  const probed = new Set(first.probes.map((p) => `${hp(p.tags.virtual_address, p.tags.virtual_port)}>${hp(p.tags.address, p.tags.port)}`));
  assert.deepEqual([...probed].sort(), [...ipvsadmPairs].sort());
  assert.equal(probed.size, 7);
  assert.deepEqual(first.errors, []);
  for (const p of first.probes) {
    assert.equal(p.tags.virtual_protocol, 'tcp');
    assert.equal(p.tags.address_family, p.tags.address.includes(':') ? 'inet6' : 'inet');
    assert.equal(p.tags.namespace, undefined);
  }
  const v6 = first.probes.find((p) => p.tags.address === 'fd00::11')!;
  assert.equal(v6.tags.virtual_address, 'fd00::1');
  assert.equal(v6.tags.result, 'success');

  const r1 = byAddress(first.probes);
  for (const a of ['10.10.1.1:8080', '10.10.1.2:8080', '10.10.1.3:8080']) {
    assert.equal(r1.get(a)!.tags.result, 'success', a);
    assert.equal(r1.get(a)!.fields.up, 1);
    assert.equal(r1.get(a)!.fields.http_response_code, 200);
  }
  assert.equal(r1.get('10.10.2.1:8080')!.tags.result, 'timeout');
  assert.equal(r1.get('10.10.2.1:8080')!.fields.result_code, 4);
  assert.ok(r1.get('10.10.2.1:8080')!.fields.response_time >= 0.99);
  assert.equal(r1.get('10.10.2.2:8080')!.tags.result, 'bad_status');
  assert.equal(r1.get('10.10.2.2:8080')!.fields.http_response_code, 500);
  assert.equal(r1.get('10.10.2.2:8080')!.fields.up, 0);
  assert.equal(r1.get('10.10.2.3:8080')!.tags.result, 'success', '401 listed in healthy_statuses');
  assert.equal(r1.get('10.10.2.3:8080')!.fields.http_response_code, 401);
  assert.equal(first.round[0].fields.probes_not_started, 0);
  assert.equal(first.round[0].fields.targets, 7);

  // Stopped real server: down within one interval (2 s), the others stay up.
  const r2 = byAddress(stopped.probes);
  assert.equal(r2.get('10.10.1.2:8080')!.tags.result, 'connection_refused');
  assert.equal(r2.get('10.10.1.2:8080')!.fields.up, 0);
  assert.equal(r2.get('10.10.1.2:8080')!.fields.consecutive_failures, 1);
  // The next gather after the stop (due one interval after the previous one) reports it; slack for a loaded host.
  assert.ok(stopped.sinceStopMs! <= 2000 + stopped.ms + 1500, `reported ${stopped.sinceStopMs} ms after the stop`);
  for (const a of ['10.10.1.1:8080', '10.10.1.3:8080']) assert.equal(r2.get(a)!.tags.result, 'success', a);
  assert.equal(r2.get('10.10.2.1:8080')!.fields.consecutive_failures, 2, 'timeouts counted in a row');

  // Join with inputs.ipvs: same identifying tags; the stopped server now has weight 0 (set as LVScare would).
  assert.equal(out.joinError, '');
  const key = (tags: Record<string, string>): string =>
    Object.entries(tags).filter(([k]) => k !== 'result').sort().map(([k, v]) => `${k}=${v}`).join(',');
  const rsByKey = new Map(out.realServers.map((x) => [key(x.tags), x]));
  assert.ok(out.realServers.length >= 7);
  for (const p of stopped.probes) assert.ok(rsByKey.has(key(p.tags)), `no ipvs_real_server for ${key(p.tags)}`);
  const drained = stopped.probes.filter((p) => p.fields.up === 0 && rsByKey.get(key(p.tags))!.fields.weight === 0);
  assert.deepEqual(drained.map((p) => `${p.tags.address}:${p.tags.port}`), ['10.10.1.2:8080']);

  // Restarted: up again.
  const r3 = byAddress(restarted.probes);
  assert.equal(r3.get('10.10.1.2:8080')!.tags.result, 'success');
  assert.equal(r3.get('10.10.1.2:8080')!.fields.consecutive_failures, 0);

  // UDP service skipped (once, with a note), not probed.
  assert.ok(first.probes.every((p) => p.tags.virtual_port !== '53'));
  assert.ok(out.warnings.some((w) => /skipping 1 UDP\/SCTP virtual server/.test(w)), out.warnings.join('\n'));

  // Namespace: discovery and probe sockets inside ns1, where 10.20.1.1 exists.
  assert.deepEqual(out.inNamespace.errors, []);
  assert.equal(out.inNamespace.probes.length, 1);
  const ns = out.inNamespace.probes[0];
  assert.deepEqual(ns.tags, {
    address: '10.20.1.1', address_family: 'inet', namespace: 'ns1', port: '8080', result: 'success',
    virtual_address: '10.20.0.1', virtual_port: '80', virtual_protocol: 'tcp',
  });
  assert.equal(out.ownNamespace.probes.length, 0, 'the guest namespace has no 10.20.0.1 service');
});
