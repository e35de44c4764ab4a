/**
 * An HTTP proxy on loopback in front of a real receiver: records every request
 * (method, path, headers, body) and forwards it, or answers it itself with a
 * queued status (e.g. 429 with Retry-After) to inject a fault the real server
 * cannot be made to produce on demand.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The status the client got. */
  status: number;
}

export interface InjectedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface StatusProxy {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next requests with these, in order, instead of forwarding them. */
  inject(...answers: InjectedAnswer[]): void;
  /** Answers the request that will arrive as `requests[index]` with this instead of forwarding it. */
  injectAt(index: number, answer: InjectedAnswer): void;
  close(): Promise<void>;
}

export async function startStatusProxy(target: string): Promise<StatusProxy> {
  const upstream = new URL(target);
  const queue: InjectedAnswer[] = [];
  const requests: RecordedRequest[] = [];
  const scheduled = new Map<number, InjectedAnswer>();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), status: 0 };
      const index = requests.push(rec) - 1;
      const injected = scheduled.get(index) ?? queue.shift();
      scheduled.delete(index);
      if (injected) {
        rec.status = injected.status;
        res.writeHead(injected.status, injected.headers);
        res.end(injected.body ?? '');
        return;
      }
      const headers = { ...req.headers, host: upstream.host };
      const fwd = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (up) => {
        rec.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on('error', (err) => {
        rec.status = 502;
        res.writeHead(502);
        res.end(err.message);
      });
      fwd.end(rec.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject: (...answers) => queue.push(...answers),
    injectAt: (index, answer) => scheduled.set(index, answer),
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
