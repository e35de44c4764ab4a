/**
 * Netlink event reception: conntrack NEW events for N entries created by a
 * separate producer process (CT_NEW over ctnetlink, as fast as the kernel
 * takes them) in a throw-away namespace, received by `NetlinkSocket.subscribe`
 * (8 MiB SO_RCVBUFFORCE, batch receive, a lean decode of each event's ports)
 * beside the reference run `conntrack -E -e NEW --buffer-size 8388608` on the
 * same workload. Figures: events received, overruns, listener CPU time.
 * Needs root; prints a skip line otherwise.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AttributeDecoder } from '../core/netlink/attributes';
import { NETLINK_NETFILTER, NFGEN_HDRLEN, NLMSG_HDRLEN } from '../core/netlink/constants';
import { NetlinkSocket } from '../core/netlink/socket';
import { kernelTestBlocker, TestNetns } from '../test/support/kernel';

const N = Number(process.env.NETLINK_BENCH_EVENTS ?? 100_000);
const RCVBUF = 8 << 20;
const CLK_TCK = 100;

function producerScript(nsName: string): string {
  const dir = path.join(__dirname, '..', 'core', 'netlink');
  return `
    const nl = require(${JSON.stringify(path.join(dir, 'index.js'))});
    const tk = require(${JSON.stringify(path.join(__dirname, '..', 'test', 'support', 'kernel.js'))});
    (async () => {
      const s = nl.NetlinkSocket.open(nl.NETLINK_NETFILTER, { netns: ${JSON.stringify(nsName)} });
      const stats = () => new nl.MessageBuilder(0x0105, 0).nfgen(0).finish();
      for (let i = 0; i < ${N}; i++) {
        const h = i >> 14;
        s.send(tk.conntrackNewMessage({ src: '10.66.' + (h >> 8) + '.' + (h & 255), dst: '10.67.0.1', proto: 17, sport: 1024 + (i & 16383), dport: 53, timeout: 3600 }));
        if ((i & 4095) === 4095) await s.request(Buffer.from(stats()));
      }
      s.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
}


function runProducerAsync(nsName: string): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', producerScript(nsName)], { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve(Date.now() - t0) : reject(new Error('producer failed'))));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function ours(): Promise<{ events: number; overruns: number; cpuMs: number; batches: number; producerMs: number }> {
  const ns = TestNetns.create('lvsagent-bench-ev');
  try {
    const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: ns.name });
    let events = 0;
    let portSum = 0;
    const top = new AttributeDecoder(Buffer.alloc(0));
    const tuple = new AttributeDecoder(Buffer.alloc(0));
    const proto = new AttributeDecoder(Buffer.alloc(0));
    const sub = sock.subscribe(
      [1],
      (batch) => {
        batch.forEachMessage((buf, off, len) => {
          events++;
          top.reset(buf, off + NLMSG_HDRLEN + NFGEN_HDRLEN, off + len);
          while (top.next()) {
            if (top.type !== 1) continue;
            top.nested(tuple);
            while (tuple.next()) {
              if (tuple.type !== 2) continue;
              tuple.nested(proto);
              while (proto.next()) if (proto.type === 2) portSum += proto.be16();
            }
          }
        });
      },
      () => {},
      { rcvbuf: RCVBUF },
    );
    const cpu0 = process.cpuUsage();
    const producerMs = await runProducerAsync(ns.name);
    await sleep(300);
    const cpu = process.cpuUsage(cpu0);
    sub.close();
    if (events > 0 && portSum === 0) throw new Error('decode produced nothing');
    return { events, overruns: sub.stats.overruns, cpuMs: (cpu.user + cpu.system) / 1000, batches: sub.stats.batches, producerMs };
  } finally {
    ns.destroy();
  }
}

async function reference(): Promise<{ events: number; cpuMs: number; producerMs: number; warnings: number }> {
  const ns = TestNetns.create('lvsagent-bench-ev');
  try {
    const p = spawn('ip', ['netns', 'exec', ns.name, 'conntrack', '-E', '-e', 'NEW', '--buffer-size', String(RCVBUF)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    let warnings = 0;
    p.stdout.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    });
    p.stderr.on('data', (chunk: Buffer) => {
      warnings += (chunk.toString().match(/ENOBUFS/g) ?? []).length;
    });
    await sleep(300); // let it subscribe
    const producerMs = await runProducerAsync(ns.name);
    await sleep(300);
    const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime + stime
    p.kill();
    return { events: lines, cpuMs, producerMs, warnings };
  } finally {
    ns.destroy();
  }
}

async function main(): Promise<void> {
  const blocker = kernelTestBlocker(['ip', 'conntrack']);
  if (blocker) {
    console.log(`netlink-events: skipped (${blocker})`);
    return;
  }
  const a = await ours();
  const b = await reference();
  console.log(
    `netlink-events: ours: ${a.events}/${N} NEW events, ${a.overruns} overruns, listener CPU ${a.cpuMs.toFixed(0)} ms ` +
      `(${((a.cpuMs * 1000) / Math.max(1, a.events)).toFixed(2)} µs/event), ${a.batches} batches; producer ${a.producerMs} ms`,
  );
  console.log(
    `netlink-events: reference conntrack -E: ${b.events}/${N} events, ${b.warnings} ENOBUFS warnings, CPU ${b.cpuMs.toFixed(0)} ms ` +
      `(${((b.cpuMs * 1000) / Math.max(1, b.events)).toFixed(2)} µs/event); producer ${b.producerMs} ms`,
  );
  console.log(`netlink-events: CPU per event ratio ours/reference ${((a.cpuMs / Math.max(1, a.events)) / (b.cpuMs / Math.max(1, b.events))).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
