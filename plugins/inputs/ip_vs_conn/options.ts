/** Options of inputs.ip_vs_conn, typed from schema.json. */
import { schemaDefaults, type SchemaOptions } from '../../../core/options';
import schema from './schema.json';

export type IpVsConnOptions = SchemaOptions<
  typeof schema,
  {
    path: string;
    namespace: string;
    conn_reuse_mode_path: string;
    virtual_servers: string[];
    report_reused_connections: boolean;
    max_reuse_events: number;
    max_tracked_connections: number;
  }
>;

export const DEFAULT_OPTIONS: IpVsConnOptions = schemaDefaults(schema);
