import { readAsset } from '../../../core/assets';
import type { OutputPlugin } from '../../../core/plugin';
import type { InfluxDBOptions } from './options';
import { InfluxDBOutput } from './output';
import schema from './schema.json';

const plugin: OutputPlugin<InfluxDBOptions> = {
  kind: 'output',
  name: 'influxdb',
  description: 'Configuration for sending metrics to InfluxDB 1.x',
  schema,
  telegrafOnlyKeys: ['precision', 'tls_renegotiation_method'],
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  create(options, ctx) {
    return new InfluxDBOutput(options, ctx);
  },
};

export default plugin;
export { InfluxDBOutput };
