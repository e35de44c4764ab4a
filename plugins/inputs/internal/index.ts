/**
 * inputs.internal: the agent's own statistics with Telegraf's measurement and
 * field names (internal_agent, internal_gather, internal_write,
 * internal_memstats, and internal_<plugin> measurements plugins register).
 */
import { readAsset } from '../../../core/assets';
import type { InputPlugin } from '../../../core/plugin';
import { InternalInput } from './input';
import { measurements } from './measurements';
import type { InternalOptions } from './options';
import schema from './schema.json';

const plugin: InputPlugin<InternalOptions> = {
  kind: 'input',
  name: 'internal',
  description: 'Collect statistics about lvsagent itself',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements,
  create: (options) => new InternalInput(options),
};

export default plugin;
