/**
 * inputs.ip_vs_conn: the IPVS connection table (/proc/net/ip_vs_conn) counted
 * per virtual service, real server and state, with connection-reuse detection
 * across gathers (kubernetes#81775). See README.md.
 */
import { readAsset } from '../../../core/assets';
import type { InputPlugin, PluginContext } from '../../../core/plugin';
import { IpVsConnInput } from './input';
import { measurements } from './measurements';
import type { IpVsConnOptions } from './options';
import schema from './schema.json';

const plugin: InputPlugin<IpVsConnOptions> = {
  kind: 'input',
  name: 'ip_vs_conn',
  description: 'Count IPVS connections per real server and state, and detect connection reuse',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements,
  create: (options: IpVsConnOptions, ctx: PluginContext) => new IpVsConnInput(options, ctx),
};

export default plugin;
