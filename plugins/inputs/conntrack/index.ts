/**
 * inputs.conntrack: Telegraf-compatible conntrack statistics, an opt-in
 * table breakdown over netlink, and opt-in per-service flow metrics from
 * conntrack events. See README.md.
 */
import { readAsset } from '../../../core/assets';
import type { InputPlugin } from '../../../core/plugin';
import { ConntrackInput } from './input';
import { measurements } from './measurements';
import type { ConntrackOptions } from './options';
import schema from './schema.json';

const plugin: InputPlugin<ConntrackOptions> = {
  kind: 'input',
  name: 'conntrack',
  description: 'Collects conntrack statistics, a breakdown of the conntrack table and per-service flow metrics',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements,
  create: (options, ctx) => new ConntrackInput(options, ctx),
};

export default plugin;
