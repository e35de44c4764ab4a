/**
 * The metric model: a name, sorted tags, typed fields, a nanosecond timestamp
 * and a value type. Field types follow Telegraf's (float, int, uint, string,
 * bool); integers may be `number` (exact up to 2^53) or `bigint` (exact to the
 * last digit, e.g. 64-bit IPVS counters), and the serializer prints either.
 */

export const enum FieldType {
  Float = 0,
  Int = 1,
  Uint = 2,
  String = 3,
  Bool = 4,
}

export type ValueType = 'untyped' | 'counter' | 'gauge' | 'histogram';

export type FieldValue = number | bigint | string | boolean;

export interface Field {
  key: string;
  type: FieldType;
  value: FieldValue;
}

export type Tags = Record<string, string>;

/** A plain field description accepted by `Metric.from` and the accumulator. */
export type FieldInit =
  | number // float
  | boolean
  | string
  | bigint // int unless marked uint
  | TypedValue;

/** A value with an explicit integer type: `int(5)`, `uint(5n)`. */
export class TypedValue {
  constructor(readonly type: FieldType, readonly value: FieldValue) {}
}

export function int(v: number | bigint): TypedValue {
  return new TypedValue(FieldType.Int, v);
}
export function uint(v: number | bigint): TypedValue {
  return new TypedValue(FieldType.Uint, v);
}
export function float(v: number): TypedValue {
  return new TypedValue(FieldType.Float, v);
}

export class Metric {
  /** Tag keys, kept sorted; `tagValues[i]` belongs to `tagKeys[i]`. */
  readonly tagKeys: string[] = [];
  readonly tagValues: string[] = [];
  readonly fields: Field[] = [];

  constructor(
    public name: string,
    /** Unix time in nanoseconds. */
    public time: bigint,
    public type: ValueType = 'untyped',
  ) {}

  static from(name: string, tags: Tags, fields: Record<string, FieldInit>, time: bigint, type: ValueType = 'untyped'): Metric {
    const m = new Metric(name, time, type);
    for (const k in tags) m.setTag(k, tags[k]);
    for (const k in fields) m.addFieldInit(k, fields[k]);
    return m;
  }

  // ---- tags -------------------------------------------------------------

  hasTag(key: string): boolean {
    return this.tagIndex(key) >= 0;
  }

  getTag(key: string): string | undefined {
    const i = this.tagIndex(key);
    return i >= 0 ? this.tagValues[i] : undefined;
  }

  /** Sets (or replaces) a tag, keeping keys sorted by code unit as Go's sort.Strings does. */
  setTag(key: string, value: string): void {
    const keys = this.tagKeys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < keys.length && keys[lo] === key) {
      this.tagValues[lo] = value;
      return;
    }
    keys.splice(lo, 0, key);
    this.tagValues.splice(lo, 0, value);
  }

  /** Adds a tag only when absent (Telegraf's precedence for plugin and global tags). */
  addTagIfAbsent(key: string, value: string): void {
    if (this.tagIndex(key) < 0) this.setTag(key, value);
  }

  removeTag(key: string): void {
    const i = this.tagIndex(key);
    if (i >= 0) {
      this.tagKeys.splice(i, 1);
      this.tagValues.splice(i, 1);
    }
  }

  tags(): Tags {
    const out: Tags = {};
    for (let i = 0; i < this.tagKeys.length; i++) out[this.tagKeys[i]] = this.tagValues[i];
    return out;
  }

  private tagIndex(key: string): number {
    const keys = this.tagKeys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  }

  // ---- fields -----------------------------------------------------------

  /** Adds or replaces a field with an explicit type. */
  addField(key: string, type: FieldType, value: FieldValue): void {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i].key === key) {
        fields[i] = { key, type, value };
        return;
      }
    }
    fields.push({ key, type, value });
  }

  addInt(key: string, value: number | bigint): void {
    this.addField(key, FieldType.Int, value);
  }
  addUint(key: string, value: number | bigint): void {
    this.addField(key, FieldType.Uint, value);
  }
  addFloat(key: string, value: number): void {
    this.addField(key, FieldType.Float, value);
  }
  addString(key: string, value: string): void {
    this.addField(key, FieldType.String, value);
  }
  addBool(key: string, value: boolean): void {
    this.addField(key, FieldType.Bool, value);
  }

  addFieldInit(key: string, v: FieldInit): void {
    if (v instanceof TypedValue) this.addField(key, v.type, v.value);
    else if (typeof v === 'number') this.addField(key, FieldType.Float, v);
    else if (typeof v === 'bigint') this.addField(key, FieldType.Int, v);
    else if (typeof v === 'string') this.addField(key, FieldType.String, v);
    else this.addField(key, FieldType.Bool, v);
  }

  getField(key: string): Field | undefined {
    for (const f of this.fields) if (f.key === key) return f;
    return undefined;
  }

  removeField(key: string): void {
    const i = this.fields.findIndex((f) => f.key === key);
    if (i >= 0) this.fields.splice(i, 1);
  }

  copy(): Metric {
    const m = new Metric(this.name, this.time, this.type);
    m.tagKeys.push(...this.tagKeys);
    m.tagValues.push(...this.tagValues);
    for (const f of this.fields) m.fields.push({ key: f.key, type: f.type, value: f.value });
    return m;
  }
}

/** Current wall-clock time in nanoseconds. */
export function nowNs(): bigint {
  // Date.now() gives ms; hrtime adds sub-ms resolution anchored once.
  return wallAnchorNs + (process.hrtime.bigint() - monoAnchorNs);
}
const wallAnchorNs = BigInt(Date.now()) * 1_000_000n;
const monoAnchorNs = process.hrtime.bigint();

/** Rounds a nanosecond timestamp to a precision, as Go's time.Round (halves away from zero). */
export function roundTime(t: bigint, precisionNs: bigint): bigint {
  if (precisionNs <= 1n) return t;
  const r = t % precisionNs;
  const down = t - r;
  return r + r < precisionNs ? down : down + precisionNs;
}
