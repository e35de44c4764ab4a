/** Field documentation of inputs.ip_vs_conn (README tables, Prometheus HELP/TYPE). */
import type { MeasurementDoc } from '../../../core/plugin';
import { M_CONN, M_EVENT, M_REUSE, M_TABLE } from './metrics';
import { STATE_FIELDS } from './states';

const STATE_FIELD_LIST = [...new Set(STATE_FIELDS.slice(0, STATE_FIELDS.length - 1))].filter((f) => f !== 'assured').join(', ');

export const measurements: MeasurementDoc[] = [
  {
    name: M_CONN,
    help: 'IPVS connection table entries per virtual service and real server',
    fields: [
      { name: '<state>', type: 'int', valueType: 'gauge', help: `Connections in a state (the protocol's states: ${STATE_FIELD_LIST})` },
      { name: 'other', type: 'int', valueType: 'gauge', help: 'Connections in a state the plugin does not know for this protocol' },
      { name: 'entries', type: 'int', valueType: 'gauge', help: 'Connection entries (sum of the state fields)' },
      { name: 'templates', type: 'int', valueType: 'gauge', help: 'Persistence templates' },
      { name: 'conn_reuse_mode', type: 'int', valueType: 'gauge', help: 'Value of net.ipv4.vs.conn_reuse_mode' },
    ],
  },
  {
    name: M_REUSE,
    help: 'Connection reuse detected by comparing successive reads of the IPVS connection table',
    fields: [
      { name: 'reused_connections', type: 'int', valueType: 'counter', help: 'New connections that reused a closing entry to the same real server (cumulative)' },
      { name: 'rescheduled_connections', type: 'int', valueType: 'counter', help: 'Client ports of a virtual service that moved to this real server (cumulative)' },
    ],
  },
  {
    name: M_EVENT,
    help: 'One detected reuse (report_reused_connections = true)',
    fields: [
      { name: 'kind', type: 'string', help: 'reused or rescheduled' },
      { name: 'client_address', type: 'string', help: 'Client address' },
      { name: 'client_port', type: 'int', help: 'Client port' },
      { name: 'previous_state', type: 'string', help: 'State in the previous read' },
      { name: 'state', type: 'string', help: 'State now' },
      { name: 'previous_expires', type: 'int', help: 'Seconds left on the timer in the previous read' },
      { name: 'expires', type: 'int', help: 'Seconds left on the timer now' },
      { name: 'elapsed', type: 'float', help: 'Seconds between the two reads (lower bound)' },
      { name: 'previous_address', type: 'string', help: 'Real server before (rescheduled only)' },
      { name: 'previous_port', type: 'int', help: 'Real-server port before (rescheduled only)' },
    ],
  },
  {
    name: M_TABLE,
    help: 'Figures of one read of the IPVS connection table',
    fields: [
      { name: 'rows', type: 'int', valueType: 'gauge', help: 'Rows read (connections and templates, filtered or not)' },
      { name: 'connections', type: 'int', valueType: 'gauge', help: 'Connections counted (after virtual_servers)' },
      { name: 'templates', type: 'int', valueType: 'gauge', help: 'Persistence templates counted (after virtual_servers)' },
      { name: 'filtered_rows', type: 'int', valueType: 'gauge', help: 'Rows left out by virtual_servers' },
      { name: 'malformed_lines', type: 'int', valueType: 'gauge', help: 'Lines that could not be parsed' },
      { name: 'tracked_connections', type: 'int', valueType: 'gauge', help: 'Connections kept for reuse detection' },
      { name: 'untracked_connections', type: 'int', valueType: 'gauge', help: 'Connections counted but not tracked (max_tracked_connections reached)' },
      { name: 'tracker_bytes', type: 'int', valueType: 'gauge', help: 'Memory of the tracking table' },
      { name: 'reused_connections', type: 'int', valueType: 'gauge', help: 'Reuses detected in this read' },
      { name: 'rescheduled_connections', type: 'int', valueType: 'gauge', help: 'Reschedules detected in this read' },
      { name: 'reuse_events_dropped', type: 'int', valueType: 'gauge', help: 'Events beyond max_reuse_events in this read' },
      { name: 'conn_reuse_mode', type: 'int', valueType: 'gauge', help: 'Value of net.ipv4.vs.conn_reuse_mode' },
    ],
  },
];
