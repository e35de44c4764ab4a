/**
 * Traffic tools for lab scenarios, run inside the guest with the host's node:
 *
 *   node dist/test/lab/guest/net.js http-server ADDR:PORT [ADDR:PORT...]
 *       HTTP servers answering every request with their own "ADDR:PORT\n"; prints "ready".
 *   node dist/test/lab/guest/net.js udp-echo ADDR:PORT [ADDR:PORT...]
 *       UDP echo servers; prints "ready".
 *   node dist/test/lab/guest/net.js tcp-sink ADDR:PORT [ADDR:PORT...]
 *       TCP servers that read and discard everything; prints "ready".
 *   node dist/test/lab/guest/net.js http-get URL COUNT [CONCURRENCY]
 *       COUNT GET requests, a new connection each; prints JSON {ok, failed, bodies:{body:count}}.
 *   node dist/test/lab/guest/net.js udp-send ADDR:PORT COUNT [SIZE]
 *       COUNT datagrams of SIZE bytes, one at a time, each waiting for its echo (1 s);
 *       prints JSON {sent, received}.
 *   node dist/test/lab/guest/net.js tcp-send ADDR:PORT BYTES
 *       One connection sending BYTES bytes; prints JSON {sent, ms}.
 *
 * ADDR may be an IPv6 address in brackets: [fd00::1]:53. Without arguments the
 * script prints its usage and exits 0 (the test runner loads every file under
 * dist/test/ as a test).
 */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';

function parseHostPort(s: string): { host: string; port: number; family: 4 | 6 } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad ADDR:PORT ${s}`);
  return { host: m[1], port: Number(m[2]), family: net.isIPv6(m[1]) ? 6 : 4 };
}

async function listenAll(addrs: string[], make: (a: { host: string; port: number; family: 4 | 6 }, label: string) => Promise<void>): Promise<void> {
  await Promise.all(addrs.map((s) => make(parseHostPort(s), s)));
  process.stdout.write('ready\n');
}

async function httpServer(addrs: string[]): Promise<void> {
  await listenAll(addrs, (a, label) => {
    const srv = http.createServer((req, res) => {
      req.resume();
      res.setHeader('connection', 'close');
      res.end(`${label}\n`);
    });
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(a.port, a.host, () => resolve());
    });
  });
}

async function udpEcho(addrs: string[]): Promise<void> {
  await listenAll(addrs, (a) => {
    const sock = dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4');
    sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(a.port, a.host, () => resolve());
    });
  });
}

async function tcpSink(addrs: string[]): Promise<void> {
  await listenAll(addrs, (a) => {
    const srv = net.createServer((c) => {
      c.on('data', () => undefined);
      c.on('error', () => undefined);
    });
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(a.port, a.host, () => resolve());
    });
  });
}

async function httpGet(url: string, count: number, concurrency: number): Promise<void> {
  const bodies: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let next = 0;
  const agent = new http.Agent({ keepAlive: false });
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(url, { agent, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          ok++;
          bodies[body.trim()] = (bodies[body.trim()] ?? 0) + 1;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        failed++;
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  process.stdout.write(JSON.stringify({ ok, failed, bodies }) + '\n');
}

async function udpSend(target: string, count: number, size: number): Promise<void> {
  const a = parseHostPort(target);
  const sock = dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4');
  const payload = Buffer.alloc(size, 0x61);
  let received = 0;
  let waiting: (() => void) | undefined;
  sock.on('message', () => {
    received++;
    waiting?.();
  });
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      waiting = () => {
        clearTimeout(timer);
        resolve();
      };
      sock.send(payload, a.port, a.host);
    });
  }
  sock.close();
  process.stdout.write(JSON.stringify({ sent: count, received }) + '\n');
}

async function tcpSend(target: string, bytes: number): Promise<void> {
  const a = parseHostPort(target);
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  const t0 = Date.now();
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(a.port, a.host, () => {
      let left = bytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            c.once('drain', pump);
            return;
          }
        }
        c.end(() => resolve());
      };
      pump();
    });
    c.on('error', reject);
  });
  process.stdout.write(JSON.stringify({ sent: bytes, ms: Date.now() - t0 }) + '\n');
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'http-server':
      return httpServer(rest);
    case 'udp-echo':
      return udpEcho(rest);
    case 'tcp-sink':
      return tcpSink(rest);
    case 'http-get':
      return httpGet(rest[0], Number(rest[1] ?? 1), Number(rest[2] ?? 1));
    case 'udp-send':
      return udpSend(rest[0], Number(rest[1] ?? 1), Number(rest[2] ?? 64));
    case 'tcp-send':
      return tcpSend(rest[0], Number(rest[1]));
    default:
      process.stdout.write('usage: net.js http-server|udp-echo|tcp-sink ADDR:PORT... | http-get URL COUNT [CONC] | udp-send ADDR:PORT COUNT [SIZE] | tcp-send ADDR:PORT BYTES\n');
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`net.js: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
