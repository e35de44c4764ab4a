/**
 * Forward proxies for the HTTP outputs, as Go's http.Transport uses them in
 * Telegraf: `http://` targets are requested through the proxy with an
 * absolute URI, `https://` targets through a CONNECT tunnel (TLS end to end,
 * the proxy sees only the host and port). Without an `http_proxy` option the
 * standard environment variables decide (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and
 * their lower-case forms), and loopback targets are never proxied.
 */
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

/** The `Proxy-Authorization` value for a proxy URL with user info, else undefined. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  return 'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
}

/** Largest CONNECT response header we read before giving up on the proxy. */
const MAX_CONNECT_RESPONSE = 16 * 1024;

export class ProxyConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConnectError';
  }
}

/** An https.Agent whose connections are TLS sessions inside CONNECT tunnels through an HTTP proxy. */
export class TunnelingAgent extends https.Agent {
  private readonly authorization: string | undefined;

  constructor(
    private readonly proxy: URL,
    options: https.AgentOptions,
    /** Gives up on a proxy that does not answer the CONNECT within this time. */
    private readonly connectTimeoutMs: number,
  ) {
    super(options);
    this.authorization = proxyAuthorization(proxy);
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const done = callback ?? ((): void => undefined);
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port ?? 443);
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const socket = net.connect({ host: this.proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(this.proxy.port || 80), localAddress: options.localAddress });
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      done(err, socket);
    };
    socket.setTimeout(this.connectTimeoutMs, () => fail(new ProxyConnectError(`proxy ${this.proxy.host}: no answer to CONNECT ${authority} within ${this.connectTimeoutMs} ms`)));
    socket.once('error', (err) => fail(new ProxyConnectError(`proxy ${this.proxy.host}: ${err.message}`)));
    socket.once('connect', () => {
      let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
      if (this.authorization) request += `Proxy-Authorization: ${this.authorization}\r\n`;
      socket.write(request + '\r\n');
    });
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_CONNECT_RESPONSE) fail(new ProxyConnectError(`proxy ${this.proxy.host}: CONNECT response header too long`));
        return;
      }
      socket.removeListener('data', onData);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!status || status[1] !== '200') {
        fail(new ProxyConnectError(`proxy ${this.proxy.host} refused CONNECT ${authority}: ${statusLine || 'no status line'}`));
        return;
      }
      // Bytes after the header would belong to the tunnel; a proxy sends none before the client speaks.
      if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
      socket.setTimeout(0);
      settled = true;
      const servername = options.servername ?? (net.isIP(host) ? undefined : host);
      const secure = tls.connect({ ...(options as tls.ConnectionOptions), socket, servername });
      done(null, secure);
    };
    socket.on('data', onData);
    return undefined;
  }
}

/**
 * The proxy Go's http.ProxyFromEnvironment picks for `target`: HTTPS_PROXY
 * for https, HTTP_PROXY for http (upper case first, then lower case),
 * undefined when NO_PROXY matches or the target is loopback.
 */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const raw = target.protocol === 'https:' ? env.HTTPS_PROXY || env.https_proxy : target.protocol === 'http:' ? env.HTTP_PROXY || env.http_proxy : undefined;
  if (!raw) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || isLoopback(host)) return undefined;
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  if (noProxyMatches(env.NO_PROXY || env.no_proxy || '', host, port)) return undefined;
  // Go accepts a bare host:port and assumes http://.
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
}

function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1';
  return false;
}

/** NO_PROXY as Go reads it: `*`, IPs, CIDRs and domains, each optionally with a port. */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  for (let entry of noProxy.split(',')) {
    entry = entry.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [net0, bits] = entry.split('/');
      if (inCidr(host, net0, Number(bits))) return true;
      continue;
    }
    let entryPort = '';
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    if (portMatch && !net.isIPv6(entry)) {
      entry = portMatch[1];
      entryPort = portMatch[2];
    }
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort !== '' && entryPort !== port) continue;
    if (net.isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    // "example.com" matches itself and its subdomains, ".example.com" (or "*.example.com") subdomains only.
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.') ? host.endsWith(entry) : host === entry || host.endsWith('.' + entry)) return true;
  }
  return false;
}

function inCidr(host: string, network: string, bits: number): boolean {
  const family = net.isIP(network);
  if (family === 0 || net.isIP(host) !== family || !Number.isInteger(bits)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(network, bits, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
