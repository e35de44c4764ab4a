/**
 * Captures real ctnetlink datagrams into core/conntrack/testdata/ for the
 * decoder tests (run as root: `node dist/test/support/conntrack-capture.js`). Creates a
 * namespace, subscribes to events, makes one TCP/IPv4, one UDP/IPv4 and one
 * TCP/IPv6 flow, dumps the table (and records `conntrack -L` beside it),
 * reads the statistics, flushes the table (DESTROY events) and writes:
 *   events.bin, dump.bin, stats_cpu.bin, stats.bin  concatenated netlink messages
 *   capture.json                                   what was generated + `conntrack -L -o id` lines
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as C from '../../core/conntrack/constants';
import { buildDumpRequest, buildStatsCpuRequest, buildStatsRequest } from '../../core/conntrack/encode';
import { NETLINK_NETFILTER } from '../../core/netlink/constants';
import { NetlinkSocket } from '../../core/netlink/socket';
import { repoRoot } from './paths';

const NS = `ctcapture-${process.pid}`;
const ipns = (...args: string[]): string => execFileSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8' });

const CLIENT = `
const net = require('net'), dgram = require('dgram');
(async () => {
  for (const [host, port] of [['127.0.0.1', 8080], ['::1', 8086]]) {
    const srv = net.createServer((s) => s.pipe(s));
    await new Promise((r) => srv.listen(port, host, r));
    await new Promise((r) => { const c = net.connect(port, host, () => c.write(Buffer.alloc(100, 97)));
      let n = 0; c.on('data', (d) => { n += d.length; if (n >= 100) c.end(); }); c.on('close', r); });
    srv.close();
  }
  const u = dgram.createSocket('udp4'); u.on('message', (m, ri) => u.send(m, ri.port, ri.address));
  await new Promise((r) => u.bind(5353, '127.0.0.1', r));
  const c = dgram.createSocket('udp4');
  await new Promise((r) => { c.on('message', r); c.send(Buffer.alloc(40, 98), 5353, '127.0.0.1'); });
  c.close(); u.close();
})();
`;

async function main(): Promise<void> {
  const out = path.join(repoRoot, 'core', 'conntrack', 'testdata');
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    ipns('ip', 'link', 'set', 'lo', 'up');
    ipns('nft', 'add table inet t; add chain inet t c { type filter hook output priority 0; }; add rule inet t c ct state new accept');
    ipns('sh', '-c', 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct; echo 1 > /proc/sys/net/netfilter/nf_conntrack_timestamp');

    const events: Buffer[] = [];
    const ev = NetlinkSocket.open(NETLINK_NETFILTER, { netns: NS });
    const sub = ev.subscribe(
      [C.NFNLGRP_CONNTRACK_NEW, C.NFNLGRP_CONNTRACK_UPDATE, C.NFNLGRP_CONNTRACK_DESTROY],
      (b) => b.forEachMessage((buf, off, len) => void events.push(Buffer.from(buf.subarray(off, off + len)))),
      (e) => console.error('event error', e),
    );
    ipns(process.execPath, '-e', CLIENT);

    const req = NetlinkSocket.open(NETLINK_NETFILTER, { netns: NS });
    const dump: Buffer[] = [];
    await req.dump(buildDumpRequest(), (buf, off, len) => void dump.push(Buffer.from(buf.subarray(off, off + len))));
    const conntrackL = ipns('conntrack', '-L', '-o', 'id').split('\n').filter((l) => l.trim());
    const statsCpu: Buffer[] = [];
    await req.dump(buildStatsCpuRequest(), (buf, off, len) => void statsCpu.push(Buffer.from(buf.subarray(off, off + len))));
    const stats = (await req.request(buildStatsRequest())).map((m) => m.data);
    const conntrackS = ipns('conntrack', '-S').split('\n').filter((l) => l.trim());
    ipns('conntrack', '-F');
    await new Promise((r) => setTimeout(r, 300));
    sub.close();
    req.close();

    fs.writeFileSync(path.join(out, 'events.bin'), Buffer.concat(events));
    fs.writeFileSync(path.join(out, 'dump.bin'), Buffer.concat(dump));
    fs.writeFileSync(path.join(out, 'stats_cpu.bin'), Buffer.concat(statsCpu));
    fs.writeFileSync(path.join(out, 'stats.bin'), Buffer.concat(stats));
    fs.writeFileSync(
      path.join(out, 'capture.json'),
      JSON.stringify({ kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), tcpPort: 8080, tcp6Port: 8086, udpPort: 5353, tcpBytes: 100, udpBytes: 40, conntrackL, conntrackS }, null, 2) + '\n',
    );
    console.log(`captured ${events.length} event, ${dump.length} dump, ${statsCpu.length} stats messages into ${out}`);
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
