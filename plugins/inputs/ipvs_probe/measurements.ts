/** Field documentation of inputs.ipvs_probe (README tables, Prometheus HELP/TYPE). */
import type { MeasurementDoc } from '../../../core/plugin';
import { MEASUREMENT, ROUND_MEASUREMENT } from './input';

export const measurements: MeasurementDoc[] = [
  {
    name: MEASUREMENT,
    help: 'Health probe of an IPVS real server',
    fields: [
      { name: 'up', type: 'int', valueType: 'gauge', help: '1 when the last probe succeeded, else 0' },
      { name: 'response_time', type: 'float', valueType: 'gauge', help: 'Seconds until the probe was decided (connect, HTTP status line, error or timeout)' },
      { name: 'http_response_code', type: 'int', valueType: 'gauge', help: 'HTTP status of the probe response (http/https probes that got one)' },
      { name: 'result_code', type: 'int', valueType: 'gauge', help: 'Result class as Telegraf http_response numbers it (0 success, 3 connection, 4 timeout, 5 dns, 6 status)' },
      { name: 'consecutive_failures', type: 'int', valueType: 'gauge', help: 'Failed probes in a row for this real server (0 after a success)' },
    ],
  },
  {
    name: ROUND_MEASUREMENT,
    help: 'One round of ipvs_probe probes',
    fields: [
      { name: 'pairs', type: 'int', valueType: 'gauge', help: '(virtual server, real server) pairs in the round' },
      { name: 'targets', type: 'int', valueType: 'gauge', help: 'Unique real servers (address:port) to probe' },
      { name: 'probes_started', type: 'int', valueType: 'gauge', help: 'Probes started in the round' },
      { name: 'probes_not_started', type: 'int', valueType: 'gauge', help: 'Probes not started because they could not finish within the interval' },
      { name: 'probes_failed', type: 'int', valueType: 'gauge', help: 'Targets whose probe did not succeed' },
      { name: 'max_in_flight', type: 'int', valueType: 'gauge', help: 'Most probes in flight at once' },
      { name: 'round_time', type: 'float', valueType: 'gauge', help: 'Seconds from the start of the gather to the last probe' },
    ],
  },
];
