/**
 * inputs.ipvs: IPVS virtual and real server statistics over generic netlink,
 * Telegraf-compatible (measurements ipvs_virtual_server / ipvs_real_server with
 * Telegraf's tags and field types) plus additional fields, namespace support,
 * virtual-server filters and optional IPVS sysctls. See README.md.
 */
import { readAsset } from '../../../core/assets';
import type { InputPlugin } from '../../../core/plugin';
import { IpvsInput } from './input';
import { measurements } from './measurements';
import type { IpvsOptions } from './options';
import schema from './schema.json';

const plugin: InputPlugin<IpvsOptions> = {
  kind: 'input',
  name: 'ipvs',
  description: 'Gather IPVS virtual and real server statistics',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements,
  create: (options, ctx) => new IpvsInput(options, ctx),
};

export default plugin;
