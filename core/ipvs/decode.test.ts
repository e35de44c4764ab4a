/**
 * Decoders on replies captured from a real IPVS kernel (UML 6.1, the lab
 * scenario test/lab/scenarios/ipvs.ts; captured with
 * test/lab/guest/ipvs-capture.js), checked against ipvsadm's listings taken
 * right after the capture in the same guest (testdata/ipvsadm-uml-6.1.txt).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { sourcePath } from '../../test/support/paths';
import { AttributeEncoder } from '../netlink/attributes';
import { MessageBuilder } from '../netlink/message';
import { formatIPv6, onesCount32, parseAddress } from './address';
import * as C from './constants';
import { decodeConfigMessage, decodeDestMessage, decodeInfoMessage, decodeServiceMessage, forwardMethodName } from './decode';
import { buildDestDump, buildNewDest, buildNewService } from './encode';
import type { RealServer, VirtualService } from './types';
import { ipvsadmDestKey, ipvsadmForward, ipvsadmServiceKey, parseIpvsadmColumns, parseIpvsadmList, parseIpvsadmStats } from '../../test/lab/ipvsadm';

interface Capture {
  familyId: number;
  services: string[];
  dests: string[][];
  info: string;
  config: string;
}

const capture = JSON.parse(fs.readFileSync(sourcePath(__dirname, 'testdata', 'replies-uml-6.1.json'), 'utf8')) as Capture;
const oracleText = fs.readFileSync(sourcePath(__dirname, 'testdata', 'ipvsadm-uml-6.1.txt'), 'utf8');

function section(name: string): string {
  const parts = oracleText.split(/^=== (.+)$/m);
  const i = parts.indexOf(name);
  assert.ok(i >= 0, `section ${name} in the oracle file`);
  return parts[i + 1];
}

function decodeAll(): { vs: VirtualService; dests: RealServer[] }[] {
  return capture.services.map((hex, i) => {
    const b = Buffer.from(hex, 'hex');
    const vs = decodeServiceMessage(b, 0, b.length);
    const dests = capture.dests[i].map((h) => {
      const d = Buffer.from(h, 'hex');
      return decodeDestMessage(d, 0, d.length, vs.af);
    });
    return { vs, dests };
  });
}

function protoName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : String(p);
}

function key(vs: VirtualService): string {
  return ipvsadmServiceKey(protoName(vs.protocol), vs.address, vs.port, vs.fwmark);
}

describe('IPVS decoders on captured kernel replies', () => {
  const table = decodeAll();
  const stats = parseIpvsadmStats(section('stats'));
  const list = parseIpvsadmList(section('list'));

  test('the same services as ipvsadm, with identical counters', () => {
    assert.deepEqual(table.map((t) => key(t.vs)).sort(), [...stats.keys()].sort());
    for (const { vs, dests } of table) {
      const o = stats.get(key(vs))!;
      assert.equal(vs.stats.from64, true, 'STATS64 preferred');
      assert.deepEqual(
        [vs.stats.connections, vs.stats.packetsIn, vs.stats.packetsOut, vs.stats.bytesIn, vs.stats.bytesOut].map(String),
        [o.conns, o.inpkts, o.outpkts, o.inbytes, o.outbytes],
        key(vs),
      );
      assert.deepEqual(dests.map((d) => ipvsadmDestKey(d.address, d.port)).sort(), [...o.dests.keys()].sort(), key(vs));
      for (const d of dests) {
        const od = o.dests.get(ipvsadmDestKey(d.address, d.port))!;
        assert.deepEqual(
          [d.stats.connections, d.stats.packetsIn, d.stats.packetsOut, d.stats.bytesIn, d.stats.bytesOut].map(String),
          [od.conns, od.inpkts, od.outpkts, od.inbytes, od.outbytes],
          `${key(vs)} -> ${d.address}`,
        );
      }
    }
  });

  test('scheduler, persistence, netmask, forwarding, weights and connections as ipvsadm -Ln', () => {
    for (const { vs, dests } of table) {
      const o = list.get(key(vs))!;
      assert.equal(vs.scheduler, o.scheduler, key(vs));
      if (o.persistent !== undefined) {
        assert.equal(vs.flags & C.IP_VS_SVC_F_PERSISTENT, C.IP_VS_SVC_F_PERSISTENT);
        assert.equal(vs.timeout, o.persistent);
        const expectedBits = o.mask!.includes('.') ? o.mask!.split('.').reduce((n, x) => n + onesCount32(Number(x)), 0) : Number(o.mask);
        assert.equal(vs.netmaskBits, expectedBits, `${key(vs)} netmask`);
      } else {
        assert.equal(vs.flags & C.IP_VS_SVC_F_PERSISTENT, 0);
        assert.equal(vs.netmaskBits, vs.af === C.AF_INET6 ? 128 : 32);
      }
      for (const d of dests) {
        const od = o.dests.get(ipvsadmDestKey(d.address, d.port))!;
        assert.equal(ipvsadmForward(d.fwdMethod), od.forward);
        assert.equal(d.weight, od.weight);
        assert.equal(d.activeConnections, od.active);
        assert.equal(d.inactiveConnections, od.inactive);
      }
    }
  });

  test('thresholds and persistent connections as ipvsadm --thresholds / --persistent-conn', () => {
    const th = parseIpvsadmColumns(section('thresholds'), ['u', 'l', 'active', 'inactive']);
    const pc = parseIpvsadmColumns(section('persistent'), ['weight', 'persist', 'active', 'inactive']);
    let nonZero = 0;
    for (const { vs, dests } of table) {
      for (const d of dests) {
        const k = ipvsadmDestKey(d.address, d.port);
        assert.equal(d.upperThreshold, th.get(key(vs))!.get(k)!.u);
        assert.equal(d.lowerThreshold, th.get(key(vs))!.get(k)!.l);
        assert.equal(d.persistentConnections, pc.get(key(vs))!.get(k)!.persist);
        nonZero += d.upperThreshold + d.persistentConnections;
      }
    }
    assert.ok(nonZero > 0, 'the capture has thresholds and persistent connections to compare');
  });

  test('families, protocols and address text', () => {
    const byKey = new Map(table.map((t) => [key(t.vs), t]));
    const v6 = byKey.get('tcp [fd00::1]:80')!;
    assert.equal(v6.vs.af, C.AF_INET6);
    assert.equal(v6.vs.address, 'fd00::1');
    assert.deepEqual(v6.dests.map((d) => [d.af, d.address]).sort(), [
      [10, 'fd00::11'],
      [10, 'fd00::12'],
    ]);
    const fw = byKey.get('fwm 47')!;
    assert.equal(fw.vs.fwmark, 47);
    assert.equal(fw.vs.address, '');
    assert.equal(fw.vs.protocol, 0);
    assert.equal(fw.vs.af, C.AF_INET);
    assert.equal(byKey.get('sctp 10.10.0.3:3868')!.vs.protocol, 132);
    assert.equal(byKey.get('udp 10.10.0.2:53')!.vs.protocol, 17);
    assert.ok(byKey.get('tcp 10.10.0.6:9000')!.vs.stats.bytesIn as number > 1e8);
  });

  test('GET_INFO and GET_CONFIG replies', () => {
    const info = Buffer.from(capture.info, 'hex');
    assert.deepEqual(decodeInfoMessage(info, 0, info.length), { versionCode: 0x010201, version: '1.2.1', connTabSize: 4096 });
    const cfg = Buffer.from(capture.config, 'hex');
    assert.deepEqual(decodeConfigMessage(cfg, 0, cfg.length), { tcp: 900, tcpFin: 120, udp: 300 });
  });

  test('a GET_DEST request re-encodes the identity of every decoded service', () => {
    for (const { vs } of table) {
      const req = buildDestDump(capture.familyId, vs);
      // The request's SERVICE nest decodes back to the same identity.
      const back = decodeServiceMessage(req, 0, req.length);
      assert.deepEqual([back.af, back.protocol, back.address, back.port, back.fwmark], [vs.af, vs.protocol, vs.address, vs.port, vs.fwmark]);
    }
  });
});

describe('IPVS decoders on synthetic edge cases', () => {
  function serviceMessage(build: (e: AttributeEncoder) => void): Buffer {
    const m = new MessageBuilder(30, 2, 1024).genl(C.IPVS_CMD_NEW_SERVICE, 1);
    const t = m.beginNested(C.IPVS_CMD_ATTR_SERVICE, false);
    build(m);
    m.endNested(t);
    return Buffer.from(m.finish());
  }

  test('legacy STATS nest is used when STATS64 is absent', () => {
    const b = serviceMessage((e) => {
      e.u16(C.IPVS_SVC_ATTR_AF, 2).u16(C.IPVS_SVC_ATTR_PROTOCOL, 6).bytes(C.IPVS_SVC_ATTR_ADDR, Buffer.from([10, 0, 0, 1])).be16(C.IPVS_SVC_ATTR_PORT, 80);
      const s = e.beginNested(C.IPVS_SVC_ATTR_STATS, false);
      e.u32(C.IPVS_STATS_ATTR_CONNS, 4000000000).u32(C.IPVS_STATS_ATTR_INPKTS, 7).u64(C.IPVS_STATS_ATTR_INBYTES, 2n ** 40n).u32(C.IPVS_STATS_ATTR_CPS, 3);
      e.endNested(s);
    });
    const vs = decodeServiceMessage(b, 0, b.length);
    assert.equal(vs.stats.from64, false);
    assert.equal(vs.stats.connections, 4000000000);
    assert.equal(vs.stats.packetsIn, 7);
    assert.equal(vs.stats.bytesIn, 2 ** 40);
    assert.equal(vs.stats.cps, 3);
    assert.equal(vs.address, '10.0.0.1');
  });

  test('STATS64 wins over STATS whatever the order, and values above 2^53 stay exact as bigint', () => {
    const b = serviceMessage((e) => {
      e.u16(C.IPVS_SVC_ATTR_AF, 10).u32(C.IPVS_SVC_ATTR_FWMARK, 9);
      const s64 = e.beginNested(C.IPVS_SVC_ATTR_STATS64, false);
      e.u64(C.IPVS_STATS_ATTR_CONNS, 5_000_000_000n).u64(C.IPVS_STATS_ATTR_OUTBYTES, 18446744073709551615n).u64(C.IPVS_STATS_ATTR_INBYTES, 2n ** 53n - 1n);
      e.endNested(s64);
      const s = e.beginNested(C.IPVS_SVC_ATTR_STATS, false);
      e.u32(C.IPVS_STATS_ATTR_CONNS, 705032704);
      e.endNested(s);
      e.u32(C.IPVS_SVC_ATTR_NETMASK, 64);
    });
    const vs = decodeServiceMessage(b, 0, b.length);
    assert.equal(vs.stats.from64, true);
    assert.equal(vs.stats.connections, 5_000_000_000);
    assert.equal(vs.stats.bytesOut, 18446744073709551615n);
    assert.equal(vs.stats.bytesIn, 2 ** 53 - 1);
    assert.equal(vs.fwmark, 9);
    assert.equal(vs.netmaskBits, 64, 'IPv6 netmask attribute is the prefix length');
  });

  test('destination without ADDR_FAMILY takes the service family; unknown attributes are skipped', () => {
    const m = new MessageBuilder(30, 2, 1024).genl(C.IPVS_CMD_NEW_DEST, 1);
    const t = m.beginNested(C.IPVS_CMD_ATTR_DEST, false);
    m.bytes(C.IPVS_DEST_ATTR_ADDR, parseAddress('2001:db8::5').addr).be16(C.IPVS_DEST_ATTR_PORT, 8443).u32(C.IPVS_DEST_ATTR_FWD_METHOD, 2).u32(C.IPVS_DEST_ATTR_WEIGHT, 65537);
    m.u32(99, 1234);
    m.endNested(t);
    const b = Buffer.from(m.finish());
    const d = decodeDestMessage(b, 0, b.length, C.AF_INET6);
    assert.deepEqual([d.af, d.address, d.port, d.fwdMethod, d.weight, d.tunnelType], [10, '2001:db8::5', 8443, 'tunnel', 65537, -1]);
  });

  test('forwarding method names', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 7].map(forwardMethodName), ['masq', 'local', 'tunnel', 'route', 'bypass', '7']);
  });

  test('IPv6 text as Go prints it', () => {
    const f = (s: string): string => formatIPv6(parseAddress(s).addr, 0);
    assert.equal(f('fd00:0:0:0:0:0:0:1'), 'fd00::1');
    assert.equal(f('::'), '::');
    assert.equal(f('::1'), '::1');
    assert.equal(f('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
    assert.equal(f('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4', 'first of equal runs');
    assert.equal(f('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7', 'a single zero group is not compressed');
    assert.equal(f('::ffff:10.1.2.3'), '10.1.2.3', 'IPv4-mapped prints dotted');
    assert.equal(f('2001:DB8:0:0:8:800:200C:417A'), '2001:db8::8:800:200c:417a');
  });

  test('NEW_SERVICE / NEW_DEST builders produce decodable nests', () => {
    const svc = { af: 2, protocol: 17, addr: parseAddress('10.1.2.3').addr, port: 53, fwmark: 0 };
    const s = buildNewService(28, { ...svc, scheduler: 'wrr', flags: 1, timeout: 60, netmask: 0xffffff00 });
    const back = decodeServiceMessage(s, 0, s.length);
    assert.deepEqual([back.address, back.port, back.scheduler, back.flags, back.timeout, back.netmaskBits], ['10.1.2.3', 53, 'wrr', 1, 60, 24]);
    const d = buildNewDest(28, svc, { addr: parseAddress('10.9.9.9').addr, port: 5353, weight: 4, fwdMethod: 3 });
    const rs = decodeDestMessage(d, 0, d.length, 2);
    assert.deepEqual([rs.address, rs.port, rs.weight, rs.fwdMethod], ['10.9.9.9', 5353, 4, 'route']);
  });
});
