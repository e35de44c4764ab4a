/**
 * The byte writer under the serializer: integers four digits per 32-bit
 * store, plain ASCII four characters per store, and constant elements
 * (names, keys, the timestamp) copied from cached encodings as 8-byte words.
 */
import { CLASS } from './escape';

// Integers are written four digits per 32-bit store: DIGITS4[n] is "0000"…"9999"
// as a little-endian word, LEADING4[n] the digits of n without leading zeros
// (left-aligned; the bytes after them are overwritten by what follows) and
// LENGTH4[n] how many there are.
const DIGITS4 = new Uint32Array(10000);
const LEADING4 = new Uint32Array(10000);
const LENGTH4 = new Uint8Array(10000);
for (let n = 0; n < 10000; n++) {
  const d = [(n / 1000) | 0, ((n / 100) | 0) % 10, ((n / 10) | 0) % 10, n % 10].map((x) => 48 + x);
  DIGITS4[n] = (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
  const len = n >= 1000 ? 4 : n >= 100 ? 3 : n >= 10 ? 2 : 1;
  const lead = d.slice(4 - len);
  LEADING4[n] = lead.reduce((w, c, i) => w | (c << (8 * i)), 0) >>> 0;
  LENGTH4[n] = len;
}

/** 0 ≤ x < 10^8 (an int32), no leading zeros. Returns the position after the digits; may store up to 3 bytes beyond it. */
function writeBelow1e8(view: DataView, pos: number, x: number): number {
  if (x < 10000) {
    view.setUint32(pos, LEADING4[x], true);
    return pos + LENGTH4[x];
  }
  // Int32 division by a constant: the JIT turns it into a multiplication.
  const hi = (x / 10000) | 0;
  view.setUint32(pos, LEADING4[hi], true);
  pos += LENGTH4[hi];
  view.setUint32(pos, DIGITS4[x - hi * 10000], true);
  return pos + 4;
}

/**
 * An integral 0 ≤ v < 2^53, in int32 arithmetic after one split at 10^8. The
 * split multiplies by 10^-8 instead of dividing (several times slower) and
 * corrects the quotient by one where rounding moved it; `hi * 1e8` and
 * `v - hi * 1e8` are exact because both stay below 2^53.
 */
export function writeUnsigned(view: DataView, pos: number, v: number): number {
  if (v < 1e8) return writeBelow1e8(view, pos, v | 0);
  let hi = Math.floor(v * 1e-8);
  let lo = v - hi * 1e8;
  if (lo < 0) {
    hi -= 1;
    lo += 1e8;
  } else if (lo >= 1e8) {
    hi += 1;
    lo -= 1e8;
  }
  pos = writeBelow1e8(view, pos, hi | 0);
  const low = lo | 0;
  const mid = (low / 10000) | 0;
  view.setUint32(pos, DIGITS4[mid], true);
  view.setUint32(pos + 4, DIGITS4[low - mid * 10000], true);
  return pos + 8;
}

/**
 * Copies `s` when it is plain ASCII without characters of class `cls`, four
 * characters per 32-bit store. Returns the position after it, or -1 (and the
 * bytes written must be ignored) when `s` needs escaping or UTF-8 encoding.
 * The caller has reserved `s.length + 4` bytes.
 */
export function copyPlain(view: DataView, buf: Buffer, pos: number, s: string, cls: number): number {
  const len = s.length;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 128 || ((CLASS[c0] | CLASS[c1] | CLASS[c2] | CLASS[c3]) & cls) !== 0) return -1;
    view.setUint32(pos + i, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24), true);
  }
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (CLASS[c] & cls) !== 0) return -1;
    buf[pos + i] = c;
  }
  return pos + len;
}

/**
 * Encoded bytes of a constant element, zero-padded to whole 8-byte words
 * (at least four) and held as float64 words: one 8-byte store copies eight
 * bytes, and elements of up to 32 bytes (most keys) are copied by the same
 * four stores, without a loop or a branch on their length. No word is a NaN pattern (that needs a 0x7F or 0xFF
 * top byte after a byte of 0xF0 or more, which valid UTF-8 and zero padding
 * never have), so the bits survive a float64 load and store; `exact` checks it.
 */
export interface EncodedText {
  readonly words: Float64Array;
  readonly length: number;
  /** The words copy back to exactly these bytes (else copyEncoded stores bytes). */
  readonly exact: boolean;
  readonly bytes: Uint8Array;
}

/** How far past an element copyEncoded may store (zero padding that what follows overwrites). */
export const OVERSHOOT = 32;

export function encodeText(text: string): EncodedText {
  const bytes = Buffer.from(text, 'utf8');
  const words = new Float64Array(Math.max(4, Math.ceil(bytes.length / 8)));
  new Uint8Array(words.buffer).set(bytes);
  return { words, length: bytes.length, exact: noNaN(words, 0, words.length), bytes };
}

/** True when none of words[from, to) reads as NaN: every other float64 survives a load and a store bit for bit. */
export function noNaN(words: Float64Array, from: number, to: number): boolean {
  for (let j = from; j < to; j++) if (words[j] !== words[j]) return false;
  return true;
}

/** Copies an encoded element; may store up to OVERSHOOT bytes beyond it, which the caller has reserved. */
export function copyEncoded(view: DataView, pos: number, e: EncodedText): number {
  const w = e.words;
  const n = e.length;
  if (!e.exact) {
    for (let j = 0; j < n; j++) view.setUint8(pos + j, e.bytes[j]);
  } else if (n <= 32) {
    view.setFloat64(pos, w[0], true);
    view.setFloat64(pos + 8, w[1], true);
    view.setFloat64(pos + 16, w[2], true);
    view.setFloat64(pos + 24, w[3], true);
  } else {
    for (let j = 0; j < w.length; j++) view.setFloat64(pos + 8 * j, w[j], true);
  }
  return pos + n;
}

/**
 * Encodings of constant elements (measurement name, `,tagkey=`, `,fieldkey=`)
 * remembered by position: consecutive metrics of a measurement have the same
 * keys in the same positions, so a hit costs one string identity compare.
 * Metrics of two measurements in turn (a real server's ipvs_conn and
 * ipvs_conn_reuse) miss there and find the encoding in a map instead of
 * encoding it again.
 */
export class PositionalCache {
  private readonly texts: string[] = [];
  private readonly encoded: EncodedText[] = [];
  private readonly known = new Map<string, EncodedText>();

  constructor(private readonly encode: (text: string) => string) {}

  get(i: number, text: string): EncodedText {
    if (this.texts[i] === text) return this.encoded[i];
    let e = this.known.get(text);
    if (e === undefined) {
      // Keys are few; a flood of distinct ones (string tags of unfrozen sets) must not grow it without bound.
      if (this.known.size >= MAX_KNOWN_TEXTS) this.known.clear();
      e = encodeText(this.encode(text));
      this.known.set(text, e);
    }
    this.texts[i] = text;
    this.encoded[i] = e;
    return e;
  }
}

const MAX_KNOWN_TEXTS = 4096;
