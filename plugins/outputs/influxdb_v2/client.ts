/**
 * One InfluxDB v2 endpoint (`POST /api/v2/write`) with Telegraf's status
 * handling: 2xx written; 413 halves the batch and resends; 429/502/503/504
 * stop all writes to this endpoint until max(Retry-After capped at 10 min,
 * n²/40 s capped at 60 s); 401/403 and other 5xx are retried at the next
 * flush; other 4xx drop the batch with a log line.
 */
import { formatDuration } from '../../../core/config/duration';
import { RetryBackoff } from '../../../core/http/backoff';
import { lineProtocolBody, PreparedBody } from '../../../core/http/body';
import type { HttpClient, HttpResponse } from '../../../core/http/client';
import type { Logger } from '../../../core/log';
import type { Metric } from '../../../core/metric';
import type { LineProtocolSerializer } from '../../../core/serializers/influx';

export interface V2Config {
  http: HttpClient;
  token: string;
  organization: string;
  bucket: string;
  bucketTag: string;
  excludeBucketTag: boolean;
  gzipLevel: number | undefined;
  userAgent: string;
  hasAuthorizationHeader: boolean;
  serializer: LineProtocolSerializer;
  log: Logger;
  /** Clock in ms, replaceable in tests. */
  now?: () => number;
}

export interface ClientResult {
  written: number[];
  dropped: number[];
  error?: Error;
}

/** A write the server refused with 413: the caller splits the batch. */
class TooLargeError extends Error {}

/** `code: message` from the v2 JSON error body, or the raw body. */
function describe(res: HttpResponse): string {
  const text = res.body.toString('utf8').trim();
  if (text === '') return '';
  try {
    const j = JSON.parse(text) as { code?: unknown; message?: unknown; maxLength?: unknown; line?: unknown };
    let d = typeof j.message === 'string' ? j.message : '';
    if (typeof j.code === 'string' && j.code !== '') d = d ? `${j.code}: ${d}` : j.code;
    if (typeof j.line === 'number') d += ` (line ${j.line})`;
    if (typeof j.maxLength === 'number') d += ` (max length ${j.maxLength})`;
    return d || text;
  } catch {
    return text;
  }
}

export class V2Client {
  readonly url: string;
  bytesWritten = 0;
  private readonly backoff: RetryBackoff;
  private readonly prepared = new PreparedBody();

  constructor(private readonly cfg: V2Config) {
    this.url = cfg.http.displayUrl;
    this.backoff = new RetryBackoff(cfg.now);
  }

  async write(metrics: readonly Metric[], indices: readonly number[]): Promise<ClientResult> {
    const result: ClientResult = { written: [], dropped: [] };
    const pending = this.backoff.pendingMessage();
    if (pending !== undefined) {
      result.error = new Error(pending);
      return result;
    }
    for (const [bucket, idx] of this.groups(metrics, indices)) {
      try {
        await this.writeSplitting(bucket, metrics, idx, result);
      } catch (err) {
        result.error = err as Error;
        return result;
      }
    }
    return result;
  }

  /** Encodes the likely next batch ahead (only without bucket routing, where the body is the whole batch). */
  prepare(metrics: readonly Metric[]): void {
    const c = this.cfg;
    if (c.bucketTag !== '') return;
    this.prepared.prepareBody(c.serializer, metrics, c.gzipLevel, (err) => c.log.debug(`Could not serialize metric: ${err.message}`));
  }

  private groups(metrics: readonly Metric[], indices: readonly number[]): Map<string, number[]> {
    const c = this.cfg;
    const out = new Map<string, number[]>();
    if (c.bucketTag === '') {
      out.set(c.bucket, indices.slice());
      return out;
    }
    for (const i of indices) {
      const b = metrics[i].getTag(c.bucketTag) ?? c.bucket;
      let list = out.get(b);
      if (!list) out.set(b, (list = []));
      list.push(i);
    }
    return out;
  }

  /** Writes one bucket's metrics, halving on 413 until the server takes the parts. */
  private async writeSplitting(bucket: string, metrics: readonly Metric[], idx: number[], result: ClientResult): Promise<void> {
    try {
      const outcome = await this.writeBatch(bucket, metrics, idx);
      (outcome === 'written' ? result.written : result.dropped).push(...idx);
    } catch (err) {
      if (!(err instanceof TooLargeError)) throw err;
      if (idx.length === 1) {
        this.cfg.log.error(`Failed to write metric to ${bucket} (will be dropped: 413 Request Entity Too Large): a single metric exceeds the server's request size limit`);
        result.dropped.push(...idx);
        return;
      }
      this.cfg.log.warn('Retrying write after splitting metric payload in half to reduce batch size');
      const mid = idx.length >>> 1;
      await this.writeSplitting(bucket, metrics, idx.slice(0, mid), result);
      await this.writeSplitting(bucket, metrics, idx.slice(mid), result);
    }
  }

  private async writeBatch(bucket: string, metrics: readonly Metric[], idx: readonly number[]): Promise<'written' | 'dropped'> {
    const c = this.cfg;
    const batch = new Array<Metric>(idx.length);
    for (let k = 0; k < idx.length; k++) {
      let m = metrics[idx[k]];
      if (c.excludeBucketTag && c.bucketTag !== '' && m.hasTag(c.bucketTag)) {
        // Copy: the buffered original keeps its tag for a retry.
        m = m.copy();
        m.removeTag(c.bucketTag);
      }
      batch[k] = m;
    }
    const payload = await (this.prepared.take(batch) ?? lineProtocolBody(c.serializer, batch, c.gzipLevel, (err) => c.log.debug(`Could not serialize metric: ${err.message}`)));
    if (payload.length === 0) return 'written';
    const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'User-Agent': c.userAgent };
    if (!c.hasAuthorizationHeader && c.token !== '') headers['Authorization'] = `Token ${c.token}`;
    if (c.gzipLevel !== undefined) headers['Content-Encoding'] = 'gzip';
    const params = new URLSearchParams({ bucket, org: c.organization });
    const res = await c.http.request('POST', '/api/v2/write', params, payload, headers);
    // Sent and answered: its memory can take the next batch (a gzip body is not the serializer's and is ignored).
    if (res.bodySent) c.serializer.recycle(payload);
    const status = res.status;
    if (status >= 200 && status < 300) {
      this.backoff.succeeded();
      this.bytesWritten += payload.length;
      return 'written';
    }
    const desc = describe(res);
    const suffix = desc ? `: ${desc}` : '';
    switch (status) {
      case 413:
        c.log.error(`Failed to write metric to ${bucket}, request was too large (413)`);
        throw new TooLargeError('413');
      case 401:
      case 403:
        throw new Error(`failed to write metric to ${bucket} (${res.statusLine})${suffix}`);
      case 429:
      case 502:
      case 503:
      case 504: {
        // The server is overloaded: hold all writes to it until the delay is over.
        const delay = this.backoff.failed(res.headers['retry-after']);
        const d = formatDuration(BigInt(delay) * 1_000_000n);
        c.log.warn(`Failed to write to ${bucket}; will retry in ${d}. (${res.statusLine})`);
        throw new Error(`waiting ${d} for server (${bucket}) before sending metric again`);
      }
    }
    if (status >= 400 && status < 500) {
      c.log.error(`Failed to write metric to ${bucket} (will be dropped: ${res.statusLine})${suffix}`);
      return 'dropped';
    }
    const xErr = res.headers['x-influx-error'];
    throw new Error(`failed to write metric to bucket ${JSON.stringify(bucket)}: ${res.statusLine}${suffix}${xErr ? `; ${String(xErr)}` : ''}`);
  }

  close(): void {
    this.cfg.http.close();
  }
}
