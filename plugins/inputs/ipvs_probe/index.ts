/** inputs.ipvs_probe: real-server health probes as metrics (see README.md). */
import { readAsset } from '../../../core/assets';
import type { InputPlugin } from '../../../core/plugin';
import { IpvsProbeInput } from './input';
import { measurements } from './measurements';
import { buildProbeSpec, type IpvsProbeOptions } from './options';
import { IpvsTableReader, namespaceRunner } from './platform';
import schema from './schema.json';

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
