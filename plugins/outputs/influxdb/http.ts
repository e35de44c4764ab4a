/**
 * One InfluxDB 1.x HTTP endpoint: `POST /write` with Telegraf's status
 * handling, `CREATE DATABASE` through `/query`, per-database/retention-policy
 * grouping from tags.
 */
import { lineProtocolBody, PreparedBody } from '../../../core/http/body';
import { HttpClient, type HttpResponse } from '../../../core/http/client';
import type { Logger } from '../../../core/log';
import type { Metric } from '../../../core/metric';
import type { LineProtocolSerializer } from '../../../core/serializers/influx';

/** An error the server returned that should be retried (5xx and unknown). */
export class InfluxAPIError extends Error {
  constructor(readonly status: number, readonly statusLine: string, readonly description: string) {
    super(description ? `${statusLine}: ${description}` : statusLine);
    this.name = 'InfluxAPIError';
  }
}

export class DatabaseNotFoundError extends InfluxAPIError {
  constructor(status: number, statusLine: string, description: string, readonly database: string) {
    super(status, statusLine, description);
    this.name = 'DatabaseNotFoundError';
  }
}

export interface V1HttpConfig {
  http: HttpClient;
  database: string;
  databaseTag: string;
  excludeDatabaseTag: boolean;
  retentionPolicy: string;
  retentionPolicyTag: string;
  excludeRetentionPolicyTag: boolean;
  consistency: string;
  skipDatabaseCreation: boolean;
  gzipLevel: number | undefined;
  userAgent: string;
  serializer: LineProtocolSerializer;
  log: Logger;
}

/** What one endpoint did with (part of) a batch: indices written, indices dropped, and why it stopped. */
export interface ClientResult {
  written: number[];
  dropped: number[];
  error?: Error;
}

interface Group {
  db: string;
  rp: string;
  indices: number[];
}

/** Escapes an identifier inside double quotes for InfluxQL. */
export function quoteIdentifier(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** The error description of a /write or /query response body (`{"error": "..."}` or raw text). */
function describe(res: HttpResponse): string {
  const text = res.body.toString('utf8').trim();
  if (text === '') return '';
  try {
    const j = JSON.parse(text) as { error?: unknown; results?: { error?: unknown }[] };
    if (typeof j.error === 'string') return j.error;
    if (Array.isArray(j.results) && typeof j.results[0]?.error === 'string') return j.results[0].error as string;
    return '';
  } catch {
    return text;
  }
}

export class V1HttpClient {
  readonly url: string;
  bytesWritten = 0;
  private readonly created = new Set<string>();
  private readonly prepared = new PreparedBody();

  constructor(private readonly cfg: V1HttpConfig) {
    this.url = cfg.http.displayUrl;
  }

  get database(): string {
    return this.cfg.database;
  }

  async createDatabase(db: string): Promise<void> {
    const form = new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(db)}` }).toString();
    const res = await this.cfg.http.request('POST', '/query', undefined, form, {
      'Content-Type': 'application/x-www-form-urlencoded',
      'User-Agent': this.cfg.userAgent,
    });
    const desc = describe(res);
    if (res.status === 200 && desc === '') {
      this.created.add(db);
      return;
    }
    // As Telegraf: a user without the privilege is not asked again.
    if (res.status === 403) this.created.add(db);
    throw new InfluxAPIError(res.status, res.statusLine, desc);
  }

  /** Encodes the likely next batch ahead (only without tag-based routing, where the body is the whole batch). */
  prepare(metrics: readonly Metric[]): void {
    const c = this.cfg;
    if (c.databaseTag !== '' || c.retentionPolicyTag !== '') return;
    this.prepared.prepareBody(c.serializer, metrics, c.gzipLevel, (err) => c.log.debug(`Could not serialize metric: ${err.message}`));
  }

  private groups(metrics: readonly Metric[], indices: readonly number[]): Group[] {
    const c = this.cfg;
    if (c.databaseTag === '' && c.retentionPolicyTag === '') return [{ db: c.database, rp: c.retentionPolicy, indices: indices.slice() }];
    const byKey = new Map<string, Group>();
    for (const i of indices) {
      const m = metrics[i];
      const db = (c.databaseTag !== '' ? m.getTag(c.databaseTag) : undefined) ?? c.database;
      const rp = (c.retentionPolicyTag !== '' ? m.getTag(c.retentionPolicyTag) : undefined) ?? c.retentionPolicy;
      const key = db + '\u0000' + rp;
      let g = byKey.get(key);
      if (!g) byKey.set(key, (g = { db, rp, indices: [] }));
      g.indices.push(i);
    }
    return [...byKey.values()];
  }

  /** Writes `indices` of `metrics`; never rejects (the error is in the result). */
  async write(metrics: readonly Metric[], indices: readonly number[]): Promise<ClientResult> {
    const result: ClientResult = { written: [], dropped: [] };
    const c = this.cfg;
    for (const g of this.groups(metrics, indices)) {
      try {
        if (c.databaseTag !== '' && !c.skipDatabaseCreation && !this.created.has(g.db)) {
          try {
            await this.createDatabase(g.db);
          } catch (err) {
            c.log.warn(`When writing to [${this.url}]: database ${JSON.stringify(g.db)} creation failed: ${(err as Error).message}`);
          }
        }
        const batch = this.batchOf(metrics, g.indices);
        let outcome: 'written' | 'dropped';
        try {
          outcome = await this.writeBatch(g.db, g.rp, batch);
        } catch (err) {
          if (!(err instanceof DatabaseNotFoundError)) throw err;
          if (c.skipDatabaseCreation) {
            c.log.error(`Failed to write metric (will be dropped: ${err.statusLine}): ${err.description}`);
            outcome = 'dropped';
          } else {
            // Create it and retry at once rather than waiting for the next flush.
            await this.createDatabase(g.db);
            outcome = await this.writeBatch(g.db, g.rp, batch);
          }
        }
        (outcome === 'written' ? result.written : result.dropped).push(...g.indices);
      } catch (err) {
        result.error = err as Error;
        return result;
      }
    }
    return result;
  }

  private batchOf(metrics: readonly Metric[], indices: readonly number[]): Metric[] {
    const c = this.cfg;
    const exclude = (c.excludeDatabaseTag && c.databaseTag !== '') || (c.excludeRetentionPolicyTag && c.retentionPolicyTag !== '');
    const out = new Array<Metric>(indices.length);
    for (let k = 0; k < indices.length; k++) {
      let m = metrics[indices[k]];
      if (exclude) {
        // Copy: the buffered original must keep its tags for a retry.
        m = m.copy();
        if (c.excludeDatabaseTag && c.databaseTag !== '') m.removeTag(c.databaseTag);
        if (c.excludeRetentionPolicyTag && c.retentionPolicyTag !== '') m.removeTag(c.retentionPolicyTag);
      }
      out[k] = m;
    }
    return out;
  }

  /** Resolves 'written' or 'dropped' (logged); throws when the batch should be retried. */
  async writeBatch(db: string, rp: string, batch: readonly Metric[]): Promise<'written' | 'dropped'> {
    const c = this.cfg;
    const payload = await (this.prepared.take(batch) ?? lineProtocolBody(c.serializer, batch, c.gzipLevel, (err) => c.log.debug(`Could not serialize metric: ${err.message}`)));
    if (payload.length === 0) return 'written';
    const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'User-Agent': c.userAgent };
    if (c.gzipLevel !== undefined) headers['Content-Encoding'] = 'gzip';
    const params = new URLSearchParams({ db });
    if (rp !== '') params.set('rp', rp);
    if (c.consistency !== '' && c.consistency !== 'one') params.set('consistency', c.consistency);
    const res = await c.http.request('POST', '/write', params, payload, headers);
    // Sent and answered: its memory can take the next batch (a gzip body is not the serializer's and is ignored).
    if (res.bodySent) c.serializer.recycle(payload);
    if (res.status === 204 || (res.status >= 200 && res.status < 300)) {
      this.bytesWritten += payload.length;
      return 'written';
    }
    const desc = describe(res);
    if (desc.includes('database not found')) throw new DatabaseNotFoundError(res.status, res.statusLine, desc, db);
    if (res.status >= 400 && res.status < 500) {
      // Retrying cannot help: the server rejected the request (for a partial write it kept the valid points).
      c.log.error(`Failed to write metric (will be dropped: ${res.statusLine}): ${desc}`);
      return 'dropped';
    }
    if (desc.includes('retention policy not found')) {
      c.log.error(`When writing to [${this.url}]: received error ${desc}`);
      return 'dropped';
    }
    if (desc.includes('hinted handoff queue not empty')) return 'written';
    if (desc.includes('points beyond retention policy')) {
      c.log.warn(`When writing to [${this.url}]: received error ${desc}`);
      return 'dropped';
    }
    if (desc.includes('partial write') || desc.includes('unable to parse')) {
      c.log.error(`When writing to [${this.url}]: received error ${desc}; discarding points`);
      return 'dropped';
    }
    throw new InfluxAPIError(res.status, res.statusLine, desc);
  }

  close(): void {
    this.cfg.http.close();
  }
}
