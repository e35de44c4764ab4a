/**
 * inputs.ipvs on the host (no IPVS here): the "not loaded" path must report
 * one clear line and load nothing; plus filters and metric shapes on
 * decoded objects.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseAddress } from '../../../core/ipvs/address';
import { emptyStats } from '../../../core/ipvs/decode';
import type { RealServer, VirtualService } from '../../../core/ipvs/types';
import { FieldType, type Metric } from '../../../core/metric';
import { TestAccumulator } from '../../../test/support/accumulator';
import { LineProtocolSerializer } from '../../../core/serializers/influx';
import plugin from './index';
import { IpvsInput } from './input';
import { realServerMetric, serviceSeries, serviceTags, virtualServerMetric, type IpvsSeries } from './metrics';
import { SeriesCache } from '../../../core/series_cache';
import { VirtualServerFilter, VsFilterError } from '../../../core/ipvs/vsfilter';

/** The ipvs input builds its metrics itself (addMetric): any other accumulator call is a failure. */
const testAccumulator = (): TestAccumulator => new TestAccumulator({ time: 1_700_000_000_000_000_000n, metricsOnly: true });

function vs(over: Partial<VirtualService>): VirtualService {
  return {
    af: 2,
    protocol: 6,
    addr: parseAddress('10.0.0.1').addr,
    port: 80,
    fwmark: 0,
    address: '10.0.0.1',
    scheduler: 'rr',
    flags: 2,
    timeout: 0,
    netmaskBits: 32,
    netmaskRaw: 0xffffffff,
    peName: '',
    stats: { ...emptyStats(), connections: 12, packetsIn: 340, bytesIn: 20400, from64: true },
    ...over,
  };
}

function rs(over: Partial<RealServer>): RealServer {
  return {
    af: 2,
    address: '10.0.1.2',
    port: 80,
    fwdMethodCode: 0,
    fwdMethod: 'masq',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConnections: 3,
    inactiveConnections: 7,
    persistentConnections: 0,
    tunnelType: -1,
    tunnelPort: 0,
    tunnelFlags: 0,
    stats: { ...emptyStats(), connections: 5_000_000_000n, from64: true },
    ...over,
  };
}

const hostHasIpvs = fs.existsSync('/proc/net/ip_vs') || fs.existsSync('/sys/module/ip_vs');

describe('IPVS absent on the host', () => {
  test('one clear error line, no metrics, module not loaded', { skip: hostHasIpvs && 'this host has IPVS loaded' }, async () => {
    const input = plugin.create({ namespace: '', virtual_servers: [], virtual_servers_exclude: [], collect_real_servers: true, collect_sysctls: true, load_module: false, connections: 4 }, undefined as never);
    const acc = testAccumulator();
    await input.gather(acc);
    await input.gather(acc);
    assert.deepEqual(acc.metrics, []);
    assert.equal(acc.errors.length, 2, 'one error per gather');
    assert.match(acc.errors[0], /^IPVS is not loaded \(\/proc\/net\/ip_vs does not exist\); load the ip_vs module or set load_module = true$/);
    assert.equal(fs.existsSync('/proc/net/ip_vs'), false);
    assert.equal(fs.existsSync('/sys/module/ip_vs'), false, 'ip_vs was not loaded');
    await input.stop?.();
  });

  // With load_module the family lookup runs; only safe where no ip_vs module exists to be loaded.
  const ipvsModuleExists = spawnSync('modinfo', ['ip_vs'], { stdio: 'ignore' }).status === 0;
  test('load_module = true on a kernel without IPVS: one line, no crash', { skip: (hostHasIpvs || ipvsModuleExists) && 'an ip_vs module exists here (would be loaded)' }, async () => {
    const input = new IpvsInput({ load_module: true });
    const acc = testAccumulator();
    await input.gather(acc);
    assert.deepEqual(acc.metrics, []);
    assert.equal(acc.errors.length, 1);
    assert.match(acc.errors[0], /IPVS is not available: the kernel has no IPVS generic netlink family/);
    await input.stop();
  });
});

describe('virtual_servers patterns', () => {
  const id = (protocol: string, address: string, port: number, fwmark = 0): { protocol: string; address: string; port: number; fwmark: number } => ({ protocol, address, port, fwmark });

  test('protocol:address:port globs, IPv6 in brackets, fwmark', () => {
    const f = new VirtualServerFilter(['tcp:10.96.*:443', 'udp:[fd00::1]:53', 'fwmark:47']);
    assert.equal(f.matches(id('tcp', '10.96.3.4', 443)), true);
    assert.equal(f.matches(id('tcp', '10.96.3.4', 80)), false);
    assert.equal(f.matches(id('udp', '10.96.3.4', 443)), false);
    assert.equal(f.matches(id('udp', 'fd00::1', 53)), true);
    assert.equal(f.matches(id('udp', 'fd00::2', 53)), false);
    assert.equal(f.matches(id('', '', 0, 47)), true);
    assert.equal(f.matches(id('', '', 0, 48)), false);
  });

  test('address:port without protocol, wildcards, case, exclusion after inclusion', () => {
    const f = new VirtualServerFilter(['10.0.0.1:*', '[FD00::*]:8?', 'fwmark:*'], ['sctp:*:*', '*:*:81', 'fwmark:1?']);
    assert.equal(f.matches(id('udp', '10.0.0.1', 5)), true);
    assert.equal(f.matches(id('sctp', '10.0.0.1', 5)), false);
    assert.equal(f.matches(id('tcp', 'fd00::5', 80)), true);
    assert.equal(f.matches(id('tcp', 'fd00::5', 81)), false);
    assert.equal(f.matches(id('', '', 0, 7)), true);
    assert.equal(f.matches(id('', '', 0, 12)), false);
    assert.equal(new VirtualServerFilter([], ['*']).matches(id('tcp', '1.1.1.1', 1)), false);
    assert.equal(new VirtualServerFilter().selectsAll, true);
  });

  test('a fwmark pattern does not select address services and vice versa', () => {
    assert.equal(new VirtualServerFilter(['fwmark:80']).matches(id('tcp', '10.0.0.1', 80)), false);
    assert.equal(new VirtualServerFilter(['*:*:*']).matches(id('', '', 0, 80)), false);
    assert.equal(new VirtualServerFilter(['*']).matches(id('', '', 0, 80)), true);
  });

  test('bad patterns are configuration errors naming the pattern', () => {
    // Without brackets an IPv6 text is all address (fd00::1:53 is an address); a port needs [fd00::1]:53.
    const id = (address: string, port: number) => ({ protocol: 'udp', address, port, fwmark: 0 });
    assert.equal(new VirtualServerFilter(['fd00::1:53']).matches(id('fd00::1:53', 9)), true);
    assert.equal(new VirtualServerFilter(['[fd00::1]:53']).matches(id('fd00::1', 53)), true);
    assert.equal(new VirtualServerFilter(['[fd00::1]:53']).matches(id('fd00::1', 54)), false);
    assert.throws(() => new VirtualServerFilter(['[fd00::1:53']), (e: Error) => e instanceof VsFilterError && /"\[fd00::1:53".*brackets/.test(e.message));
    assert.throws(() => new VirtualServerFilter(['tcp:10.0.0.[1:80']), VsFilterError);
    assert.throws(() => new IpvsInput({ virtual_servers: ['nonsense'] }), /virtual server pattern "nonsense"/);
  });
});

describe('metric shapes', () => {
  const ser = new LineProtocolSerializer({ uintSupport: true, sortFields: true });
  const line = (m: Metric): string => ser.serialize(m).trim();

  test('address service: Telegraf tags, uint statistics, additions', () => {
    const v = vs({});
    const m = virtualServerMetric(v, serviceTags(v), '', 1n);
    assert.equal(m.type, 'untyped');
    assert.equal(
      line(m),
      'ipvs_virtual_server,address=10.0.0.1,address_family=inet,netmask=32,port=80,protocol=tcp,sched=rr bps_in=0u,bps_out=0u,bytes_in=20400u,bytes_out=0u,connections=12u,cps=0u,flags=2i,persistence_timeout=0i,pkts_in=340u,pkts_out=0u,pps_in=0u,pps_out=0u 1',
    );
  });

  test('fwmark service and its real server, namespace tag, 64-bit counter', () => {
    const v = vs({ fwmark: 47, protocol: 0, address: '', port: 0, af: 10, netmaskBits: 128, flags: 3, timeout: 300 });
    const t = serviceTags(v);
    const vm = virtualServerMetric(v, t, 'blue', 1n);
    assert.deepEqual(vm.tags(), { address_family: 'inet6', fwmark: '47', namespace: 'blue', netmask: '128', sched: 'rr' });
    assert.equal(vm.getField('persistence_timeout')!.value, 300);
    const rm = realServerMetric(rs({ af: 10, address: 'fd00::12', fwdMethod: 'tunnel', weight: 0 }), t, 'blue', 1n);
    assert.deepEqual(rm.tags(), { address: 'fd00::12', address_family: 'inet6', namespace: 'blue', port: '80', virtual_fwmark: '47' });
    assert.equal(
      line(rm),
      'ipvs_real_server,address=fd00::12,address_family=inet6,namespace=blue,port=80,virtual_fwmark=47 active_connections=3i,bps_in=0u,bps_out=0u,bytes_in=0u,bytes_out=0u,connections=5000000000u,cps=0u,fwd_method="tunnel",inactive_connections=7i,lower_threshold=0i,persistent_connections=0i,pkts_in=0u,pkts_out=0u,pps_in=0u,pps_out=0u,upper_threshold=0i,weight=0i 1',
    );
  });

  test('real server of an address service carries virtual_* tags; field types', () => {
    const v = vs({ protocol: 132, address: 'fd00::1', af: 10, port: 3868 });
    const m = realServerMetric(rs({}), serviceTags(v), '', 1n);
    assert.deepEqual(m.tags(), { address: '10.0.1.2', address_family: 'inet', port: '80', virtual_address: 'fd00::1', virtual_port: '3868', virtual_protocol: 'sctp' });
    for (const f of ['active_connections', 'inactive_connections', 'weight']) assert.equal(m.getField(f)!.type, FieldType.Int);
    for (const f of ['connections', 'pkts_in', 'pkts_out', 'bytes_in', 'bytes_out', 'pps_in', 'pps_out', 'cps']) assert.equal(m.getField(f)!.type, FieldType.Uint);
  });

  test('tags come out sorted and unique in every variant (they are appended directly)', () => {
    for (const fwmark of [0, 5]) {
      for (const ns of ['', 'blue']) {
        const v = vs(fwmark ? { fwmark, protocol: 0, address: '', port: 0 } : {});
        for (const m of [virtualServerMetric(v, serviceTags(v), ns, 1n), realServerMetric(rs({}), serviceTags(v), ns, 1n)]) {
          const sorted = [...m.tagKeys].sort();
          assert.deepEqual(m.tagKeys, sorted, `${m.name} fwmark=${fwmark} ns=${ns}`);
          assert.equal(new Set(m.tagKeys).size, m.tagKeys.length);
          assert.equal(m.tagKeys.length, m.tagValues.length);
          assert.equal(m.hasTag('namespace'), ns !== '');
          // setTag on a complete metric finds every existing key (binary search relies on the order).
          for (const k of m.tagKeys) assert.equal(m.getTag(k), m.tags()[k]);
        }
      }
    }
  });

  test('series keep one frozen tag set across gathers; a changed scheduler, another port or a new server get their own', () => {
    const series: IpvsSeries = new SeriesCache();
    const v = vs({});
    const t = serviceTags(v);
    const gather = (sched: string, servers: Partial<RealServer>[]): Metric[] => {
      const s = serviceSeries(series, t);
      const out = [virtualServerMetric({ ...v, scheduler: sched }, t, '', 1n, s), ...servers.map((r) => realServerMetric(rs(r), t, '', 1n, s))];
      series.sweep();
      return out;
    };
    const first = gather('rr', [{ address: '10.0.1.2' }, { address: '10.0.1.3' }]);
    const second = gather('rr', [{ address: '10.0.1.2' }, { address: '10.0.1.3' }, { address: '10.0.1.2', port: 81 }]);
    for (const m of [...first, ...second]) assert.ok(m.tagSet.frozen);
    assert.equal(second[0].tagSet, first[0].tagSet, 'virtual server');
    assert.equal(second[1].tagSet, first[1].tagSet, 'real server');
    assert.equal(second[2].tagSet, first[2].tagSet);
    assert.equal(second[3].getTag('port'), '81', 'same address, another port: its own set');
    assert.notEqual(second[3].tagSet, second[1].tagSet);
    const third = gather('wlc', [{ address: '10.0.1.2', port: 81 }]);
    assert.equal(third[0].getTag('sched'), 'wlc', 'ipvsadm -E changed the scheduler in place');
    assert.equal(third[1].tagSet, second[3].tagSet);
    // 10.0.1.3 was not in the third gather: forgotten, so it comes back as a new set.
    const fourth = gather('wlc', [{ address: '10.0.1.3' }]);
    assert.notEqual(fourth[1].tagSet, first[2].tagSet);
    assert.deepEqual(fourth[1].tags(), first[2].tags());
  });

  test('every documented field is emitted and vice versa', () => {
    const v = vs({});
    const docs = new Map(plugin.measurements!.map((d) => [d.name, d.fields.map((f) => f.name).sort()]));
    assert.deepEqual(virtualServerMetric(v, serviceTags(v), '', 1n).fields.map((f) => f.key).sort(), docs.get('ipvs_virtual_server'));
    assert.deepEqual(realServerMetric(rs({}), serviceTags(v), '', 1n).fields.map((f) => f.key).sort(), docs.get('ipvs_real_server'));
  });

  test('plugin descriptor: schema defaults and sample config', () => {
    assert.equal(plugin.name, 'ipvs');
    assert.match(plugin.sampleConfig, /^# Gather IPVS virtual and real server statistics\n\[\[inputs\.ipvs\]\]\n/);
    const props = (plugin.schema as { properties: Record<string, { default?: unknown }> }).properties;
    assert.deepEqual(Object.keys(props).sort(), ['collect_real_servers', 'collect_sysctls', 'connections', 'load_module', 'namespace', 'virtual_servers', 'virtual_servers_exclude']);
    assert.equal(props.load_module.default, false);
    for (const k of Object.keys(props)) assert.match(plugin.sampleConfig, new RegExp(`# ${k} = `), `sample.conf documents ${k}`);
  });
});
