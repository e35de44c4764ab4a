/**
 * `outputs.influxdb_v2`: the URLs are tried in random order until one takes
 * the batch; parts an endpoint finished with are not sent again.
 */
import { durationMs, parseDuration } from '../../../core/config/duration';
import { defaultUserAgent, HttpClient, writeToAnyEndpoint } from '../../../core/http/client';
import type { Metric } from '../../../core/metric';
import type { Output, OutputContext } from '../../../core/plugin';
import { LineProtocolSerializer, serializerOptions } from '../../../core/serializers/influx';
import { V2Client } from './client';
import type { InfluxDBv2Options } from './options';

export class InfluxDBv2Output implements Output {
  readonly clients: V2Client[] = [];
  /** A write tries each URL in turn, each within `timeout`. */
  readonly timeoutMs: number;

  constructor(opts: InfluxDBv2Options, private readonly ctx: OutputContext, now?: () => number) {
    const urls = opts.urls.length > 0 ? opts.urls : ['http://localhost:8086'];
    const serializer = new LineProtocolSerializer(serializerOptions(opts));
    const timeoutMs = durationMs(parseDuration(opts.timeout)) || 5000;
    const headers = opts.http_headers ?? {};
    this.timeoutMs = timeoutMs * urls.length;
    const hasAuthorizationHeader = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
    for (const raw of urls) {
      const scheme = new URL(raw).protocol.replace(/:$/, '');
      if (scheme !== 'http' && scheme !== 'https' && scheme !== 'unix') throw new Error(`unsupported scheme [${scheme}]`);
      this.clients.push(
        new V2Client({
          http: new HttpClient({ url: raw, timeoutMs, headers, tls: opts, proxy: opts.http_proxy || undefined, localAddress: opts.local_address }),
          token: opts.token,
          organization: opts.organization,
          bucket: opts.bucket,
          bucketTag: opts.bucket_tag,
          excludeBucketTag: opts.exclude_bucket_tag,
          gzipLevel: opts.content_encoding === 'gzip' ? opts.content_encoding_level : undefined,
          userAgent: opts.user_agent || defaultUserAgent(),
          hasAuthorizationHeader,
          serializer,
          log: ctx.log,
          now,
        }),
      );
    }
  }

  connect(): void {
    // Nothing to prepare: v2 buckets are not created by the writer (as Telegraf).
  }

  async write(metrics: Metric[]): Promise<void> {
    await writeToAnyEndpoint(this.clients, metrics, this.ctx.log, (last) =>
      this.clients.length === 1 && last ? last.message : 'failed to send metrics to any configured server(s)',
    );
  }

  /** Encodes the next batch while the current one is on the wire (most setups have one URL). */
  prepare(metrics: readonly Metric[]): void {
    if (this.clients.length === 1) this.clients[0].prepare(metrics);
  }

  /** Counters for `internal_write`. */
  stats(): Record<string, number> {
    let bytes = 0;
    for (const c of this.clients) bytes += c.bytesWritten;
    return { bytes_written: bytes };
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
