/**
 * Builds `ipvs_virtual_server` and `ipvs_real_server` metrics with exactly
 * Telegraf's tags and field types (uint64 statistics, int64 active/inactive
 * connections), plus lvsagent's additional fields (see README.md).
 *
 * Metrics are built directly (no field maps) and typed `untyped`, which is what
 * Telegraf's line protocol shows; per-field counter/gauge semantics are in the
 * plugin's `measurements` docs for the Prometheus output.
 */
import { familyName } from '../../../core/ipvs/address';
import type { IpvsStats, RealServer, VirtualService } from '../../../core/ipvs/types';
import { FieldSchema, FieldType, Metric, TagSet, type FieldValue } from '../../../core/metric';
import { SeriesCache } from '../../../core/series_cache';

export function protocolName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : String(p);
}

/** The service's tags, shared by its metric and (renamed) by its real servers'. */
export interface ServiceTags {
  fwmark: string;
  protocol: string;
  address: string;
  port: string;
  /** Identifies the service among the input's series. */
  key: string;
}

export function serviceTags(vs: VirtualService): ServiceTags {
  if (vs.fwmark > 0) {
    const fwmark = String(vs.fwmark);
    return { fwmark, protocol: '', address: '', port: '', key: `fwmark ${fwmark} ${vs.af}` };
  }
  const protocol = protocolName(vs.protocol);
  const port = String(vs.port);
  return { fwmark: '', protocol, address: vs.address, port, key: `${protocol} ${vs.address} ${port}` };
}

/**
 * The frozen tag sets of an input's series, kept across gathers: metrics of
 * the same virtual or real server share one set, so the agent's added tags and
 * the serialized tags are worked out once per server instead of once per gather.
 * Real servers are looked up by address within their service (a short key),
 * the port checked on the set itself.
 */
export type IpvsSeries = SeriesCache<ServiceSeries>;

export interface ServiceSeries {
  tags: TagSet | undefined;
  /** Tag sets of the service's real servers by address: one, or one per port when an address has several. */
  servers: SeriesCache<TagSet | TagSet[]>;
}

/** The service's entry, created on first sight; its real servers not seen since the last call are forgotten. */
export function serviceSeries(series: IpvsSeries, t: ServiceTags): ServiceSeries {
  let s = series.get(t.key);
  if (s === undefined) {
    s = { tags: undefined, servers: new SeriesCache() };
    series.set(t.key, s);
  } else s.servers.sweep();
  return s;
}

// Hot path (one metric per service and per real server, 110k per gather on
// big tables): fields are values on a shared schema (one array per metric,
// not an object per field), and tags (when not cached) are pushed in their
// final sorted, duplicate-free order instead of through setTag.

const U = FieldType.Uint;
const I = FieldType.Int;
/** Telegraf's statistics fields (uint64), then lvsagent's bps_in/bps_out, in the order both measurements share. */
const STATS_KEYS = ['connections', 'pkts_in', 'pkts_out', 'bytes_in', 'bytes_out', 'pps_in', 'pps_out', 'cps', 'bps_in', 'bps_out'];
const STATS_TYPES = [U, U, U, U, U, U, U, U, U, U];

const VIRTUAL_SERVER_FIELDS = new FieldSchema([...STATS_KEYS, 'persistence_timeout', 'flags'], [...STATS_TYPES, I, I]);

const REAL_SERVER_FIELDS = new FieldSchema(
  ['active_connections', 'inactive_connections', ...STATS_KEYS, 'persistent_connections', 'weight', 'fwd_method', 'upper_threshold', 'lower_threshold'],
  [I, I, ...STATS_TYPES, I, I, FieldType.String, I, I],
);

/** Writes the statistics values into `v` from `at`, in STATS_KEYS order. */
function putStats(v: FieldValue[], at: number, s: IpvsStats): FieldValue[] {
  v[at] = s.connections;
  v[at + 1] = s.packetsIn;
  v[at + 2] = s.packetsOut;
  v[at + 3] = s.bytesIn;
  v[at + 4] = s.bytesOut;
  v[at + 5] = s.ppsIn;
  v[at + 6] = s.ppsOut;
  v[at + 7] = s.cps;
  v[at + 8] = s.bpsIn;
  v[at + 9] = s.bpsOut;
  return v;
}

export function virtualServerMetric(vs: VirtualService, t: ServiceTags, namespaceTag: string, time: bigint, series?: ServiceSeries): Metric {
  // A literal of the final length (zeros where the statistics go): a packed array, no growth.
  const values = putStats([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, vs.flags & 1 ? vs.timeout : 0, vs.flags], 0, vs.stats);
  return new Metric('ipvs_virtual_server', time, 'untyped', virtualServerTags(vs, t, namespaceTag, series), VIRTUAL_SERVER_FIELDS, values);
}

export function realServerMetric(rs: RealServer, t: ServiceTags, namespaceTag: string, time: bigint, series?: ServiceSeries): Metric {
  const values = putStats(
    [rs.activeConnections, rs.inactiveConnections, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, rs.persistentConnections, rs.weight, rs.fwdMethod, rs.upperThreshold, rs.lowerThreshold],
    2,
    rs.stats,
  );
  return new Metric('ipvs_real_server', time, 'untyped', realServerTags(rs, t, namespaceTag, series), REAL_SERVER_FIELDS, values);
}

function virtualServerTags(vs: VirtualService, t: ServiceTags, namespaceTag: string, series: ServiceSeries | undefined): TagSet {
  const cached = series?.tags;
  // The key leaves out the scheduler and netmask, which can change in place (ipvsadm -E).
  if (cached && cached.values[cached.size - 1] === vs.scheduler && cached.get('netmask') === String(vs.netmaskBits)) return cached;
  // Sorted: address, address_family, fwmark, namespace, netmask, port, protocol, sched.
  const k: string[] = [];
  const v: string[] = [];
  if (!t.fwmark) {
    k.push('address');
    v.push(t.address);
  }
  k.push('address_family');
  v.push(familyName(vs.af));
  if (t.fwmark) {
    k.push('fwmark');
    v.push(t.fwmark);
  }
  if (namespaceTag !== '') {
    k.push('namespace');
    v.push(namespaceTag);
  }
  k.push('netmask');
  v.push(String(vs.netmaskBits));
  if (!t.fwmark) {
    k.push('port', 'protocol');
    v.push(t.port, t.protocol);
  }
  k.push('sched');
  v.push(vs.scheduler);
  const tags = TagSet.frozen(k, v);
  if (series) series.tags = tags;
  return tags;
}

/** Port numbers as text, made once each: real servers' tag sets live long, and most share a few ports. */
const portTexts: string[] = [];

function portText(port: number): string {
  return (portTexts[port] ??= String(port));
}

function realServerTags(rs: RealServer, t: ServiceTags, namespaceTag: string, series: ServiceSeries | undefined): TagSet {
  // Every tag follows from the service, the address and the port.
  const port = portText(rs.port);
  const sameAddress = series?.servers.get(rs.address);
  if (sameAddress instanceof TagSet) {
    if (sameAddress.get('port') === port) return sameAddress;
  } else if (sameAddress) {
    for (let i = 0; i < sameAddress.length; i++) if (sameAddress[i].get('port') === port) return sameAddress[i];
  }
  // Sorted: address, address_family, namespace, port, virtual_address, virtual_fwmark, virtual_port, virtual_protocol.
  const k: string[] = [];
  const v: string[] = [];
  k.push('address', 'address_family');
  v.push(rs.address, familyName(rs.af));
  if (namespaceTag !== '') {
    k.push('namespace');
    v.push(namespaceTag);
  }
  k.push('port');
  v.push(port);
  if (t.fwmark) {
    k.push('virtual_fwmark');
    v.push(t.fwmark);
  } else {
    k.push('virtual_address', 'virtual_port', 'virtual_protocol');
    v.push(t.address, t.port, t.protocol);
  }
  const tags = TagSet.frozen(k, v);
  if (sameAddress instanceof TagSet) series!.servers.set(rs.address, [sameAddress, tags]);
  else if (sameAddress) sameAddress.push(tags);
  else series?.servers.set(rs.address, tags);
  return tags;
}
