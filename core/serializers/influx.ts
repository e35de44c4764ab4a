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

/** Formats one field value; undefined when the field cannot be serialized (NaN, Inf). */
export function formatFieldValue(f: Field, uintSupport: boolean): string | undefined {
  const v = f.value;
  switch (f.type) {
    case FieldType.Int:
      if (typeof v === 'number') return (Number.isInteger(v) ? v : Math.trunc(v)) + 'i';
      return v + 'i';
    case FieldType.Uint:
      if (uintSupport) return (typeof v === 'number' ? Math.trunc(v) : v) + 'u';
      if (typeof v === 'number') {
        if (v <= Number.MAX_SAFE_INTEGER) return Math.trunc(v) + 'i';
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

export class LineProtocolSerializer {
  readonly uintSupport: boolean;
  readonly sortFields: boolean;
  readonly maxLineBytes: number;
  readonly omitTimestamp: boolean;
  private lastTime: bigint = -1n;
  private lastFooter = '';
  private keyCache = new Map<string, string>();

  constructor(opts: InfluxSerializerOptions = {}) {
    this.uintSupport = opts.uintSupport ?? false;
    this.sortFields = opts.sortFields ?? false;
    this.maxLineBytes = opts.maxLineBytes ?? 0;
    this.omitTimestamp = opts.omitTimestamp ?? false;
  }

  /** Field keys repeat across metrics: cache their `key=` prefix. */
  private fieldPrefix(key: string): string {
    let p = this.keyCache.get(key);
    if (p === undefined) {
      if (this.keyCache.size > 4096) this.keyCache.clear();
      const k = escapeKey(key);
      p = k === '' ? '' : k + '=';
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

  /** `measurement,tags ` with the trailing space. */
  header(m: Metric): string {
    const name = escapeName(m.name);
    if (name === '') throw new MetricSerializeError('', 'invalid name');
    let h = name;
    const keys = m.tagKeys;
    const values = m.tagValues;
    for (let i = 0; i < keys.length; i++) {
      let k = keys[i];
      let v = values[i];
      if (NEEDS_ESCAPE.test(k)) k = escapeKey(k);
      if (NEEDS_ESCAPE.test(v)) v = escapeKey(v);
      if (k.charCodeAt(k.length - 1) === 92) k = trimTrailingBackslashes(k);
      if (v.charCodeAt(v.length - 1) === 92) v = trimTrailingBackslashes(v);
      if (k === '' || v === '') continue;
      h += ',' + k + '=' + v;
    }
    return h + ' ';
  }

  /** Serializes one metric to one or more lines (each ending in `\n`). Throws MetricSerializeError. */
  serialize(m: Metric): string {
    const header = this.header(m);
    const footer = this.footer(m.time);
    let fields = m.fields;
    if (this.sortFields && fields.length > 1) fields = fields.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const uint = this.uintSupport;
    const max = this.maxLineBytes;
    if (max > 0) return this.serializeSplit(header, footer, fields, max);
    let body = '';
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      const prefix = this.fieldPrefix(f.key);
      if (prefix === '') continue;
      const value = formatFieldValue(f, uint);
      if (value === undefined) continue;
      body = body === '' ? prefix + value : body + ',' + prefix + value;
    }
    if (body === '') throw new MetricSerializeError(header.slice(0, -1), 'no serializable fields');
    return header + body + footer;
  }

  private serializeSplit(header: string, footer: string, fields: Field[], max: number): string {
    const headerBytes = Buffer.byteLength(header);
    const footerBytes = Buffer.byteLength(footer);
    let out = '';
    let line = '';
    let lineBytes = 0;
    for (const f of fields) {
      const prefix = this.fieldPrefix(f.key);
      if (prefix === '') continue;
      const value = formatFieldValue(f, this.uintSupport);
      if (value === undefined) continue;
      const pair = prefix + value;
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

  /** Serializes a batch, skipping metrics that cannot be serialized (as Telegraf's SerializeBatch). */
  serializeBatch(metrics: readonly Metric[], onSkip?: (err: MetricSerializeError, m: Metric) => void): string {
    let out = '';
    for (let i = 0; i < metrics.length; i++) {
      try {
        out += this.serialize(metrics[i]);
      } catch (err) {
        if (err instanceof MetricSerializeError) onSkip?.(err, metrics[i]);
        else throw err;
      }
    }
    return out;
  }
}
