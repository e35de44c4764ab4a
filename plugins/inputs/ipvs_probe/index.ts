/** inputs.ipvs_probe: real-server health probes as metrics (see README.md). */
import { readAsset } from '../../../core/assets';
import type { InputPlugin, MeasurementDoc } from '../../../core/plugin';
import { IpvsProbeInput, MEASUREMENT, ROUND_MEASUREMENT } from './input';
import { buildProbeSpec, type IpvsProbeOptions } from './options';
import { IpvsTableReader, namespaceRunner } from './platform';
import schema from './schema.json';

const measurements: MeasurementDoc[] = [
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

const plugin: InputPlugin<IpvsProbeOptions> = {
  kind: 'input',
  name: 'ipvs_probe',
  description: 'Probe IPVS real servers (TCP connect or HTTP/HTTPS request) and report their health',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements,
  create(options, ctx) {
    const spec = buildProbeSpec(options);
    const inNetns = options.namespace ? namespaceRunner(options.namespace) : undefined;
    const reader = options.targets.length > 0 ? undefined : new IpvsTableReader(options.namespace, options.load_module);
    const intervalMs = Number(ctx.intervalNs / 1_000_000n);
    const budgetMs = intervalMs - Math.min(intervalMs / 20, 500);
    if (intervalMs > 0 && spec.timeoutMs >= budgetMs) {
      // A probe starts only while it can end within the round's budget (the
      // interval less a margin): with a timeout that long none could.
      const clamped = Math.max(1, Math.floor(intervalMs / 2));
      ctx.log.warn(`timeout ${spec.timeoutMs / 1000} s does not fit in the interval (${intervalMs / 1000} s); using ${clamped / 1000} s`);
      spec.timeoutMs = clamped;
    }
    return new IpvsProbeInput(options, spec, ctx, { services: reader?.read, inNetns, close: () => reader?.close() });
  },
};

export default plugin;
