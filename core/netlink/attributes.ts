/**
 * Netlink attribute (TLV) codec: `AttributeEncoder` builds attributes into a
 * growing Buffer; `AttributeDecoder` walks the attributes of a buffer range.
 *
 * Wire format (`struct nlattr`): u16 length (header included), u16 type whose
 * two top bits are the flags NLA_F_NESTED and NLA_F_NET_BYTEORDER; the payload
 * is padded to 4 bytes. "Host" order means the machine's native order (what
 * IPVS uses); "be" means big-endian network order (what ctnetlink uses for all
 * its integers).
 *
 * Decoder usage (no allocation per attribute; values are read on demand):
 *
 *     const d = new AttributeDecoder(buf, start, end);
 *     while (d.next()) {
 *       switch (d.type) {               // flags already masked off
 *         case 1: af = d.u16(); break;
 *         case 4: port = d.be16(); break;
 *         case 10: parseStats(d.nested()); break;
 *       }                                // unknown types are simply skipped
 *     }
 *
 * Malformed input (an attribute length < 4 or running past `end`, a value too
 * short for the accessor used) throws `NetlinkDecodeError` (code 'EBADMSG').
 * `bytes()` returns a view into the decoded buffer: copy it if you keep it past
 * the current callback, because receive buffers are reused.
 */
import { endianness } from 'node:os';
import { NLA_ALIGNTO, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from './constants';
import { NetlinkDecodeError } from './errors';

/** True on little-endian machines: selects the "host order" accessors. */
export const HOST_LE = endianness() === 'LE';

export function nlaAlign(n: number): number {
  return (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

const TWO32 = 0x100000000;

/**
 * Builds attributes (and, through `MessageBuilder` in message.ts, whole
 * messages) into a Buffer that grows by doubling. Methods chain.
 *
 * `finish()` returns a view of the internal buffer without copying: build the
 * next message with a new encoder or after `reset()` once the previous one was
 * sent.
 */
export class AttributeEncoder {
  protected buf: Buffer;
  protected len = 0;

  constructor(initialCapacity = 256) {
    // Not zeroed here: alloc() zeroes each region it hands out. Small requests come from
    // Node's shared pool instead of a fresh allocation (one per IPVS service per gather).
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Forgets everything written; keeps the allocated buffer. */
  reset(): this {
    this.len = 0;
    return this;
  }

  /** Reserves `n` zeroed bytes at the end and returns their offset. */
  protected alloc(n: number): number {
    const need = this.len + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    const off = this.len;
    this.buf.fill(0, off, need);
    this.len = need;
    return off;
  }

  /** Appends raw bytes (e.g. a family header), zero-padded to 4 bytes. */
  rawPadded(data: Uint8Array): this {
    const off = this.alloc(nlaAlign(data.length));
    this.buf.set(data, off);
    return this;
  }

  /** Writes an attribute header plus `payloadLen` bytes (padded) and returns the payload offset. */
  protected attr(type: number, payloadLen: number): number {
    const total = NLA_HDRLEN + payloadLen;
    if (total > 0xffff) throw new RangeError(`netlink attribute ${type} too long (${total} bytes)`);
    const off = this.alloc(nlaAlign(total));
    this.writeU16(off, total);
    this.writeU16(off + 2, type);
    return off + NLA_HDRLEN;
  }

  protected writeU16(off: number, v: number): void {
    if (HOST_LE) this.buf.writeUInt16LE(v, off);
    else this.buf.writeUInt16BE(v, off);
  }

  protected writeU32(off: number, v: number): void {
    if (HOST_LE) this.buf.writeUInt32LE(v >>> 0, off);
    else this.buf.writeUInt32BE(v >>> 0, off);
  }

  /** An attribute without payload (a boolean flag). */
  flag(type: number): this {
    this.attr(type, 0);
    return this;
  }

  bytes(type: number, data: Uint8Array): this {
    const off = this.attr(type, data.length);
    this.buf.set(data, off);
    return this;
  }

  /** `length` bytes of `src` from `start` (no view of them is made). */
  bytesFrom(type: number, src: Uint8Array, start: number, length: number): this {
    const off = this.attr(type, length);
    for (let i = 0; i < length; i++) this.buf[off + i] = src[start + i];
    return this;
  }

  /** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING as sent by C clients). */
  string(type: number, s: string): this {
    const n = Buffer.byteLength(s);
    const off = this.attr(type, n + 1);
    this.buf.write(s, off, n, 'utf8');
    return this;
  }

  u8(type: number, v: number): this {
    const off = this.attr(type, 1); // grows (replaces) this.buf: take the offset first
    this.buf.writeUInt8(v & 0xff, off);
    return this;
  }

  u16(type: number, v: number): this {
    this.writeU16(this.attr(type, 2), v & 0xffff);
    return this;
  }

  u32(type: number, v: number): this {
    this.writeU32(this.attr(type, 4), v);
    return this;
  }

  s32(type: number, v: number): this {
    const off = this.attr(type, 4);
    if (HOST_LE) this.buf.writeInt32LE(v | 0, off);
    else this.buf.writeInt32BE(v | 0, off);
    return this;
  }

  u64(type: number, v: number | bigint): this {
    const off = this.attr(type, 8);
    if (HOST_LE) this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), off);
    else this.buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), off);
    return this;
  }

  be16(type: number, v: number): this {
    const off = this.attr(type, 2);
    this.buf.writeUInt16BE(v & 0xffff, off);
    return this;
  }

  be32(type: number, v: number): this {
    const off = this.attr(type, 4);
    this.buf.writeUInt32BE(v >>> 0, off);
    return this;
  }

  be64(type: number, v: number | bigint): this {
    const off = this.attr(type, 8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), off);
    return this;
  }

  /**
   * Opens a nested attribute; close it with `endNested(token)`. The NLA_F_NESTED
   * flag is set unless `flagged` is false (old kernels ignore it; type masks drop it).
   */
  beginNested(type: number, flagged = true): number {
    const off = this.attr(type | (flagged ? NLA_F_NESTED : 0), 0);
    return off - NLA_HDRLEN;
  }

  endNested(token: number): this {
    const total = this.len - token;
    if (total > 0xffff) throw new RangeError(`nested netlink attribute too long (${total} bytes)`);
    this.writeU16(token, total);
    return this;
  }

  /** `nest(T, e => e.u16(1, af).be16(4, port))` */
  nest(type: number, build: (enc: this) => void, flagged = true): this {
    const token = this.beginNested(type, flagged);
    build(this);
    return this.endNested(token);
  }

  /** A view of the bytes written (not a copy). */
  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * Iterates the attributes in `buf[start, end)`. After `next()` returns true,
 * `type` (flags masked), `flags`, `offset`/`length` (the payload) describe the
 * current attribute. Reusable with `reset()`.
 */
export class AttributeDecoder {
  buf: Buffer;
  /** Attribute type with NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off. */
  type = 0;
  /** The flag bits of the current attribute's type field. */
  flags = 0;
  /** Payload offset in `buf`. */
  offset = 0;
  /** Payload length (without header or padding). */
  length = 0;
  private pos: number;
  private end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.check(start, end);
  }

  reset(buf: Buffer, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.type = this.flags = this.offset = this.length = 0;
    this.check(start, end);
    return this;
  }

  private check(start: number, end: number): void {
    if (start < 0 || end > this.buf.length || start > end) {
      throw new NetlinkDecodeError(`attribute range [${start}, ${end}) outside buffer of ${this.buf.length} bytes`);
    }
  }

  /** Advances to the next attribute; false at the end. Throws NetlinkDecodeError on a bad length. */
  next(): boolean {
    const pos = this.pos;
    // Fewer than a header's bytes left is trailing padding (the kernel tolerates it too).
    if (this.end - pos < NLA_HDRLEN) {
      this.pos = this.end;
      return false;
    }
    const buf = this.buf;
    const len = HOST_LE ? buf.readUInt16LE(pos) : buf.readUInt16BE(pos);
    const rawType = HOST_LE ? buf.readUInt16LE(pos + 2) : buf.readUInt16BE(pos + 2);
    if (len < NLA_HDRLEN || pos + len > this.end) {
      this.pos = this.end;
      throw new NetlinkDecodeError(
        `malformed netlink attribute type ${rawType & NLA_TYPE_MASK} at offset ${pos}: length ${len}, ${this.end - pos} bytes left`,
      );
    }
    this.type = rawType & NLA_TYPE_MASK;
    this.flags = rawType & (NLA_F_NESTED | NLA_F_NET_BYTEORDER);
    this.offset = pos + NLA_HDRLEN;
    this.length = len - NLA_HDRLEN;
    this.pos = Math.min(pos + nlaAlign(len), this.end);
    return true;
  }

  /** The NLA_F_NESTED flag (not every family sets it on nests). */
  get isNested(): boolean {
    return (this.flags & NLA_F_NESTED) !== 0;
  }

  get isNetByteOrder(): boolean {
    return (this.flags & NLA_F_NET_BYTEORDER) !== 0;
  }

  private need(n: number, what: string): void {
    if (this.length < n) {
      throw new NetlinkDecodeError(`netlink attribute type ${this.type}: ${this.length} bytes, too short for ${what}`);
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.offset];
  }

  u16(): number {
    this.need(2, 'u16');
    return HOST_LE ? this.buf.readUInt16LE(this.offset) : this.buf.readUInt16BE(this.offset);
  }

  u32(): number {
    this.need(4, 'u32');
    return HOST_LE ? this.buf.readUInt32LE(this.offset) : this.buf.readUInt32BE(this.offset);
  }

  s32(): number {
    this.need(4, 's32');
    return HOST_LE ? this.buf.readInt32LE(this.offset) : this.buf.readInt32BE(this.offset);
  }

  /** Host-order u64, exact. */
  u64(): bigint {
    this.need(8, 'u64');
    return HOST_LE ? this.buf.readBigUInt64LE(this.offset) : this.buf.readBigUInt64BE(this.offset);
  }

  /** Host-order u64 as a number: exact below 2^53, rounded above (no BigInt allocation). */
  u64Number(): number {
    this.need(8, 'u64');
    const b = this.buf;
    const o = this.offset;
    return HOST_LE
      ? b.readUInt32LE(o + 4) * TWO32 + b.readUInt32LE(o)
      : b.readUInt32BE(o) * TWO32 + b.readUInt32BE(o + 4);
  }

  be16(): number {
    this.need(2, 'be16');
    return this.buf.readUInt16BE(this.offset);
  }

  be32(): number {
    this.need(4, 'be32');
    return this.buf.readUInt32BE(this.offset);
  }

  /** Big-endian u64, exact. */
  be64(): bigint {
    this.need(8, 'be64');
    return this.buf.readBigUInt64BE(this.offset);
  }

  /** Big-endian u64 as a number: exact below 2^53 (no BigInt allocation). */
  be64Number(): number {
    this.need(8, 'be64');
    return this.buf.readUInt32BE(this.offset) * TWO32 + this.buf.readUInt32BE(this.offset + 4);
  }

  /** The payload as a string, up to the first NUL (absent NUL accepted). */
  string(): string {
    const b = this.buf;
    const start = this.offset;
    const stop = start + this.length;
    let nul = start;
    while (nul < stop && b[nul] !== 0) nul++;
    return b.toString('utf8', start, nul);
  }

  /** The payload as a view into the buffer (no copy). */
  bytes(): Buffer {
    return this.buf.subarray(this.offset, this.offset + this.length);
  }

  /** A decoder over the payload of the current (nested) attribute; pass `into` to reuse one. */
  nested(into?: AttributeDecoder): AttributeDecoder {
    return into
      ? into.reset(this.buf, this.offset, this.offset + this.length)
      : new AttributeDecoder(this.buf, this.offset, this.offset + this.length);
  }
}
