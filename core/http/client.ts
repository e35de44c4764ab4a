/**
 * A small HTTP(S) client for outputs that POST to a server (InfluxDB v1/v2):
 * keep-alive agents, one overall deadline per request (connect + send +
 * response), TLS client options, basic auth, unix sockets and a plain-HTTP
 * forward proxy. Everything is asynchronous so a slow or dead server never
 * blocks the event loop that gathers metrics.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { MAX_TIMER_MS } from '../timers';
import { version } from '../version';
import type { Logger } from '../log';
import type { Metric } from '../metric';
import { PartialWriteError } from '../plugin';
import { proxyAuthorization, proxyFromEnvironment, TunnelingAgent } from './proxy';
import { clientTlsOptions, type TlsClientOptions } from '../tls';

export type { TlsClientOptions };

export interface HttpClientOptions {
  /** Base URL: http://, https:// or unix:///path/to/socket. May carry user:password. */
  url: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  username?: string;
  password?: string;
  tls?: TlsClientOptions;
  /** Forward proxy (http:// URL, optionally with user info): absolute URIs for http:// targets, a CONNECT tunnel for https://. Unset: the environment's. */
  proxy?: string;
  /** Local address to bind outgoing connections to (Telegraf's `local_address`). */
  localAddress?: string;
  /** Without `proxy`, take the proxy from HTTP(S)_PROXY/NO_PROXY (default); false: connect directly. */
  environmentProxy?: boolean;
  /** Idle keep-alive connections are closed after this long (Go's IdleConnTimeout; 0: kept). */
  idleTimeoutMs?: number;
  /** Most idle keep-alive connections kept (Go's MaxIdleConnsPerHost; 0: Node's default). */
  maxIdleSockets?: number;
  /** Longest wait for the response once the request is sent (Go's ResponseHeaderTimeout; 0: only the overall timeout). */
  responseTimeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Go's `resp.Status` form, e.g. `400 Bad Request`. */
  statusLine: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The whole request body had been handed to the OS when the response ended (nothing will read it again). */
  bodySent: boolean;
}

export class HttpTimeoutError extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms} ms awaiting response`);
    this.name = 'HttpTimeoutError';
  }
}

/** A URL fit for logs: user info replaced, so credentials never reach a log line. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) {
      u.username = 'redacted';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    // Not parseable: strip anything that looks like user info.
    return raw.replace(/\/\/[^@/]*@/, '//redacted@');
  }
}

/** Removes a trailing slash so `path.join`-like concatenation works. */
function trimSlash(p: string): string {
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

export class HttpClient {
  readonly displayUrl: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly isHttps: boolean;
  private readonly socketPath?: string;
  /** Proxy for http:// targets (requests with absolute URIs); https:// ones tunnel through the agent. */
  private readonly proxy?: URL;
  private readonly proxyAuthorization?: string;
  private readonly authHeader?: string;
  private readonly headers: Record<string, string>;
  private readonly localAddress?: string;
  private readonly responseTimeoutMs: number;
  readonly timeoutMs: number;

  constructor(opts: HttpClientOptions) {
    const u = new URL(opts.url);
    this.displayUrl = redactUrl(opts.url);
    let username = opts.username ?? '';
    let password = opts.password ?? '';
    if (!username && !password && (u.username || u.password)) {
      username = decodeURIComponent(u.username);
      password = decodeURIComponent(u.password);
    }
    u.username = '';
    u.password = '';
    this.base = u;
    if (username || password) this.authHeader = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    this.headers = { ...(opts.headers ?? {}) };
    // A Node timer holds at most 24.8 days: a longer timeout is as good as none.
    this.timeoutMs = Math.min(opts.timeoutMs, MAX_TIMER_MS);
    this.localAddress = opts.localAddress || undefined;
    this.responseTimeoutMs = opts.responseTimeoutMs ?? 0;
    if (u.protocol === 'unix:') this.socketPath = u.pathname;
    else if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported scheme "${u.protocol.replace(/:$/, '')}"`);
    this.isHttps = u.protocol === 'https:';
    // The option wins; without it the environment decides, as Go's ProxyFromEnvironment does for Telegraf.
    const proxy =
      this.socketPath !== undefined ? undefined : opts.proxy ? new URL(opts.proxy) : opts.environmentProxy === false ? undefined : proxyFromEnvironment(u);
    if (proxy && proxy.protocol !== 'http:') throw new Error(`unsupported proxy scheme "${proxy.protocol.replace(/:$/, '')}"`);
    // An agent's `timeout` closes sockets idle in its free list (a busy one only gets a 'timeout' event).
    const pool: http.AgentOptions = { keepAlive: true, maxSockets: 8 };
    if (opts.idleTimeoutMs) pool.timeout = opts.idleTimeoutMs;
    if (opts.maxIdleSockets) pool.maxFreeSockets = opts.maxIdleSockets;
    if (this.isHttps) {
      const tlsOptions: https.AgentOptions = { ...pool, ...clientTlsOptions(opts.tls) };
      this.agent = proxy ? new TunnelingAgent(proxy, tlsOptions, opts.timeoutMs) : new https.Agent(tlsOptions);
    } else {
      this.agent = new http.Agent(pool);
      if (proxy) {
        this.proxy = proxy;
        this.proxyAuthorization = proxyAuthorization(proxy);
      }
    }
  }

  /** The base URL's path joined with `path` (which starts with `/`), plus the query. */
  private target(path: string, query?: URLSearchParams): string {
    const basePath = this.socketPath !== undefined ? '' : trimSlash(this.base.pathname);
    const q = query && [...query.keys()].length > 0 ? '?' + query.toString() : '';
    return (basePath + path || '/') + q;
  }

  request(method: string, path: string, query: URLSearchParams | undefined, body: Buffer | string | undefined, headers: Record<string, string> = {}): Promise<HttpResponse> {
    const pathAndQuery = this.target(path, query);
    const allHeaders: Record<string, string | number> = { ...this.headers, ...headers };
    if (this.authHeader && !hasHeader(allHeaders, 'authorization')) allHeaders['Authorization'] = this.authHeader;
    if (body !== undefined) allHeaders['Content-Length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    const reqOpts: http.RequestOptions = { method, agent: this.agent, headers: allHeaders };
    if (this.localAddress) reqOpts.localAddress = this.localAddress;
    if (this.socketPath !== undefined) {
      reqOpts.socketPath = this.socketPath;
      reqOpts.path = pathAndQuery;
      if (!hasHeader(allHeaders, 'host')) allHeaders['Host'] = '127.0.0.1';
    } else if (this.proxy) {
      reqOpts.host = this.proxy.hostname;
      reqOpts.port = this.proxy.port || 80;
      reqOpts.path = `${this.base.protocol}//${this.base.host}${pathAndQuery}`;
      if (!hasHeader(allHeaders, 'host')) allHeaders['Host'] = this.base.host;
      if (this.proxyAuthorization && !hasHeader(allHeaders, 'proxy-authorization')) allHeaders['Proxy-Authorization'] = this.proxyAuthorization;
    } else {
      reqOpts.host = this.base.hostname.replace(/^\[|\]$/g, '');
      reqOpts.port = this.base.port || (this.isHttps ? 443 : 80);
      reqOpts.path = pathAndQuery;
      const hostOverride = findHeader(allHeaders, 'host');
      if (hostOverride !== undefined && this.isHttps) (reqOpts as https.RequestOptions).servername ??= String(hostOverride).replace(/:\d+$/, '');
    }
    return this.send(reqOpts, body, Date.now() + this.timeoutMs, true);
  }

  /**
   * One attempt. A keep-alive socket the server closed while idle fails with
   * ECONNRESET/EPIPE before the server saw the request; that case is retried
   * once on a fresh connection (as Node's documentation advises) so a server
   * restart does not cost a failed flush.
   */
  private send(reqOpts: http.RequestOptions, body: Buffer | string | undefined, deadline: number, mayRetry: boolean): Promise<HttpResponse> {
    const mod = this.isHttps ? https : http;
    const timeoutMs = Math.max(1, deadline - Date.now());
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, res?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(res!);
      };
      const req = mod.request(reqOpts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => finish(e));
        res.on('aborted', () => finish(new Error('response aborted')));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          finish(undefined, {
            status,
            statusLine: `${status} ${res.statusMessage || http.STATUS_CODES[status] || ''}`.trim(),
            headers: res.headers,
            body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            bodySent: req.writableFinished,
          });
        });
      });
      // One deadline for the whole exchange, as Go's http.Client.Timeout.
      const timer = setTimeout(() => {
        const err = new HttpTimeoutError(this.timeoutMs);
        req.destroy(err);
        finish(err);
      }, timeoutMs);
      if (this.responseTimeoutMs > 0) {
        const wait = this.responseTimeoutMs;
        req.once('finish', () => {
          const t = setTimeout(() => {
            const err = new HttpTimeoutError(wait);
            req.destroy(err);
            finish(err);
          }, wait);
          req.once('response', () => clearTimeout(t));
          req.once('close', () => clearTimeout(t));
        });
      }
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (mayRetry && !settled && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE') && Date.now() < deadline) {
          settled = true;
          clearTimeout(timer);
          this.send(reqOpts, body, deadline, false).then(resolve, reject);
          return;
        }
        finish(e);
      });
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function findHeader(h: Record<string, string | number>, name: string): string | number | undefined {
  for (const k in h) if (k.toLowerCase() === name) return h[k];
  return undefined;
}

function hasHeader(h: Record<string, string | number>, name: string): boolean {
  return findHeader(h, name) !== undefined;
}

/** `lvsagent/<version> Node.js/<version>`, the counterpart of Telegraf's `Telegraf/<ver> Go/<ver>`. */
export function defaultUserAgent(): string {
  return `lvsagent/${version} Node.js/${process.versions.node}`;
}

/** A random permutation of 0..n-1 (Fisher–Yates, as Go's rand.Perm): outputs try their URLs in this order. */
export function randomOrder(n: number): number[] {
  const p = new Array<number>(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** What one endpoint did with a batch: indices written, deliberately dropped, and the error that stopped it. */
export interface EndpointResult {
  written: number[];
  dropped: number[];
  error?: Error;
}

export interface Endpoint {
  readonly url: string;
  write(metrics: readonly Metric[], indices: readonly number[]): Promise<EndpointResult>;
}

/**
 * Telegraf's multi-URL delivery: endpoints are tried in random order until
 * one takes the rest of the batch; what an endpoint wrote or dropped is not
 * sent again. Resolves when everything is done with; otherwise rejects (with a
 * PartialWriteError when some of the batch was done with).
 */
export async function writeToAnyEndpoint(
  endpoints: readonly Endpoint[],
  metrics: readonly Metric[],
  log: Logger,
  failure: (lastError: Error | undefined) => string,
): Promise<void> {
  if (metrics.length === 0) return;
  let pending: number[] = new Array(metrics.length);
  for (let i = 0; i < metrics.length; i++) pending[i] = i;
  const written: number[] = [];
  const dropped: number[] = [];
  let lastError: Error | undefined;
  for (const n of randomOrder(endpoints.length)) {
    const endpoint = endpoints[n];
    const r = await endpoint.write(metrics, pending);
    for (const i of r.written) written.push(i);
    for (const i of r.dropped) dropped.push(i);
    // Everything was written or deliberately dropped (already logged): the batch is done with.
    if (!r.error) return;
    lastError = r.error;
    log.error(`When writing to [${endpoint.url}]: ${r.error.message}`);
    if (r.written.length + r.dropped.length > 0) {
      const done = new Set([...r.written, ...r.dropped]);
      pending = pending.filter((i) => !done.has(i));
    }
  }
  const msg = failure(lastError);
  if (written.length + dropped.length === 0) throw new Error(msg);
  throw new PartialWriteError(msg, dropped, written);
}
