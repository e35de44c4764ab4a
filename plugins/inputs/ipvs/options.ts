/** Options of inputs.ipvs, typed from schema.json. */
import { schemaDefaults, type SchemaOptions } from '../../../core/options';
import schema from './schema.json';

export type IpvsOptions = SchemaOptions<
  typeof schema,
  {
    namespace: string;
    virtual_servers: string[];
    virtual_servers_exclude: string[];
    collect_real_servers: boolean;
    collect_sysctls: boolean;
    load_module: boolean;
    connections: number;
  }
>;

export const DEFAULT_OPTIONS: IpvsOptions = schemaDefaults(schema);
