/**
 * Conntrack domain types. Flow records are mutable and reused: a decoder
 * fills the same record for every message so that dumps of a million entries
 * and event streams allocate nothing per flow. Copy what you keep.
 */
import { formatIPv4Word, formatIPv6Bytes } from '../net/ipaddr';
import { AF_INET6 } from './constants';

/** One direction of a conntrack entry (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY). */
export class CtTuple {
  /** AF_INET or AF_INET6 by the address attributes seen; 0 when none. */
  family = 0;
  /** IPv4 addresses as unsigned 32-bit numbers (network order value). */
  src4 = 0;
  dst4 = 0;
  /** IPv6 addresses (valid when family is AF_INET6). */
  readonly src6 = new Uint8Array(16);
  readonly dst6 = new Uint8Array(16);
  /** IP protocol number; 0 when absent. */
  proto = 0;
  /** Ports (TCP, UDP, SCTP, DCCP, UDP-Lite); 0 when absent. */
  sport = 0;
  dport = 0;
  /** ICMP/ICMPv6 id, type, code; -1 when absent. */
  icmpId = -1;
  icmpType = -1;
  icmpCode = -1;
  /** Directional zone (CTA_TUPLE_ZONE); -1 when absent. */
  zone = -1;

  reset(): void {
    this.family = 0;
    this.src4 = this.dst4 = 0;
    this.proto = this.sport = this.dport = 0;
    this.icmpId = this.icmpType = this.icmpCode = -1;
    this.zone = -1;
  }

  srcString(): string {
    return this.family === AF_INET6 ? ipv6String(this.src6) : ipv4String(this.src4);
  }

  dstString(): string {
    return this.family === AF_INET6 ? ipv6String(this.dst6) : ipv4String(this.dst4);
  }

  /** Copies another tuple's values into this one. */
  copyFrom(t: CtTuple): void {
    this.family = t.family;
    this.src4 = t.src4;
    this.dst4 = t.dst4;
    this.src6.set(t.src6);
    this.dst6.set(t.dst6);
    this.proto = t.proto;
    this.sport = t.sport;
    this.dport = t.dport;
    this.icmpId = t.icmpId;
    this.icmpType = t.icmpType;
    this.icmpCode = t.icmpCode;
    this.zone = t.zone;
  }
}

/** What a conntrack message is: a dump entry, or one of the three event kinds. */
export const enum CtMessageKind {
  Entry = 0,
  New = 1,
  Update = 2,
  Destroy = 3,
}

/** One conntrack entry or event, as decoded from a ctnetlink message. */
export class CtFlow {
  kind: CtMessageKind = CtMessageKind.Entry;
  /** nfgenmsg family (AF_INET / AF_INET6). */
  family = 0;
  readonly orig = new CtTuple();
  readonly reply = new CtTuple();
  /** IPS_* bits; 0 when absent. */
  status = 0;
  mark = 0;
  /** CTA_ZONE (0 when absent: the kernel omits the default zone). */
  zone = 0;
  /** Conntrack id (CTA_ID); -1 when absent. */
  id = -1;
  /** Seconds until expiry (CTA_TIMEOUT); -1 when absent. */
  timeout = -1;
  /** TCP state (TCP_CONNTRACK_*); -1 when not TCP or absent. */
  tcpState = -1;
  /** SCTP state; -1 when absent. */
  sctpState = -1;
  /** True when CTA_COUNTERS_* were present (nf_conntrack_acct was on at creation). */
  hasCounters = false;
  origPackets = 0;
  origBytes = 0;
  replyPackets = 0;
  replyBytes = 0;
  /**
   * Kernel timestamps in ns since the epoch (CLOCK_REALTIME) as doubles: a
   * double near 1.7e18 resolves 256 ns, ample for latencies in µs. 0 = absent.
   */
  startNs = 0;
  stopNs = 0;
  /** CTA_TIMESTAMP_EVENT (kernel ≥ 6.14 with nf_conntrack_timestamp=1); 0 = absent. */
  eventNs = 0;

  reset(): void {
    this.kind = CtMessageKind.Entry;
    this.family = 0;
    this.orig.reset();
    this.reply.reset();
    this.status = this.mark = this.zone = 0;
    this.id = this.timeout = this.tcpState = this.sctpState = -1;
    this.hasCounters = false;
    this.origPackets = this.origBytes = this.replyPackets = this.replyBytes = 0;
    this.startNs = this.stopNs = this.eventNs = 0;
  }
}

/** Per-CPU statistics (GET_STATS_CPU), under the kernel's CTA_STATS_* names. */
export interface CtCpuStats {
  cpu: number;
  /** e.g. `found`, `invalid`, `insert`, `error`, `clash_resolve`; only those the kernel sent. */
  counters: Map<string, number>;
}

/** Global statistics (GET_STATS). */
export interface CtGlobalStats {
  entries?: number;
  maxEntries?: number;
}

/** Address text as Go's net.IP.String() (the form of every plugin's address tags). */
export const ipv4String = formatIPv4Word;
export const ipv6String = (b: Uint8Array): string => formatIPv6Bytes(b, 0);
