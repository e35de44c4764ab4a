import type { TlsClientOptions } from '../../../core/http/client';
import type { LineProtocolOptions } from '../../../core/serializers/influx';

/** Options of `[[outputs.http]]` after schema defaults are applied. */
export interface HttpOutputOptions extends LineProtocolOptions, TlsClientOptions {
  url: string;
  method: string;
  username?: string;
  password?: string;
  timeout: string | number;
  idle_conn_timeout: string | number;
  max_idle_conn: number;
  max_idle_conn_per_host: number;
  response_timeout: string | number;
  local_address: string;
  use_system_proxy: boolean;
  http_proxy_url: string;
  tls_min_version?: string;
  data_format: 'influx' | 'prometheusremotewrite';
  use_batch_format: boolean;
  content_encoding: 'identity' | 'gzip';
  content_encoding_level: number;
  non_retryable_statuscodes: number[];
  headers?: Record<string, string>;
  prometheus_string_as_label: boolean;
  prometheus_sort_metrics: boolean;
  /** lvsagent addition: `Authorization: Bearer <file content>`, the file read again when it changes. */
  bearer_token_file?: string;
  /** lvsagent addition: largest number of samples in one remote write request. */
  max_samples_per_request: number;
}
