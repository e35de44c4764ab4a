import type { TlsClientOptions } from '../../../core/http/client';
import type { LineProtocolOptions } from '../../../core/serializers/influx';
/** Options of `[[outputs.influxdb_v2]]` after schema defaults are applied. */
export interface InfluxDBv2Options extends LineProtocolOptions, TlsClientOptions {
  urls: string[];
  local_address?: string;
  token: string;
  organization: string;
  bucket: string;
  bucket_tag: string;
  exclude_bucket_tag: boolean;
  timeout: string | number;
  http_headers?: Record<string, string>;
  http_proxy?: string;
  user_agent?: string;
  content_encoding: 'gzip' | 'identity';
  content_encoding_level: number;
}
