import { readAsset } from '../../../core/assets';
import type { OutputPlugin } from '../../../core/plugin';
import type { PrometheusClientOptions } from './options';
import { PrometheusClientOutput } from './output';
import schema from './schema.json';

const plugin: OutputPlugin<PrometheusClientOptions> = {
  kind: 'output',
  name: 'prometheus_client',
  description: 'Configuration for the Prometheus client to spawn',
  schema,
  telegrafOnlyKeys: ['collectors_exclude', 'name_sanitization'],
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  memoryBufferOnly: 'a pull endpoint: it keeps the newest sample of each series for scrapers, there is no backlog to deliver',
  create(options, ctx) {
    return new PrometheusClientOutput(options, ctx);
  },
};

export default plugin;
export { PrometheusClientOutput };
