/**
 * Guest side of bench/ipvs.ts (runs inside the lab guest; `_` keeps it out of
 * `npm run bench`'s list):
 *
 *   node dist/bench/_ipvs-guest.js load SERVICES DESTS
 *       creates SERVICES TCP services × DESTS real servers with NEW_SERVICE /
 *       NEW_DEST messages, many per datagram; prints JSON {services, dests, ms}.
 *   node dist/bench/_ipvs-guest.js serve SOCKETS
 *       one gather per stdin line, one JSON line per gather (see serve()).
 *   node dist/bench/_ipvs-guest.js gather SOCKETS [REPEAT]
 *       times the ipvs input's gather (open excluded, metrics kept as the agent
 *       would buffer them); prints JSON {metrics, firstMs, times:[ms...], rssMB, heapMB}.
 */
import { IpvsClient } from '../core/ipvs/client';
import { AF_INET, IP_VS_CONN_F_MASQ, IPPROTO_TCP } from '../core/ipvs/constants';
import { buildNewDest, buildNewService } from '../core/ipvs/encode';
import { IpvsInput } from '../plugins/inputs/ipvs/input';
import { TestAccumulator } from '../test/support/accumulator';

function v4(a: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(a >>> 0, 0);
  return b;
}

async function load(services: number, dests: number): Promise<void> {
  const t0 = process.hrtime.bigint();
  const client = await IpvsClient.open({ sockets: 1 });
  const fam = client.familyId;
  // Messages without NLM_F_ACK, packed ~60 KB per datagram: the kernel runs
  // them one after another and only reports failures; a final ACKed request
  // fences the batch, and the counts are verified by a dump.
  const batch: Buffer[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const buf = Buffer.concat(batch, size);
    batch.length = 0;
    size = 0;
    client.sendUnacknowledged(buf);
  };
  const add = async (msg: Buffer): Promise<void> => {
    if (size + msg.length > 60000) await flush();
    batch.push(Buffer.from(msg));
    size += msg.length;
  };
  for (let s = 0; s < services; s++) {
    const key = { af: AF_INET, protocol: IPPROTO_TCP, addr: v4(0x0a600000 + s), port: 80, fwmark: 0 };
    await add(buildNewService(fam, { ...key, scheduler: 'wrr' }, false));
    for (let d = 0; d < dests; d++) {
      await add(buildNewDest(fam, key, { addr: v4(0x0a800000 + s * dests + d), port: 8080, weight: 1 + (d % 5), fwdMethod: IP_VS_CONN_F_MASQ }, false));
    }
  }
  await flush();
  await client.getInfo(); // fence: every earlier message was processed
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const table = await client.listAll();
  client.close();
  process.stdout.write(JSON.stringify({ services: table.length, dests: table.reduce((n, t) => n + t.destinations.length, 0), ms: Math.round(ms) }) + '\n');
}

/**
 * The metrics kept as the agent would buffer them. BENCH_KEEP=all keeps every
 * metric; otherwise a ring of the last 10,000, like an output buffer with
 * Telegraf's default metric_buffer_limit.
 */
function keepingAccumulator(): TestAccumulator {
  return new TestAccumulator({ time: 0n, keepLast: process.env.BENCH_KEEP === 'all' ? Infinity : 10000 });
}

async function gather(sockets: number, repeat: number): Promise<void> {
  const input = new IpvsInput({ connections: sockets });
  // Open the client outside the timing (process start-up and family lookup are not part of a gather).
  await (input as unknown as { openClient(): Promise<unknown> }).openClient();
  const times: number[] = [];
  let metrics = 0;
  let rss = 0;
  let heap = 0;
  for (let i = 0; i < repeat; i++) {
    const acc = keepingAccumulator();
    const t0 = process.hrtime.bigint();
    await input.gather(acc);
    times.push(Math.round(Number(process.hrtime.bigint() - t0) / 1e6));
    if (acc.errors.length) throw new Error(acc.errors.join('; '));
    metrics = acc.count;
    const mu = process.memoryUsage();
    rss = Math.max(rss, mu.rss);
    heap = Math.max(heap, mu.heapUsed);
  }
  input.stop();
  process.stdout.write(JSON.stringify({ sockets, metrics, times, rssMB: Math.round(rss / 1048576), heapMB: Math.round(heap / 1048576) }) + '\n');
}

/**
 * Gathers on demand: one gather per line read on stdin, one JSON line
 * {ms, metrics, rssMB, heapMB} per gather on stdout. Lets the bench alternate
 * ipvsadm runs and gathers of one warm process in the same time window.
 */
async function serve(sockets: number): Promise<void> {
  const input = new IpvsInput({ connections: sockets });
  await (input as unknown as { openClient(): Promise<unknown> }).openClient();
  const rl = (await import('node:readline')).createInterface({ input: process.stdin });
  for await (const _line of rl) {
    const acc = keepingAccumulator();
    const t0 = process.hrtime.bigint();
    await input.gather(acc);
    const ms = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
    const mu = process.memoryUsage();
    process.stdout.write(JSON.stringify({ ms, metrics: acc.count, errors: acc.errors.length, rssMB: Math.round(mu.rss / 1048576), heapMB: Math.round(mu.heapUsed / 1048576) }) + '\n');
  }
  input.stop();
}

/** Where the time goes: service dump, destination dumps (per pool size), metric building. */
async function profile(sockets: number): Promise<void> {
  const client = await IpvsClient.open({ sockets });
  const out: Record<string, number> = {};
  const time = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    const t0 = process.hrtime.bigint();
    await fn();
    out[name] = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (let i = 0; i < 2; i++) {
    await time(`services${i}`, () => client.listServices());
    await time(`all${i}`, () => client.listAll());
  }
  const svcs = await client.listServices();
  await time('destsSerial', async () => {
    for (const s of svcs) await client.listDestinations(s);
  });
  const ru = process.resourceUsage();
  client.close();
  process.stdout.write(JSON.stringify({ sockets, ...out, minorFaults: ru.minorPageFault, rssMB: Math.round(process.memoryUsage().rss / 1048576) }) + '\n');
}

const [cmd, a, b] = process.argv.slice(2);
const run = cmd === 'load' ? load(Number(a), Number(b)) : cmd === 'gather' ? gather(Number(a), Number(b ?? 1)) : cmd === 'profile' ? profile(Number(a ?? 1)) : cmd === 'serve' ? serve(Number(a ?? 1)) : undefined;
if (!run) process.stdout.write('usage: _ipvs-guest.js load SERVICES DESTS | gather SOCKETS [REPEAT] (inside a lab guest)\n');
else
  run.catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
