/**
 * ctnetlink message decoders. Each takes the payload of one netlink message
 * (`buf[start, end)`, starting at the 4-byte nfgenmsg) and uses the shared
 * netlink `AttributeDecoder`. Flow decoding fills a caller-owned `CtFlow`
 * and allocates nothing (decoders are reused per nesting level), which keeps
 * million-entry dumps and event floods cheap.
 *
 * Malformed input throws `NetlinkDecodeError` (from the attribute decoder or
 * here); callers count it and move on to the next message.
 */
import { AttributeDecoder } from '../netlink/attributes';
import { NetlinkDecodeError } from '../netlink/errors';
import * as C from './constants';
import { CtFlow, CtMessageKind, type CtCpuStats, type CtGlobalStats, type CtTuple } from './types';

const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

/** Event kind of a ctnetlink message from its nlmsg type and flags; undefined for other messages. */
export function eventKind(type: number, flags: number): CtMessageKind | undefined {
  if (type === C.CT_TYPE_NEW) return flags & (NLM_F_CREATE | NLM_F_EXCL) ? CtMessageKind.New : CtMessageKind.Update;
  if (type === C.CT_TYPE_DELETE) return CtMessageKind.Destroy;
  return undefined;
}

// One decoder per nesting level, reused for every message (decoding is synchronous).
const EMPTY = Buffer.alloc(0);
const dTop = new AttributeDecoder(EMPTY);
const dTuple = new AttributeDecoder(EMPTY);
const dInner = new AttributeDecoder(EMPTY);
const dInfo = new AttributeDecoder(EMPTY);
const dInfoInner = new AttributeDecoder(EMPTY);

function checkHeader(buf: Buffer, start: number, end: number): void {
  if (end - start < C.NFGENMSG_LEN || end > buf.length) {
    throw new NetlinkDecodeError(`ctnetlink message too short (${end - start} bytes)`);
  }
}

/** Parts of a message `decodeFlow` decodes (bit mask); parts left out stay reset, saving work in big dumps. */
export const DECODE_REPLY = 0x1;
export const DECODE_ADDRESSES = 0x2;
export const DECODE_TIMESTAMPS = 0x4;
export const DECODE_ALL = DECODE_REPLY | DECODE_ADDRESSES | DECODE_TIMESTAMPS;

/** Decodes one entry/event message into `out` (reset first); `parts` selects optional parts (DECODE_*). */
export function decodeFlow(
  buf: Buffer,
  start: number,
  end: number,
  out: CtFlow,
  kind: CtMessageKind = CtMessageKind.Entry,
  parts = DECODE_ALL,
): CtFlow {
  const addresses = (parts & DECODE_ADDRESSES) !== 0;
  checkHeader(buf, start, end);
  out.reset();
  out.kind = kind;
  out.family = buf[start];
  const d = dTop.reset(buf, start + C.NFGENMSG_LEN, end);
  while (d.next()) {
    switch (d.type) {
      case C.CTA_TUPLE_ORIG:
        decodeTuple(d, out.orig, addresses);
        break;
      case C.CTA_TUPLE_REPLY:
        if (parts & DECODE_REPLY) decodeTuple(d, out.reply, addresses);
        break;
      case C.CTA_STATUS:
        out.status = d.be32();
        break;
      case C.CTA_MARK:
        out.mark = d.be32();
        break;
      case C.CTA_ZONE:
        out.zone = d.be16();
        break;
      case C.CTA_ID:
        out.id = d.be32();
        break;
      case C.CTA_TIMEOUT:
        out.timeout = d.be32();
        break;
      case C.CTA_PROTOINFO:
        decodeProtoinfo(d, out);
        break;
      case C.CTA_COUNTERS_ORIG:
      case C.CTA_COUNTERS_REPLY: {
        const orig = d.type === C.CTA_COUNTERS_ORIG;
        const n = d.nested(dTuple);
        out.hasCounters = true;
        while (n.next()) {
          if (n.type === C.CTA_COUNTERS_PACKETS) {
            if (orig) out.origPackets = n.be64Number();
            else out.replyPackets = n.be64Number();
          } else if (n.type === C.CTA_COUNTERS_BYTES) {
            if (orig) out.origBytes = n.be64Number();
            else out.replyBytes = n.be64Number();
          }
        }
        break;
      }
      case C.CTA_TIMESTAMP: {
        if ((parts & DECODE_TIMESTAMPS) === 0) break;
        const n = d.nested(dTuple);
        while (n.next()) {
          if (n.type === C.CTA_TIMESTAMP_START) out.startNs = n.be64Number();
          else if (n.type === C.CTA_TIMESTAMP_STOP) out.stopNs = n.be64Number();
        }
        break;
      }
      case C.CTA_TIMESTAMP_EVENT:
        if (parts & DECODE_TIMESTAMPS) out.eventNs = d.be64Number();
        break;
      default:
        break; // attributes we do not aggregate (help, NAT, seqadj, labels, ...)
    }
  }
  return out;
}

function decodeTuple(d: AttributeDecoder, t: CtTuple, addresses: boolean): void {
  const n = d.nested(dTuple);
  while (n.next()) {
    if (n.type === C.CTA_TUPLE_IP) {
      if (!addresses) continue;
      const ip = n.nested(dInner);
      while (ip.next()) {
        switch (ip.type) {
          case C.CTA_IP_V4_SRC:
            t.family = C.AF_INET;
            t.src4 = ip.be32();
            break;
          case C.CTA_IP_V4_DST:
            t.family = C.AF_INET;
            t.dst4 = ip.be32();
            break;
          case C.CTA_IP_V6_SRC:
          case C.CTA_IP_V6_DST:
            if (ip.length < 16) throw new NetlinkDecodeError(`CTA_IP_V6 attribute of ${ip.length} bytes`);
            t.family = C.AF_INET6;
            (ip.type === C.CTA_IP_V6_SRC ? t.src6 : t.dst6).set(ip.buf.subarray(ip.offset, ip.offset + 16));
            break;
        }
      }
    } else if (n.type === C.CTA_TUPLE_PROTO) {
      const p = n.nested(dInner);
      while (p.next()) {
        switch (p.type) {
          case C.CTA_PROTO_NUM:
            t.proto = p.u8();
            break;
          case C.CTA_PROTO_SRC_PORT:
            t.sport = p.be16();
            break;
          case C.CTA_PROTO_DST_PORT:
            t.dport = p.be16();
            break;
          case C.CTA_PROTO_ICMP_ID:
          case C.CTA_PROTO_ICMPV6_ID:
            t.icmpId = p.be16();
            break;
          case C.CTA_PROTO_ICMP_TYPE:
          case C.CTA_PROTO_ICMPV6_TYPE:
            t.icmpType = p.u8();
            break;
          case C.CTA_PROTO_ICMP_CODE:
          case C.CTA_PROTO_ICMPV6_CODE:
            t.icmpCode = p.u8();
            break;
        }
      }
    } else if (n.type === C.CTA_TUPLE_ZONE) {
      t.zone = n.be16();
    }
  }
}

function decodeProtoinfo(d: AttributeDecoder, out: CtFlow): void {
  const n = d.nested(dInfo);
  while (n.next()) {
    if (n.type === C.CTA_PROTOINFO_TCP || n.type === C.CTA_PROTOINFO_SCTP) {
      const tcp = n.type === C.CTA_PROTOINFO_TCP;
      const p = n.nested(dInfoInner);
      while (p.next()) {
        if (p.type === 1) {
          // CTA_PROTOINFO_TCP_STATE and CTA_PROTOINFO_SCTP_STATE are both 1 (u8); the rest is not needed.
          if (tcp) out.tcpState = p.u8();
          else out.sctpState = p.u8();
          break;
        }
      }
    }
  }
}

/** Kernel names of CTA_STATS_* indexed by attribute type (index 0 unused). */
export const CTA_STATS_NAMES: readonly string[] = [
  '',
  'searched',
  'found',
  'new',
  'invalid',
  'ignore',
  'delete',
  'delete_list',
  'insert',
  'insert_failed',
  'drop',
  'early_drop',
  'error',
  'search_restart',
  'clash_resolve',
  'chain_toolong',
];

/** Decodes one GET_STATS_CPU reply (type 0x0104); the CPU number is nfgenmsg.res_id. */
export function decodeCpuStats(buf: Buffer, start: number, end: number): CtCpuStats {
  checkHeader(buf, start, end);
  const cpu = buf.readUInt16BE(start + 2);
  const counters = new Map<string, number>();
  const d = dTop.reset(buf, start + C.NFGENMSG_LEN, end);
  while (d.next()) {
    const name = CTA_STATS_NAMES[d.type];
    if (name) counters.set(name, d.be32()); // types newer than this table are skipped
  }
  return { cpu, counters };
}

/** Decodes the GET_STATS reply (type 0x0105). */
export function decodeGlobalStats(buf: Buffer, start: number, end: number): CtGlobalStats {
  checkHeader(buf, start, end);
  const out: CtGlobalStats = {};
  const d = dTop.reset(buf, start + C.NFGENMSG_LEN, end);
  while (d.next()) {
    if (d.type === C.CTA_STATS_GLOBAL_ENTRIES) out.entries = d.be32();
    else if (d.type === C.CTA_STATS_GLOBAL_MAX_ENTRIES) out.maxEntries = d.be32();
  }
  return out;
}
