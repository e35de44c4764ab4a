/**
 * Netlink message framing: `nlmsghdr` (16 bytes, host order: u32 length,
 * u16 type, u16 flags, u32 seq, u32 pid), the generic-netlink header
 * (`genlmsghdr`: u8 cmd, u8 version, u16 reserved) and the nfnetlink header
 * (`nfgenmsg`: u8 family, u8 version, be16 res_id).
 *
 * Building a request:
 *
 *     const msg = new MessageBuilder(familyId, NLM_F_REQUEST | NLM_F_DUMP)
 *       .genl(IPVS_CMD_GET_DEST, 1)
 *       .nest(IPVS_CMD_ATTR_SERVICE, (e) => e.u16(1, 2).u16(2, 6).bytes(3, addr).be16(4, 80))
 *       .finish();                  // length patched; seq is set by the socket
 *
 * Reading: `forEachMessage()` walks the messages of a datagram, handing out
 * (buf, offset, length, header) with ONE reused header object, valid only for
 * the duration of the callback. Attributes of a message start at
 * `offset + NLMSG_HDRLEN + <family header length>` and end at `offset + length`.
 */
import { AttributeEncoder, HOST_LE } from './attributes';
import {
  GENL_HDRLEN,
  NFGEN_HDRLEN,
  NLA_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_ALIGNTO,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from './constants';
import { NetlinkDecodeError } from './errors';

export interface NlMsgHeader {
  /** Total message length including the 16-byte header. */
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** Called per message; `header` is reused between calls, `buf` is reused after the batch/datagram. */
export type MessageHandler = (buf: Buffer, offset: number, length: number, header: NlMsgHeader) => void;

export function nlmsgAlign(n: number): number {
  return (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

export function newHeader(): NlMsgHeader {
  return { length: 0, type: 0, flags: 0, seq: 0, pid: 0 };
}

function rd32(buf: Buffer, off: number): number {
  return HOST_LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
function rd16(buf: Buffer, off: number): number {
  return HOST_LE ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}
function wr32(buf: Buffer, off: number, v: number): void {
  if (HOST_LE) buf.writeUInt32LE(v >>> 0, off);
  else buf.writeUInt32BE(v >>> 0, off);
}
function wr16(buf: Buffer, off: number, v: number): void {
  if (HOST_LE) buf.writeUInt16LE(v & 0xffff, off);
  else buf.writeUInt16BE(v & 0xffff, off);
}

/** Decodes the nlmsghdr at `off` into `into` (or a new object). Throws if fewer than 16 bytes remain. */
export function decodeHeader(buf: Buffer, off = 0, into: NlMsgHeader = newHeader()): NlMsgHeader {
  if (off < 0 || off + NLMSG_HDRLEN > buf.length) {
    throw new NetlinkDecodeError(`truncated netlink header at offset ${off} (${buf.length - off} bytes)`);
  }
  into.length = rd32(buf, off);
  into.type = rd16(buf, off + 4);
  into.flags = rd16(buf, off + 6);
  into.seq = rd32(buf, off + 8);
  into.pid = rd32(buf, off + 12);
  return into;
}

export function encodeHeader(buf: Buffer, off: number, h: NlMsgHeader): void {
  wr32(buf, off, h.length);
  wr16(buf, off + 4, h.type);
  wr16(buf, off + 6, h.flags);
  wr32(buf, off + 8, h.seq);
  wr32(buf, off + 12, h.pid);
}

/** Overwrites the seq (and pid) fields of an encoded message in place. */
export function setSequence(buf: Buffer, seq: number, pid = 0, off = 0): void {
  wr32(buf, off + 8, seq);
  wr32(buf, off + 12, pid);
}

/**
 * Walks the messages in `buf[start, end)`, calling `onMessage` for each.
 * Returns the number of messages. Throws NetlinkDecodeError when a length field
 * is smaller than a header or points past `end`.
 */
export function forEachMessage(
  buf: Buffer,
  start: number,
  end: number,
  onMessage: MessageHandler,
  header: NlMsgHeader = newHeader(),
): number {
  let off = start;
  let count = 0;
  while (end - off >= NLMSG_HDRLEN) {
    decodeHeader(buf, off, header);
    const len = header.length;
    if (len < NLMSG_HDRLEN || off + len > end) {
      throw new NetlinkDecodeError(`malformed netlink message at offset ${off}: length ${len}, ${end - off} bytes left`);
    }
    count++;
    onMessage(buf, off, len, header);
    off += nlmsgAlign(len);
  }
  return count;
}

/**
 * Builds one netlink message: the header is written by the constructor, family
 * headers and attributes follow, `finish()` patches the length.
 */
export class MessageBuilder extends AttributeEncoder {
  constructor(type: number, flags: number, initialCapacity = 256) {
    super(initialCapacity);
    const off = this.alloc(NLMSG_HDRLEN);
    wr16(this.buf, off + 4, type);
    wr16(this.buf, off + 6, flags);
  }

  /** Appends a genlmsghdr. */
  genl(cmd: number, version: number): this {
    const off = this.alloc(GENL_HDRLEN);
    this.buf[off] = cmd;
    this.buf[off + 1] = version;
    return this;
  }

  /** Appends an nfgenmsg (family: 0 unspec, 2 inet, 10 inet6). */
  nfgen(family: number, version = 0, resId = 0): this {
    const off = this.alloc(NFGEN_HDRLEN);
    this.buf[off] = family;
    this.buf[off + 1] = version;
    this.buf.writeUInt16BE(resId & 0xffff, off + 2);
    return this;
  }

  override finish(): Buffer {
    wr32(this.buf, 0, this.len);
    return this.buf.subarray(0, this.len);
  }
}

export interface GenlHeader {
  cmd: number;
  version: number;
}

export function decodeGenlHeader(buf: Buffer, msgOffset: number): GenlHeader {
  const off = msgOffset + NLMSG_HDRLEN;
  if (off + GENL_HDRLEN > buf.length) throw new NetlinkDecodeError('truncated genlmsghdr');
  return { cmd: buf[off], version: buf[off + 1] };
}

export interface NfgenHeader {
  family: number;
  version: number;
  /** CPU number in GET_STATS_CPU replies. */
  resId: number;
}

export function decodeNfgenHeader(buf: Buffer, msgOffset: number): NfgenHeader {
  const off = msgOffset + NLMSG_HDRLEN;
  if (off + NFGEN_HDRLEN > buf.length) throw new NetlinkDecodeError('truncated nfgenmsg');
  return { family: buf[off], version: buf[off + 1], resId: buf.readUInt16BE(off + 2) };
}

export interface ErrorPayload {
  /** Positive errno; 0 for an acknowledgement. */
  errno: number;
  /** Extended-ack message (NETLINK_EXT_ACK), if the kernel gave one. */
  message?: string;
  /** Extended-ack offset of the offending attribute in the request. */
  badAttributeOffset?: number;
}

/**
 * Decodes the payload of an NLMSG_ERROR message (s32 -errno, the request's
 * header [+ its payload unless NLM_F_CAPPED], then extended-ack TLVs when
 * NLM_F_ACK_TLVS is set).
 */
export function decodeErrorPayload(buf: Buffer, offset: number, length: number, flags: number): ErrorPayload {
  if (length < NLMSG_HDRLEN + 4) throw new NetlinkDecodeError('truncated NLMSG_ERROR payload');
  const code = HOST_LE ? buf.readInt32LE(offset + NLMSG_HDRLEN) : buf.readInt32BE(offset + NLMSG_HDRLEN);
  const result: ErrorPayload = { errno: code === 0 ? 0 : -code };
  if (flags & NLM_F_ACK_TLVS) {
    const inner = offset + NLMSG_HDRLEN + 4;
    const end = offset + length;
    if (inner + NLMSG_HDRLEN > end) return result;
    const innerLen = flags & NLM_F_CAPPED ? NLMSG_HDRLEN : rd32(buf, inner);
    let pos = inner + nlmsgAlign(innerLen);
    // Walk TLVs by hand: a bad TLV here must not hide the errno itself.
    while (end - pos >= NLA_HDRLEN) {
      const len = rd16(buf, pos);
      const type = rd16(buf, pos + 2) & 0x3fff;
      if (len < NLA_HDRLEN || pos + len > end) break;
      if (type === NLMSGERR_ATTR_MSG) {
        let nul = pos + NLA_HDRLEN;
        while (nul < pos + len && buf[nul] !== 0) nul++;
        result.message = buf.toString('utf8', pos + NLA_HDRLEN, nul);
      } else if (type === NLMSGERR_ATTR_OFFS && len >= NLA_HDRLEN + 4) {
        result.badAttributeOffset = rd32(buf, pos + NLA_HDRLEN);
      }
      pos += nlmsgAlign(len);
    }
  }
  return result;
}

/** The s32 error carried by NLMSG_DONE (0 for a clean end; older kernels may omit it). */
export function decodeDoneErrno(buf: Buffer, offset: number, length: number): number {
  if (length < NLMSG_HDRLEN + 4) return 0;
  const code = HOST_LE ? buf.readInt32LE(offset + NLMSG_HDRLEN) : buf.readInt32BE(offset + NLMSG_HDRLEN);
  return code < 0 ? -code : 0;
}
