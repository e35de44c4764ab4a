/**
 * InfluxDB line-protocol serializer, following Telegraf's `influx` serializer:
 * per-element escaping, tags sorted, empty/trailing-backslash tag handling,
 * `i`/`u` integers with uint clipping, floats in shortest round-trip form
 * without exponent, NaN/Inf fields dropped, metrics without fields skipped,
 * `influx_sort_fields`, `influx_max_line_bytes`, `influx_omit_timestamp`.
 *
 * The hot path builds one string per metric by concatenation (V8 ropes) and
 * skips escaping work with a single character-class test per element.
 */
import { FieldType, type Field, type Metric } from '../metric';

export interface InfluxSerializerOptions {
  uintSupport?: boolean;
  sortFields?: boolean;
  maxLineBytes?: number;
  omitTimestamp?: boolean;
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
/** "000" … "999" as ASCII, three bytes each. */
const DIGITS3 = new Uint8Array(3000);
for (let i = 0; i < 1000; i++) {
  DIGITS3[3 * i] = 48 + ((i / 100) | 0);
  DIGITS3[3 * i + 1] = 48 + (((i / 10) | 0) % 10);
  DIGITS3[3 * i + 2] = 48 + (i % 10);
}

/** Bytes reserved before each metric (and again mid-way) so small writes need no capacity check. */
const HEADROOM = 16 * 1024;
const KEY = 2;
const STRING = 4;

/**
 * Writes line protocol as bytes into a growing Buffer: plain ASCII is copied
 * byte by byte and integers are written digit by digit, so serializing a
 * metric allocates nothing but the occasional escaped string.
 */
export class LineProtocolSerializer {
  readonly uintSupport: boolean;
  readonly sortFields: boolean;
  readonly maxLineBytes: number;
  readonly omitTimestamp: boolean;
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** The same memory as `buf`, for unaligned 32-bit stores. */
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  private lastTime: bigint = -1n;
  private lastFooter = '';
  private keyCache = new Map<string, string>();
  private readonly nameCache: PositionalBytes = { strings: [], words: [], lengths: [] };
  private readonly tagKeyCache: PositionalBytes = { strings: [], words: [], lengths: [] };
  private readonly fieldKeyCache: PositionalBytes = { strings: [], words: [], lengths: [] };

  constructor(opts: InfluxSerializerOptions = {}) {
    this.uintSupport = opts.uintSupport ?? false;
    this.sortFields = opts.sortFields ?? false;
    this.maxLineBytes = opts.maxLineBytes ?? 0;
    this.omitTimestamp = opts.omitTimestamp ?? false;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.setBuffer(next);
  }

  private setBuffer(b: Buffer): void {
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Copies `s` if it is plain ASCII without characters of `cls`; false (nothing written) otherwise. */
  private writePlain(s: string, cls: number): boolean {
    const len = s.length;
    // writeMetric reserves HEADROOM bytes; only long strings need their own check.
    if (len > 256) this.ensure(len + 4);
    const view = this.view;
    const pos = this.pos;
    let i = 0;
    // Four characters per 32-bit store; a character outside plain ASCII or of class `cls` aborts (nothing counted as written).
    for (; i + 4 <= len; i += 4) {
      const c0 = s.charCodeAt(i);
      const c1 = s.charCodeAt(i + 1);
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) >= 128 || ((CLASS[c0] | CLASS[c1] | CLASS[c2] | CLASS[c3]) & cls) !== 0) return false;
      view.setUint32(pos + i, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24), true);
    }
    const buf = this.buf;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128 || (CLASS[c] & cls) !== 0) return false;
      buf[pos + i] = c;
    }
    this.pos = pos + len;
    return true;
  }

  private writeUtf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  private writeEscaped(s: string, cls: number): void {
    if (this.writePlain(s, cls)) return;
    this.writeUtf8(cls === KEY ? escapeKey(s) : escapeStringValue(s));
  }

  /** Keeps at least 1 KiB free: every element below writes at most that much without its own check. */
  private reserve(): void {
    if (this.buf.length - this.pos < 1024) this.ensure(HEADROOM);
  }

  /** Within the reserved headroom: no capacity check. */
  private writeByte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /**
   * Writes a non-negative integer below 2^53: split at 10^9 (for v < 2^53 the
   * quotient is below 2^24, whose double spacing is fine enough that the
   * floor is exact), then three digits at a time from a table.
   */
  private writeDigits(v: number): void {
    if (v < 1e9) {
      this.writeBelowBillion(v);
      return;
    }
    const hi = Math.floor(v / 1e9);
    this.writeBelowBillion(hi);
    this.writeNineDigits(v - hi * 1e9);
  }

  /** 1 to 9 digits, no leading zeros. */
  private writeBelowBillion(v: number): void {
    if (v < 1000) {
      this.writeUpToThree(v);
      return;
    }
    const top = (v / 1000) | 0;
    if (top < 1000) this.writeUpToThree(top);
    else {
      const t = (top / 1000) | 0;
      this.writeUpToThree(t);
      this.writeThree(top - t * 1000);
    }
    this.writeThree(v - top * 1000);
  }

  /** Exactly nine digits (leading zeros kept). */
  private writeNineDigits(v: number): void {
    const a = (v / 1e6) | 0;
    const rest = v - a * 1e6;
    const b = (rest / 1000) | 0;
    this.writeThree(a);
    this.writeThree(b);
    this.writeThree(rest - b * 1000);
  }

  private writeUpToThree(v: number): void {
    const buf = this.buf;
    const o = 3 * v;
    if (v >= 100) buf[this.pos++] = DIGITS3[o];
    if (v >= 10) buf[this.pos++] = DIGITS3[o + 1];
    buf[this.pos++] = DIGITS3[o + 2];
  }

  private writeThree(v: number): void {
    const buf = this.buf;
    const o = 3 * v;
    const pos = this.pos;
    buf[pos] = DIGITS3[o];
    buf[pos + 1] = DIGITS3[o + 1];
    buf[pos + 2] = DIGITS3[o + 2];
    this.pos = pos + 3;
  }

  private writeInteger(v: number | bigint, suffix: number): void {
    if (typeof v === 'number' && v > -9007199254740992 && v < 9007199254740992) {
      let n = Math.trunc(v);
      if (n < 0) {
        this.writeByte(45);
        n = -n;
      }
      this.writeDigits(n);
    } else this.writePlain(typeof v === 'bigint' ? v.toString() : BigInt(Math.trunc(v)).toString(), 0);
    this.writeByte(suffix);
  }

  /** Writes a field value; false (nothing written) when it cannot be serialized (NaN, Inf). */
  private writeValue(f: Field): boolean {
    const v = f.value;
    switch (f.type) {
      case FieldType.Int:
        this.writeInteger(v as number | bigint, 105);
        return true;
      case FieldType.Uint:
        if (this.uintSupport) this.writeInteger(v as number | bigint, 117);
        else if (typeof v === 'bigint' ? v > INT64_MAX : (v as number) >= 9223372036854775807) this.writePlain(INT64_MAX_STR + 'i', 0);
        else this.writeInteger(v as number | bigint, 105);
        return true;
      case FieldType.Float: {
        const n = typeof v === 'number' ? v : Number(v);
        if (n !== n || n === Infinity || n === -Infinity) return false;
        this.writePlain(formatFloat(n), 0);
        return true;
      }
      case FieldType.String:
        this.writeByte(34);
        this.writeEscaped(String(v), STRING);
        this.writeByte(34);
        return true;
      case FieldType.Bool:
        this.writePlain(v ? 'true' : 'false', 0);
        return true;
    }
    return false;
  }

  /**
   * Copies the bytes of a constant element (measurement name, `,tagkey=`,
   * `fieldkey=`). Consecutive metrics of a measurement have the same keys in
   * the same positions, so the encoded bytes are remembered per position and
   * copied without re-checking each character.
   */
  private writeCached(cache: PositionalBytes, i: number, key: string, encode: (key: string) => string): void {
    let words = cache.words[i];
    if (cache.strings[i] !== key || words === undefined) {
      const bytes = Buffer.from(encode(key), 'utf8');
      // Stored as little-endian 32-bit words: a quarter of the stores of a byte loop.
      words = new Uint32Array(Math.ceil(bytes.length / 4));
      new Uint8Array(words.buffer).set(bytes);
      cache.strings[i] = key;
      cache.words[i] = words;
      cache.lengths[i] = bytes.length;
    }
    const n = cache.lengths[i];
    // The last word may write up to 3 bytes past the element; they lie within the reserved headroom and are overwritten next.
    if (n > 256) this.ensure(n + 4);
    const view = this.view;
    const pos = this.pos;
    for (let j = 0; j < words.length; j++) view.setUint32(pos + 4 * j, words[j], true);
    this.pos = pos + n;
  }

  private readonly encodeName = (name: string): string => escapeName(name);
  private readonly encodeTagKey = (key: string): string => ',' + (this.writePlainCheck(key) ? key : escapeKey(key)) + '=';
  private readonly encodeFieldKey = (key: string): string => (this.writePlainCheck(key) ? key : this.escapedFieldKey(key)) + '=';

  private writePlainCheck(s: string): boolean {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128 || (CLASS[c] & KEY) !== 0) return false;
    }
    return true;
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
    }
    return this.lastFooter;
  }

  /** `measurement,tags ` with the trailing space, as a string (used for split lines and error messages). */
  header(m: Metric): string {
    const name = escapeName(m.name);
    if (name === '') throw new MetricSerializeError('', 'invalid name');
    let h = name;
    const keys = m.tagKeys;
    const values = m.tagValues;
    for (let i = 0; i < keys.length; i++) {
      const k = tagText(keys[i]);
      const v = tagText(values[i]);
      if (k === '' || v === '') continue;
      h += ',' + k + '=' + v;
    }
    return h + ' ';
  }

  /** Appends one metric; rewinds and throws MetricSerializeError when it has nothing to write. */
  private writeMetric(m: Metric): void {
    if (this.maxLineBytes > 0) {
      this.writeUtf8(this.serializeSplit(m));
      return;
    }
    this.ensure(HEADROOM);
    const lineStart = this.pos;
    if (m.name === '') throw new MetricSerializeError('', 'invalid name');
    this.writeCached(this.nameCache, 0, m.name, this.encodeName);
    const keys = m.tagKeys;
    const values = m.tagValues;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = values[i];
      this.reserve();
      // Empty keys/values and trailing backslashes take the slow path (they are skipped or trimmed).
      if (k.length === 0 || v.length === 0 || k.charCodeAt(k.length - 1) === 92 || v.charCodeAt(v.length - 1) === 92) {
        const kt = tagText(k);
        const vt = tagText(v);
        if (kt === '' || vt === '') continue;
        this.writeByte(44);
        this.writeUtf8(kt);
        this.writeByte(61);
        this.writeUtf8(vt);
        continue;
      }
      this.writeCached(this.tagKeyCache, i, k, this.encodeTagKey);
      this.writeEscaped(v, KEY);
    }
    this.writeByte(32);
    let fields = m.fields;
    if (this.sortFields && fields.length > 1) fields = fields.slice().sort(compareFieldKeys);
    let written = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f.key === '') continue;
      const mark = this.pos;
      if (written > 0) this.writeByte(44);
      this.writeCached(this.fieldKeyCache, i, f.key, this.encodeFieldKey);
      if (this.writeValue(f)) written++;
      else this.pos = mark;
      this.reserve();
    }
    if (written === 0) {
      this.pos = lineStart;
      throw new MetricSerializeError(this.header(m).slice(0, -1), 'no serializable fields');
    }
    this.writePlain(this.footer(m.time), 0);
  }

  /** Serializes one metric to one or more lines (each ending in `\n`). Throws MetricSerializeError. */
  serialize(m: Metric): string {
    this.pos = 0;
    this.writeMetric(m);
    return this.buf.toString('utf8', 0, this.pos);
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
   * Serializes a batch into one new Buffer, skipping metrics that cannot be
   * serialized (as Telegraf's SerializeBatch). This is what outputs send.
   */
  serializeBatchToBuffer(metrics: readonly Metric[], onSkip?: (err: MetricSerializeError, m: Metric) => void): Buffer {
    this.pos = 0;
    for (let i = 0; i < metrics.length; i++) {
      try {
        this.writeMetric(metrics[i]);
      } catch (err) {
        if (err instanceof MetricSerializeError) onSkip?.(err, metrics[i]);
        else throw err;
      }
    }
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    if (this.buf.length > 4 * 1024 * 1024) this.setBuffer(Buffer.allocUnsafe(64 * 1024));
    return out;
  }

  /** As serializeBatchToBuffer, as a string. */
  serializeBatch(metrics: readonly Metric[], onSkip?: (err: MetricSerializeError, m: Metric) => void): string {
    return this.serializeBatchToBuffer(metrics, onSkip).toString('utf8');
  }
}

interface PositionalBytes {
  strings: string[];
  words: Uint32Array[];
  lengths: number[];
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
