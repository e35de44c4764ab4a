/** Field documentation of inputs.internal (README table and Prometheus HELP text). */
import type { MeasurementDoc } from '../../../core/plugin';

export const measurements: MeasurementDoc[] = [
  {
    name: 'internal_agent',
    help: 'Agent-wide totals',
    fields: [
      { name: 'gather_errors', type: 'int', valueType: 'counter', help: 'Errors reported by all inputs since start' },
      { name: 'gather_timeouts', type: 'int', valueType: 'counter', help: 'Gathers still running when their next interval began' },
      { name: 'metrics_dropped', type: 'int', valueType: 'counter', help: 'Metrics dropped by full output buffers' },
      { name: 'metrics_gathered', type: 'int', valueType: 'counter', help: 'Metrics gathered by all inputs' },
      { name: 'metrics_rejected', type: 'int', valueType: 'counter', help: 'Metrics rejected by outputs (partial writes)' },
      { name: 'metrics_written', type: 'int', valueType: 'counter', help: 'Metrics written by all outputs' },
      { name: 'write_errors', type: 'int', valueType: 'counter', help: 'Failed output writes' },
    ],
  },
  {
    name: 'internal_gather',
    help: 'Per-input statistics',
    fields: [
      { name: 'errors', type: 'int', valueType: 'counter', help: 'Errors reported by the input' },
      { name: 'gather_errors', type: 'int', valueType: 'counter', help: 'Errors reported by the input (same as errors)' },
      { name: 'gather_time_ns', type: 'int', valueType: 'gauge', help: 'Average gather time since the last report, nanoseconds' },
      { name: 'gather_timeouts', type: 'int', valueType: 'counter', help: 'Gathers still running when the next interval began' },
      { name: 'metrics_gathered', type: 'int', valueType: 'counter', help: 'Metrics gathered by the input' },
      { name: 'startup_errors', type: 'int', valueType: 'counter', help: 'Failed attempts to start the input' },
    ],
  },
  {
    name: 'internal_write',
    help: 'Per-output statistics',
    fields: [
      { name: 'buffer_limit', type: 'int', valueType: 'gauge', help: 'Capacity of the output buffer (metric_buffer_limit)' },
      { name: 'buffer_size', type: 'int', valueType: 'gauge', help: 'Metrics waiting in the output buffer' },
      { name: 'buffer_disk_bytes', type: 'int', valueType: 'gauge', help: 'Bytes the output buffer holds on disk (buffer_strategy = "disk")' },
      { name: 'buffer_dropped_bytes', type: 'int', valueType: 'counter', help: 'Encoded bytes of the metrics the disk buffer dropped (buffer_strategy = "disk")' },
      { name: 'buffer_disk_errors', type: 'int', valueType: 'counter', help: 'Failed writes of the disk buffer (full or failing disk; buffer_strategy = "disk")' },
      { name: 'errors', type: 'int', valueType: 'counter', help: 'Errors of the output' },
      { name: 'metrics_added', type: 'int', valueType: 'counter', help: 'Metrics added to the output buffer' },
      { name: 'metrics_dropped', type: 'int', valueType: 'counter', help: 'Metrics dropped because the buffer was full (or, on disk, could neither be written nor held)' },
      { name: 'metrics_filtered', type: 'int', valueType: 'counter', help: 'Metrics removed by the output filters' },
      { name: 'metrics_rejected', type: 'int', valueType: 'counter', help: 'Metrics rejected by the destination' },
      { name: 'metrics_written', type: 'int', valueType: 'counter', help: 'Metrics written' },
      { name: 'startup_errors', type: 'int', valueType: 'counter', help: 'Failed attempts to connect the output' },
      { name: 'write_errors', type: 'int', valueType: 'counter', help: 'Failed writes' },
      { name: 'write_time_ns', type: 'int', valueType: 'gauge', help: 'Average write time since the last report, nanoseconds' },
    ],
  },
  {
    name: 'internal_memstats',
    help: 'Memory of the lvsagent process (Node.js heap mapped onto Telegraf names)',
    fields: [
      { name: 'alloc_bytes', type: 'int', valueType: 'gauge', help: 'V8 heap in use, bytes' },
      { name: 'heap_alloc_bytes', type: 'int', valueType: 'gauge', help: 'V8 heap in use, bytes' },
      { name: 'heap_in_use_bytes', type: 'int', valueType: 'gauge', help: 'V8 heap in use, bytes' },
      { name: 'heap_sys_bytes', type: 'int', valueType: 'gauge', help: 'V8 heap reserved, bytes' },
      { name: 'heap_idle_bytes', type: 'int', valueType: 'gauge', help: 'V8 heap reserved but unused, bytes' },
      { name: 'sys_bytes', type: 'int', valueType: 'gauge', help: 'Resident set size, bytes' },
      { name: 'rss_bytes', type: 'int', valueType: 'gauge', help: 'Resident set size, bytes (lvsagent addition)' },
      { name: 'external_bytes', type: 'int', valueType: 'gauge', help: 'Memory of C++ objects bound to JS, bytes (lvsagent addition)' },
      { name: 'array_buffers_bytes', type: 'int', valueType: 'gauge', help: 'ArrayBuffer and Buffer memory, bytes (lvsagent addition)' },
    ],
  },
];
