/**
 * The scrape endpoint: HTTP or HTTPS (Telegraf's server TLS keys, optionally
 * requiring client certificates), basic auth, an IP allow-list, gzip when the
 * scraper accepts it. Requests pass Telegraf's chain (prometheus_client.go
 * 181-182): headers, then basic auth (401), then ip_range (403), then the
 * metrics page at `path` or, on any other path, a landing page.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { TLSSocket } from 'node:tls';
import { serverTlsOptions, type TlsServerOptions } from '../../../core/tls';

const gzip = promisify(zlib.gzip);

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface ServerOptions {
  listen: string;
  path: string;
  basicUsername?: string;
  basicPassword?: string;
  ipRange: string[];
  tls?: TlsServerOptions;
  /** Go's ReadTimeout: the whole request must arrive within it; also the keep-alive idle limit (Go's IdleTimeout default). */
  readTimeoutMs?: number;
  /** Go's WriteTimeout: from the end of the request headers to the end of the response. */
  writeTimeoutMs?: number;
  headers?: Record<string, string>;
  render: () => string;
}

/** Splits Telegraf's listen address (`:9273`, `host:port`, `[::1]:9273`) into host and port. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(listen.replace(/^tcp:\/\//, ''));
  if (!m) throw new Error(`invalid listen address "${listen}"`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}

interface Cidr {
  family: 'ipv4' | 'ipv6';
  text: string;
  prefix: number;
}

function parseCidr(s: string): Cidr {
  const m = /^(.+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`invalid CIDR address "${s}"`);
  const kind = net.isIP(m[1]);
  const prefix = Number(m[2]);
  if (kind === 0 || prefix > (kind === 4 ? 32 : 128)) throw new Error(`invalid CIDR address "${s}"`);
  return { family: kind === 4 ? 'ipv4' : 'ipv6', text: m[1], prefix };
}

function constantTimeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

export class ScrapeServer {
  private server: http.Server | undefined;
  private readonly blocklist: net.BlockList | undefined;
  private address = '';

  constructor(private readonly opts: ServerOptions) {
    if (opts.ipRange.length > 0) {
      const bl = new net.BlockList();
      for (const r of opts.ipRange) {
        const c = parseCidr(r);
        bl.addSubnet(c.text, c.prefix, c.family);
      }
      this.blocklist = bl;
    }
  }

  /** `http(s)://host:port/path` once listening (the real port when `:0` was asked). */
  url(): string {
    return this.address;
  }

  private allowedIp(remote: string | undefined): boolean {
    if (!this.blocklist) return true;
    if (!remote) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
    if (mapped) return this.blocklist.check(mapped[1], 'ipv4') || this.blocklist.check(remote, 'ipv6');
    return this.blocklist.check(remote, net.isIPv6(remote) ? 'ipv6' : 'ipv4');
  }

  /** Basic auth is on when a user name OR a password is set (Telegraf internal/http.go 108); `Token user:pass` also answers it. */
  private authorized(req: http.IncomingMessage): boolean {
    const { basicUsername: user = '', basicPassword: pass = '' } = this.opts;
    if (!user && !pass) return true;
    const header = req.headers.authorization ?? '';
    let decoded: string;
    if (header.startsWith('Token ')) decoded = header.slice(6);
    else {
      const m = /^Basic\s+(.+)$/i.exec(header);
      if (!m) return false;
      decoded = Buffer.from(m[1], 'base64').toString('utf8');
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Evaluate both comparisons so timing does not reveal which one failed.
    const okUser = constantTimeEqual(decoded.slice(0, colon), user);
    const okPass = constantTimeEqual(decoded.slice(colon + 1), pass);
    return okUser && okPass;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) res.setHeader(k, v);
    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="prometheus"');
      plainError(res, 401);
      return;
    }
    if (!this.allowedIp(req.socket.remoteAddress)) {
      plainError(res, 403);
      return;
    }
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== this.opts.path) {
      // Go's mux sends every other path to the "/" handler: a landing page.
      const html = `<html><head><title>lvsagent</title></head><body><h1>lvsagent: outputs.prometheus_client</h1><p><a href="${escapeHtml(this.opts.path)}">Metrics</a></p></body></html>\n`;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const page = this.opts.render();
    const headers: Record<string, string | number> = { 'Content-Type': CONTENT_TYPE };
    let body: Buffer = Buffer.from(page, 'utf8');
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && body.length > 1024) {
      body = await gzip(body, { level: 1 });
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.opts.listen);
    const o = this.opts;
    const writeTimeoutMs = o.writeTimeoutMs ?? 10_000;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      // A response not written within write_timeout (a scraper that stopped reading) closes the connection, as Go's WriteTimeout.
      const timer = setTimeout(() => {
        this.onWriteTimeout?.(req.socket.remoteAddress);
        req.socket.destroy();
      }, writeTimeoutMs);
      res.once('close', () => clearTimeout(timer));
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500).end(`error rendering metrics: ${err.message}\n`);
        else res.destroy();
      });
    };
    const tls = o.tls ? serverTlsOptions(o.tls) : undefined;
    const readTimeoutMs = o.readTimeoutMs ?? 10_000;
    const timing: http.ServerOptions = {
      requestTimeout: readTimeoutMs,
      headersTimeout: readTimeoutMs,
      keepAliveTimeout: readTimeoutMs,
      // Node checks request timeouts on this period (default 30 s): finer, so a 1 s read_timeout means 1 s.
      connectionsCheckingInterval: Math.min(1000, readTimeoutMs),
    };
    const server: http.Server = tls ? https.createServer({ ...tls.options, ...timing }, handler) : http.createServer(timing, handler);
    const checkClient = tls?.checkClient;
    if (checkClient) {
      // tls_allowed_dns_names: the handshake's client certificate must name one (Go's VerifyPeerCertificate, server.go 90-105).
      server.on('secureConnection', (socket: TLSSocket) => {
        const peer = socket.getPeerCertificate();
        const problem = peer?.raw ? checkClient(peer.raw) : 'no client certificate';
        if (problem) {
          this.onRefusedClient?.(socket.remoteAddress, problem);
          socket.destroy();
        }
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address() as net.AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.address = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}${o.path}`;
  }

  /** Called when a response was cut off by write_timeout (for a log line). */
  onWriteTimeout?: (remote: string | undefined) => void;
  /** Called when a client certificate is refused by tls_allowed_dns_names. */
  onRefusedClient?: (remote: string | undefined, why: string) => void;

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeIdleConnections();
    const forced = setTimeout(() => s.closeAllConnections(), 5000);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    clearTimeout(forced);
  }
}

function plainError(res: http.ServerResponse, code: number): void {
  // As Go's http.Error.
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(`${http.STATUS_CODES[code]}\n`);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
