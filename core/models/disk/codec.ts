/**
 * The disk buffer's record format: one metric per record, lossless for
 * everything the metric model holds (name, sorted tags, fields with their
 * types in order, integers as `number` or `bigint` exactly as given, the
 * nanosecond timestamp and the value type).
 *
 * A record on disk is framed as
 *
 *     u32 LE payload length | u32 LE CRC-32 (of the length bytes and the payload) | payload
 *
 * and the payload is
 *
 *     u8 format (1) | u8 value type | i64 LE time
 *     shape: string name | varint field count | per field: string key, u8 field type
 *     tags:  varint count | per tag: string key, string value
 *     values, in field order: u8 representation | bytes of that representation
 *
 * Strings are a varint byte length and UTF-8. The shape (name, keys, types)
 * and the tags are contiguous byte ranges so the decoder can intern them: a
 * backlog of a few thousand series decodes into shared FieldSchemas and
 * frozen TagSets (which the line-protocol serializer encodes once per set)
 * instead of new strings per metric.
 */
import { FieldSchema, FieldType, Metric, TagSet, type FieldValue, type ValueType } from '../../metric';

export const RECORD_HEADER_BYTES = 8;
const FORMAT = 1;

const enum Repr {
  Float64 = 0,
  /** Integer-valued number in [-2^31, 2^31): zigzag varint. */
  SmallInt = 1,
  /** Any other number (of an Int/Uint field), kept as the exact double. */
  Number64 = 2,
  BigInt64 = 3,
  BigUint64 = 4,
  /** A bigint outside the 64-bit range of its type: decimal text. */
  BigText = 5,
  Text = 6,
  False = 7,
  True = 8,
}

const VALUE_TYPES: readonly ValueType[] = ['untyped', 'counter', 'gauge', 'histogram'];
const valueTypeCode = (t: ValueType): number => {
  const i = VALUE_TYPES.indexOf(t);
  return i < 0 ? 0 : i;
};

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * CRC-32 (IEEE 802.3, as zlib's) by slicing-by-8 tables. In JavaScript
 * rather than zlib.crc32: records are a few hundred bytes, and the native call
 * plus the Buffer view it needs cost more than the loop (docs/design/disk-buffer.md).
 */
const CRC_TABLES = ((): Int32Array => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** CRC-32 of bytes [start, end) of `b`, continuing from `crc` (the CRC of what came before). */
export function crc32Range(b: Uint8Array, start: number, end: number, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
    const hi = b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24);
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of a whole byte array. */
export function crc32(data: Uint8Array): number {
  return crc32Range(data, 0, data.length);
}

/** The checksum a record's header carries: over its length bytes and its payload. */
export function recordChecksum(buf: Uint8Array, recordStart: number, payloadLength: number): number {
  const lengthCrc = crc32Range(buf, recordStart, recordStart + 4);
  return crc32Range(buf, recordStart + RECORD_HEADER_BYTES, recordStart + RECORD_HEADER_BYTES + payloadLength, lengthCrc);
}

export class RecordEncodeError extends Error {}

/**
 * Appends framed records to a growing byte buffer. `take()` hands the bytes
 * over and starts again in the same memory unless the caller keeps them.
 */
export class RecordWriter {
  buf: Buffer;
  /** Bytes written so far. */
  length = 0;
  /** Shape encodings of FieldSchemas (their keys and types are fixed) keyed by schema, per name. */
  private readonly shapes = new WeakMap<FieldSchema, { name: string; bytes: Buffer }>();
  private readonly tagBytes = new WeakMap<TagSet, Buffer>();

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Appends one framed record; returns its size in bytes. Throws RecordEncodeError for a metric the format cannot hold. */
  append(m: Metric): number {
    const start = this.length;
    try {
      this.ensure(RECORD_HEADER_BYTES + 64);
      this.length += RECORD_HEADER_BYTES;
      this.payload(m);
    } catch (err) {
      this.length = start;
      throw err;
    }
    const payloadLength = this.length - start - RECORD_HEADER_BYTES;
    this.buf.writeUInt32LE(payloadLength, start);
    this.buf.writeUInt32LE(recordChecksum(this.buf, start, payloadLength), start + 4);
    return this.length - start;
  }

  /** Drops everything written. */
  reset(): void {
    this.length = 0;
  }

  private payload(m: Metric): void {
    this.ensure(10);
    const b = this.buf;
    b[this.length] = FORMAT;
    b[this.length + 1] = valueTypeCode(m.type);
    try {
      b.writeBigInt64LE(m.time, this.length + 2);
    } catch {
      throw new RecordEncodeError(`timestamp ${m.time} is outside the int64 range`);
    }
    this.length += 10;

    const schema = m.fieldSchema;
    if (schema !== undefined) {
      let shape = this.shapes.get(schema);
      if (shape === undefined || shape.name !== m.name) {
        shape = { name: m.name, bytes: this.encodeApart(() => this.shape(m.name, schema.keys, schema.types)) };
        this.shapes.set(schema, shape);
      }
      this.bytes(shape.bytes);
    } else {
      const fields = m.fields;
      this.string(m.name);
      this.varint(fields.length);
      for (let i = 0; i < fields.length; i++) {
        this.string(fields[i].key);
        this.ensure(1);
        this.buf[this.length++] = fields[i].type;
      }
    }

    const tags = m.tagSet;
    if (tags.frozen) {
      let bytes = this.tagBytes.get(tags);
      if (bytes === undefined) {
        bytes = this.encodeApart(() => this.tags(tags));
        this.tagBytes.set(tags, bytes);
      }
      this.bytes(bytes);
    } else this.tags(tags);

    if (schema !== undefined) {
      const values = m.fieldValues!;
      for (let i = 0; i < values.length; i++) this.value(schema.types[i], values[i]);
    } else {
      const fields = m.fields;
      for (let i = 0; i < fields.length; i++) this.value(fields[i].type, fields[i].value);
    }
  }

  /** Runs an encoding step at the end of the buffer and returns a copy of its bytes (for caching), leaving the buffer as it was. */
  private encodeApart(step: () => void): Buffer {
    const start = this.length;
    step();
    const out = Buffer.from(this.buf.subarray(start, this.length));
    this.length = start;
    return out;
  }

  private shape(name: string, keys: readonly string[], types: readonly FieldType[]): void {
    this.string(name);
    this.varint(keys.length);
    for (let i = 0; i < keys.length; i++) {
      this.string(keys[i]);
      this.ensure(1);
      this.buf[this.length++] = types[i];
    }
  }

  private tags(tags: TagSet): void {
    const keys = tags.keys;
    const values = tags.values;
    this.varint(keys.length);
    for (let i = 0; i < keys.length; i++) {
      this.string(keys[i]);
      this.string(values[i]);
    }
  }

  private bytes(src: Buffer): void {
    this.ensure(src.length);
    src.copy(this.buf, this.length);
    this.length += src.length;
  }

  private value(type: FieldType, v: FieldValue): void {
    this.ensure(10);
    const b = this.buf;
    switch (typeof v) {
      case 'number':
        if (type === FieldType.Float) {
          b[this.length] = Repr.Float64;
          b.writeDoubleLE(v, this.length + 1);
          this.length += 9;
        } else if (Number.isInteger(v) && v >= -0x80000000 && v < 0x80000000 && !Object.is(v, -0)) {
          b[this.length++] = Repr.SmallInt;
          this.varint(((v << 1) ^ (v >> 31)) >>> 0);
        } else {
          b[this.length] = Repr.Number64;
          b.writeDoubleLE(v, this.length + 1);
          this.length += 9;
        }
        return;
      case 'bigint':
        if (v >= 0n ? v <= INT64_MAX : v >= INT64_MIN) {
          b[this.length] = Repr.BigInt64;
          b.writeBigInt64LE(v, this.length + 1);
          this.length += 9;
        } else if (v > 0n && v <= UINT64_MAX) {
          b[this.length] = Repr.BigUint64;
          b.writeBigUInt64LE(v, this.length + 1);
          this.length += 9;
        } else {
          b[this.length++] = Repr.BigText;
          this.string(v.toString());
        }
        return;
      case 'string':
        b[this.length++] = Repr.Text;
        this.string(v);
        return;
      case 'boolean':
        b[this.length++] = v ? Repr.True : Repr.False;
        return;
      default:
        throw new RecordEncodeError(`field value of type ${typeof v} cannot be stored`);
    }
  }

  private varint(n: number): void {
    this.ensure(5);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.length++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[this.length++] = n;
  }

  /** A length-prefixed UTF-8 string; short ASCII strings are copied by a loop (cheaper than a native call). */
  private string(s: string): void {
    const n = s.length;
    if (n < 128) {
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.length;
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        b[start + 1 + i] = c;
      }
      if (ascii) {
        b[start] = n;
        this.length = start + 1 + n;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.buf.write(s, this.length, bytes, 'utf8');
    this.length += bytes;
  }
}

export class RecordDecodeError extends Error {}

interface Shape {
  name: string;
  schema: FieldSchema;
}

/** Most distinct shapes and tag sets remembered while decoding (past it the memory starts again). */
const MAX_INTERNED = 50_000;

interface Interned<T> {
  bytes: Uint8Array;
  value: T;
  next: Interned<T> | undefined;
}

/**
 * Values keyed by a byte range, found without making a string of the bytes:
 * a hash over 4-byte words, then a byte comparison (decoding a backlog would
 * otherwise allocate two key strings per metric).
 */
class ByteIntern<T> {
  private readonly table = new Map<number, Interned<T>>();
  private count = 0;

  get(b: Uint8Array, start: number, end: number, hash: number): T | undefined {
    for (let e = this.table.get(hash); e !== undefined; e = e.next) if (sameBytes(e.bytes, b, start, end)) return e.value;
    return undefined;
  }

  set(b: Uint8Array, start: number, end: number, hash: number, value: T): void {
    if (this.count >= MAX_INTERNED) {
      this.table.clear();
      this.count = 0;
    }
    // A copy: the bytes passed in are a read buffer that is reused (Buffer#slice would be a view).
    this.table.set(hash, { bytes: Uint8Array.prototype.slice.call(b, start, end), value, next: this.table.get(hash) });
    this.count++;
  }
}

function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)), 0x01000193);
    h ^= h >>> 15;
  }
  for (; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h | 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/**
 * Decodes record payloads into metrics in compact form. Shapes and tag sets
 * seen before are shared (interned by their bytes), so a backlog decodes into
 * the same few objects per series the live path would have built.
 */
export class RecordReader {
  private readonly shapes = new ByteIntern<Shape>();
  private readonly tagSets = new ByteIntern<TagSet>();
  private pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private end = 0;

  /** The metric in the payload at buf[start, start + length). */
  decode(buf: Buffer, start: number, length: number): Metric {
    this.buf = buf;
    this.pos = start;
    this.end = start + length;
    if (length < 10 || buf[start] !== FORMAT) throw new RecordDecodeError(`unknown record format ${buf[start]}`);
    const type = VALUE_TYPES[buf[start + 1]] ?? 'untyped';
    const time = buf.readBigInt64LE(start + 2);
    this.pos = start + 10;

    const shapeStart = this.pos;
    this.skipString();
    const fieldCount = this.varint();
    for (let i = 0; i < fieldCount; i++) {
      this.skipString();
      this.pos++;
    }
    this.check();
    const shapeEnd = this.pos;
    const shapeHash = hashBytes(buf, shapeStart, shapeEnd);
    let shape = this.shapes.get(buf, shapeStart, shapeEnd, shapeHash);
    if (shape === undefined) {
      shape = this.readShape(shapeStart, fieldCount);
      this.shapes.set(buf, shapeStart, shapeEnd, shapeHash, shape);
    }

    const tagStart = this.pos;
    const tagCount = this.varint();
    for (let i = 0; i < tagCount * 2; i++) this.skipString();
    this.check();
    const tagEnd = this.pos;
    const tagHash = hashBytes(buf, tagStart, tagEnd);
    let tags = this.tagSets.get(buf, tagStart, tagEnd, tagHash);
    if (tags === undefined) {
      tags = this.readTags(tagStart);
      this.tagSets.set(buf, tagStart, tagEnd, tagHash, tags);
    }

    const schema = shape.schema;
    const values = new Array<FieldValue>(schema.size);
    for (let i = 0; i < schema.size; i++) values[i] = this.value();
    if (this.pos !== this.end) throw new RecordDecodeError('record has trailing bytes');
    return new Metric(shape.name, time, type, tags, schema, values);
  }

  private check(): void {
    if (this.pos > this.end) throw new RecordDecodeError('record ends early');
  }

  private readShape(at: number, fieldCount: number): Shape {
    this.pos = at;
    const name = this.string();
    this.varint();
    const keys = new Array<string>(fieldCount);
    const types = new Array<FieldType>(fieldCount);
    for (let i = 0; i < fieldCount; i++) {
      keys[i] = this.string();
      const t = this.buf[this.pos++];
      if (t > FieldType.Bool) throw new RecordDecodeError(`unknown field type ${t}`);
      types[i] = t as FieldType;
    }
    return { name, schema: new FieldSchema(keys, types) };
  }

  private readTags(at: number): TagSet {
    this.pos = at;
    const n = this.varint();
    const keys = new Array<string>(n);
    const values = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      keys[i] = this.string();
      values[i] = this.string();
    }
    return TagSet.frozen(keys, values);
  }

  private value(): FieldValue {
    const b = this.buf;
    const repr = b[this.pos++];
    let v: FieldValue;
    switch (repr) {
      case Repr.Float64:
      case Repr.Number64:
        v = b.readDoubleLE(this.pos);
        this.pos += 8;
        break;
      case Repr.SmallInt: {
        const z = this.varint();
        v = (z >>> 1) ^ -(z & 1);
        break;
      }
      case Repr.BigInt64:
        v = b.readBigInt64LE(this.pos);
        this.pos += 8;
        break;
      case Repr.BigUint64:
        v = b.readBigUInt64LE(this.pos);
        this.pos += 8;
        break;
      case Repr.BigText:
        v = BigInt(this.string());
        break;
      case Repr.Text:
        v = this.string();
        break;
      case Repr.False:
        v = false;
        break;
      case Repr.True:
        v = true;
        break;
      default:
        throw new RecordDecodeError(`unknown value representation ${repr}`);
    }
    this.check();
    return v;
  }

  private varint(): number {
    const b = this.buf;
    let n = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end || shift > 28) throw new RecordDecodeError('bad varint');
      const c = b[this.pos++];
      n |= (c & 0x7f) << shift;
      if (c < 0x80) return n >>> 0;
      shift += 7;
    }
  }

  private skipString(): void {
    const n = this.varint();
    this.pos += n;
  }

  private string(): string {
    const n = this.varint();
    const start = this.pos;
    this.pos += n;
    this.check();
    return this.buf.toString('utf8', start, this.pos);
  }
}
