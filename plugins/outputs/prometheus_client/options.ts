import type { TlsServerOptions } from '../../../core/tls';

/** Options of `[[outputs.prometheus_client]]` after schema defaults are applied. */
export interface PrometheusClientOptions extends TlsServerOptions {
  listen: string;
  read_timeout: string | number;
  write_timeout: string | number;
  path: string;
  metric_version: 1 | 2;
  expiration_interval: string | number;
  basic_username: string;
  basic_password: string;
  ip_range: string[];
  string_as_label: boolean;
  export_timestamp: boolean;
  http_headers?: Record<string, string>;
  metric_types: { counter?: string[]; gauge?: string[] };
  /** lvsagent addition: counters get a `_total` suffix (OpenMetrics/Prometheus naming). */
  counter_total_suffix: boolean;
}
