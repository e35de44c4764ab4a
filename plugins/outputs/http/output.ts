/**
 * `outputs.http`: metrics POSTed (or PUT/PATCHed) to one URL as InfluxDB line
 * protocol or as Prometheus remote write requests.
 *
 * Delivery follows Telegraf's http output (a non-2xx answer keeps the batch
 * for the next flush; `non_retryable_statuscodes` drop it) and, for
 * `prometheusremotewrite`, the Remote Write 1.0 specification: 5xx and 429
 * are retried after a back-off that honours Retry-After, other 4xx answers
 * are never retried — the metrics are dropped, counted as rejected and the
 * receiver's message is logged once per batch. A batch larger than
 * `max_samples_per_request` goes out as several requests, in order; when one
 * fails, those before it count as written and the rest stay buffered.
 */
import * as fs from 'node:fs';
import { durationMs, parseDuration } from '../../../core/config/duration';
import { RetryBackoff } from '../../../core/http/backoff';
import { lineProtocolBody, PreparedBatch } from '../../../core/http/body';
import { defaultUserAgent, HttpClient, type HttpResponse } from '../../../core/http/client';
import type { Metric } from '../../../core/metric';
import { PartialWriteError, type Output, type OutputContext } from '../../../core/plugin';
import { LineProtocolSerializer, serializerOptions } from '../../../core/serializers/influx';
import { RemoteWriteSerializer } from '../../../core/serializers/remote_write';
import type { HttpOutputOptions } from './options';

/** What the receiver's error body contributes to a message (Telegraf reads up to 1 KiB, first line). */
const MAX_ERROR_BODY = 1024;

/** Headers the remote write protocol fixes; configured values for them are not sent (spec: reserved headers). */
const REMOTE_WRITE_HEADERS: Record<string, string> = {
  'Content-Encoding': 'snappy',
  'Content-Type': 'application/x-protobuf',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
};

/** One request of a batch: metrics [start, end) and their encoded body (empty: nothing to send). */
interface Part {
  body: Buffer;
  start: number;
  end: number;
}

export interface HttpOutputExtras {
  /** Clock in ms for the back-off (tests). */
  now?: () => number;
}

/** The first line of an error body, at most 1 KiB (as Telegraf logs it). */
function errorLine(res: HttpResponse): string {
  const text = res.body.subarray(0, MAX_ERROR_BODY).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl >= 0 ? text.slice(0, nl) : text).trim();
}

function indices(parts: readonly Part[], into: number[]): void {
  for (const p of parts) for (let i = p.start; i < p.end; i++) into.push(i);
}

export class HttpOutput implements Output {
  private readonly http: HttpClient;
  private readonly method: string;
  private readonly path: string;
  private readonly query: URLSearchParams;
  private readonly headers: Record<string, string>;
  private readonly remoteWrite: RemoteWriteSerializer | undefined;
  private readonly lineProtocol: LineProtocolSerializer | undefined;
  private readonly gzipLevel: number | undefined;
  private readonly nonRetryable: ReadonlySet<number>;
  private readonly backoff: RetryBackoff;
  private readonly prepared = new PreparedBatch<Part[]>();
  readonly url: string;
  bytesWritten = 0;

  constructor(private readonly opts: HttpOutputOptions, private readonly ctx: OutputContext, extras: HttpOutputExtras = {}) {
    const log = ctx.log;
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new Error(`invalid url ${JSON.stringify(opts.url.replace(/\/\/[^@/]*@/, '//redacted@'))}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported scheme [${u.protocol.replace(/:$/, '')}] in url`);
    this.method = opts.method.toUpperCase();
    const remote = opts.data_format === 'prometheusremotewrite';
    if (remote && opts.content_encoding !== 'identity') throw new Error('content_encoding must be "identity" with data_format = "prometheusremotewrite" (its body is snappy-compressed)');
    const headers: Record<string, string> = { 'User-Agent': defaultUserAgent() };
    if (!remote) {
      headers['Content-Type'] = 'text/plain; charset=utf-8';
      if (opts.content_encoding === 'gzip') headers['Content-Encoding'] = 'gzip';
    }
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      for (const existing of Object.keys(headers)) if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
      headers[k] = v;
    }
    if (remote) {
      for (const [name, value] of Object.entries(REMOTE_WRITE_HEADERS)) {
        for (const k of Object.keys(headers)) {
          if (k.toLowerCase() !== name.toLowerCase()) continue;
          if (headers[k] !== value) log.warn(`header ${k}: ${JSON.stringify(headers[k])} is not sent; remote write requires ${name}: ${value}`);
          delete headers[k];
        }
        headers[name] = value;
      }
    }
    const hasAuthorization = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
    if (opts.bearer_token_file && (hasAuthorization || opts.username || opts.password)) {
      throw new Error('bearer_token_file cannot be combined with username/password or an Authorization header');
    }
    this.headers = headers;
    this.path = u.pathname;
    this.query = new URLSearchParams(u.search);
    u.search = '';
    u.pathname = '/';
    this.http = new HttpClient({
      url: u.toString(),
      timeoutMs: durationMs(parseDuration(opts.timeout)) || 5000,
      headers: {},
      username: opts.username,
      password: opts.password,
      tls: opts,
      proxy: opts.use_system_proxy ? undefined : opts.http_proxy_url || undefined,
      environmentProxy: opts.use_system_proxy,
      localAddress: opts.local_address,
      idleTimeoutMs: durationMs(parseDuration(opts.idle_conn_timeout)),
      maxIdleSockets: opts.max_idle_conn_per_host || opts.max_idle_conn,
      responseTimeoutMs: durationMs(parseDuration(opts.response_timeout)),
    });
    // For messages: the URL without credentials.
    this.url = this.http.displayUrl + (this.path === '/' ? '' : this.path);
    this.backoff = new RetryBackoff(extras.now);
    this.nonRetryable = new Set(opts.non_retryable_statuscodes);
    if (remote) {
      this.remoteWrite = new RemoteWriteSerializer({
        stringAsLabel: opts.prometheus_string_as_label,
        sortMetrics: opts.prometheus_sort_metrics,
        maxSamplesPerRequest: opts.max_samples_per_request,
      });
    } else {
      this.lineProtocol = new LineProtocolSerializer(serializerOptions(opts));
      this.gzipLevel = opts.content_encoding === 'gzip' ? opts.content_encoding_level : undefined;
    }
  }

  connect(): void {
    // Nothing to set up: connections are made by the first write (as Telegraf).
  }

  /** The requests of a batch, in the order they must be sent. */
  private async encode(metrics: readonly Metric[]): Promise<Part[]> {
    const rw = this.remoteWrite;
    if (rw) {
      const skipped = rw.samplesSkipped;
      let parts: Part[];
      if (this.opts.use_batch_format) parts = rw.serializeBatch(metrics);
      else {
        parts = [];
        for (let i = 0; i < metrics.length; i++) for (const r of rw.serializeBatch([metrics[i]])) parts.push({ body: r.body, start: i, end: i + 1 });
      }
      if (rw.samplesSkipped > skipped) this.ctx.log.debug(`${rw.samplesSkipped - skipped} samples could not be serialized; last reason: ${rw.lastSkipReason}`);
      return parts;
    }
    const lp = this.lineProtocol!;
    const onSkip = (err: Error): void => this.ctx.log.debug(`Could not serialize metric: ${err.message}`);
    if (this.opts.use_batch_format) return [{ body: await lineProtocolBody(lp, metrics, this.gzipLevel, onSkip), start: 0, end: metrics.length }];
    const parts: Part[] = [];
    for (let i = 0; i < metrics.length; i++) parts.push({ body: await lineProtocolBody(lp, [metrics[i]], this.gzipLevel, onSkip), start: i, end: i + 1 });
    return parts;
  }

  /**
   * Encodes the next batch while the current one is on the wire. Called as
   * write() has just begun, before its request is sent: the encoding waits
   * for the next turn of the event loop so that it overlaps the round trip
   * instead of delaying the request.
   */
  prepare(metrics: readonly Metric[]): void {
    this.prepared.prepare(metrics, () => new Promise<Part[]>((resolve, reject) => setImmediate(() => this.encode(metrics).then(resolve, reject))));
  }

  /** Headers of one request; the bearer token file is read each time (service-account tokens rotate). */
  private async requestHeaders(): Promise<Record<string, string>> {
    const file = this.opts.bearer_token_file;
    if (!file) return this.headers;
    let token: string;
    try {
      token = (await fs.promises.readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new Error(`reading bearer_token_file: ${(err as Error).message}`);
    }
    return { ...this.headers, Authorization: `Bearer ${token}` };
  }

  async write(metrics: Metric[]): Promise<void> {
    const pending = this.backoff.pendingMessage();
    if (pending !== undefined) throw new Error(pending);
    const parts = await (this.prepared.take(metrics) ?? this.encode(metrics));
    const headers = await this.requestHeaders();
    const remote = this.remoteWrite !== undefined;
    const written: Part[] = [];
    const dropped: Part[] = [];
    let dropReason = '';
    let failure: Error | undefined;
    for (const part of parts) {
      if (part.body.length === 0) {
        written.push(part);
        continue;
      }
      let res: HttpResponse;
      try {
        res = await this.http.request(this.method, this.path, this.query, part.body, headers);
      } catch (err) {
        failure = new Error(`when writing to [${this.url}]: ${(err as Error).message}`);
        break;
      }
      if (res.bodySent) this.lineProtocol?.recycle(part.body);
      const status = res.status;
      if (status >= 200 && status < 300) {
        this.backoff.succeeded();
        this.bytesWritten += part.body.length;
        written.push(part);
        continue;
      }
      const line = errorLine(res);
      // Never retried: configured codes (Telegraf), and for remote write every 4xx but 429 (the request can never succeed).
      if (this.nonRetryable.has(status) || (remote && status >= 400 && status < 500 && status !== 429)) {
        dropped.push(part);
        if (dropReason === '') dropReason = `received status code ${res.statusLine}${line ? `, body: ${line}` : ''}`;
        continue;
      }
      let message = `when writing to [${this.url}] received status code: ${status}. body: ${line}`;
      if (status === 429 || status >= 500) {
        const delay = this.backoff.failed(res.headers['retry-after']);
        message += `; next attempt in ${(delay / 1000).toFixed(3)}s`;
      }
      failure = new Error(message);
      break;
    }
    if (failure === undefined && dropped.length === 0) return;
    const accepted: number[] = [];
    const rejected: number[] = [];
    indices(written, accepted);
    indices(dropped, rejected);
    let message = failure?.message ?? '';
    if (dropped.length > 0) {
      const drop = `${rejected.length} metrics dropped, not retried: when writing to [${this.url}] ${dropReason}`;
      message = message ? `${message}; ${drop}` : drop;
    }
    if (accepted.length + rejected.length === 0) throw failure ?? new Error(message);
    throw new PartialWriteError(message, rejected, accepted);
  }

  /** Counters for `internal_write`. */
  stats(): Record<string, number> {
    const out: Record<string, number> = { bytes_written: this.bytesWritten };
    if (this.remoteWrite) {
      out.strings_skipped = this.remoteWrite.stringsSkipped;
      out.samples_skipped = this.remoteWrite.samplesSkipped;
    }
    return out;
  }

  close(): void {
    this.http.close();
  }
}
