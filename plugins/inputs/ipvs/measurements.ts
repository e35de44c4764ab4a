/**
 * Field documentation of inputs.ipvs (Prometheus HELP/TYPE per
 * `<measurement>_<field>`): cumulative statistics are counters, rates and
 * current values gauges, although the metrics themselves are `untyped` as in
 * Telegraf's line protocol.
 */
import type { FieldDoc, MeasurementDoc } from '../../../core/plugin';

const statsFields = (what: string): FieldDoc[] => [
  { name: 'connections', type: 'uint', valueType: 'counter', help: `Connections scheduled to this ${what} since it was created` },
  { name: 'pkts_in', type: 'uint', valueType: 'counter', help: `Packets received by this ${what}` },
  { name: 'pkts_out', type: 'uint', valueType: 'counter', help: `Packets sent by this ${what}` },
  { name: 'bytes_in', type: 'uint', valueType: 'counter', help: `Bytes received by this ${what}` },
  { name: 'bytes_out', type: 'uint', valueType: 'counter', help: `Bytes sent by this ${what}` },
  { name: 'pps_in', type: 'uint', valueType: 'gauge', help: `Incoming packets per second (kernel 2 s estimator)` },
  { name: 'pps_out', type: 'uint', valueType: 'gauge', help: `Outgoing packets per second (kernel 2 s estimator)` },
  { name: 'cps', type: 'uint', valueType: 'gauge', help: `New connections per second (kernel 2 s estimator)` },
  { name: 'bps_in', type: 'uint', valueType: 'gauge', help: `Incoming bytes per second (kernel 2 s estimator; lvsagent addition)` },
  { name: 'bps_out', type: 'uint', valueType: 'gauge', help: `Outgoing bytes per second (kernel 2 s estimator; lvsagent addition)` },
];

export const measurements: MeasurementDoc[] = [
  {
    name: 'ipvs_virtual_server',
    help: 'IPVS virtual server (service) statistics',
    fields: [
      ...statsFields('virtual server'),
      { name: 'persistence_timeout', type: 'int', valueType: 'gauge', help: 'Persistence timeout in seconds, 0 when not persistent (lvsagent addition)' },
      { name: 'flags', type: 'int', valueType: 'gauge', help: 'IP_VS_SVC_F_* flag bits: 1 persistent, 2 hashed, 4 one-packet, 8/16/32 scheduler flags (lvsagent addition)' },
    ],
  },
  {
    name: 'ipvs_real_server',
    help: 'IPVS real server (destination) statistics',
    fields: [
      { name: 'active_connections', type: 'int', valueType: 'gauge', help: 'Active connections (TCP ESTABLISHED) to this real server' },
      { name: 'inactive_connections', type: 'int', valueType: 'gauge', help: 'Inactive connections (other states) to this real server' },
      ...statsFields('real server'),
      { name: 'persistent_connections', type: 'int', valueType: 'gauge', help: 'Persistence templates pointing at this real server (lvsagent addition)' },
      { name: 'weight', type: 'int', valueType: 'gauge', help: 'Scheduling weight; 0 = quiesced (lvsagent addition)' },
      { name: 'fwd_method', type: 'string', help: 'Forwarding method: masq, local, tunnel, route or bypass (lvsagent addition)' },
      { name: 'upper_threshold', type: 'int', valueType: 'gauge', help: 'Upper connection threshold, 0 = none (lvsagent addition)' },
      { name: 'lower_threshold', type: 'int', valueType: 'gauge', help: 'Lower connection threshold, 0 = none (lvsagent addition)' },
    ],
  },
  {
    name: 'ipvs',
    help: 'IPVS global settings (collect_sysctls; lvsagent addition)',
    fields: [
      { name: '<sysctl>', type: 'int', valueType: 'gauge', help: 'Value of /proc/sys/net/ipv4/vs/<sysctl> (conn_reuse_mode, expire_nodest_conn, conntrack, run_estimation, ...)' },
      { name: 'version', type: 'string', help: 'IPVS version, e.g. 1.2.1' },
      { name: 'conn_tab_size', type: 'int', valueType: 'gauge', help: 'Connection hash table size (buckets)' },
      { name: 'timeout_tcp', type: 'int', valueType: 'gauge', help: 'TCP ESTABLISHED timeout, seconds' },
      { name: 'timeout_tcp_fin', type: 'int', valueType: 'gauge', help: 'TCP FIN_WAIT timeout, seconds' },
      { name: 'timeout_udp', type: 'int', valueType: 'gauge', help: 'UDP timeout, seconds' },
    ],
  },
];
