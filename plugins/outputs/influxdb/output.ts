/**
 * `outputs.influxdb`: tries the configured URLs in random order until one
 * takes the batch. Parts of a batch an endpoint finished with (written, or
 * dropped after a 4xx) are not sent again to the next URL.
 */
import { defaultUserAgent, HttpClient, writeToAnyEndpoint } from '../../../core/http/client';
import { durationMs, parseDuration } from '../../../core/config/duration';
import type { Metric } from '../../../core/metric';
import type { Output, OutputContext } from '../../../core/plugin';
import { LineProtocolSerializer, serializerOptions } from '../../../core/serializers/influx';
import { type ClientResult, V1HttpClient } from './http';
import { type InfluxDBOptions, parseSize } from './options';
import { UdpClient } from './udp';

interface Client {
  readonly url: string;
  bytesWritten: number;
  write(metrics: readonly Metric[], indices: readonly number[]): Promise<ClientResult>;
  close(): void;
}

export class InfluxDBOutput implements Output {
  private readonly clients: Client[] = [];
  private readonly httpClients: V1HttpClient[] = [];
  /** A write tries each URL in turn, each within `timeout`. */
  readonly timeoutMs: number;

  constructor(private readonly opts: InfluxDBOptions, private readonly ctx: OutputContext) {
    const log = ctx.log;
    const urls = [...(opts.urls ?? [])];
    if (opts.url) urls.push(opts.url);
    if (urls.length === 0) urls.push('http://localhost:8086');
    const serializer = new LineProtocolSerializer(serializerOptions(opts));
    const timeoutMs = durationMs(parseDuration(opts.timeout)) || 5000;
    const userAgent = opts.user_agent || defaultUserAgent();
    this.timeoutMs = timeoutMs * urls.length;
    for (const raw of urls) {
      let scheme: string;
      try {
        scheme = new URL(raw).protocol.replace(/:$/, '');
      } catch {
        throw new Error(`error parsing url [${JSON.stringify(raw.replace(/\/\/[^@/]*@/, '//redacted@'))}]`);
      }
      if (scheme === 'udp' || scheme === 'udp4' || scheme === 'udp6') {
        const c = new UdpClient(raw, parseSize(opts.udp_payload) || 512, serializer, log);
        this.clients.push(c);
        continue;
      }
      if (scheme !== 'http' && scheme !== 'https' && scheme !== 'unix') throw new Error(`unsupported scheme [${scheme}]`);
      const http = new HttpClient({
        url: raw,
        timeoutMs,
        headers: opts.http_headers,
        username: opts.username,
        password: opts.password,
        tls: opts,
        proxy: opts.http_proxy || undefined,
        localAddress: opts.local_address,
      });
      const c = new V1HttpClient({
        http,
        database: opts.database || 'telegraf',
        databaseTag: opts.database_tag,
        excludeDatabaseTag: opts.exclude_database_tag,
        retentionPolicy: opts.retention_policy,
        retentionPolicyTag: opts.retention_policy_tag,
        excludeRetentionPolicyTag: opts.exclude_retention_policy_tag,
        consistency: opts.write_consistency,
        skipDatabaseCreation: opts.skip_database_creation,
        gzipLevel: opts.content_encoding === 'gzip' ? opts.content_encoding_level : undefined,
        userAgent,
        serializer,
        log,
      });
      this.clients.push(c);
      this.httpClients.push(c);
    }
  }

  async connect(): Promise<void> {
    if (this.opts.skip_database_creation) return;
    // A failure here only warns: the server may come up later, and a missing database is created on first write.
    await Promise.all(
      this.httpClients.map(async (c) => {
        try {
          await c.createDatabase(c.database);
        } catch (err) {
          this.ctx.log.warn(`When writing to [${c.url}]: database ${JSON.stringify(c.database)} creation failed: ${(err as Error).message}`);
        }
      }),
    );
  }

  async write(metrics: Metric[]): Promise<void> {
    await writeToAnyEndpoint(this.clients, metrics, this.ctx.log, () => 'could not write any address');
  }

  /** Encodes the next batch while the current one is on the wire (most setups have one URL). */
  prepare(metrics: readonly Metric[]): void {
    if (this.httpClients.length === 1 && this.clients.length === 1) this.httpClients[0].prepare(metrics);
  }

  /** Counters for `internal_write` (bytes_written). */
  stats(): Record<string, number> {
    let bytes = 0;
    for (const c of this.clients) bytes += c.bytesWritten;
    return { bytes_written: bytes };
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
