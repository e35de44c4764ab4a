/**
 * Traffic shapes that leave IPVS entries in given states, run inside the lab
 * guest with the host's node (fixture capture and the lab test):
 *
 *   node guest-traffic.js hold HOST:PORT COUNT          COUNT open connections (ESTABLISHED); prints "ready", stays
 *   node guest-traffic.js half-close HOST:PORT COUNT    client sends FIN, server keeps open (CLOSE_WAIT); stays
 *   node guest-traffic.js sink ADDR:PORT                server that reads and never closes, even after the client's FIN; prints "ready"
 *   node guest-traffic.js closer ADDR:PORT              server that closes at once (client side: FIN_WAIT); prints "ready"
 *   node guest-traffic.js syn HOST:PORT COUNT           SYNs to an unreachable real server (SYN_RECV); exits
 *   node guest-traffic.js udp-burst HOST:PORT COUNT     one datagram from each of source ports 20000.. (COUNT UDP entries); prints "sent"
 *   node guest-traffic.js fixed-get HOST:PORT LADDR LPORT
 *       one HTTP/1.0 GET from a fixed source address and port, waiting for the server's close;
 *       prints the body (the lab http servers answer with their own ADDR:PORT)
 *
 * Without arguments it prints usage and exits 0.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad HOST:PORT ${s}`);
  return { host: m[1], port: Number(m[2]) };
}

function connect(target: string, opts: Partial<net.TcpNetConnectOpts> = {}): Promise<net.Socket> {
  const { host, port } = hostPort(target);
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port, allowHalfOpen: true, ...opts }, () => resolve(c));
    c.once('error', reject);
  });
}

async function hold(target: string, count: number, halfClose: boolean): Promise<void> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const c = await connect(target);
    c.on('data', () => undefined);
    c.on('error', () => undefined);
    if (halfClose) c.end();
    socks.push(c);
  }
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1 << 30);
}

function server(addr: string, closeAtOnce: boolean): void {
  const { host, port } = hostPort(addr);
  const srv = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => undefined);
    c.on('data', () => undefined);
    if (closeAtOnce) c.end();
  });
  srv.listen(port, host, () => process.stdout.write('ready\n'));
}

async function syn(target: string, count: number): Promise<void> {
  const { host, port } = hostPort(target);
  for (let i = 0; i < count; i++) {
    const c = net.connect({ host, port });
    c.on('error', () => undefined);
  }
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write('sent\n');
  process.exit(0);
}

async function udpBurst(target: string, count: number): Promise<void> {
  const { host, port } = hostPort(target);
  const payload = Buffer.from('x');
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    const socks: dgram.Socket[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) socks.push(dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'));
    // Distinct fixed source ports: an ephemeral port freed by close() could come back and merge two flows.
    await Promise.all(
      socks.map((s, k) => new Promise<void>((resolve) => s.bind(20000 + i + k, () => s.send(payload, port, host, () => resolve())))),
    );
    for (const s of socks) s.close();
  }
  process.stdout.write('sent\n');
}

async function fixedGet(target: string, localAddress: string, localPort: number): Promise<void> {
  const c = await connect(target, { localAddress, localPort, allowHalfOpen: false });
  let body = '';
  c.setEncoding('latin1');
  c.on('data', (d: string) => (body += d));
  c.write(`GET / HTTP/1.0\r\nHost: ${target}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    c.on('close', () => resolve());
    c.on('error', reject);
  });
  process.stdout.write(body.split('\r\n\r\n').slice(1).join('').trim() + '\n');
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...a] = argv;
  switch (cmd) {
    case 'hold':
      return hold(a[0], Number(a[1] ?? 1), false);
    case 'half-close':
      return hold(a[0], Number(a[1] ?? 1), true);
    case 'closer':
      return server(a[0], true);
    case 'sink':
      return server(a[0], false);
    case 'syn':
      return syn(a[0], Number(a[1] ?? 1));
    case 'udp-burst':
      return udpBurst(a[0], Number(a[1] ?? 1));
    case 'fixed-get':
      return fixedGet(a[0], a[1], Number(a[2]));
    default:
      process.stdout.write('usage: guest-traffic.js hold|half-close HOST:PORT COUNT | sink|closer ADDR:PORT | syn|udp-burst HOST:PORT COUNT | fixed-get HOST:PORT LADDR LPORT\n');
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`guest-traffic: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
