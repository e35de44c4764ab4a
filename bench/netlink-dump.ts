/**
 * Netlink dump speed: a ctnetlink dump of N conntrack entries in a throw-away
 * network namespace (entries fabricated with CT_NEW, no traffic), read with
 * `NetlinkSocket.dump` — counting only, and with a lean parse (orig tuple ports,
 * status, timeout) — beside the reference run `conntrack -L` in the same
 * namespace on the same entries. Also compares read-buffer sizes and the
 * event-loop yield interval. Needs root; prints a skip line otherwise.
 */
import { spawnSync } from 'node:child_process';
import { AttributeDecoder } from '../core/netlink/attributes';
import { NETLINK_NETFILTER, NFGEN_HDRLEN, NLM_F_DUMP, NLMSG_HDRLEN } from '../core/netlink/constants';
import { MessageBuilder } from '../core/netlink/message';
import { NetlinkSocket } from '../core/netlink/socket';
import { conntrackNewMessage, kernelTestBlocker, TestNetns } from '../test/support/kernel';

const N = Number(process.env.NETLINK_BENCH_ENTRIES ?? 200_000);
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function fill(sock: NetlinkSocket): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const host = i >> 14;
    sock.send(conntrackNewMessage({ src: `10.77.${host >> 8}.${host & 255}`, dst: '10.78.0.1', proto: 17, sport: 1024 + (i & 16383), dport: 53, timeout: 3600 }));
    // Let the kernel's error replies (if any) not pile up: drain cheaply now and then.
    if ((i & 4095) === 4095) await sock.request(new MessageBuilder(0x0105, 0).nfgen(0).finish());
  }
  return ms(t0);
}

const dumpMsg = (): Buffer => Buffer.from(new MessageBuilder(0x0101, NLM_F_DUMP).nfgen(2).finish());

async function countOnly(sock: NetlinkSocket, yieldEvery: number): Promise<[number, number]> {
  let n = 0;
  const t0 = process.hrtime.bigint();
  await sock.dump(dumpMsg(), () => void n++, { yieldEvery });
  return [ms(t0), n];
}

async function leanParse(sock: NetlinkSocket): Promise<[number, number]> {
  let n = 0;
  let checksum = 0;
  const top = new AttributeDecoder(Buffer.alloc(0));
  const tuple = new AttributeDecoder(Buffer.alloc(0));
  const proto = new AttributeDecoder(Buffer.alloc(0));
  const t0 = process.hrtime.bigint();
  await sock.dump(dumpMsg(), (buf, off, len) => {
    n++;
    top.reset(buf, off + NLMSG_HDRLEN + NFGEN_HDRLEN, off + len);
    while (top.next()) {
      switch (top.type) {
        case 1: // CTA_TUPLE_ORIG
          top.nested(tuple);
          while (tuple.next()) {
            if (tuple.type === 2) {
              tuple.nested(proto);
              while (proto.next()) if (proto.type === 2 || proto.type === 3) checksum += proto.be16();
            }
          }
          break;
        case 3: // CTA_STATUS
          checksum += top.be32() & 0xf;
          break;
        case 7: // CTA_TIMEOUT
          checksum += top.be32() & 1;
          break;
      }
    }
  });
  if (checksum === 0) throw new Error('parse produced nothing');
  return [ms(t0), n];
}

async function main(): Promise<void> {
  const blocker = kernelTestBlocker(['ip', 'conntrack']);
  if (blocker) {
    console.log(`netlink-dump: skipped (${blocker})`);
    return;
  }
  const ns = TestNetns.create('lvsagent-bench');
  try {
    const filler = NetlinkSocket.open(NETLINK_NETFILTER, { netns: ns.name });
    const fillMs = await fill(filler);
    filler.close();
    const count = Number(ns.exec('conntrack', ['-C']).trim());
    console.log(`netlink-dump: ${count} conntrack entries created in ${fillMs.toFixed(0)} ms (${Math.round(N / (fillMs / 1000))}/s) in netns ${ns.name}`);

    const results: Record<string, number> = {};
    for (const [label, size, yieldEvery] of [
      ['count, 64 KiB reads, yield/32', 65536, 32],
      ['count, 32 KiB reads, yield/32', 32768, 32],
      ['count, 64 KiB reads, no yield', 65536, 0],
    ] as const) {
      const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: ns.name, readBufferSize: size });
      const times: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const [t, n] = await countOnly(sock, yieldEvery);
        if (n !== count) throw new Error(`dump returned ${n} of ${count}`);
        times.push(t);
      }
      sock.close();
      results[label] = median(times);
    }
    const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: ns.name });
    const parseTimes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) parseTimes.push((await leanParse(sock))[0]);
    sock.close();
    results['lean parse, 64 KiB reads'] = median(parseTimes);

    const refTimes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      const p = spawnSync('ip', ['netns', 'exec', ns.name, 'conntrack', '-L'], { stdio: ['ignore', 'ignore', 'ignore'] });
      if (p.status !== 0) throw new Error('conntrack -L failed');
      refTimes.push(ms(t0));
    }
    const ref = median(refTimes);
    const rssMb = process.memoryUsage().rss / 1048576;
    for (const [label, t] of Object.entries(results)) {
      console.log(
        `netlink-dump: ${label}: ${t.toFixed(0)} ms for ${count} entries (${Math.round(count / (t / 1000))}/s)` +
          ` | reference conntrack -L: ${ref.toFixed(0)} ms | ratio ${(t / ref).toFixed(2)}`,
      );
    }
    console.log(`netlink-dump: RSS ${rssMb.toFixed(0)} MB after all runs (dumps are streamed, not buffered)`);
  } finally {
    ns.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
