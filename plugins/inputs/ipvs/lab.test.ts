/**
 * inputs.ipvs against a real IPVS kernel (the lab guest, see test/lab):
 * ONE boot builds the lab table (TCP, UDP, SCTP, IPv6, fwmark, persistent
 * services; masq/route/tunnel real servers with weights and thresholds; a
 * namespace ns1 with its own table), sends traffic through it (including more
 * than 2^32 bytes through one service), runs the agent (`lvsagent --test`)
 * with several configurations, and compares every value with ipvsadm run
 * right afterwards in the same guest. Rates are not compared (they move).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCompleted, labOrSkip, labTestTimeout, runGuest, type GuestResult } from '../../../test/lab/lab';
import { IPVS_ORACLE, IPVS_SETUP, IPVS_TRAFFIC } from '../../../test/lab/scenarios/ipvs';
import {
  ipvsadmDestKey,
  ipvsadmForward,
  ipvsadmServiceKey,
  parseIpvsadmColumns,
  parseIpvsadmList,
  parseIpvsadmStats,
} from '../../../test/lab/ipvsadm';
import { parseBody, type ParsedPoint } from '../../../test/support/lineprotocol';

const BIG_BYTES = 4_400_000_000; // > 2^32

function conf(body: string): string {
  return `[agent]\n  omit_hostname = true\n${body}\n`;
}

const CONFIGS: Record<string, string> = {
  all: conf('[[inputs.ipvs]]\n  collect_sysctls = true'),
  ns1: conf('[[inputs.ipvs]]\n  namespace = "ns1"\n  collect_sysctls = true'),
  filtered: conf('[[inputs.ipvs]]\n  virtual_servers = ["tcp:10.10.*:*", "fwmark:47", "udp:[fd00::1]:5?"]\n  virtual_servers_exclude = ["*:10.10.0.4:*"]\n  collect_real_servers = false'),
  pool: conf('[[inputs.ipvs]]\n  connections = 4'),
};

function writeConfigs(): string {
  return Object.entries(CONFIGS)
    .map(([name, body]) => `cat > "$LAB_DIR/${name}.conf" <<'EOF'\n${body}EOF`)
    .join('\n');
}

const AGENT = 'lab_node dist/core/cli/main.js';

/** core/ipvs client edge cases, run in the guest (no single quotes inside). */
const CLIENT_CHECK = `
const { IpvsClient } = require("./dist/core/ipvs/client.js");
const { parseAddress } = require("./dist/core/ipvs/address.js");
const { execSync } = require("child_process");
(async () => {
  const c = await IpvsClient.open({ sockets: 2 });
  const gone = { af: 2, protocol: 6, addr: parseAddress("10.99.0.1").addr, port: 81, fwmark: 0 };
  const services = await c.listServices();
  const out = {
    goneExists: await c.serviceExists(gone),
    goneDests: (await c.listDestinations(gone)).length,
    presentExists: await c.serviceExists(services[0]),
    daemons: await c.getDaemons(),
    info: await c.getInfo(),
    timeouts: await c.getConfig(),
  };
  const table = await c.listAll((vs) => {
    if (vs.protocol === 132) execSync("ipvsadm -D --sctp-service 10.10.0.3:3868");
    return true;
  });
  out.services = services.length;
  out.afterDelete = table.map((e) => e.service.protocol + ":" + e.service.port);
  console.log(JSON.stringify(out));
  c.close();
})().catch((e) => { console.error(e); process.exit(1); });
`;

let result: GuestResult | undefined;

async function lab(): Promise<GuestResult> {
  if (result) return result;
  result = await runGuest({
    timeoutSec: 400,
    setup: `${IPVS_SETUP}
${writeConfigs()}
# a service for > 2^32 bytes, and sysctls that differ between the namespaces
ip addr add 10.10.0.6/32 dev d0
ipvsadm -A -t 10.10.0.6:9000 -s rr
ipvsadm -a -t 10.10.0.6:9000 -r 10.10.1.1:9000 -m
lab_bg sink lab_node dist/test/lab/guest/net.js tcp-sink 10.10.1.1:9000
lab_wait_for "$LAB_DIR/sink.out" ready
echo 1 > /proc/sys/net/ipv4/vs/expire_nodest_conn
ip netns exec ns1 sh -c 'echo 0 > /proc/sys/net/ipv4/vs/conn_reuse_mode'
`,
    steps: [
      { name: 'traffic', sh: IPVS_TRAFFIC },
      { name: 'big', sh: `lab_node dist/test/lab/guest/net.js tcp-send 10.10.0.6:9000 ${BIG_BYTES}; sleep 2.5`, timeoutSec: 200 },
      { name: 'all', sh: `${AGENT} --config "$LAB_DIR/all.conf" --test` },
      { name: 'oracle', sh: IPVS_ORACLE },
      { name: 'pool', sh: `${AGENT} --config "$LAB_DIR/pool.conf" --test` },
      { name: 'ns1', sh: `${AGENT} --config "$LAB_DIR/ns1.conf" --test` },
      { name: 'filtered', sh: `${AGENT} --config "$LAB_DIR/filtered.conf" --test` },
      {
        name: 'eperm',
        // Unprivileged: no CAP_NET_ADMIN. The run directory is private, so copy the config.
        sh: `cp "$LAB_DIR/all.conf" /tmp/all.conf && chmod 644 /tmp/all.conf && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$NODE" dist/core/cli/main.js --config /tmp/all.conf --test`,
      },
      // Last: it deletes a service between the service dump and the destination dumps.
      { name: 'client', sh: `"$NODE" -e '${CLIENT_CHECK}'` },
    ],
  });
  assertCompleted(result);
  assert.equal(result.setup.code, 0, result.setup.stderr);
  return result;
}

function section(text: string, name: string): string {
  const parts = text.split(/^=== (.+)$/m);
  const i = parts.indexOf(name);
  assert.ok(i >= 0, `oracle section ${name}`);
  return parts[i + 1];
}

function points(r: GuestResult, step: string): ParsedPoint[] {
  const s = r.steps[step];
  assert.equal(s.code, 0, `${step} exit code; stderr:\n${s.stderr}`);
  // `--test` prints "> " before each line, as Telegraf does.
  return parseBody(s.stdout.replace(/^> /gm, ''));
}

function num(p: ParsedPoint, field: string): string {
  const f = p.fields[field];
  assert.ok(f, `${p.measurement} ${JSON.stringify(p.tags)} has field ${field}`);
  return String(f.value);
}

function vsKey(p: ParsedPoint): string {
  return ipvsadmServiceKey(p.tags.protocol, p.tags.address, p.tags.port, p.tags.fwmark);
}

function rsParentKey(p: ParsedPoint): string {
  return ipvsadmServiceKey(p.tags.virtual_protocol, p.tags.virtual_address, p.tags.virtual_port, p.tags.virtual_fwmark);
}

const STAT_FIELDS: [string, 'conns' | 'inpkts' | 'outpkts' | 'inbytes' | 'outbytes'][] = [
  ['connections', 'conns'],
  ['pkts_in', 'inpkts'],
  ['pkts_out', 'outpkts'],
  ['bytes_in', 'inbytes'],
  ['bytes_out', 'outbytes'],
];

test('ipvs input matches ipvsadm in a lab guest', { timeout: labTestTimeout(600_000) }, async (t) => {
  if (!labOrSkip(t, ['ipvsadm', 'setpriv', 'perl'])) return;
  const r = await lab();
  const oracle = r.steps.oracle.stdout;
  const stats = parseIpvsadmStats(section(oracle, 'stats'));
  const list = parseIpvsadmList(section(oracle, 'list'));
  const thresholds = parseIpvsadmColumns(section(oracle, 'thresholds'), ['u', 'l', 'active', 'inactive']);
  const persistent = parseIpvsadmColumns(section(oracle, 'persistent'), ['weight', 'persist', 'active', 'inactive']);
  const all = points(r, 'all');
  t.diagnostic(`guest ${r.durationMs} ms; steps: ${Object.entries(r.steps).map(([n, s]) => `${n} ${s.ms} ms`).join(', ')}`);

  await t.test('traffic went through every kind of service', () => {
    for (const k of ['tcp 10.10.0.1:80', 'udp 10.10.0.2:53', 'sctp 10.10.0.3:3868', 'tcp [fd00::1]:80', 'udp [fd00::1]:53', 'fwm 47']) {
      assert.ok(Number(stats.get(k)?.conns) > 0, `${k} has connections in ipvsadm`);
    }
  });

  await t.test('virtual servers: same set, Telegraf tags, exact counters', () => {
    const vs = all.filter((p) => p.measurement === 'ipvs_virtual_server');
    assert.deepEqual(vs.map(vsKey).sort(), [...stats.keys()].sort());
    for (const p of vs) {
      const k = vsKey(p);
      const o = stats.get(k)!;
      const l = list.get(k)!;
      const tagKeys = Object.keys(p.tags).sort();
      if (p.tags.fwmark) assert.deepEqual(tagKeys, ['address_family', 'fwmark', 'netmask', 'sched']);
      else assert.deepEqual(tagKeys, ['address', 'address_family', 'netmask', 'port', 'protocol', 'sched']);
      assert.equal(p.tags.sched, l.scheduler, k);
      assert.equal(p.tags.address_family, k.includes('[') ? 'inet6' : 'inet');
      const expectedMask = l.mask === undefined ? (k.includes('[') ? 128 : 32) : l.mask.includes('.') ? 24 : Number(l.mask);
      assert.equal(p.tags.netmask, String(expectedMask), `${k} netmask`);
      for (const [field, col] of STAT_FIELDS) {
        assert.equal(p.fields[field].type, 'uint', `${field} is uint`);
        assert.equal(num(p, field), o[col], `${k} ${field}`);
      }
      for (const f of ['pps_in', 'pps_out', 'cps', 'bps_in', 'bps_out']) assert.equal(p.fields[f].type, 'uint');
      assert.equal(num(p, 'persistence_timeout'), String(l.persistent ?? 0), `${k} persistence_timeout`);
      assert.equal(Number(num(p, 'flags')) & 1, l.persistent === undefined ? 0 : 1);
    }
  });

  await t.test('real servers: same set, Telegraf tags, exact counters, weights, methods, connections', () => {
    const rs = all.filter((p) => p.measurement === 'ipvs_real_server');
    const expected: string[] = [];
    for (const [k, s] of stats) for (const d of s.dests.keys()) expected.push(`${k} -> ${d}`);
    assert.deepEqual(rs.map((p) => `${rsParentKey(p)} -> ${ipvsadmDestKey(p.tags.address, p.tags.port)}`).sort(), expected.sort());
    for (const p of rs) {
      const k = rsParentKey(p);
      const dk = ipvsadmDestKey(p.tags.address, p.tags.port);
      const o = stats.get(k)!.dests.get(dk)!;
      const l = list.get(k)!.dests.get(dk)!;
      const tagKeys = Object.keys(p.tags).sort();
      if (p.tags.virtual_fwmark) assert.deepEqual(tagKeys, ['address', 'address_family', 'port', 'virtual_fwmark']);
      else assert.deepEqual(tagKeys, ['address', 'address_family', 'port', 'virtual_address', 'virtual_port', 'virtual_protocol']);
      for (const [field, col] of STAT_FIELDS) assert.equal(num(p, field), o[col], `${k} -> ${dk} ${field}`);
      assert.equal(p.fields.active_connections.type, 'int');
      assert.equal(p.fields.inactive_connections.type, 'int');
      assert.equal(num(p, 'active_connections'), String(l.active));
      assert.equal(num(p, 'inactive_connections'), String(l.inactive));
      assert.equal(num(p, 'weight'), String(l.weight));
      assert.equal(ipvsadmForward(String(p.fields.fwd_method.value)), l.forward);
      assert.equal(num(p, 'upper_threshold'), String(thresholds.get(k)!.get(dk)!.u));
      assert.equal(num(p, 'lower_threshold'), String(thresholds.get(k)!.get(dk)!.l));
      assert.equal(num(p, 'persistent_connections'), String(persistent.get(k)!.get(dk)!.persist));
    }
    const methods = new Set(rs.map((p) => String(p.fields.fwd_method.value)));
    assert.deepEqual([...methods].sort(), ['masq', 'route', 'tunnel']);
    assert.ok(rs.some((p) => p.fields.weight.value === 0n), 'a quiesced (weight 0) real server');
  });

  await t.test('64-bit byte counter above 2^32 is exact', () => {
    const p = all.find((x) => x.measurement === 'ipvs_virtual_server' && x.tags.port === '9000')!;
    const inBytes = BigInt(num(p, 'bytes_in'));
    assert.ok(inBytes > 2n ** 32n, `bytes_in ${inBytes} > 2^32`);
    assert.equal(String(inBytes), stats.get('tcp 10.10.0.6:9000')!.inbytes);
  });

  await t.test('a pool of four sockets gives the same table as one socket', () => {
    const pool = points(r, 'pool');
    const strip = (ps: ParsedPoint[]): string[] => ps.filter((p) => p.measurement !== 'ipvs').map((p) => `${p.measurement} ${JSON.stringify(p.tags)} ${num(p, 'connections')} ${num(p, 'bytes_in')}`).sort();
    assert.deepEqual(strip(pool), strip(all));
  });

  await t.test('sysctls, version, table size and timeouts', () => {
    const g = all.find((p) => p.measurement === 'ipvs')!;
    assert.ok(g, 'ipvs metric');
    assert.equal(num(g, 'expire_nodest_conn'), '1');
    assert.equal(num(g, 'conn_reuse_mode'), '1');
    assert.equal(num(g, 'run_estimation'), '1');
    assert.equal(g.fields.version.value, '1.2.1');
    assert.equal(num(g, 'conn_tab_size'), '4096');
    assert.deepEqual([num(g, 'timeout_tcp'), num(g, 'timeout_tcp_fin'), num(g, 'timeout_udp')], ['900', '120', '300']);
    assert.deepEqual(Object.keys(g.tags), []);
  });

  await t.test('namespace: exactly the namespace table, tagged, with its own sysctls', () => {
    const ns = points(r, 'ns1');
    const nsStats = parseIpvsadmStats(section(oracle, 'ns1 stats'));
    const vs = ns.filter((p) => p.measurement === 'ipvs_virtual_server');
    assert.deepEqual(vs.map(vsKey).sort(), [...nsStats.keys()].sort());
    assert.deepEqual(vs.map(vsKey).sort(), ['fwm 7', 'tcp 10.20.0.1:80']);
    for (const p of ns) assert.equal(p.tags.namespace, 'ns1');
    const rs = ns.filter((p) => p.measurement === 'ipvs_real_server');
    assert.deepEqual(rs.map((p) => `${p.tags.address} ${num(p, 'weight')} ${p.fields.fwd_method.value}`).sort(), ['10.20.1.1 9 masq', '10.20.1.2 1 route']);
    const g = ns.find((p) => p.measurement === 'ipvs')!;
    assert.equal(num(g, 'conn_reuse_mode'), '0', 'sysctl read inside the namespace');
    assert.equal(num(g, 'expire_nodest_conn'), '0');
  });

  await t.test('virtual_servers filters', () => {
    const f = points(r, 'filtered');
    assert.deepEqual(f.filter((p) => p.measurement === 'ipvs_real_server'), []);
    assert.deepEqual(f.map(vsKey).sort(), ['fwm 47', 'tcp 10.10.0.1:80', 'tcp 10.10.0.6:9000', 'udp [fd00::1]:53']);
  });

  await t.test('client: unknown service, info, timeouts, a service deleted mid-gather is skipped', () => {
    const c = r.steps.client;
    assert.equal(c.code, 0, c.stderr);
    const out = JSON.parse(c.stdout) as { goneExists: boolean; goneDests: number; presentExists: boolean; daemons: unknown[]; info: { version: string }; timeouts: { udp: number }; services: number; afterDelete: string[] };
    assert.equal(out.goneExists, false);
    assert.equal(out.goneDests, 0);
    assert.equal(out.presentExists, true);
    assert.deepEqual(out.daemons, []);
    assert.equal(out.info.version, '1.2.1');
    assert.equal(out.timeouts.udp, 300);
    assert.equal(out.afterDelete.length, out.services - 1);
    assert.ok(!out.afterDelete.includes('132:3868'), 'the deleted SCTP service is not reported');
  });

  await t.test('without CAP_NET_ADMIN: one line naming the capability', () => {
    const e = r.steps.eperm;
    assert.equal(e.stdout, '');
    const errors = e.stderr.split('\n').filter((l) => l.includes('E! [inputs.ipvs]'));
    assert.equal(errors.length, 1, e.stderr);
    assert.match(errors[0], /operation not permitted.*CAP_NET_ADMIN/);
  });
});
