// NOTE: builders start with capacity >= the largest message: AttributeEncoder.u8/be16/be32 read `this.buf` before growing it.
/**
 * ctnetlink requests, built with the shared netlink `MessageBuilder`
 * (nlmsghdr + nfgenmsg + attributes). The socket sets the sequence number.
 */
import { MessageBuilder } from '../netlink/message';
import * as C from './constants';

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

export const DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP;
export const NEW_FLAGS = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;

/** Kernel-side dump filter. */
export interface CtDumpFilter {
  /** AF_INET (2) or AF_INET6 (10); 0/undefined = both. */
  family?: number;
  /** Only entries with `(mark & markMask) === mark` (markMask defaults to 0xffffffff). */
  mark?: number;
  markMask?: number;
  /** Only entries of this zone (kernel ≥ 6.8 filters it; older kernels ignore it, so re-check in user space). */
  zone?: number;
}

/** Table dump request (GET with NLM_F_DUMP), with optional kernel-side filters. */
export function buildDumpRequest(filter: CtDumpFilter = {}): Buffer {
  const m = new MessageBuilder(C.CT_TYPE_GET, DUMP_FLAGS, 256).nfgen(filter.family ?? C.AF_UNSPEC);
  if (filter.mark !== undefined) {
    m.be32(C.CTA_MARK, filter.mark);
    m.be32(C.CTA_MARK_MASK, filter.markMask ?? 0xffffffff);
  }
  if (filter.zone !== undefined) m.be16(C.CTA_ZONE, filter.zone);
  return Buffer.from(m.finish());
}

/** GET_STATS_CPU dump request: one reply per possible CPU, then DONE. */
export function buildStatsCpuRequest(): Buffer {
  return Buffer.from(new MessageBuilder(C.CT_TYPE_GET_STATS_CPU, DUMP_FLAGS, 32).nfgen(C.AF_UNSPEC).finish());
}

/**
 * GET_STATS request. The kernel answers with ONE message flagged NLM_F_MULTI
 * and no NLMSG_DONE; with NLM_F_ACK an acknowledgement follows, which is what
 * a reader should wait for.
 */
export function buildStatsRequest(): Buffer {
  return Buffer.from(new MessageBuilder(C.CT_TYPE_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, 32).nfgen(C.AF_UNSPEC).finish());
}

/** A synthetic IPv4 entry for tests and benchmarks (CT_NEW). */
export interface CtNewEntry {
  src: number;
  dst: number;
  proto: number;
  sport: number;
  dport: number;
  /** Seconds until expiry. */
  timeout: number;
  tcpState?: number;
  mark?: number;
  zone?: number;
}

/**
 * CT_NEW request (create + exclusive + ack) for a confirmed IPv4 entry whose
 * reply tuple mirrors the original. STATUS must include CONFIRMED or the
 * kernel answers EBUSY.
 */
export function buildNewEntry(e: CtNewEntry, ack = true): Buffer {
  const m = new MessageBuilder(C.CT_TYPE_NEW, ack ? NEW_FLAGS : NEW_FLAGS & ~NLM_F_ACK, 512).nfgen(C.AF_INET);
  const tuple = (type: number, src: number, dst: number, sport: number, dport: number): void => {
    const t = m.beginNested(type);
    const ip = m.beginNested(C.CTA_TUPLE_IP);
    m.be32(C.CTA_IP_V4_SRC, src).be32(C.CTA_IP_V4_DST, dst);
    m.endNested(ip);
    const p = m.beginNested(C.CTA_TUPLE_PROTO);
    m.u8(C.CTA_PROTO_NUM, e.proto).be16(C.CTA_PROTO_SRC_PORT, sport).be16(C.CTA_PROTO_DST_PORT, dport);
    m.endNested(p);
    m.endNested(t);
  };
  tuple(C.CTA_TUPLE_ORIG, e.src, e.dst, e.sport, e.dport);
  tuple(C.CTA_TUPLE_REPLY, e.dst, e.src, e.dport, e.sport);
  m.be32(C.CTA_STATUS, C.IPS_SEEN_REPLY | C.IPS_ASSURED | C.IPS_CONFIRMED);
  m.be32(C.CTA_TIMEOUT, e.timeout);
  if (e.mark !== undefined) m.be32(C.CTA_MARK, e.mark);
  if (e.zone !== undefined) m.be16(C.CTA_ZONE, e.zone);
  if (e.proto === C.IPPROTO_TCP) {
    const pi = m.beginNested(C.CTA_PROTOINFO);
    const tcp = m.beginNested(C.CTA_PROTOINFO_TCP);
    m.u8(C.CTA_PROTOINFO_TCP_STATE, e.tcpState ?? C.TCP_CONNTRACK_ESTABLISHED);
    m.endNested(tcp);
    m.endNested(pi);
  }
  return Buffer.from(m.finish());
}
