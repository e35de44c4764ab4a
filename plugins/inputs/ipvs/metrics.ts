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
import { FieldType, Metric } from '../../../core/metric';

export function protocolName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : String(p);
}

/** The service's tags, shared by its metric and (renamed) by its real servers'. */
export interface ServiceTags {
  fwmark: string;
  protocol: string;
  address: string;
  port: string;
}

export function serviceTags(vs: VirtualService): ServiceTags {
  return vs.fwmark > 0
    ? { fwmark: String(vs.fwmark), protocol: '', address: '', port: '' }
    : { fwmark: '', protocol: protocolName(vs.protocol), address: vs.address, port: String(vs.port) };
}

function addStats(m: Metric, s: IpvsStats): void {
  m.addField('connections', FieldType.Uint, s.connections);
  m.addField('pkts_in', FieldType.Uint, s.packetsIn);
  m.addField('pkts_out', FieldType.Uint, s.packetsOut);
  m.addField('bytes_in', FieldType.Uint, s.bytesIn);
  m.addField('bytes_out', FieldType.Uint, s.bytesOut);
  m.addField('pps_in', FieldType.Uint, s.ppsIn);
  m.addField('pps_out', FieldType.Uint, s.ppsOut);
  m.addField('cps', FieldType.Uint, s.cps);
  // Additions (not in Telegraf).
  m.addField('bps_in', FieldType.Uint, s.bpsIn);
  m.addField('bps_out', FieldType.Uint, s.bpsOut);
}

export function virtualServerMetric(vs: VirtualService, t: ServiceTags, namespaceTag: string, time: bigint): Metric {
  const m = new Metric('ipvs_virtual_server', time, 'untyped');
  m.setTag('sched', vs.scheduler);
  m.setTag('netmask', String(vs.netmaskBits));
  m.setTag('address_family', familyName(vs.af));
  if (t.fwmark) {
    m.setTag('fwmark', t.fwmark);
  } else {
    m.setTag('protocol', t.protocol);
    m.setTag('address', t.address);
    m.setTag('port', t.port);
  }
  if (namespaceTag) m.setTag('namespace', namespaceTag);
  addStats(m, vs.stats);
  m.addField('persistence_timeout', FieldType.Int, vs.flags & 1 ? vs.timeout : 0);
  m.addField('flags', FieldType.Int, vs.flags);
  return m;
}

export function realServerMetric(rs: RealServer, t: ServiceTags, namespaceTag: string, time: bigint): Metric {
  const m = new Metric('ipvs_real_server', time, 'untyped');
  m.setTag('address', rs.address);
  m.setTag('port', String(rs.port));
  m.setTag('address_family', familyName(rs.af));
  if (t.fwmark) {
    m.setTag('virtual_fwmark', t.fwmark);
  } else {
    m.setTag('virtual_protocol', t.protocol);
    m.setTag('virtual_address', t.address);
    m.setTag('virtual_port', t.port);
  }
  if (namespaceTag) m.setTag('namespace', namespaceTag);
  m.addField('active_connections', FieldType.Int, rs.activeConnections);
  m.addField('inactive_connections', FieldType.Int, rs.inactiveConnections);
  addStats(m, rs.stats);
  m.addField('persistent_connections', FieldType.Int, rs.persistentConnections);
  m.addField('weight', FieldType.Int, rs.weight);
  m.addField('fwd_method', FieldType.String, rs.fwdMethod);
  m.addField('upper_threshold', FieldType.Int, rs.upperThreshold);
  m.addField('lower_threshold', FieldType.Int, rs.lowerThreshold);
  return m;
}
