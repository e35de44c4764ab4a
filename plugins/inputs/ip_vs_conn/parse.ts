/**
 * Streaming parser of /proc/net/ip_vs_conn (kernel `ip_vs_conn_seq_show()`).
 *
 *   Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
 *   TCP 0A0A0001 CCBC 0A0A0001 0050 0A0A0102 1F90 TIME_WAIT       116
 *   UDP 0A0A0006 0000 0A0A0006 13C4 0A0A0101 13C4 ASSURED          59 sip call-0@lab
 *
 * IPv4 addresses are `%08X` of the host-order value, IPv6 ones `%pI6` (eight
 * 4-digit groups, never compressed); ports `%04X`; Expires whole seconds. The
 * destination has its own family (an IPv4 service can tunnel to IPv6).
 *
 * The parser works on bytes: lines are found with indexOf(0x0a) in a chunk and
 * every field is decoded in place into one reusable `ConnRow`, handed to a
 * sink. Nothing per line is allocated except for the first malformed line of a
 * read, which is kept as text for the warning.
 */
import * as fs from 'node:fs';
import { S_ASSURED, stateCode } from './states';

/** One parsed row; the parser reuses a single instance, so sinks copy what they keep. */
export class ConnRow {
  /** IP protocol number (TCP 6, UDP 17, SCTP 132, IP 0 for fwmark templates, ...). */
  proto = 0;
  /** Family of the client and virtual addresses: 4 or 6. */
  af = 4;
  /** Address words, most significant first; an IPv4 address is in word 0. */
  readonly caddr = new Uint32Array(4);
  cport = 0;
  readonly vaddr = new Uint32Array(4);
  vport = 0;
  /** Family of the real server (destination) address. */
  daf = 4;
  readonly daddr = new Uint32Array(4);
  dport = 0;
  /** State code (states.ts); S_OTHER for names the kernel may print that we do not know. */
  state = 0;
  /** Seconds until the entry's timer fires. */
  expires = 0;
  /** Persistence template (client port 0, protocol IP, or state ASSURED), not a connection. */
  template = false;
  /** Row carried persistence-engine columns (PEName PEData). */
  pe = false;
}

export interface RowSink {
  row(r: ConnRow): void;
}

/** Hex digit value of each byte, -1 for non-hex bytes. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

const SP = 0x20;
const TAB = 0x09;
const NL = 0x0a;
const CR = 0x0d;

/** Longest text of a malformed line kept for the warning. */
const BAD_LINE_PREVIEW = 200;

export class ConnTableParser {
  /** Data rows decoded (templates included). */
  rows = 0;
  malformed = 0;
  /** 1-based line number and text of the first malformed line since reset(). */
  firstBadLineNo = 0;
  firstBadLine = '';
  /** Lines seen, header included. */
  lines = 0;

  private readonly r = new ConnRow();

  constructor(private readonly sink: RowSink) {}

  reset(): void {
    this.rows = 0;
    this.malformed = 0;
    this.firstBadLineNo = 0;
    this.firstBadLine = '';
    this.lines = 0;
  }

  /**
   * Parses the complete lines in `buf[start..end)` and returns the offset just
   * past the last newline (the caller keeps the rest for the next chunk).
   */
  feed(buf: Buffer, start: number, end: number): number {
    let s = start;
    for (;;) {
      const nl = buf.indexOf(NL, s);
      if (nl < 0 || nl >= end) return s;
      this.line(buf, s, nl);
      s = nl + 1;
    }
  }

  /** Parses one line without its newline. */
  line(buf: Uint8Array, start: number, end: number): void {
    this.lines++;
    if (end > start && buf[end - 1] === CR) end--;
    if (this.parseRow(buf, start, end)) {
      this.rows++;
      this.sink.row(this.r);
    }
  }

  /** Counts a line that cannot be a row (too long, ...) and remembers it when it is the first. */
  bad(buf: Uint8Array, start: number, end: number): void {
    this.malformed++;
    if (this.firstBadLineNo === 0) {
      this.firstBadLineNo = this.lines;
      this.firstBadLine = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, BAD_LINE_PREVIEW)).toString('latin1');
    }
  }

  /** Decodes a row into `this.r`. False for the header, blank lines and malformed lines (counted). */
  private parseRow(buf: Uint8Array, start: number, end: number): boolean {
    const r = this.r;
    // Hot path written out with a local cursor: the kernel prints fixed-width
    // hex fields separated by one space; anything else goes through the
    // general decoders below.
    let p = start;
    while (p < end && (buf[p] === SP || buf[p] === TAB)) p++;
    if (p >= end) return false; // blank line
    let q = p;
    while (q < end && buf[q] !== SP && buf[q] !== TAB) q++;
    const proto = protoNumber(buf, p, q);
    if (proto < 0) {
      // The header line starts with "Pro".
      if (!(q - p === 3 && buf[p] === 0x50 && buf[p + 1] === 0x72 && buf[p + 2] === 0x6f)) this.bad(buf, start, end);
      return false;
    }
    p = q;
    while (p < end && buf[p] === SP) p++;
    // client address and port
    let af = 4;
    let v = p + 8 < end && buf[p + 8] === SP ? hex8(buf, p) : -1;
    if (v >= 0) {
      r.caddr[0] = v;
      r.caddr[1] = r.caddr[2] = r.caddr[3] = 0;
      p += 9;
      while (p < end && buf[p] === SP) p++;
    } else {
      p = parseV6(buf, p, end, r.caddr);
      if (p < 0) return this.badRow(buf, start, end);
      af = 6;
    }
    const cport = p + 4 < end && buf[p + 4] === SP ? hex4(buf, p) : -1;
    if (cport < 0) return this.badRow(buf, start, end);
    p += 5;
    while (p < end && buf[p] === SP) p++;
    // virtual address (same family) and port
    if (af === 4) {
      v = p + 8 < end && buf[p + 8] === SP ? hex8(buf, p) : -1;
      if (v < 0) return this.badRow(buf, start, end);
      r.vaddr[0] = v;
      r.vaddr[1] = r.vaddr[2] = r.vaddr[3] = 0;
      p += 9;
      while (p < end && buf[p] === SP) p++;
    } else {
      p = parseV6(buf, p, end, r.vaddr);
      if (p < 0) return this.badRow(buf, start, end);
    }
    const vport = p + 4 < end && buf[p + 4] === SP ? hex4(buf, p) : -1;
    if (vport < 0) return this.badRow(buf, start, end);
    p += 5;
    while (p < end && buf[p] === SP) p++;
    // destination (its own family) and port
    let daf = 4;
    v = p + 8 < end && buf[p + 8] === SP ? hex8(buf, p) : -1;
    if (v >= 0) {
      r.daddr[0] = v;
      r.daddr[1] = r.daddr[2] = r.daddr[3] = 0;
      p += 9;
      while (p < end && buf[p] === SP) p++;
    } else {
      p = parseV6(buf, p, end, r.daddr);
      if (p < 0) return this.badRow(buf, start, end);
      daf = 6;
    }
    const dport = p + 4 < end && buf[p + 4] === SP ? hex4(buf, p) : -1;
    if (dport < 0) return this.badRow(buf, start, end);
    p += 5;
    while (p < end && buf[p] === SP) p++;
    // state, padded to 11
    q = p;
    while (q < end && buf[q] !== SP && buf[q] !== TAB) q++;
    if (q === p) return this.badRow(buf, start, end);
    const state = stateCode(buf, p, q);
    p = q;
    while (p < end && (buf[p] === SP || buf[p] === TAB)) p++;
    // expires, %7u
    const es = p;
    let expires = 0;
    while (p < end) {
      const c = buf[p];
      if (c < 0x30 || c > 0x39) break;
      expires = expires * 10 + (c - 0x30);
      p++;
    }
    if (p === es || p - es > 10 || (p < end && buf[p] !== SP && buf[p] !== TAB)) return this.badRow(buf, start, end);
    while (p < end && (buf[p] === SP || buf[p] === TAB)) p++;
    r.proto = proto;
    r.af = af;
    r.cport = cport;
    r.vport = vport;
    r.daf = daf;
    r.dport = dport;
    r.state = state;
    r.expires = expires;
    r.pe = p < end;
    r.template = cport === 0 || proto === 0 || state === S_ASSURED;
    return true;
  }

  private badRow(buf: Uint8Array, start: number, end: number): false {
    this.bad(buf, start, end);
    return false;
  }
}

/** Eight hex digits at p as an unsigned 32-bit value; -1 when one is not hex. */
function hex8(buf: Uint8Array, p: number): number {
  const a = HEX[buf[p]];
  const b = HEX[buf[p + 1]];
  const c = HEX[buf[p + 2]];
  const d = HEX[buf[p + 3]];
  const e = HEX[buf[p + 4]];
  const f = HEX[buf[p + 5]];
  const g = HEX[buf[p + 6]];
  const h = HEX[buf[p + 7]];
  if ((a | b | c | d | e | f | g | h) < 0) return -1;
  return ((a << 28) | (b << 24) | (c << 20) | (d << 16) | (e << 12) | (f << 8) | (g << 4) | h) >>> 0;
}

/** Four hex digits at p; -1 when one is not hex. */
function hex4(buf: Uint8Array, p: number): number {
  const a = HEX[buf[p]];
  const b = HEX[buf[p + 1]];
  const c = HEX[buf[p + 2]];
  const d = HEX[buf[p + 3]];
  if ((a | b | c | d) < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

/**
 * An IPv6 address at p (eight groups of 1-4 hex digits separated by ':', as
 * %pI6 prints them with 4) followed by a space; writes four words and returns
 * the position after the space, or -1.
 */
function parseV6(buf: Uint8Array, p: number, end: number, out: Uint32Array): number {
  // Fast path: %pI6 is always 39 characters, groups of 4 at fixed offsets.
  if (p + 39 < end && (buf[p + 39] === SP || buf[p + 39] === TAB)) {
    let ok = true;
    for (let w = 0; w < 4 && ok; w++) {
      const q = p + w * 10;
      const a = hex4(buf, q);
      const b = hex4(buf, q + 5);
      ok = a >= 0 && b >= 0 && buf[q + 4] === 0x3a && (w === 3 || buf[q + 9] === 0x3a);
      out[w] = ((a << 16) | b) >>> 0;
    }
    if (ok) {
      p += 40;
      while (p < end && buf[p] === SP) p++;
      return p;
    }
  }
  let group = 0;
  let digits = 0;
  let v = 0;
  let hi = 0;
  for (; p < end; p++) {
    const c = buf[p];
    if (c === SP || c === TAB) break;
    if (c === 0x3a) {
      if (digits === 0 || group === 7) return -1;
      if (group & 1) out[group >> 1] = ((hi << 16) | v) >>> 0;
      else hi = v;
      group++;
      digits = 0;
      v = 0;
      continue;
    }
    const d = HEX[c];
    if (d < 0 || digits === 4) return -1;
    v = (v << 4) | d;
    digits++;
  }
  if (group !== 7 || digits === 0 || p >= end) return -1;
  out[3] = ((hi << 16) | v) >>> 0;
  p++;
  while (p < end && buf[p] === SP) p++;
  return p;
}

/** IP protocol number of a kernel protocol name (`ip_vs_proto_name()`); -1 when not one. */
export function protoNumber(buf: Uint8Array, s: number, e: number): number {
  const len = e - s;
  const c0 = buf[s];
  if (len === 3) {
    if (c0 === 0x54 && buf[s + 1] === 0x43 && buf[s + 2] === 0x50) return 6; // TCP
    if (c0 === 0x55 && buf[s + 1] === 0x44 && buf[s + 2] === 0x50) return 17; // UDP
    return -1;
  }
  if (len === 4) {
    if (c0 === 0x53 && buf[s + 1] === 0x43 && buf[s + 2] === 0x54 && buf[s + 3] === 0x50) return 132; // SCTP
    if (c0 === 0x49 && buf[s + 1] === 0x43 && buf[s + 2] === 0x4d && buf[s + 3] === 0x50) return 1; // ICMP
    return -1;
  }
  if (len === 2) return c0 === 0x49 && buf[s + 1] === 0x50 ? 0 : -1; // IP
  if (len === 6 && Buffer.from(buf.buffer, buf.byteOffset + s, 6).toString('latin1') === 'ICMPv6') return 58;
  // IP_<n> for other protocols
  if (len >= 4 && len <= 6 && c0 === 0x49 && buf[s + 1] === 0x50 && buf[s + 2] === 0x5f) {
    let n = 0;
    for (let i = s + 3; i < e; i++) {
      const c = buf[i];
      if (c < 0x30 || c > 0x39) return -1;
      n = n * 10 + (c - 0x30);
    }
    return n <= 255 ? n : -1;
  }
  return -1;
}

export interface ReadOptions {
  /** Chunk size; 64 KiB by default. */
  chunkSize?: number;
  /** Yield to the event loop after this many chunks (async reads only). */
  yieldEvery?: number;
}

const DEFAULT_CHUNK = 64 * 1024;

/**
 * Feeds an open file to the parser chunk by chunk (synchronous; memory is one
 * chunk whatever the file size). A line longer than a chunk is counted as
 * malformed and skipped.
 */
export function readConnTableSync(fd: number, parser: ConnTableParser, opts: ReadOptions = {}): void {
  const reader = new ChunkReader(fd, parser, opts.chunkSize ?? DEFAULT_CHUNK);
  while (reader.step()) {
    /* keep reading */
  }
}

/** Same as readConnTableSync, yielding to the event loop every `yieldEvery` chunks (default 64 = 4 MiB). */
export async function readConnTable(fd: number, parser: ConnTableParser, opts: ReadOptions = {}): Promise<void> {
  const reader = new ChunkReader(fd, parser, opts.chunkSize ?? DEFAULT_CHUNK);
  const every = opts.yieldEvery ?? 64;
  let n = 0;
  while (reader.step()) {
    if (++n % every === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

class ChunkReader {
  private readonly buf: Buffer;
  private carry = 0;
  /** Inside an over-long line: drop bytes up to the next newline. */
  private skipping = false;

  constructor(
    private readonly fd: number,
    private readonly parser: ConnTableParser,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(256, size));
  }

  /** Reads and parses one chunk; false at end of file. */
  step(): boolean {
    const buf = this.buf;
    const n = fs.readSync(this.fd, buf, this.carry, buf.length - this.carry, null);
    if (n === 0) {
      // Last line without a newline.
      if (this.carry > 0 && !this.skipping) this.parser.line(buf, 0, this.carry);
      this.carry = 0;
      return false;
    }
    const end = this.carry + n;
    let start = 0;
    if (this.skipping) {
      const nl = buf.indexOf(NL, 0);
      if (nl < 0 || nl >= end) {
        this.carry = 0;
        return true;
      }
      start = nl + 1;
      this.skipping = false;
    }
    const used = this.parser.feed(buf, start, end);
    const rest = end - used;
    if (rest === buf.length) {
      // No newline in a whole chunk: not a line of this file.
      this.parser.lines++;
      this.parser.bad(buf, 0, rest);
      this.skipping = true;
      this.carry = 0;
      return true;
    }
    if (rest > 0) buf.copyWithin(0, used, end);
    this.carry = rest;
    return true;
  }
}
