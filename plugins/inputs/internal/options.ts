/** Options of inputs.internal, typed from schema.json. */
import { schemaDefaults, type SchemaOptions } from '../../../core/options';
import schema from './schema.json';

export type InternalOptions = SchemaOptions<
  typeof schema,
  {
    collect_memstats: boolean;
    /** Accepted for Telegraf compatibility; no effect (there is no Go runtime). */
    collect_gostats: boolean;
    /** Accepted for Telegraf compatibility; no effect. */
    per_instance: boolean;
  }
>;

export const DEFAULT_OPTIONS: InternalOptions = schemaDefaults(schema);
