/** Field documentation of inputs.conntrack (README tables and Prometheus HELP text). */
import type { FieldDoc, MeasurementDoc } from '../../../core/plugin';

const statCounter = (name: string, help: string): FieldDoc => ({ name, type: 'uint', valueType: 'counter', help });

const tableFields: FieldDoc[] = [
  { name: 'entries', type: 'uint', valueType: 'gauge', help: 'Conntrack entries in the group' },
  { name: 'assured', type: 'uint', valueType: 'gauge', help: 'Entries with the ASSURED status bit' },
  { name: 'unreplied', type: 'uint', valueType: 'gauge', help: 'Entries that have not seen a reply (no SEEN_REPLY bit)' },
  { name: 'orig_packets', type: 'uint', valueType: 'gauge', help: 'Packets in the original direction summed over the entries (with accounting)' },
  { name: 'orig_bytes', type: 'uint', valueType: 'gauge', help: 'Bytes in the original direction summed over the entries (with accounting)' },
  { name: 'reply_packets', type: 'uint', valueType: 'gauge', help: 'Packets in the reply direction summed over the entries (with accounting)' },
  { name: 'reply_bytes', type: 'uint', valueType: 'gauge', help: 'Bytes in the reply direction summed over the entries (with accounting)' },
];

const hist = (name: string, help: string): FieldDoc[] => [
  { name: `${name}_bucket`, type: 'int', valueType: 'histogram', help: `${help}: cumulative count of observations <= le` },
  { name: `${name}_sum`, type: 'float', valueType: 'histogram', help: `${help}: sum of observations` },
  { name: `${name}_count`, type: 'int', valueType: 'histogram', help: `${help}: number of observations` },
];

export const measurements: MeasurementDoc[] = [
  {
    name: 'conntrack',
    help: 'Conntrack sysctl values (untyped, float) and per-CPU statistics (counter, uint; tag cpu)',
    fields: [
      { name: 'ip_conntrack_count', type: 'float', help: 'Entries in the conntrack table (nf_conntrack_count)' },
      { name: 'ip_conntrack_max', type: 'float', help: 'Size limit of the conntrack table (nf_conntrack_max)' },
      { name: 'ip_<file suffix>', type: 'float', help: 'Any other configured sysctl file, named ip_ + the file name after its first underscore' },
      { name: 'entries', type: 'uint', valueType: 'counter', help: 'Entries in the table (the count, not summed over CPUs)' },
      statCounter('searched', 'Column 2 of /proc/net/stat/nf_conntrack (named clashres on newer kernels: clash resolutions)'),
      statCounter('found', 'Lookups that found an entry'),
      statCounter('new', 'Entries added that were not expected (always 0 on current kernels)'),
      statCounter('invalid', 'Packets that could not be tracked'),
      statCounter('ignore', 'Packets already tracked (always 0 on current kernels)'),
      statCounter('delete', 'Entries deleted (always 0 on current kernels)'),
      statCounter('delete_list', 'Column 8 of /proc/net/stat/nf_conntrack (named chainlength on newer kernels: hash chains too long)'),
      statCounter('insert', 'Entries inserted'),
      statCounter('insert_failed', 'Insertions that failed (e.g. a clash)'),
      statCounter('drop', 'Packets dropped because the insertion failed'),
      statCounter('early_drop', 'Entries dropped to make room when the table was full'),
      statCounter('icmp_error', 'Packets with an ICMP error that could not be tracked (kernel: error)'),
      statCounter('expect_new', 'Expectations added'),
      statCounter('expect_create', 'Expectations created'),
      statCounter('expect_delete', 'Expectations deleted'),
      statCounter('search_restart', 'Lookups restarted because of a hash resize'),
      statCounter('clash_resolve', 'Insert clashes resolved (netlink source only; kernel name)'),
      statCounter('chain_toolong', 'Insertions refused because the hash chain was too long (netlink source only; kernel name)'),
    ],
  },
  { name: 'conntrack_table', help: 'Table breakdown per address family and protocol (tags family, protocol)', fields: tableFields },
  { name: 'conntrack_table_tcp_state', help: 'Table breakdown per TCP state (tag state)', fields: tableFields },
  { name: 'conntrack_table_zone', help: 'Table breakdown per conntrack zone (tag zone)', fields: tableFields },
  { name: 'conntrack_table_mark', help: 'Table breakdown per mark & table_mark_mask (tag mark)', fields: tableFields },
  { name: 'conntrack_table_subnet', help: 'Table breakdown per original-destination subnet (tag subnet)', fields: tableFields },
  {
    name: 'conntrack_service',
    help: 'Per-service flow metrics from conntrack events (tags address, port, protocol)',
    fields: [
      { name: 'flows_started', type: 'uint', valueType: 'counter', help: 'Flows to the service created (NEW events)' },
      { name: 'flows_ended', type: 'uint', valueType: 'counter', help: 'Flows to the service destroyed (DESTROY events)' },
      { name: 'flows_unreplied', type: 'uint', valueType: 'counter', help: 'Destroyed flows that never saw a reply' },
      ...hist('duration_seconds', 'Flow lifetime from kernel start/stop timestamps, seconds'),
      ...hist('connect_latency_seconds', 'Time from flow creation to the first reply (SEEN_REPLY / SYN_RECV), seconds'),
      ...hist('fin_latency_seconds', 'Time from flow creation to the first TCP FIN (FIN_WAIT or later), seconds'),
      ...hist('bytes_orig', 'Bytes per flow, client to service'),
      ...hist('bytes_reply', 'Bytes per flow, service to client'),
      ...hist('packets_orig', 'Packets per flow, client to service'),
      ...hist('packets_reply', 'Packets per flow, service to client'),
    ],
  },
  {
    name: 'conntrack_events',
    help: 'Self-metrics of the conntrack event listener',
    fields: [
      { name: 'events_new', type: 'int', valueType: 'counter', help: 'NEW events received' },
      { name: 'events_update', type: 'int', valueType: 'counter', help: 'UPDATE events received' },
      { name: 'events_destroy', type: 'int', valueType: 'counter', help: 'DESTROY events received' },
      { name: 'events_ignored', type: 'int', valueType: 'counter', help: 'Events of flows that belong to no service' },
      { name: 'parse_errors', type: 'int', valueType: 'counter', help: 'Event messages that could not be decoded' },
      { name: 'overruns', type: 'int', valueType: 'counter', help: 'Receive buffer overruns (ENOBUFS): events were lost' },
      { name: 'receive_errors', type: 'int', valueType: 'counter', help: 'Other receive errors (truncated or malformed datagrams)' },
      { name: 'datagrams', type: 'int', valueType: 'counter', help: 'Datagrams received' },
      { name: 'flows_tracked', type: 'int', valueType: 'gauge', help: 'Flows held in the in-flight table (awaiting their first reply or TCP FIN)' },
      { name: 'flows_evicted', type: 'int', valueType: 'counter', help: 'Flows evicted from the full in-flight table (max_flows)' },
      { name: 'services', type: 'int', valueType: 'gauge', help: 'Services tracked' },
      { name: 'services_dropped', type: 'int', valueType: 'counter', help: 'Flows not counted because max_services was reached' },
      { name: 'services_expired', type: 'int', valueType: 'counter', help: 'Services forgotten after service_expiration without events' },
      { name: 'receive_buffer_bytes', type: 'int', valueType: 'gauge', help: 'Effective socket receive buffer (as the kernel reports it)' },
    ],
  },
];
