import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IpvsStats, RealServer, ServiceWithDestinations, VirtualService } from '../../../core/ipvs/types';
import { pairsFromIpvs, ServiceSelector } from './discovery';
import { canonicalIp, parseStaticTarget, TargetSyntaxError } from './target';
import { VirtualServerFilter, VsFilterError } from '../../../core/ipvs/vsfilter';

const stats: IpvsStats = { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0, from64: true };

function vs(over: Partial<VirtualService>): VirtualService {
  return {
    af: 2, protocol: 6, addr: Buffer.alloc(16), port: 80, fwmark: 0, address: '10.0.0.1', scheduler: 'rr', flags: 0, timeout: 0,
    netmaskBits: 32, netmaskRaw: 0xffffffff, peName: '', stats, ...over,
  };
}

function rs(address: string, port: number, af = 2): RealServer {
  return {
    af, address, port, fwdMethodCode: 0, fwdMethod: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0, activeConnections: 0,
    inactiveConnections: 0, persistentConnections: 0, tunnelType: -1, tunnelPort: 0, tunnelFlags: 0, stats,
  };
}

describe('virtual server selection', () => {
  test('globs over protocol, address and port; fwmark; exclude', () => {
    const f = new VirtualServerFilter(['tcp:10.96.*:443', 'udp:[fd00::1]:53', 'fwmark:4?'], ['tcp:10.96.0.9:*']);
    const id = (protocol: string, address: string, port: number, fwmark = 0) => ({ protocol, address, port, fwmark });
    assert.equal(f.matches(id('tcp', '10.96.0.1', 443)), true);
    assert.equal(f.matches(id('tcp', '10.96.0.1', 80)), false);
    assert.equal(f.matches(id('udp', '10.96.0.1', 443)), false);
    assert.equal(f.matches(id('udp', 'fd00::1', 53)), true);
    assert.equal(f.matches(id('', '', 0, 47)), true);
    assert.equal(f.matches(id('', '', 0, 7)), false);
    assert.equal(f.matches(id('tcp', '10.96.0.9', 443)), false, 'excluded');
    assert.equal(new VirtualServerFilter().matches(id('sctp', '1.2.3.4', 9)), true);
    assert.equal(new VirtualServerFilter([], ['fwmark:*']).matches(id('', '', 0, 3)), false);
    assert.throws(() => new VirtualServerFilter(['tcp:[fd00::1:53']), VsFilterError);
  });

  test('UDP/SCTP services are skipped and counted unless udp_services', () => {
    const sel = new ServiceSelector(new VirtualServerFilter(), false);
    assert.equal(sel.select(vs({ protocol: 17 })), false);
    assert.equal(sel.select(vs({ protocol: 132 })), false);
    assert.equal(sel.select(vs({})), true);
    assert.equal(sel.select(vs({ fwmark: 5, protocol: 0, address: '' })), true);
    assert.equal(sel.nonTcpSkipped, 2);
    assert.equal(new ServiceSelector(new VirtualServerFilter(), true).select(vs({ protocol: 17 })), true);
  });
});

describe('pairs and targets', () => {
  const table: ServiceWithDestinations[] = [
    { service: vs({ address: '10.0.0.1', port: 80 }), destinations: [rs('10.1.0.1', 8080), rs('10.1.0.2', 8080)] },
    { service: vs({ address: '10.0.0.2', port: 443 }), destinations: [rs('10.1.0.1', 8080), rs('fd00::5', 8443, 10)] },
    { service: vs({ fwmark: 47, protocol: 0, address: '', port: 0 }), destinations: [rs('10.1.0.3', 0), rs('10.1.0.1', 8080)] },
  ];

  test('one target per address:port, one pair per (virtual, real) server with ipvs_real_server tags', () => {
    const { set, portless } = pairsFromIpvs(table, 0);
    assert.deepEqual(set.targets.map((t) => t.key), ['10.1.0.1:8080', '10.1.0.2:8080', '[fd00::5]:8443']);
    assert.equal(set.pairs.length, 5);
    assert.deepEqual(portless, ['10.1.0.3:0']);
    assert.deepEqual(set.pairs[0].tags, {
      address: '10.1.0.1', port: '8080', address_family: 'inet', virtual_protocol: 'tcp', virtual_address: '10.0.0.1', virtual_port: '80',
    });
    assert.deepEqual(set.pairs[3].tags, { address: 'fd00::5', port: '8443', address_family: 'inet6', virtual_protocol: 'tcp', virtual_address: '10.0.0.2', virtual_port: '443' });
    assert.deepEqual(set.pairs[4].tags, { address: '10.1.0.1', port: '8080', address_family: 'inet', virtual_fwmark: '47' });
    assert.equal(set.pairs[4].target, set.pairs[0].target, 'same real server behind two virtual servers: one probe');
  });

  test('the port option maps every real server onto the probe port, tags keep the real port', () => {
    const { set, portless } = pairsFromIpvs(table, 10250);
    assert.deepEqual(set.targets.map((t) => t.key), ['10.1.0.1:10250', '10.1.0.2:10250', '[fd00::5]:10250', '10.1.0.3:10250']);
    assert.deepEqual(portless, []);
    assert.equal(set.pairs.length, 6);
    assert.deepEqual(set.pairs.map((p) => p.tags.port), ['8080', '8080', '8080', '8443', '0', '8080']);
  });
});

describe('static targets', () => {
  test('IPv4, bracketed IPv6 and names; canonical address text', () => {
    assert.deepEqual(parseStaticTarget('10.0.0.2:6443'), { host: '10.0.0.2', port: 6443 });
    assert.deepEqual(parseStaticTarget('[FD00:0:0::2]:443'), { host: 'fd00::2', port: 443 });
    assert.deepEqual(parseStaticTarget('api.example:443'), { host: 'api.example', port: 443 });
    assert.equal(canonicalIp('::ffff:10.0.0.1'), '10.0.0.1');
    for (const bad of ['10.0.0.2', 'fd00::2:443', '[fd00::2]443', '10.0.0.2:0', '10.0.0.2:70000', 'a b:80']) {
      assert.throws(() => parseStaticTarget(bad), TargetSyntaxError, bad);
    }
  });
});
