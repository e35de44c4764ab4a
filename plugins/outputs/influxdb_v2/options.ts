/** Options of `[[outputs.influxdb_v2]]` after schema defaults are applied. */
export interface InfluxDBv2Options {
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
  influx_uint_support: boolean;
  influx_omit_timestamp: boolean;
  influx_sort_fields: boolean;
  influx_max_line_bytes: number;
  tls_ca?: string;
  tls_cert?: string;
  tls_key?: string;
  tls_key_pwd?: string;
  tls_server_name?: string;
  insecure_skip_verify?: boolean;
}
