/**
 * Loopback servers with known misbehaviours, for the ipvs_probe tests, its
 * lab driver and its benchmark: each answers in one specific way so the
 * probe's classification can be checked against a real socket exchange.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { repoRoot } from '../../paths';
import { OpensslUnavailable, selfSignedCert as sharedSelfSignedCert } from '../../tls';

export type Behaviour =
  | { kind: 'status'; status: number; delayMs?: number }
  /** Accepts and never answers. */
  | { kind: 'silent' }
  /** Accepts and resets the connection at once (RST). */
  | { kind: 'reset' }
  /** Sends raw bytes as the response, then closes; `eager`: on the first data rather than after a request head. */
  | { kind: 'raw'; response: string; eager?: boolean };

export interface TestServer {
  port: number;
  host: string;
  /** Connections open right now and the most open at once. */
  readonly open: number;
  readonly maxOpen: number;
  readonly accepted: number;
  close(): Promise<void>;
}

/** A per-connection HTTP/1.1 responder: answers the first request, then closes. */
function handle(socket: net.Socket, b: Behaviour): void {
  socket.on('error', () => {});
  if (b.kind === 'silent') {
    // Read and drop: the server still notices when the client hangs up.
    socket.resume();
    return;
  }
  if (b.kind === 'reset') {
    socket.resetAndDestroy();
    return;
  }
  let head = '';
  socket.on('data', (d: Buffer) => {
    if (head.includes('\r\n\r\n')) return;
    head += d.toString('latin1');
    if (b.kind === 'raw' && b.eager) head += '\r\n\r\n';
    if (!head.includes('\r\n\r\n')) return;
    const reply = (): void => {
      if (b.kind === 'raw') socket.end(b.response);
      else socket.end(`HTTP/1.1 ${b.status} X\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n`);
    };
    if (b.kind === 'status' && b.delayMs) setTimeout(reply, b.delayMs);
    else reply();
  });
}

export function startServer(b: Behaviour, opts: { host?: string; port?: number; tls?: { key: Buffer; cert: Buffer }; counter?: ConnCounter } = {}): Promise<TestServer> {
  const host = opts.host ?? '127.0.0.1';
  const counter = opts.counter ?? new ConnCounter();
  const track = (s: net.Socket): void => {
    counter.opened();
    // The client's FIN (or RST) ends its side: count the connection gone at
    // 'end'/'error', not at 'close', which libuv reports a loop phase later.
    let gone = false;
    const down = (): void => {
      if (!gone) {
        gone = true;
        counter.closed();
      }
    };
    s.once('end', down);
    s.once('error', down);
    s.once('close', down);
  };
  const server = opts.tls
    ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, (s) => handle(s, b))
    : net.createServer((s) => handle(s, b));
  // Count raw TCP connections, also those that never finish a TLS handshake.
  server.on('connection', track);
  if (opts.tls) server.on('tlsClientError', () => {});
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0, backlog: 4096 }, () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        host,
        get open() {
          return counter.open;
        },
        get maxOpen() {
          return counter.maxOpen;
        },
        get accepted() {
          return counter.accepted;
        },
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}

/** Counts simultaneous connections over one or several servers. */
export class ConnCounter {
  open = 0;
  maxOpen = 0;
  accepted = 0;
  opened(): void {
    this.accepted++;
    this.open++;
    // Sample after the whole poll batch: a client's FIN queued before its next
    // connect is read in the same batch as that connect's accept, in any order.
    setImmediate(this.sample);
  }
  private readonly sample = (): void => {
    if (this.open > this.maxOpen) this.maxOpen = this.open;
  };
  closed(): void {
    this.open--;
  }
}

/** A port on 127.0.0.1 with nothing listening (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const TESTDATA = path.join(repoRoot, 'plugins', 'inputs', 'ipvs_probe', 'testdata');

/**
 * A self-signed certificate for `probe.test` and 127.0.0.1: made with openssl
 * when it is installed, else the test-only pair in the plugin's testdata/.
 */
export function selfSignedCert(): { key: Buffer; cert: Buffer; generated: boolean } {
  try {
    const made = sharedSelfSignedCert('probe.test');
    return { key: made.key, cert: made.cert, generated: true };
  } catch (err) {
    if (!(err instanceof OpensslUnavailable)) throw err;
    return {
      key: fs.readFileSync(path.join(TESTDATA, 'selfsigned.key')),
      cert: fs.readFileSync(path.join(TESTDATA, 'selfsigned.crt')),
      generated: false,
    };
  }
}
