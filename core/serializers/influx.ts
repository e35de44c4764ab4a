/**
 * InfluxDB line-protocol serializer, following Telegraf's `influx` serializer:
 * per-element escaping, tags sorted, empty/trailing-backslash tag handling,
 * `i`/`u` integers with uint clipping, floats in shortest round-trip form
 * without exponent, NaN/Inf fields dropped, metrics without fields skipped,
 * `influx_sort_fields`, `influx_max_line_bytes`, `influx_omit_timestamp`.
 *
 * The hot path writes bytes straight into the Buffer an output sends: constant
 * elements and frozen tag sets are copied from cached encodings, integers are
 * written four digits at a time, and other text is checked four characters at
 * a time before it is escaped (see docs/design/agent.md).
 */
import { FieldType, type Field, type FieldSchema, type FieldValue, type Metric, type TagSet } from '../metric';

export interface InfluxSerializerOptions {
  uintSupport?: boolean;
  sortFields?: boolean;
  maxLineBytes?: number;
  omitTimestamp?: boolean;
  /** Text written before every line (`--test` prints `> ` as Telegraf does). */
  linePrefix?: string;
  /** Recycled batch Buffers kept for reuse (default 2: one being sent, one being prepared). */
  spareBuffers?: number;
}

/** The `influx_*` options of every output that writes line protocol, as Telegraf names them. */
export interface LineProtocolOptions {
  influx_uint_support: boolean;
  influx_omit_timestamp: boolean;
  influx_sort_fields: boolean;
  influx_max_line_bytes: number;
}

/** Serializer settings from the `influx_*` options. */
export function serializerOptions(o: LineProtocolOptions): InfluxSerializerOptions {
  return {
    uintSupport: o.influx_uint_support,
    sortFields: o.influx_sort_fields,
    maxLineBytes: o.influx_max_line_bytes,
    omitTimestamp: o.influx_omit_timestamp,
  };
}

export class MetricSerializeError extends Error {
  constructor(readonly series: string, readonly reason: string) {
    super(series ? `${JSON.stringify(series)}: ${reason}` : reason);
    this.name = 'MetricSerializeError';
  }
}

const NEEDS_ESCAPE = /[\t\n\f\r ,=]/;
const NAME_NEEDS_ESCAPE = /[\t\n\f\r ,]/;
const STRING_NEEDS_ESCAPE = /["\\]/;
const INT64_MAX = 9223372036854775807n;
const INT64_MAX_STR = '9223372036854775807';

function escapeChar(c: string, withEquals: boolean): string {
  switch (c) {
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    case '\f':
      return '\\f';
    case '\r':
      return '\\r';
    case ',':
      return '\\,';
    case ' ':
      return '\\ ';
    case '=':
      return withEquals ? '\\=' : '=';
    default:
      return c;
  }
}

export function escapeKey(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\t\n\f\r ,=]/g, (c) => escapeChar(c, true)) : s;
}

export function escapeName(s: string): string {
  return NAME_NEEDS_ESCAPE.test(s) ? s.replace(/[\t\n\f\r ,]/g, (c) => escapeChar(c, false)) : s;
}

export function escapeStringValue(s: string): string {
  return STRING_NEEDS_ESCAPE.test(s) ? s.replace(/["\\]/g, (c) => '\\' + c) : s;
}

/** True when a tag key/value or field key needs escaping (tab, LF, FF, CR, space, comma, equals). */
function needsKeyEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 61 && (c === 32 || c === 44 || c === 61 || c === 9 || c === 10 || c === 12 || c === 13)) return true;
  }
  return false;
}

function trimTrailingBackslashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 92) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloat(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.charCodeAt(0) === 45;
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const pointPos = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (pointPos <= 0) out = '0.' + '0'.repeat(-pointPos) + digits;
  else if (pointPos >= digits.length) out = digits + '0'.repeat(pointPos - digits.length);
  else out = digits.slice(0, pointPos) + '.' + digits.slice(pointPos);
  return neg ? '-' + out : out;
}

const ZEROS = '000000000';

/**
 * Decimal text of an integral number. V8 converts numbers beyond the 31-bit
 * small-integer range through its generic double-to-string path (~150 ns);
 * splitting into two small integers is several times faster, and 64-bit
 * counters are mostly that large.
 */
export function formatInteger(v: number): string {
  if (v < 2147483648 && v > -2147483649) return '' + v;
  if (v < 0) return '-' + formatInteger(-v);
  if (v > Number.MAX_SAFE_INTEGER) return BigInt(v).toString();
  const hi = Math.floor(v / 1e9);
  const lo = '' + (v - hi * 1e9);
  return (hi < 2147483648 ? '' + hi : formatInteger(hi)) + ZEROS.slice(lo.length) + lo;
}

/** Formats one field value; undefined when the field cannot be serialized (NaN, Inf). */
export function formatFieldValue(f: Field, uintSupport: boolean): string | undefined {
  const v = f.value;
  switch (f.type) {
    case FieldType.Int:
      if (typeof v === 'number') return formatInteger(Math.trunc(v)) + 'i';
      return v + 'i';
    case FieldType.Uint:
      if (uintSupport) return (typeof v === 'number' ? formatInteger(Math.trunc(v)) : String(v)) + 'u';
      if (typeof v === 'number') {
        if (v <= Number.MAX_SAFE_INTEGER) return formatInteger(Math.trunc(v)) + 'i';
        return (v >= 9223372036854775807 ? INT64_MAX_STR : BigInt(Math.trunc(v)).toString()) + 'i';
      }
      return ((v as bigint) > INT64_MAX ? INT64_MAX_STR : String(v)) + 'i';
    case FieldType.Float: {
      const n = typeof v === 'number' ? v : Number(v);
      if (n !== n || n === Infinity || n === -Infinity) return undefined;
      return formatFloat(n);
    }
    case FieldType.String:
      return '"' + escapeStringValue(String(v)) + '"';
    case FieldType.Bool:
      return v ? 'true' : 'false';
  }
}

/** Byte classes: KEY = needs escaping in a key or tag value, STRING = in a string field value. */
const CLASS = new Uint8Array(128);
for (const c of [9, 10, 12, 13, 32, 44, 61]) CLASS[c] |= 2; // \t \n \f \r space , =
CLASS[34] |= 4; // '"'
CLASS[92] |= 4; // '\\'
const KEY = 2;
const STRING = 4;

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
function writeUnsigned(view: DataView, pos: number, v: number): number {
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
function copyPlain(view: DataView, buf: Buffer, pos: number, s: string, cls: number): number {
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
interface EncodedText {
  readonly words: Float64Array;
  readonly length: number;
  /** The words copy back to exactly these bytes (else copyEncoded stores bytes). */
  readonly exact: boolean;
  readonly bytes: Uint8Array;
}

/** How far past an element copyEncoded may store (zero padding that what follows overwrites). */
const OVERSHOOT = 32;

function encodeText(text: string): EncodedText {
  const bytes = Buffer.from(text, 'utf8');
  const words = new Float64Array(Math.max(4, Math.ceil(bytes.length / 8)));
  new Uint8Array(words.buffer).set(bytes);
  return { words, length: bytes.length, exact: noNaN(words, 0, words.length), bytes };
}

/** True when none of words[from, to) reads as NaN: every other float64 survives a load and a store bit for bit. */
function noNaN(words: Float64Array, from: number, to: number): boolean {
  for (let j = from; j < to; j++) if (words[j] !== words[j]) return false;
  return true;
}

/** Copies an encoded element; may store up to OVERSHOOT bytes beyond it, which the caller has reserved. */
function copyEncoded(view: DataView, pos: number, e: EncodedText): number {
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
class PositionalCache {
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

/** Recycled batch memory kept for reuse by default: two Buffers (one being sent, one being prepared) of up to 4 MiB. */
const MAX_SPARES = 2;
const MAX_SPARE_BYTES = 4 * 1024 * 1024;
/** Bytes reserved before each metric so that small elements need no capacity check. */
const HEADROOM = 16 * 1024;
/** Elements longer than this reserve their own space. */
const SMALL = 256;
const TRUE = encodeText('true');
const FALSE = encodeText('false');
const CLIPPED = encodeText(INT64_MAX_STR);

/**
 * Writes line protocol as bytes into a growing Buffer: plain ASCII is stored
 * four characters at a time, integers four digits at a time, and constant
 * elements (names, keys, the timestamp) are copied from cached encodings, so
 * serializing a metric allocates nothing but the occasional escaped string.
 */
export class LineProtocolSerializer {
  readonly uintSupport: boolean;
  readonly sortFields: boolean;
  readonly maxLineBytes: number;
  readonly omitTimestamp: boolean;
  readonly linePrefix: string;
  private readonly maxSpares: number;
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** The same memory as `buf`, for unaligned 32-bit stores. */
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  /** Memory of recycled batch Buffers, written into again. */
  private readonly spares: ArrayBufferLike[] = [];
  /** Memory of batch Buffers handed out and not yet recycled. */
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private batchCapacity = 64 * 1024;
  private lastTime: bigint = -1n;
  private lastFooter = '';
  private footerBytes: EncodedText = encodeText('\n');
  private keyCache = new Map<string, string>();
  private readonly nameCache = new PositionalCache(escapeName);
  private readonly tagKeyCache = new PositionalCache((k) => ',' + escapeKey(k) + '=');
  private readonly fieldKeyCache = new PositionalCache((k) => ',' + escapeKey(k) + '=');
  private readonly plans = new WeakMap<FieldSchema, SchemaPlan>();
  private lastSchema: FieldSchema | undefined;
  private lastPlan: SchemaPlan | undefined;

  constructor(opts: InfluxSerializerOptions = {}) {
    this.uintSupport = opts.uintSupport ?? false;
    this.sortFields = opts.sortFields ?? false;
    this.maxLineBytes = opts.maxLineBytes ?? 0;
    this.omitTimestamp = opts.omitTimestamp ?? false;
    this.linePrefix = opts.linePrefix ?? '';
    this.maxSpares = opts.spareBuffers ?? MAX_SPARES;
  }

  /** Makes room for `n` bytes after `pos` (the bytes before it are kept). */
  private ensure(pos: number, n: number): void {
    if (pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, pos);
    this.setBuffer(next);
  }

  private setBuffer(b: Buffer): void {
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Writes `s` escaped for class `cls` (KEY or STRING), as UTF-8; returns the position after it. */
  private writeEscaped(pos: number, s: string, cls: number): number {
    this.ensure(pos, s.length + 4);
    const end = copyPlain(this.view, this.buf, pos, s, cls);
    if (end >= 0) return end;
    return this.writeUtf8(pos, cls === KEY ? escapeKey(s) : escapeStringValue(s));
  }

  private writeUtf8(pos: number, s: string): number {
    this.ensure(pos, s.length * 3);
    return pos + this.buf.write(s, pos, 'utf8');
  }

  /** A copy of `e`; a long one reserves its own space and keeps the usual 1 KiB free after it. */
  private writeEncoded(pos: number, e: EncodedText): number {
    if (e.length > SMALL) this.ensure(pos, e.length + OVERSHOOT + 1024);
    return copyEncoded(this.view, pos, e);
  }

  /** An integer with its suffix (`i` or `u`); returns the position after it. */
  private writeInteger(pos: number, v: number | bigint, suffix: number): number {
    if (typeof v === 'number' && v > -9007199254740992 && v < 9007199254740992) {
      let n = Math.trunc(v);
      if (n < 0) {
        this.buf[pos++] = 45;
        n = -n;
      }
      pos = writeUnsigned(this.view, pos, n);
    } else {
      const text = typeof v === 'bigint' ? v.toString() : BigInt(Math.trunc(v)).toString();
      pos = copyPlain(this.view, this.buf, pos, text, 0);
    }
    this.buf[pos] = suffix;
    return pos + 1;
  }

  /** Writes a field value; returns -1 (bytes written must be ignored) when it cannot be serialized (NaN, Inf). */
  private writeValue(pos: number, type: FieldType, v: FieldValue): number {
    switch (type) {
      case FieldType.Int:
        return this.writeInteger(pos, v as number | bigint, 105);
      case FieldType.Uint:
        if (this.uintSupport) return this.writeInteger(pos, v as number | bigint, 117);
        if (typeof v === 'bigint' ? v > INT64_MAX : (v as number) >= 9223372036854775807) {
          pos = copyEncoded(this.view, pos, CLIPPED);
          this.buf[pos] = 105;
          return pos + 1;
        }
        return this.writeInteger(pos, v as number | bigint, 105);
      case FieldType.Float: {
        const n = typeof v === 'number' ? v : Number(v);
        if (n !== n || n === Infinity || n === -Infinity) return -1;
        const text = formatFloat(n);
        if (text.length > SMALL) this.ensure(pos, text.length + 4);
        return copyPlain(this.view, this.buf, pos, text, 0);
      }
      case FieldType.String:
        this.buf[pos] = 34;
        pos = this.writeEscaped(pos + 1, String(v), STRING);
        this.ensure(pos, 8 + OVERSHOOT);
        this.buf[pos] = 34;
        return pos + 1;
      case FieldType.Bool:
        return copyEncoded(this.view, pos, v ? TRUE : FALSE);
    }
    return -1;
  }

  /** Field keys repeat across metrics: cache their escaped form. */
  private escapedFieldKey(key: string): string {
    let p = this.keyCache.get(key);
    if (p === undefined) {
      if (this.keyCache.size > 4096) this.keyCache.clear();
      p = escapeKey(key);
      this.keyCache.set(key, p);
    }
    return p;
  }

  private footer(time: bigint): string {
    if (this.omitTimestamp) return '\n';
    if (time !== this.lastTime) {
      this.lastTime = time;
      this.lastFooter = ' ' + time + '\n';
      this.footerBytes = encodeText(this.lastFooter);
    }
    return this.lastFooter;
  }

  /** `measurement,tags ` with the trailing space, as a string (used for split lines and error messages). */
  header(m: Metric): string {
    const name = escapeName(m.name);
    if (name === '') throw new MetricSerializeError('', 'invalid name');
    return name + tagsText(m.tagSet) + ' ';
  }

  /**
   * `,key=value` (key already encoded); returns the position after it, or -1
   * (bytes written must be ignored) when the value cannot be serialized.
   * Non-negative integers below 2^53, most fields of most metrics, are written
   * inline here. The caller keeps 1 KiB free.
   */
  private writeField(pos: number, key: EncodedText, type: FieldType, v: FieldValue): number {
    let p = this.writeEncoded(pos, key);
    if (typeof v === 'number' && (type === FieldType.Int || type === FieldType.Uint) && v >= 0 && v < 9007199254740992) {
      p = writeUnsigned(this.view, p, Math.trunc(v));
      this.buf[p] = type === FieldType.Int || !this.uintSupport ? 105 : 117;
      return p + 1;
    }
    return this.writeValue(p, type, v);
  }

  /** The fields of a list, the first comma turned into the space after the tags. Returns the end (`start` when none could be written). */
  private writeFields(start: number, fields: readonly Field[]): number {
    const keys = this.fieldKeyCache;
    let pos = start;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f.key === '') continue;
      if (pos > this.buf.length - 1024) this.ensure(pos, HEADROOM);
      const end = this.writeField(pos, keys.get(i, f.key), f.type, f.value);
      if (end < 0) continue;
      if (pos === start) this.buf[pos] = 32;
      pos = end;
    }
    return pos;
  }

  /** As writeFields, for a metric in its compact form: keys and types from the schema, planned once per schema. */
  private writeSchemaFields(start: number, schema: FieldSchema, values: readonly FieldValue[]): number {
    const plan = this.planFor(schema);
    const keys = plan.keys;
    const types = schema.types;
    const words = plan.words;
    const lengths = plan.lengths;
    const suffixes = plan.suffixes;
    // The common case inline, with the buffer in locals refreshed after any call that may grow it.
    let view = this.view;
    let buf = this.buf;
    let limit = buf.length - 1024;
    let pos = start;
    for (let i = 0; i < keys.length; i++) {
      if (pos > limit) {
        this.ensure(pos, HEADROOM);
        view = this.view;
        buf = this.buf;
        limit = buf.length - 1024;
      }
      const v = values[i];
      const suffix = suffixes[i];
      let end: number;
      if (suffix !== 0 && typeof v === 'number' && v >= 0 && v < 9007199254740992) {
        const w = 4 * i;
        view.setFloat64(pos, words[w], true);
        view.setFloat64(pos + 8, words[w + 1], true);
        view.setFloat64(pos + 16, words[w + 2], true);
        view.setFloat64(pos + 24, words[w + 3], true);
        end = writeUnsigned(view, pos + lengths[i], Math.trunc(v));
        buf[end++] = suffix;
      } else {
        const key = keys[i];
        if (key === undefined) continue;
        end = this.writeField(pos, key, types[i], v);
        view = this.view;
        buf = this.buf;
        limit = buf.length - 1024;
        if (end < 0) continue;
      }
      if (pos === start) buf[pos] = 32;
      pos = end;
    }
    return pos;
  }

  /** The schema's plan for this serializer (the `u` suffix depends on uint support); the last one is memoized. */
  private planFor(schema: FieldSchema): SchemaPlan {
    if (schema === this.lastSchema) return this.lastPlan!;
    let plan = this.plans.get(schema);
    if (plan === undefined) {
      plan = planSchema(schema, this.uintSupport);
      this.plans.set(schema, plan);
    }
    this.lastSchema = schema;
    this.lastPlan = plan;
    return plan;
  }

  /** Appends one metric at `this.pos`; on error nothing is appended and MetricSerializeError is thrown. */
  private writeMetric(m: Metric): void {
    const lineStart = this.pos;
    if (this.maxLineBytes > 0) {
      const lines = this.serializeSplit(m);
      this.pos = this.writeUtf8(lineStart, this.linePrefix ? this.linePrefix + lines.replace(/\n(?=.)/g, '\n' + this.linePrefix) : lines);
      return;
    }
    if (this.linePrefix) {
      this.pos = this.writeUtf8(lineStart, this.linePrefix);
      try {
        this.writeMetricLine(m);
      } catch (err) {
        this.pos = lineStart;
        throw err;
      }
      return;
    }
    this.writeMetricLine(m);
  }

  /** writeMetric without the prefix and the split path. */
  private writeMetricLine(m: Metric): void {
    const lineStart = this.pos;
    if (m.name === '') throw new MetricSerializeError('', 'invalid name');
    this.ensure(lineStart, HEADROOM);
    // Elements of up to SMALL bytes are written without their own capacity check: one check
    // per tag and per field keeps 1 KiB free, and longer elements reserve their own space.
    let pos = this.writeEncoded(lineStart, this.nameCache.get(0, m.name));
    const tags = m.tagSet;
    let tagsDone = false;
    if (tags.frozen) {
      // A frozen set never changes: its encoding is worked out once and then copied.
      if (tags.lpGeneration !== tagArena.generation) tagArena.add(tags);
      tagsDone = tags.lpOffset >= 0;
    }
    if (tagsDone) {
      const n = tags.lpLength;
      if (n > SMALL) this.ensure(pos, n + OVERSHOOT + 1024);
      const view = this.view;
      const words = tagArena.words;
      const end = tags.lpOffset + ((n + 7) >> 3);
      // Four words per step: the arena keeps three spare words after its last set, and up
      // to 31 bytes past the tags fall within the space reserved for what follows.
      for (let j = tags.lpOffset, at = pos; j < end; j += 4, at += 32) {
        view.setFloat64(at, words[j], true);
        view.setFloat64(at + 8, words[j + 1], true);
        view.setFloat64(at + 16, words[j + 2], true);
        view.setFloat64(at + 24, words[j + 3], true);
      }
      pos += n;
    }
    const keys = tagsDone ? NONE : tags.keys;
    const values = tags.values;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = values[i];
      if (pos > this.buf.length - 1024) this.ensure(pos, HEADROOM);
      // Empty keys/values and trailing backslashes take the slow path (they are skipped or trimmed).
      if (k.length === 0 || v.length === 0 || k.charCodeAt(k.length - 1) === 92 || v.charCodeAt(v.length - 1) === 92) {
        const kt = tagText(k);
        const vt = tagText(v);
        if (kt === '' || vt === '') continue;
        pos = this.writeUtf8(pos, ',' + kt + '=' + vt);
        continue;
      }
      pos = this.writeEncoded(pos, this.tagKeyCache.get(i, k));
      const end = v.length <= SMALL ? copyPlain(this.view, this.buf, pos, v, KEY) : -1;
      pos = end >= 0 ? end : this.writeEscaped(pos, v, KEY);
    }
    const fieldsStart = pos;
    const schema = m.fieldSchema;
    if (schema !== undefined && !this.sortFields) pos = this.writeSchemaFields(pos, schema, m.fieldValues!);
    else {
      let fields = m.fields;
      if (this.sortFields && fields.length > 1) fields = fields.slice().sort(compareFieldKeys);
      pos = this.writeFields(pos, fields);
    }
    if (pos === fieldsStart) {
      throw new MetricSerializeError(this.header(m).slice(0, -1), 'no serializable fields');
    }
    this.footer(m.time);
    this.ensure(pos, 64 + OVERSHOOT);
    this.pos = copyEncoded(this.view, pos, this.omitTimestamp ? NEWLINE : this.footerBytes);
  }

  /** Serializes one metric to one or more lines (each ending in `\n`). Throws MetricSerializeError. */
  serialize(m: Metric): string {
    this.pos = 0;
    this.writeMetric(m);
    const line = this.buf.toString('utf8', 0, this.pos);
    if (this.buf.length > MAX_SPARE_BYTES) this.setBuffer(Buffer.allocUnsafe(64 * 1024));
    return line;
  }

  private serializeSplit(m: Metric): string {
    const header = this.header(m);
    const footer = this.footer(m.time);
    let fields = m.fields;
    if (this.sortFields && fields.length > 1) fields = fields.slice().sort(compareFieldKeys);
    const max = this.maxLineBytes;
    const headerBytes = Buffer.byteLength(header);
    const footerBytes = Buffer.byteLength(footer);
    let out = '';
    let line = '';
    let lineBytes = 0;
    for (const f of fields) {
      const key = this.escapedFieldKey(f.key);
      if (key === '') continue;
      const value = formatFieldValue(f, this.uintSupport);
      if (value === undefined) continue;
      const pair = key + '=' + value;
      const pairBytes = Buffer.byteLength(pair);
      let needed = headerBytes + lineBytes + pairBytes + footerBytes + (line === '' ? 0 : 1);
      if (needed > max) {
        if (line === '') throw new MetricSerializeError(header.slice(0, -1), 'need more space');
        out += header + line + footer;
        line = '';
        lineBytes = 0;
        needed = headerBytes + pairBytes + footerBytes;
        if (needed > max) throw new MetricSerializeError(header.slice(0, -1), 'need more space');
      }
      line = line === '' ? pair : line + ',' + pair;
      lineBytes += pairBytes + (lineBytes === 0 ? 0 : 1);
    }
    if (line === '') {
      if (out === '') throw new MetricSerializeError(header.slice(0, -1), 'no serializable fields');
      return out;
    }
    return out + header + line + footer;
  }

  /**
   * Serializes a batch into a Buffer of its own, skipping metrics that cannot
   * be serialized (as Telegraf's SerializeBatch). This is what outputs send.
   *
   * The batch is written straight into the returned Buffer. Handing it back
   * with `recycle` once it has been written out lets the next batch reuse its
   * memory instead of touching fresh pages (on this path that costs more than
   * the serializing itself); a Buffer never recycled is simply collected.
   */
  serializeBatchToBuffer(metrics: readonly Metric[], onSkip?: (err: MetricSerializeError, m: Metric) => void): Buffer {
    const scratch = this.buf;
    const spare = this.spares.pop();
    this.setBuffer(spare !== undefined ? Buffer.from(spare) : Buffer.allocUnsafeSlow(this.batchCapacity));
    this.pos = 0;
    try {
      for (let i = 0; i < metrics.length; i++) {
        try {
          this.writeMetric(metrics[i]);
        } catch (err) {
          if (err instanceof MetricSerializeError) onSkip?.(err, metrics[i]);
          else throw err;
        }
      }
      const out = this.buf.subarray(0, this.pos);
      // The next batch starts at the size this one needed (within reason), so it need not grow again.
      if (this.buf.length > this.batchCapacity) this.batchCapacity = Math.min(this.buf.length, MAX_SPARE_BYTES);
      this.lent.add(out.buffer);
      return out;
    } finally {
      this.setBuffer(scratch);
    }
  }

  /**
   * Hands back a Buffer returned by serializeBatchToBuffer when nothing will
   * read it again (written out, not kept for a retry). Anything else, or the
   * same Buffer twice, is ignored.
   */
  recycle(b: Buffer): void {
    const memory = b.buffer;
    if (!this.lent.has(memory)) return;
    this.lent.delete(memory);
    if (this.spares.length < this.maxSpares && memory.byteLength <= MAX_SPARE_BYTES) this.spares.push(memory);
  }

  /** As serializeBatchToBuffer, as a string. */
  serializeBatch(metrics: readonly Metric[], onSkip?: (err: MetricSerializeError, m: Metric) => void): string {
    const bytes = this.serializeBatchToBuffer(metrics, onSkip);
    const text = bytes.toString('utf8');
    this.recycle(bytes);
    return text;
  }
}

const NEWLINE = encodeText('\n');
/** No tags left to write one by one (a frozen set's bytes were copied whole). */
const NONE: readonly string[] = [];

/**
 * How a serializer writes the fields of one schema. Integer fields whose
 * `,key=` fits 32 bytes take the inline path: their key words sit side by
 * side in one array (four per field) and their suffix is fixed; `suffixes[i]`
 * is 0 for every other field, which goes through `keys[i]` (undefined: an
 * empty key, skipped).
 */
interface SchemaPlan {
  keys: (EncodedText | undefined)[];
  words: Float64Array;
  lengths: Uint8Array;
  suffixes: Uint8Array;
}

function planSchema(schema: FieldSchema, uintSupport: boolean): SchemaPlan {
  const n = schema.size;
  const plan: SchemaPlan = { keys: [], words: new Float64Array(4 * n), lengths: new Uint8Array(n), suffixes: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    const key = schema.keys[i] === '' ? undefined : encodeText(',' + escapeKey(schema.keys[i]) + '=');
    plan.keys.push(key);
    const type = schema.types[i];
    if (key === undefined || key.length > 32 || !key.exact || (type !== FieldType.Int && type !== FieldType.Uint)) continue;
    plan.words.set(key.words.subarray(0, 4), 4 * i);
    plan.lengths[i] = key.length;
    plan.suffixes[i] = type === FieldType.Uint && uintSupport ? 117 : 105;
  }
  return plan;
}

/**
 * The encoded tags (`,key=value…`) of frozen TagSets, as 8-byte words one set
 * after another in one array, in the order they were first serialized (which
 * is gather order, so consecutive metrics read neighbouring memory). Shared by
 * every serializer: tags have no options. When full it is replaced by a new
 * one (twice the size, up to a limit) and each set is re-encoded on its next
 * use, which also sheds the sets that are gone.
 */
class TagArena {
  words = new Float64Array(128 * 1024);
  top = 0;
  generation = 0;
  private bytes = new Uint8Array(this.words.buffer);

  add(tags: TagSet): void {
    const encoded = Buffer.from(tagsText(tags), 'utf8');
    const n = (encoded.length + 7) >> 3;
    // Three spare words stay after the last set: readers copy four words at a time.
    if (this.top + n + 3 > this.words.length) this.renew(n + 3);
    this.bytes.fill(0, 8 * this.top, 8 * (this.top + n));
    this.bytes.set(encoded, 8 * this.top);
    tags.lpGeneration = this.generation;
    tags.lpLength = encoded.length;
    // Valid UTF-8 and zero padding never read as NaN (see EncodedText); such a set would be written tag by tag.
    if (!noNaN(this.words, this.top, this.top + n)) {
      tags.lpOffset = -2;
      return;
    }
    tags.lpOffset = this.top;
    this.top += n;
  }

  private renew(atLeast: number): void {
    let size = this.words.length < MAX_ARENA_WORDS ? this.words.length * 2 : this.words.length;
    while (size < 2 * atLeast) size *= 2;
    this.words = new Float64Array(size);
    this.bytes = new Uint8Array(this.words.buffer);
    this.top = 0;
    this.generation++;
  }
}

/** 64 MiB: 300,000 series of 200-byte tags. */
const MAX_ARENA_WORDS = 8 * 1024 * 1024;
const tagArena = new TagArena();

/** The tags as written: `,key=value` for each, escaped; empty ones skipped. */
function tagsText(tags: TagSet): string {
  let text = '';
  for (let i = 0; i < tags.keys.length; i++) {
    const k = tagText(tags.keys[i]);
    const v = tagText(tags.values[i]);
    if (k !== '' && v !== '') text += ',' + k + '=' + v;
  }
  return text;
}

function compareFieldKeys(a: Field, b: Field): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** A tag key or value as written: escaped, trailing backslashes trimmed ('' = skip the tag). */
function tagText(s: string): string {
  let t = needsKeyEscape(s) ? escapeKey(s) : s;
  if (t.charCodeAt(t.length - 1) === 92) t = trimTrailingBackslashes(t);
  return t;
}
