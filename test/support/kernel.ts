/**
 * Test helpers for code that needs the real kernel (shared by the netlink,
 * conntrack and IPVS tests): privilege checks that skip locally but fail under
 * CI=true, a throw-away network namespace, and conntrack entry fabrication
 * over ctnetlink (CT_NEW) so tests need no traffic generator.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { MessageBuilder } from '../../core/netlink/message';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../../core/netlink/constants';
import { skipOrFail } from './skip';

/** Minimal view of node:test's TestContext (keeps this module free of test-runner types). */
export interface SkippableContext {
  skip(message?: string): void;
}

/** Why kernel-backed tests cannot run here (not root, no tool), or undefined when they can. */
export function kernelTestBlocker(tools: readonly string[] = ['ip']): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN)';
  for (const tool of tools) {
    const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => fs.existsSync(`${d}/${tool}`));
    if (!found) return `needs the "${tool}" command`;
  }
  return undefined;
}

/** Skips the test with `reason` (or fails it under CI=true, see skip.ts). Returns true if skipped. */
export function skipUnlessPossible(t: SkippableContext, reason: string | undefined): boolean {
  if (reason === undefined) return false;
  skipOrFail(t, reason);
  return true;
}

/** A network namespace created with `ip netns add`, loopback up. Always `destroy()` it. */
export class TestNetns {
  readonly path: string;
  private destroyed = false;

  protected constructor(readonly name: string) {
    this.path = `/var/run/netns/${name}`;
  }

  static create(prefix = 'lvsagent-test'): TestNetns {
    return TestNetns.setUp(new TestNetns(netnsName(prefix)), () => {});
  }

  /** Adds the namespace, brings loopback up and runs `prepare` in it; destroys it again if any of that fails. */
  protected static setUp<T extends TestNetns>(ns: T, prepare: (ns: T) => void): T {
    execFileSync('ip', ['netns', 'add', ns.name], { stdio: 'pipe' });
    try {
      ns.exec('ip', ['link', 'set', 'lo', 'up']);
      prepare(ns);
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: string, args: readonly string[] = [], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { input, stdio: 'pipe', encoding: 'utf8' });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'pipe' });
    } catch {
      // already gone
    }
    if (fs.existsSync(this.path)) fs.rmSync(this.path, { force: true });
  }
}

/** A namespace name no other test run uses: `PREFIX-PID-RANDOM`. */
export function netnsName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

const IPCTNL_MSG_CT_NEW = 0;
const NFNL_SUBSYS_CTNETLINK = 1;
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_STATUS = 3;
const CTA_TIMEOUT = 7;
const CTA_MARK = 8;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;

export interface FakeFlow {
  src: string;
  dst: string;
  /** 6 TCP or 17 UDP. */
  proto: number;
  sport: number;
  dport: number;
  /** Seconds (default 600). */
  timeout?: number;
  mark?: number;
}

function ipv4(addr: string): Buffer {
  return Buffer.from(addr.split('.').map((p) => Number(p)));
}

/**
 * A ctnetlink CT_NEW request creating `flow` (IPv4), status
 * SEEN_REPLY|ASSURED|CONFIRMED. Send with `sock.request()` (ACKed) or
 * `sock.send()` for bulk creation without waiting.
 */
export function conntrackNewMessage(flow: FakeFlow): Buffer {
  const src = ipv4(flow.src);
  const dst = ipv4(flow.dst);
  const b = new MessageBuilder((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL)
    .nfgen(2)
    .nest(CTA_TUPLE_ORIG, (e) =>
      e
        .nest(CTA_TUPLE_IP, (f) => f.bytes(CTA_IP_V4_SRC, src).bytes(CTA_IP_V4_DST, dst))
        .nest(CTA_TUPLE_PROTO, (f) => f.u8(CTA_PROTO_NUM, flow.proto).be16(CTA_PROTO_SRC_PORT, flow.sport).be16(CTA_PROTO_DST_PORT, flow.dport)),
    )
    .nest(CTA_TUPLE_REPLY, (e) =>
      e
        .nest(CTA_TUPLE_IP, (f) => f.bytes(CTA_IP_V4_SRC, dst).bytes(CTA_IP_V4_DST, src))
        .nest(CTA_TUPLE_PROTO, (f) => f.u8(CTA_PROTO_NUM, flow.proto).be16(CTA_PROTO_SRC_PORT, flow.dport).be16(CTA_PROTO_DST_PORT, flow.sport)),
    )
    .be32(CTA_STATUS, 0x0e)
    .be32(CTA_TIMEOUT, flow.timeout ?? 600);
  if (flow.mark !== undefined) b.be32(CTA_MARK, flow.mark);
  return Buffer.from(b.finish());
}
