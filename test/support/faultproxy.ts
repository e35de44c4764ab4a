/**
 * A fault-injecting TCP proxy on loopback, placed between a client under test
 * and a real server. Modes:
 *   pass      forward both ways (optionally delaying the server's replies)
 *   blackhole accept and read, never forward or answer (a hung server)
 *   reset     answer every new connection, and any data on old ones, with a TCP RST
 *   refuse    close the listening socket (connection refused) until another mode is set
 */
import * as net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'reset' | 'refuse';

export interface FaultProxy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  mode(): FaultMode;
  setMode(mode: FaultMode, opts?: { delayMs?: number }): Promise<void>;
  /** Destroys every open client connection (keep-alive sockets included). */
  dropConnections(): void;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Sees every chunk a client sent that was handed to the server's connection. */
  onForward?: (chunk: Buffer) => void;
}

export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1', opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let acceptedCount = 0;
  const open = new Set<net.Socket>();
  let listenPort = 0;

  const onConnection = (client: net.Socket) => {
    acceptedCount++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (d) => {
      if (mode === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
      } else if (mode === 'blackhole') {
        // swallow
      } else {
        upstream.write(d, (err) => {
          if (!err) opts.onForward?.(d);
        });
      }
    });
    upstream.on('data', (d) => {
      if (mode === 'blackhole') return;
      if (mode === 'reset') {
        client.resetAndDestroy();
        return;
      }
      if (delayMs > 0) {
        upstream.pause();
        setTimeout(() => {
          if (!client.destroyed) client.write(d);
          upstream.resume();
        }, delayMs);
      } else client.write(d);
    });
  };

  let server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listenPort = (server.address() as net.AddressInfo).port;
  let listening = true;

  async function listen(): Promise<void> {
    if (listening) return;
    server = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', resolve);
    });
    listening = true;
  }

  async function unlisten(): Promise<void> {
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return {
    port: listenPort,
    url: `http://127.0.0.1:${listenPort}`,
    mode: () => mode,
    async setMode(m, opts = {}) {
      mode = m;
      delayMs = opts.delayMs ?? 0;
      if (m === 'refuse') {
        for (const s of open) s.destroy();
        const closing = unlisten();
        await closing;
      } else await listen();
    },
    dropConnections() {
      for (const s of open) s.destroy();
    },
    accepted: () => acceptedCount,
    async close() {
      for (const s of open) s.destroy();
      await unlisten();
    },
  };
}
