/**
 * The scrape endpoint: HTTP or HTTPS (optionally requiring client
 * certificates), basic auth, an IP allow-list, gzip when the scraper accepts it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const gzip = promisify(zlib.gzip);

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface ServerOptions {
  listen: string;
  path: string;
  basicUsername?: string;
  basicPassword?: string;
  ipRange: string[];
  tlsCert?: string;
  tlsKey?: string;
  tlsAllowedCacerts?: string[];
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

  private authorized(req: http.IncomingMessage): boolean {
    const { basicUsername: user, basicPassword: pass } = this.opts;
    if (!user || !pass) return true;
    const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Evaluate both comparisons so timing does not reveal which one failed.
    const okUser = constantTimeEqual(decoded.slice(0, colon), user);
    const okPass = constantTimeEqual(decoded.slice(colon + 1), pass);
    return okUser && okPass;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) res.setHeader(k, v);
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== this.opts.path) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (this.opts.basicUsername && this.opts.basicPassword) res.setHeader('WWW-Authenticate', 'Basic realm="Restricted"');
    if (!this.authorized(req) || !this.allowedIp(req.socket.remoteAddress)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not authorized\n');
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
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500).end(`error rendering metrics: ${err.message}\n`);
        else res.destroy();
      });
    };
    const o = this.opts;
    let server: http.Server;
    if (o.tlsCert && o.tlsKey) {
      const tlsOpts: https.ServerOptions = { cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) };
      if (o.tlsAllowedCacerts && o.tlsAllowedCacerts.length > 0) {
        tlsOpts.ca = o.tlsAllowedCacerts.map((f) => fs.readFileSync(f));
        tlsOpts.requestCert = true;
        tlsOpts.rejectUnauthorized = true;
      }
      server = https.createServer(tlsOpts, handler);
    } else server = http.createServer(handler);
    server.keepAliveTimeout = 65_000;
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
    this.address = `${o.tlsCert && o.tlsKey ? 'https' : 'http'}://${shownHost}:${addr.port}${o.path}`;
  }

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
