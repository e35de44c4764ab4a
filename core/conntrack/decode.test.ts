import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { sourcePath } from '../../test/support/paths';
import { NLMSG_HDRLEN } from '../netlink/constants';
import { NetlinkDecodeError } from '../netlink/errors';
import { forEachMessage } from '../netlink/message';
import * as C from './constants';
import { decodeCpuStats, decodeFlow, decodeGlobalStats, eventKind } from './decode';
import { CtFlow, CtMessageKind, ipv6String } from './types';

// Real datagrams captured by test/support/conntrack-capture.ts on the kernel named in capture.json.
const data = (f: string): Buffer => fs.readFileSync(sourcePath(__dirname, 'testdata', f));
const capture = JSON.parse(data('capture.json').toString('utf8')) as {
  tcpPort: number;
  tcp6Port: number;
  udpPort: number;
  conntrackL: string[];
  conntrackS: string[];
};

interface Msg {
  type: number;
  flags: number;
  buf: Buffer;
  off: number;
  len: number;
}
function messages(buf: Buffer): Msg[] {
  const out: Msg[] = [];
  forEachMessage(buf, 0, buf.length, (b, off, len, h) => void out.push({ type: h.type, flags: h.flags, buf: b, off, len }));
  return out;
}

/** `conntrack -L -o id` line → the values the decoder must reproduce. */
function parseLine(line: string) {
  const parts = line.trim().split(/\s+/);
  const kv: Record<string, string[]> = {};
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq > 0) (kv[p.slice(0, eq)] ??= []).push(p.slice(eq + 1));
  }
  const state = parts.find((p) => /^[A-Z_]+$/.test(p) && p !== parts[0]);
  return { proto: parts[0], kv, state, assured: line.includes('[ASSURED]') };
}

function decodeAll(buf: Buffer, kindOf: (m: Msg) => CtMessageKind): Array<Record<string, unknown>> {
  const f = new CtFlow();
  return messages(buf).map((m) => {
    decodeFlow(m.buf, m.off + NLMSG_HDRLEN, m.off + m.len, f, kindOf(m));
    return {
      kind: f.kind,
      id: f.id,
      family: f.family,
      proto: f.orig.proto,
      src: f.orig.srcString(),
      dst: f.orig.dstString(),
      sport: f.orig.sport,
      dport: f.orig.dport,
      rsrc: f.reply.srcString(),
      rsport: f.reply.sport,
      status: f.status,
      tcpState: f.tcpState,
      mark: f.mark,
      hasCounters: f.hasCounters,
      origPackets: f.origPackets,
      origBytes: f.origBytes,
      replyPackets: f.replyPackets,
      replyBytes: f.replyBytes,
      startNs: f.startNs,
      stopNs: f.stopNs,
      eventNs: f.eventNs,
    };
  });
}

describe('ctnetlink decoder on captured datagrams', () => {
  test('dump entries agree with conntrack -L of the same table', () => {
    const flows = decodeAll(data('dump.bin'), () => CtMessageKind.Entry);
    assert.equal(flows.length, capture.conntrackL.length);
    for (const line of capture.conntrackL) {
      const l = parseLine(line);
      const f = flows.find((x) => String(x.id) === l.kv.id[0]);
      assert.ok(f, `no decoded entry with id ${l.kv.id[0]}`);
      assert.equal(C.protocolName(f.proto as number), l.proto);
      assert.equal(f.src, l.kv.src[0]);
      assert.equal(f.dst, l.kv.dst[0]);
      assert.equal(String(f.sport), l.kv.sport[0]);
      assert.equal(String(f.dport), l.kv.dport[0]);
      assert.equal(f.rsrc, l.kv.src[1]);
      assert.equal(String(f.rsport), l.kv.sport[1]);
      assert.equal(String(f.origPackets), l.kv.packets[0]);
      assert.equal(String(f.origBytes), l.kv.bytes[0]);
      assert.equal(String(f.replyPackets), l.kv.packets[1]);
      assert.equal(String(f.replyBytes), l.kv.bytes[1]);
      assert.equal(String(f.mark), l.kv.mark[0]);
      assert.equal(((f.status as number) & C.IPS_ASSURED) !== 0, l.assured);
      if (l.proto === 'tcp') assert.equal(C.TCP_STATE_NAMES[f.tcpState as number], l.state);
      else assert.equal(f.tcpState, -1);
      assert.ok((f.startNs as number) > 1.5e18, 'start timestamp present');
    }
    assert.ok(flows.some((f) => f.family === C.AF_INET6 && f.dst === '::1' && f.dport === capture.tcp6Port));
  });

  test('events: NEW, UPDATEs and DESTROY per flow, DESTROY with counters and stop time', () => {
    const flows = decodeAll(data('events.bin'), (m) => eventKind(m.type, m.flags)!);
    const byId = new Map<number, Array<Record<string, unknown>>>();
    for (const f of flows) byId.set(f.id as number, [...(byId.get(f.id as number) ?? []), f]);
    assert.equal(byId.size, 3);
    for (const [, evs] of byId) {
      assert.equal(evs[0].kind, CtMessageKind.New);
      assert.equal(evs[evs.length - 1].kind, CtMessageKind.Destroy);
      assert.ok(evs.slice(1, -1).every((e) => e.kind === CtMessageKind.Update));
      const d = evs[evs.length - 1];
      assert.equal(d.hasCounters, true);
      assert.ok((d.stopNs as number) >= (d.startNs as number) && (d.startNs as number) > 1.5e18);
      assert.ok(((d.status as number) & C.IPS_SEEN_REPLY) !== 0);
      // Counters at DESTROY equal those listed before the flush (the flows were finished).
      const l = parseLine(capture.conntrackL.find((x) => x.includes(`sport=${d.sport} dport=${d.dport}`))!);
      assert.equal(String(d.origBytes), l.kv.bytes[0]);
      assert.equal(String(d.replyBytes), l.kv.bytes[1]);
      // Kernel event timestamps (≥ 6.14 with nf_conntrack_timestamp) never go backwards within a flow.
      const times = evs.map((e) => e.eventNs as number);
      if (times.every((t) => t > 0)) for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1]);
    }
    const tcp = [...byId.values()].find((e) => e[0].dport === capture.tcpPort)!;
    assert.ok(tcp.some((e) => e.tcpState === C.TCP_CONNTRACK_SYN_RECV), 'TCP flow passes SYN_RECV');
    assert.ok(tcp.some((e) => (e.tcpState as number) >= C.TCP_CONNTRACK_FIN_WAIT), 'TCP flow passes a closing state');
  });

  test('per-CPU and global statistics', () => {
    const cpus = messages(data('stats_cpu.bin')).map((m) => decodeCpuStats(m.buf, m.off + NLMSG_HDRLEN, m.off + m.len));
    assert.equal(cpus.length, capture.conntrackS.length);
    cpus.forEach((c, i) => {
      assert.equal(c.cpu, i);
      const line = capture.conntrackS[i];
      for (const m of line.matchAll(/(\w+)=(\d+)/g)) {
        if (m[1] === 'cpu') continue;
        const name = m[1] === 'chaintoolong' ? 'chain_toolong' : m[1];
        assert.equal(c.counters.get(name), Number(m[2]), `${name} of cpu ${i}`);
      }
    });
    const [g] = messages(data('stats.bin')).filter((m) => m.type === C.CT_TYPE_GET_STATS);
    const s = decodeGlobalStats(g.buf, g.off + NLMSG_HDRLEN, g.off + g.len);
    assert.equal(s.entries, capture.conntrackL.length);
    assert.ok((s.maxEntries ?? 0) > 0);
  });

  test('truncated or corrupted messages raise NetlinkDecodeError only', () => {
    const f = new CtFlow();
    const all = [...messages(data('events.bin')), ...messages(data('dump.bin'))];
    let rejected = 0;
    for (const m of all) {
      for (let cut = 0; cut < m.len - NLMSG_HDRLEN; cut += 3) {
        try {
          decodeFlow(m.buf, m.off + NLMSG_HDRLEN, m.off + NLMSG_HDRLEN + cut, f);
        } catch (err) {
          assert.ok(err instanceof NetlinkDecodeError, String(err));
          rejected++;
        }
      }
      const copy = Buffer.from(m.buf.subarray(m.off, m.off + m.len));
      for (let i = NLMSG_HDRLEN + 4; i < copy.length; i += 7) {
        const bad = Buffer.from(copy);
        bad[i] ^= 0xff;
        try {
          decodeFlow(bad, NLMSG_HDRLEN, bad.length, f);
        } catch (err) {
          assert.ok(err instanceof NetlinkDecodeError, String(err));
        }
      }
    }
    assert.ok(rejected > 0);
  });

  test('IPv6 text form', () => {
    const a = new Uint8Array(16);
    a[15] = 1;
    assert.equal(ipv6String(a), '::1');
    a[0] = 0xfd;
    assert.equal(ipv6String(a), 'fd00::1');
    const m = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    assert.equal(ipv6String(m), '10.0.0.1', 'IPv4-mapped prints dotted, as Go (and the ipvs tags)');
    const b = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(ipv6String(b), '2001:db8:0:1::1');
  });
});
