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
import { FieldType, type Field, type FieldSchema, type FieldValue, type Metric } from '../../metric';
import { escapeKey, escapeName, escapeStringValue, KEY, STRING, tagsText, tagText } from './escape';
import { exceedsInt64, formatFloat, INT64_MAX_STR, integerText } from './numbers';
import * as arena from './tag_arena';
import * as writer from './writer';
import { encodeText, OVERSHOOT, PositionalCache, type EncodedText } from './writer';

// The per-byte primitives and the arena as module-local constants: TypeScript's
// CommonJS output would otherwise load each from the other module's exports
// object on every call (measured: about 3% of the serializer bench).
const copyEncoded = writer.copyEncoded;
const copyPlain = writer.copyPlain;
const writeUnsigned = writer.writeUnsigned;
const tagArena = arena.tagArena;

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

/** Formats one field value; undefined when the field cannot be serialized (NaN, Inf). */
export function formatFieldValue(f: Field, uintSupport: boolean): string | undefined {
  const v = f.value;
  switch (f.type) {
    case FieldType.Int:
      return integerText(v as number | bigint) + 'i';
    case FieldType.Uint:
      if (!uintSupport && exceedsInt64(v as number | bigint)) return INT64_MAX_STR + 'i';
      return integerText(v as number | bigint) + (uintSupport ? 'u' : 'i');
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
  /** The scratch Buffer while a batch is open (the batch's memory is `buf` meanwhile). */
  private batchScratch: Buffer | undefined;

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
        if (exceedsInt64(v as number | bigint)) {
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
    if (this.batchScratch !== undefined) throw new Error('serialize() while a batch is open');
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
    this.startBatch();
    try {
      for (let i = 0; i < metrics.length; i++) this.appendToBatch(metrics[i], onSkip);
      return this.endBatch();
    } finally {
      this.abandonBatch();
    }
  }

  /**
   * Opens a batch that metrics are appended to one at a time
   * (`appendToBatch`) as they are made, so that none needs to be kept until a
   * whole batch is there; `endBatch` returns it as serializeBatchToBuffer
   * does. One batch at a time, and `serialize` waits until it has ended.
   */
  startBatch(): void {
    if (this.batchScratch !== undefined) throw new Error('a batch is already open');
    this.batchScratch = this.buf;
    const spare = this.spares.pop();
    this.setBuffer(spare !== undefined ? Buffer.from(spare) : Buffer.allocUnsafeSlow(this.batchCapacity));
    this.pos = 0;
  }

  /** Appends a metric to the open batch; false (after `onSkip`) when it cannot be serialized, as Telegraf skips it. */
  appendToBatch(m: Metric, onSkip?: (err: MetricSerializeError, m: Metric) => void): boolean {
    try {
      this.writeMetric(m);
      return true;
    } catch (err) {
      if (!(err instanceof MetricSerializeError)) throw err;
      onSkip?.(err, m);
      return false;
    }
  }

  /** Bytes in the open batch. */
  get batchBytes(): number {
    return this.batchScratch === undefined ? 0 : this.pos;
  }

  /** Ends the open batch and returns its bytes (hand them back with `recycle` once written). */
  endBatch(): Buffer {
    const scratch = this.batchScratch;
    if (scratch === undefined) throw new Error('no batch is open');
    const out = this.buf.subarray(0, this.pos);
    // The next batch starts at the size this one needed (within reason), so it need not grow again.
    if (this.buf.length > this.batchCapacity) this.batchCapacity = Math.min(this.buf.length, MAX_SPARE_BYTES);
    this.lent.add(out.buffer);
    this.batchScratch = undefined;
    this.setBuffer(scratch);
    return out;
  }

  /** Closes a batch left open by an unexpected error (its bytes are dropped). */
  private abandonBatch(): void {
    if (this.batchScratch === undefined) return;
    this.setBuffer(this.batchScratch);
    this.batchScratch = undefined;
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

function compareFieldKeys(a: Field, b: Field): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
