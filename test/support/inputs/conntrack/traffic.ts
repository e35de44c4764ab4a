/**
 * Test traffic generator, run inside a test network namespace
 * (`ip netns exec NS node traffic.js MODE ...`). Prints one JSON line with
 * what it did, then exits (mode `hold` waits for stdin to close).
 *
 *   tcp   HOST PORT COUNT BYTES [CHOST CPORT]
 *                                 server + COUNT sequential connections (to CHOST:CPORT when given, e.g. a
 *                                 DNAT-ed virtual IP), each sends BYTES and reads them echoed
 *   udp   HOST PORT COUNT BYTES   server + COUNT client sockets, each sends BYTES and reads the echo
 *   hold  HOST PORT COUNT         server + COUNT connections kept open until stdin closes
 *   flood HOST PORT COUNT         COUNT UDP datagrams to ports PORT.. PORT+COUNT-1 (no server: unreplied flows)
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';

async function tcp(host: string, port: number, count: number, bytes: number, connectHost = host, connectPort = port): Promise<unknown> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(port, host, r));
  const payload = Buffer.alloc(bytes, 0x61);
  const clientPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(connectPort, connectHost);
      let got = 0;
      c.on('connect', () => {
        clientPorts.push(c.localPort!);
        c.write(payload);
      });
      c.on('data', (d) => {
        got += d.length;
        if (got >= bytes) c.end();
      });
      c.on('close', () => resolve());
      c.on('error', reject);
    });
  }
  await new Promise<void>((r) => server.close(() => r()));
  return { mode: 'tcp', count, bytes, clientPorts };
}

async function udp(host: string, port: number, count: number, bytes: number): Promise<unknown> {
  const server = dgram.createSocket('udp4');
  server.on('message', (m, rinfo) => server.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((r) => server.bind(port, host, r));
  const payload = Buffer.alloc(bytes, 0x62);
  const clientPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      c.on('message', () => resolve());
      c.on('error', reject);
      c.bind(0, host, () => {
        clientPorts.push(c.address().port);
        c.send(payload, port, host);
      });
    });
    c.close();
  }
  server.close();
  return { mode: 'udp', count, bytes, clientPorts };
}

async function hold(host: string, port: number, count: number): Promise<void> {
  const server = net.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(port, host, r));
  const socks: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, host, () => resolve());
      c.on('error', reject);
      socks.push(c);
    });
  }
  process.stdout.write(JSON.stringify({ mode: 'hold', count }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
}

async function flood(host: string, port: number, count: number): Promise<unknown> {
  const c = dgram.createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, host, r));
  const payload = Buffer.from('x');
  let sent = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const stop = Math.min(count, sent + 500);
      for (; sent < stop; sent++) c.send(payload, port + (sent % 60000), host);
      if (sent < count) setImmediate(step);
      else setTimeout(resolve, 50);
    };
    step();
  });
  c.close();
  return { mode: 'flood', count };
}

async function main(): Promise<void> {
  const [mode, host, portText, countText, bytesText, connectHost, connectPort] = process.argv.slice(2);
  const port = Number(portText);
  const count = Number(countText);
  const bytes = Number(bytesText ?? 0);
  let out: unknown;
  if (mode === 'tcp') out = await tcp(host, port, count, bytes, connectHost ?? host, connectPort ? Number(connectPort) : port);
  else if (mode === 'udp') out = await udp(host, port, count, bytes);
  else if (mode === 'hold') return hold(host, port, count);
  else if (mode === 'flood') out = await flood(host, port, count);
  else throw new Error(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
