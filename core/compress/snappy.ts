/**
 * Snappy compression in the block format (not the framed one), as Prometheus
 * remote write requires. The encoder follows the reference algorithm (Go's
 * github.com/golang/snappy encodeBlock): 64 KiB blocks, a hash table of
 * 4-byte sequences, lookups that skip ahead faster the longer no match is
 * found, and copies with 1- or 2-byte offsets. Its output decodes with any
 * snappy implementation; the bytes are not necessarily those of another
 * encoder (the format leaves the choice of matches open).
 *
 * Hand-written rather than a dependency: see docs/design/remote-write.md
 * for the measurement against the native `snappy` module and `snappyjs`.
 */

const MAX_BLOCK_SIZE = 65536;
const MAX_TABLE_SIZE = 1 << 14;
const TABLE_MASK = MAX_TABLE_SIZE - 1;
/** Bytes at the end of a block never looked up (loads read ahead). */
const INPUT_MARGIN = 16 - 1;
/** Blocks shorter than this are emitted as one literal. */
const MIN_NON_LITERAL_BLOCK_SIZE = 1 + 1 + INPUT_MARGIN;

/** The largest compressed size of `n` bytes (Go's MaxEncodedLen). */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

function hash(u: number, shift: number): number {
  return Math.imul(u, 0x1e35a7bd) >>> shift;
}

export class SnappyEncoder {
  private readonly table = new Uint16Array(MAX_TABLE_SIZE);

  /** `src` compressed into a new Buffer. */
  compress(src: Uint8Array): Buffer {
    const dst = Buffer.allocUnsafe(maxCompressedLength(src.length));
    const n = this.compressInto(src, dst);
    return dst.subarray(0, n);
  }

  /** Compresses `src` into `dst` (at least maxCompressedLength(src.length) bytes); returns the length written. */
  compressInto(src: Uint8Array, dst: Uint8Array): number {
    // Preamble: the uncompressed length as a varint.
    let d = 0;
    let n = src.length;
    while (n >= 0x80) {
      dst[d++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    dst[d++] = n;
    for (let p = 0; p < src.length; p += MAX_BLOCK_SIZE) {
      const end = Math.min(p + MAX_BLOCK_SIZE, src.length);
      if (end - p < MIN_NON_LITERAL_BLOCK_SIZE) d = emitLiteral(dst, d, src, p, end);
      else d = this.encodeBlock(dst, d, src, p, end);
    }
    return d;
  }

  /** One block [start, end) of `src`; table entries are offsets from `start`. */
  private encodeBlock(dst: Uint8Array, d: number, src: Uint8Array, start: number, end: number): number {
    // Unaligned little-endian 32-bit loads: one DataView read instead of four byte loads and shifts.
    const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const len = end - start;
    let shift = 32 - 8;
    for (let size = 1 << 8; size < MAX_TABLE_SIZE && size < len; size *= 2) shift--;
    const table = this.table;
    table.fill(0);
    const sLimit = end - INPUT_MARGIN;
    let nextEmit = start;
    let s = start + 1;
    let nextHash = hash(view.getUint32(s, true), shift);
    for (;;) {
      let skip = 32;
      let nextS = s;
      let candidate = 0;
      for (;;) {
        s = nextS;
        const step = skip >> 5;
        nextS = s + step;
        skip += step;
        if (nextS > sLimit) return nextEmit < end ? emitLiteral(dst, d, src, nextEmit, end) : d;
        candidate = start + table[nextHash & TABLE_MASK];
        table[nextHash & TABLE_MASK] = s - start;
        nextHash = hash(view.getUint32(nextS, true), shift);
        if (view.getUint32(s, true) === view.getUint32(candidate, true)) break;
      }
      d = emitLiteral(dst, d, src, nextEmit, s);
      for (;;) {
        // Extend the match as far as it goes.
        const base = s;
        s += 4;
        let i = candidate + 4;
        while (s + 4 <= end && view.getUint32(i, true) === view.getUint32(s, true)) {
          i += 4;
          s += 4;
        }
        while (s < end && src[i] === src[s]) {
          i++;
          s++;
        }
        d = emitCopy(dst, d, base - candidate, s - base);
        nextEmit = s;
        if (s >= sLimit) return nextEmit < end ? emitLiteral(dst, d, src, nextEmit, end) : d;
        // Index the positions just before s and at s; try a match at s right away.
        const prev = view.getUint32(s - 1, true);
        table[hash(prev, shift) & TABLE_MASK] = s - 1 - start;
        const cur = view.getUint32(s, true);
        const h = hash(cur, shift) & TABLE_MASK;
        candidate = start + table[h];
        table[h] = s - start;
        if (cur !== view.getUint32(candidate, true)) {
          nextHash = hash(view.getUint32(s + 1, true), shift);
          s++;
          break;
        }
      }
    }
  }
}

function emitLiteral(dst: Uint8Array, d: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from - 1;
  if (n < 0) return d;
  if (n < 60) dst[d++] = n << 2;
  else if (n < 1 << 8) {
    dst[d++] = 60 << 2;
    dst[d++] = n;
  } else if (n < 1 << 16) {
    dst[d++] = 61 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = n >>> 8;
  } else if (n < 1 << 24) {
    dst[d++] = 62 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = (n >>> 8) & 0xff;
    dst[d++] = n >>> 16;
  } else {
    dst[d++] = 63 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = (n >>> 8) & 0xff;
    dst[d++] = (n >>> 16) & 0xff;
    dst[d++] = n >>> 24;
  }
  if (to - from < 16) {
    for (let i = from; i < to; i++) dst[d++] = src[i];
    return d;
  }
  dst.set(src.subarray(from, to), d);
  return d + (to - from);
}

/** A copy of `length` bytes from `offset` back (offset < 65536 within a block). */
function emitCopy(dst: Uint8Array, d: number, offset: number, length: number): number {
  while (length >= 68) {
    dst[d++] = 2 | (63 << 2);
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 64;
  }
  if (length > 64) {
    dst[d++] = 2 | (59 << 2);
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) {
    dst[d++] = 2 | ((length - 1) << 2);
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    return d;
  }
  dst[d++] = 1 | ((offset >>> 8) << 5) | ((length - 4) << 2);
  dst[d++] = offset & 0xff;
  return d;
}
