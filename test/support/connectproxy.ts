/**
 * A small HTTP proxy for tests: CONNECT tunnels (as used for https://
 * targets) and absolute-URI requests (http:// targets) to loopback servers,
 * with an optional required Proxy-Authorization. Records what it was asked.
 */
import * as http from 'node:http';
import * as net from 'node:net';

export interface ConnectProxy {
  url: string;
  /** `CONNECT` authorities and the Proxy-Authorization each came with. */
  connects: { authority: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

export interface ConnectProxyOptions {
  /** Answer 407 unless the CONNECT carries exactly this Proxy-Authorization. */
  requireAuthorization?: string;
  /** Answer 403 to every CONNECT. */
  refuse?: boolean;
  /** Connect here whatever host is asked for (so test names need no DNS), keeping the port. */
  resolveTo?: string;
}

export async function startConnectProxy(opts: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const connects: ConnectProxy['connects'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(501).end());
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = req.url ?? '';
    const authorization = req.headers['proxy-authorization'];
    connects.push({ authority, authorization });
    if (opts.refuse || (opts.requireAuthorization !== undefined && authorization !== opts.requireAuthorization)) {
      client.end(opts.refuse ? 'HTTP/1.1 403 Forbidden\r\n\r\n' : 'HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const m = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(authority);
    if (!m) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = net.connect({ host: opts.resolveTo ?? (m[1] === undefined ? m[2] : m[1]), port: Number(m[3]) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
