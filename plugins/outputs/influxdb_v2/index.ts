import { readAsset } from '../../../core/assets';
import type { OutputPlugin } from '../../../core/plugin';
import type { InfluxDBv2Options } from './options';
import { InfluxDBv2Output } from './output';
import schema from './schema.json';

const plugin: OutputPlugin<InfluxDBv2Options> = {
  kind: 'output',
  name: 'influxdb_v2',
  description: 'Configuration for sending metrics to InfluxDB 2.0',
  schema,
  telegrafOnlyKeys: ['ping_timeout', 'read_idle_timeout', 'concurrent_writes', 'rate_limit', 'rate_limit_period', 'tls_renegotiation_method'],
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  create(options, ctx) {
    return new InfluxDBv2Output(options, ctx);
  },
};

export default plugin;
export { InfluxDBv2Output };
