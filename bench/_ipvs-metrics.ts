/**
 * `ipvs_real_server` metrics as lvsagent emits them, for the serializer
 * benchmarks: built by the ipvs input's own metric builder and passed through
 * the agent's input step (which adds the `host` tag: 7 tags, 16 integer
 * fields and the fwd_method string), gather after gather for the same 1,000
 * real servers of 250 services.
 */
import type { RealServer, VirtualService } from '../core/ipvs/types';
import { Logger } from '../core/log';
import type { Metric } from '../core/metric';
import { RunningInput } from '../core/models/running_input';
import { SeriesCache } from '../core/series_cache';
import { realServerMetric, serviceSeries, serviceTags, type IpvsSeries } from '../plugins/inputs/ipvs/metrics';

export const SERVERS = 1000;
export const T0 = 1_700_000_000_000_000_000n;
export const INTERVAL = 10_000_000_000n;

export function stats(i: number, g: number): RealServer['stats'] {
  return {
    connections: 123456789 + i + 17 * g,
    packetsIn: 9876543210 + i + 900 * g,
    packetsOut: 8765432109 + i + 800 * g,
    bytesIn: 1234567890123 + i + 90000 * g,
    bytesOut: 9876543210987 + i + 80000 * g,
    cps: 7,
    ppsIn: 120,
    ppsOut: 118,
    bpsIn: 96000,
    bpsOut: 1200000,
    from64: true,
  };
}

/** Virtual service number s (TCP 10.96.x.y:443, round robin). */
export function virtualService(s: number): VirtualService {
  return {
    af: 2,
    protocol: 6,
    addr: Buffer.from([10, 96, (s >> 6) & 255, s & 63, ...new Array<number>(12).fill(0)]),
    address: `10.96.${(s >> 6) & 255}.${s & 63}`,
    port: 443,
    fwmark: 0,
    scheduler: 'rr',
    flags: 2,
    timeout: 0,
    netmaskBits: 32,
    netmaskRaw: 0xffffffff,
    peName: '',
    stats: stats(s, 0),
  };
}

// 250 services of 4 real servers each, as a node of a mid-sized cluster has.
const services: VirtualService[] = Array.from({ length: SERVERS / 4 }, (_, s) => virtualService(s));
const serviceTagsOf = services.map(serviceTags);

export function realServer(i: number, g: number): RealServer {
  return {
    af: 2,
    address: `10.244.${(i >> 8) & 255}.${i & 255}`,
    port: 8080 + (i % 4),
    fwdMethodCode: 0,
    fwdMethod: 'masq',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConnections: 17 + ((i + g) % 100),
    inactiveConnections: 1234 + i + g,
    persistentConnections: 0,
    tunnelType: -1,
    tunnelPort: 0,
    tunnelFlags: 0,
    stats: stats(i, g),
  };
}

const log = new Logger('inputs.ipvs');
export const runningInput = new RunningInput(
  {
    name: 'ipvs',
    intervalNs: INTERVAL,
    precisionNs: 0n,
    collectionJitterNs: 0n,
    collectionOffsetNs: 0n,
    tags: {},
    filter: {},
    startupErrorBehavior: 'error',
  },
  { gather: () => undefined },
  log,
  { host: 'node-17.cluster.local' },
);
const series: IpvsSeries = new SeriesCache();

/** One gather's metrics, as the ipvs input and the agent's input step produce them. */
export function gather(g: number): Metric[] {
  const out: Metric[] = [];
  const time = T0 + BigInt(g) * INTERVAL;
  for (let s = 0; s < services.length; s++) {
    const perService = serviceSeries(series, serviceTagsOf[s]);
    for (let i = 4 * s; i < 4 * s + 4; i++) out.push(runningInput.makeMetric(realServerMetric(realServer(i, g), serviceTagsOf[s], '', time, perService))!);
  }
  series.sweep();
  return out;
}

