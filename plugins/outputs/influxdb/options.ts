import type { TlsClientOptions } from '../../../core/http/client';
import type { LineProtocolOptions } from '../../../core/serializers/influx';
/** Options of `[[outputs.influxdb]]` after schema defaults are applied. */
export interface InfluxDBOptions extends LineProtocolOptions, TlsClientOptions {
  url?: string;
  urls?: string[];
  local_address?: string;
  database: string;
  database_tag: string;
  exclude_database_tag: boolean;
  skip_database_creation: boolean;
  retention_policy: string;
  retention_policy_tag: string;
  exclude_retention_policy_tag: boolean;
  write_consistency: string;
  timeout: string | number;
  username?: string;
  password?: string;
  user_agent?: string;
  udp_payload: string | number;
  http_proxy?: string;
  http_headers?: Record<string, string>;
  content_encoding: 'gzip' | 'identity';
  content_encoding_level: number;
}

/** Telegraf's config size values: an integer of bytes or "512B", "1KiB", "64kB", "1MB". */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?i?[bB]?)\s*$/.exec(v);
  if (!m) throw new Error(`invalid size "${v}"`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  const mult: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1048576, g: 1e9, gb: 1e9, gib: 1073741824, ki: 1024, mi: 1048576, gi: 1073741824 };
  if (!(unit in mult)) throw new Error(`invalid size "${v}"`);
  return Math.round(n * mult[unit]);
}
