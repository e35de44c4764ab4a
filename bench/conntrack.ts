/**
 * inputs.conntrack benchmarks.
 *
 * 1. Table breakdown: 1,000,000 conntrack entries created with batched CT_NEW
 *    in a throw-away network namespace; a streaming dump aggregated on the fly
 *    (per protocol, TCP state, zone, mark and two subnets) in a fresh child
 *    process, beside `conntrack -L > /dev/null` on the same table in the same
 *    run. Targets: time ≤ 0.8× conntrack's, peak RSS < 150 MB. Needs root
 *    (prints a skip line otherwise). CONNTRACK_BENCH_ENTRIES overrides the size.
 * 2. Event decoding: captured event datagrams (core/conntrack/testdata/
 *    events.bin) replayed through the decoder and the per-service aggregator
 *    on one core. Target ≥ 100,000 events/s.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { sourcePath } from '../test/support/paths';
import { ConntrackClient } from '../core/conntrack/client';
import { decodeFlow, eventKind } from '../core/conntrack/decode';
import { CtFlow } from '../core/conntrack/types';
import { NLMSG_HDRLEN } from '../core/netlink/constants';
import { forEachMessage, type NlMsgHeader, newHeader } from '../core/netlink/message';
import { FlowAggregator } from '../plugins/inputs/conntrack/flows';
import { DEFAULT_BUCKETS } from '../plugins/inputs/conntrack/histogram';
import { ConntrackNamespace, conntrackTestBlocker } from '../test/support/inputs/conntrack/namespace';
import { TableAggregator } from '../plugins/inputs/conntrack/table';

const N = Number(process.env.CONNTRACK_BENCH_ENTRIES ?? 1_000_000);
const ROUNDS = 3;
const MAX_FILE = '/proc/sys/net/netfilter/nf_conntrack_max';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Child mode: one dump + aggregation; prints JSON with time and peak RSS. */
async function dumpChild(nsPath: string): Promise<void> {
  const client = ConntrackClient.open(nsPath);
  const table = new TableAggregator({ byMark: true, markMask: 0xffffffff, subnets: ['10.100.0.0/24', '10.0.0.0/8'] });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  table.begin();
  const r = await client.dumpTable({}, (f) => table.add(f), { timeoutMs: 120_000, parts: table.decodeParts });
  const rows = table.rows({});
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  client.close();
  process.stdout.write(JSON.stringify({ ms, userMs: cpu.user / 1000, sysMs: cpu.system / 1000, entries: table.seen, datagrams: r.datagrams, rows: rows.length, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

async function tableBench(): Promise<void> {
  const why = conntrackTestBlocker();
  if (why) {
    console.log(`table dump: skipped (${why})`);
    return;
  }
  const savedMax = fs.readFileSync(MAX_FILE, 'utf8').trim();
  if (Number(savedMax) < N + 50_000) fs.writeFileSync(MAX_FILE, String(N + 50_000));
  const ns = ConntrackNamespace.create('lvsctbench');
  try {
    const client = ConntrackClient.open(ns.path);
    const t0 = Date.now();
    const CHUNK = 20_000;
    for (let base = 0; base < N; base += CHUNK) {
      const entries = [];
      for (let i = base; i < Math.min(N, base + CHUNK); i++) {
        entries.push({
          src: 0x0a000000 + Math.floor(i / 60000) + 1,
          dst: 0x0a640000 + (i % 256),
          proto: i % 10 === 0 ? 17 : 6,
          sport: 1024 + (i % 60000),
          dport: i % 10 === 0 ? 53 : 80,
          timeout: 3600,
          tcpState: 1 + (i % 8),
          mark: i % 4,
        });
      }
      await client.createEntries(entries);
    }
    const count = (await client.stats()).entries ?? 0;
    client.close();
    const createS = (Date.now() - t0) / 1000;
    console.log(`created ${count} entries in ${createS.toFixed(1)} s (${Math.round(count / createS)}/s, batched CT_NEW)`);
    if (count < N * 0.99) throw new Error(`only ${count} of ${N} entries created`);

    const ours: Array<{ ms: number; userMs: number; sysMs: number; maxRssMB: number; entries: number }> = [];
    const theirs: number[] = [];
    const theirsCpu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const c = spawnSync(process.execPath, [__filename, '--dump', ns.path], { encoding: 'utf8' });
      if (c.status !== 0) throw new Error(`dump child failed: ${c.stderr}`);
      ours.push(JSON.parse(c.stdout.trim()));
      const t = process.hrtime.bigint();
      // bash's `times` prints the CPU time of its finished children (user, then sys, on the second line).
      const l = spawnSync('ip', ['netns', 'exec', ns.name, 'bash', '-c', 'conntrack -L > /dev/null 2>&1; times'], { encoding: 'utf8' });
      theirs.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (l.status !== 0) throw new Error('conntrack -L failed');
      const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(l.stdout.trim());
      if (m) theirsCpu.push((Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000);
    }
    const ourMs = median(ours.map((o) => o.ms));
    const refMs = median(theirs);
    const rss = Math.max(...ours.map((o) => o.maxRssMB));
    console.log(`table dump + aggregate of ${ours[0].entries} entries: ${(ourMs / 1000).toFixed(2)} s (median of ${ROUNDS}; runs ${ours.map((o) => (o.ms / 1000).toFixed(2)).join(', ')} s), peak RSS ${rss.toFixed(0)} MB`);
    console.log(`reference conntrack -L > /dev/null:  ${(refMs / 1000).toFixed(2)} s (median of ${ROUNDS}; runs ${theirs.map((t) => (t / 1000).toFixed(2)).join(', ')} s)`);
    const ourCpu = median(ours.map((o) => o.userMs + o.sysMs));
    const refCpu = theirsCpu.length ? median(theirsCpu) : NaN;
    console.log(`CPU time (user+sys, median): ours ${(ourCpu / 1000).toFixed(2)} s (user ${(median(ours.map((o) => o.userMs)) / 1000).toFixed(2)} s), conntrack -L ${(refCpu / 1000).toFixed(2)} s`);
    console.log(`ratio ours/reference: wall ${(ourMs / refMs).toFixed(2)}, CPU ${(ourCpu / refCpu).toFixed(2)} (target <= 0.8); RSS target < 150 MB: ${rss < 150 ? 'met' : 'MISSED'}`);
    console.log(`load average during the run: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  } finally {
    ns.destroy();
    fs.writeFileSync(MAX_FILE, savedMax);
  }
}

function eventBench(): void {
  const buf = fs.readFileSync(sourcePath(__dirname.replace(/bench$/, 'core/conntrack'), 'testdata', 'events.bin'));
  // One datagram per event, as the kernel sends them.
  const datagrams: Buffer[] = [];
  forEachMessage(buf, 0, buf.length, (b, off, len) => void datagrams.push(Buffer.from(b.subarray(off, off + len))));
  const agg = new FlowAggregator({
    serviceSubnets: ['127.0.0.0/8', '::1/128'],
    excludeSubnets: [],
    onlyDnat: false,
    buckets: DEFAULT_BUCKETS,
    maxFlows: 262144,
    maxServices: 10000,
    reset: false,
    expireNs: 0,
  });
  const flow = new CtFlow();
  const header: NlMsgHeader = newHeader();
  let decoded = 0;
  const decodeOnly = (b: Buffer, off: number, len: number, h: NlMsgHeader): void => {
    decodeFlow(b, off + NLMSG_HDRLEN, off + len, flow, eventKind(h.type, h.flags)!);
    decoded++;
  };
  const full = (b: Buffer, off: number, len: number, h: NlMsgHeader): void => {
    decodeFlow(b, off + NLMSG_HDRLEN, off + len, flow, eventKind(h.type, h.flags)!);
    agg.handle(flow, 1.7e18);
    decoded++;
  };
  const run = (fn: typeof full, total: number): number => {
    decoded = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < total; i++) {
      const d = datagrams[i % datagrams.length];
      forEachMessage(d, 0, d.length, fn, header);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return decoded / s;
  };
  run(full, 200_000); // warm-up
  const rDecode = run(decodeOnly, 2_000_000);
  const rFull = run(full, 2_000_000);
  console.log(`event decoding (${datagrams.length} captured event datagrams replayed): ${Math.round(rDecode).toLocaleString('en')} events/s decode only, ${Math.round(rFull).toLocaleString('en')} events/s decode + per-service aggregation (target >= 100,000/s)`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--dump') return dumpChild(process.argv[3]);
  eventBench();
  await tableBench();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
