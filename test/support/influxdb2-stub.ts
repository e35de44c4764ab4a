/**
 * A local stand-in for the InfluxDB v2 write API (`POST /api/v2/write`),
 * following the documented contract: token auth (`Authorization: Token …`),
 * org/orgID and bucket lookup, precision, gzip bodies, JSON error bodies
 * `{"code","message"}`, 413 over a body limit (with `maxLength`), 422 for
 * points outside the bucket's retention, 429/503 with `Retry-After` when told
 * to throttle. Accepted points are parsed and kept for assertions.
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { LineProtocolError, parseBody, type ParsedPoint } from './lineprotocol';

export interface StubBucket {
  name: string;
  /** Retention in ns (0 = infinite). */
  retentionNs?: bigint;
}

export interface StubOptions {
  org: string;
  orgID?: string;
  /** Token → permission. */
  tokens: Record<string, 'write' | 'read'>;
  buckets: StubBucket[];
  /** Largest accepted (decompressed) body in bytes. */
  maxBodyBytes?: number;
}

export interface StubRequest {
  at: number;
  status: number;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

export interface InfluxDB2Stub {
  url: string;
  points(bucket: string): ParsedPoint[];
  requests: StubRequest[];
  /** The next `n` write requests get `status` (429, 503, 500, 502, 504) with an optional Retry-After. */
  failNext(n: number, status: number, retryAfter?: string): void;
  /** Fails every write request whose query matches (e.g. one bucket) with `status`. */
  failWhen(pred: ((query: Record<string, string>) => boolean) | undefined, status?: number, retryAfter?: string): void;
  close(): Promise<void>;
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ code, message, ...extra });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Platform-Error-Code': code, ...headers });
  res.end(body);
}

export async function startInfluxDB2Stub(opts: StubOptions): Promise<InfluxDB2Stub> {
  const stored = new Map<string, ParsedPoint[]>();
  for (const b of opts.buckets) stored.set(b.name, []);
  const requests: StubRequest[] = [];
  let failures: { n: number; status: number; retryAfter?: string } = { n: 0, status: 0 };
  let failRule: { pred: (q: Record<string, string>) => boolean; status: number; retryAfter?: string } | undefined;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://stub');
      const query = Object.fromEntries(u.searchParams);
      const record: StubRequest = { at: Date.now(), status: 0, query, headers: req.headers, bytes: 0 };
      requests.push(record);
      const reply = (status: number, code: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
        record.status = status;
        sendError(res, status, code, message, extra, headers);
      };
      if (u.pathname !== '/api/v2/write') return reply(404, 'not found', 'path not found');
      if (req.method !== 'POST') return reply(405, 'method not allowed', 'method not allowed');
      const rule = failRule && failRule.pred(query) ? failRule : failures.n > 0 ? failures : undefined;
      if (rule) {
        if (rule === failures) failures.n--;
        const h: Record<string, string> = rule.retryAfter !== undefined ? { 'Retry-After': rule.retryAfter } : {};
        const msg = rule.status === 429 ? 'too many requests' : rule.status === 503 ? 'service unavailable' : 'internal error';
        return reply(rule.status, rule.status === 500 ? 'internal error' : 'unavailable', msg, {}, h);
      }
      const auth = req.headers.authorization ?? '';
      const m = /^Token (.+)$/.exec(auth);
      const perm = m ? opts.tokens[m[1]] : undefined;
      if (!perm) return reply(401, 'unauthorized', 'unauthorized access');
      if (perm !== 'write') return reply(403, 'forbidden', 'insufficient permissions for write');
      const org = query.org ?? '';
      const orgID = query.orgID ?? '';
      if (org === '' && orgID === '') return reply(400, 'invalid', 'Please provide either orgID or org');
      if ((org !== '' && org !== opts.org) || (orgID !== '' && orgID !== opts.orgID)) return reply(404, 'not found', `organization name "${org || orgID}" not found`);
      const bucket = query.bucket ?? '';
      if (bucket === '') return reply(400, 'invalid', 'bucket not specified');
      const b = opts.buckets.find((x) => x.name === bucket);
      if (!b) return reply(404, 'not found', `bucket "${bucket}" not found`);
      const precision = query.precision ?? 'ns';
      const mult: Record<string, bigint> = { ns: 1n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n };
      if (!(precision in mult)) return reply(400, 'invalid', `invalid precision "${precision}"`);
      let body = Buffer.concat(chunks);
      record.bytes = body.length;
      const enc = req.headers['content-encoding'];
      if (enc === 'gzip') {
        try {
          body = zlib.gunzipSync(body);
        } catch {
          return reply(400, 'invalid', 'unable to decode gzip body');
        }
      } else if (enc !== undefined && enc !== 'identity') return reply(415, 'unsupported media type', `unsupported content encoding ${enc}`);
      if (opts.maxBodyBytes !== undefined && body.length > opts.maxBodyBytes)
        return reply(413, 'request too large', 'unable to read data: points batch is too large', { maxLength: opts.maxBodyBytes });
      let points: ParsedPoint[];
      try {
        points = parseBody(body.toString('utf8'));
      } catch (err) {
        const line = (err as { line?: number }).line;
        return reply(400, 'invalid', (err as Error).message, line !== undefined ? { line } : {});
      }
      for (const p of points) {
        for (const k of Object.keys(p.tags)) if (k === '_measurement' || k === '_field') return reply(400, 'invalid', `unable to parse points: tag key ${k} is reserved`);
        for (const k of Object.keys(p.fields)) if (k === '_measurement' || k === '_field' || k === 'time') return reply(400, 'invalid', `unable to parse points: field key ${k} is reserved`);
      }
      const now = BigInt(Date.now()) * 1_000_000n;
      const keep: ParsedPoint[] = [];
      let beyond = 0;
      for (const p of points) {
        const t = p.time === undefined ? now : p.time * mult[precision];
        if (b.retentionNs && t < now - b.retentionNs) beyond++;
        else keep.push({ ...p, time: t });
      }
      stored.get(bucket)!.push(...keep);
      if (beyond > 0) return reply(422, 'unprocessable entity', `failure writing points to database: partial write: points beyond retention policy dropped=${beyond}`);
      record.status = 204;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    points: (bucket) => stored.get(bucket) ?? [],
    requests,
    failNext(n, status, retryAfter) {
      failures = { n, status, retryAfter };
    },
    failWhen(pred, status = 503, retryAfter) {
      failRule = pred ? { pred, status, retryAfter } : undefined;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export { LineProtocolError };
