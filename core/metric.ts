/**
 * The metric model: a name, sorted tags, typed fields, a nanosecond timestamp
 * and a value type. Field types follow Telegraf's (float, int, uint, string,
 * bool); integers may be `number` (exact up to 2^53) or `bigint` (exact to the
 * last digit, e.g. 64-bit IPVS counters), and the serializer prints either.
 */
import { wallClockNs } from './clock';

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

/**
 * One array per distinct list of tag keys among frozen sets: an input's
 * series mostly share a handful of layouts, and 100,000 series would
 * otherwise hold 100,000 copies of the same few keys.
 */
const keyLists = new Map<string, string[]>();
const MAX_KEY_LISTS = 10_000;

function sharedKeyList(keys: string[]): string[] {
  const id = JSON.stringify(keys);
  const shared = keyLists.get(id);
  if (shared !== undefined) return shared;
  if (keyLists.size < MAX_KEY_LISTS) keyLists.set(id, keys);
  return keys;
}

/**
 * A metric's tags: keys sorted by code unit (as Go's sort.Strings), each
 * value beside its key.
 *
 * A frozen set never changes again, so one can be shared by every metric of a
 * series, gather after gather, and whatever is derived from it (the agent's
 * added tags and tag filters, the serialized bytes) can be computed once per
 * set instead of once per metric. Changing the tags of a metric whose set is
 * frozen gives that metric its own copy first.
 */
export class TagSet {
  private isFrozen = false;
  /**
   * Where the line-protocol serializer keeps the encoded bytes of a frozen
   * set (an offset into its shared arena, their length, the arena's
   * generation; -1 when not encoded). Plain numbers on the set itself: with
   * thousands of series the copy is bound by memory latency, and every object
   * between the metric and the bytes would add a cache miss.
   */
  lpOffset = -1;
  lpLength = 0;
  lpGeneration = -1;

  constructor(
    private keyList: string[] = [],
    private valueList: string[] = [],
  ) {}

  /** A frozen set of tags given already sorted by key, without duplicates. */
  static frozen(keys: string[], values: string[]): TagSet {
    return new TagSet(keys, values).freeze();
  }

  /** Sorted keys; `values[i]` belongs to `keys[i]`. Frozen sets of the same keys share one array. */
  get keys(): readonly string[] {
    return this.keyList;
  }

  get values(): readonly string[] {
    return this.valueList;
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Frozen sets live long (a series' lifetime): keys are shared and values trimmed to their length. */
  freeze(): this {
    if (!this.isFrozen) {
      this.isFrozen = true;
      this.keyList = sharedKeyList(this.keyList);
      this.valueList = this.valueList.slice();
    }
    return this;
  }

  /** An unfrozen copy. */
  clone(): TagSet {
    return new TagSet(this.keyList.slice(), this.valueList.slice());
  }

  get size(): number {
    return this.keys.length;
  }

  indexOf(key: string): number {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  }

  get(key: string): string | undefined {
    const i = this.indexOf(key);
    return i >= 0 ? this.values[i] : undefined;
  }

  /** Sets (or replaces) a tag in key order. Only on unfrozen sets. */
  set(key: string, value: string): void {
    this.assertMutable();
    const keys = this.keyList;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < keys.length && keys[lo] === key) {
      this.valueList[lo] = value;
      return;
    }
    keys.splice(lo, 0, key);
    this.valueList.splice(lo, 0, value);
  }

  /** Adds a tag only when absent (Telegraf's precedence for plugin and global tags). Only on unfrozen sets. */
  setIfAbsent(key: string, value: string): void {
    if (this.indexOf(key) < 0) this.set(key, value);
  }

  /** Only on unfrozen sets. */
  delete(key: string): void {
    this.assertMutable();
    const i = this.indexOf(key);
    if (i >= 0) {
      this.keyList.splice(i, 1);
      this.valueList.splice(i, 1);
    }
  }

  /** Keeps the tags whose key passes `keep`. Only on unfrozen sets. */
  retain(keep: (key: string) => boolean): void {
    this.assertMutable();
    const keys = this.keyList;
    const values = this.valueList;
    let w = 0;
    for (let r = 0; r < keys.length; r++) {
      if (!keep(keys[r])) continue;
      keys[w] = keys[r];
      values[w] = values[r];
      w++;
    }
    keys.length = w;
    values.length = w;
  }

  private assertMutable(): void {
    if (this.isFrozen) throw new Error('a frozen TagSet cannot change');
  }
}

/**
 * The field keys and types of a metric shape, in field order, shared by every
 * metric an input builds with it (all `ipvs_real_server` metrics, say). A
 * metric built on a schema carries only its values; consumers that know the
 * schema work per schema (a serializer encodes its keys once) instead of per
 * field object.
 */
export class FieldSchema {
  readonly size: number;

  constructor(
    readonly keys: readonly string[],
    readonly types: readonly FieldType[],
  ) {
    if (keys.length !== types.length) throw new Error('FieldSchema: keys and types differ in length');
    this.size = keys.length;
  }
}

export class Metric {
  /** The tags; frozen sets are shared, so changes go through the metric (which copies them first). */
  tagSet: TagSet;
  /** The fields as a list of objects; built from the compact form on first use of `fields`. */
  private list: Field[] | undefined;
  /** Compact form: a shared schema and the values in its order (never changed in place, so copies share it). */
  private compactSchema: FieldSchema | undefined;
  private compactValues: readonly FieldValue[] | undefined;

  constructor(
    public name: string,
    /** Unix time in nanoseconds. */
    public time: bigint,
    public type: ValueType = 'untyped',
    tags?: TagSet,
    schema?: FieldSchema,
    values?: readonly FieldValue[],
  ) {
    this.tagSet = tags ?? new TagSet();
    if (schema !== undefined) {
      if (values === undefined || values.length !== schema.size) throw new Error('Metric: one value per schema field expected');
      this.compactSchema = schema;
      this.compactValues = values;
      this.list = undefined;
    } else {
      this.compactSchema = undefined;
      this.compactValues = undefined;
      this.list = [];
    }
  }

  /**
   * The fields, in order, as objects that may be changed, added and removed.
   * A metric built on a schema turns into this form for good on first use.
   */
  get fields(): Field[] {
    if (this.list === undefined) {
      const schema = this.compactSchema!;
      const values = this.compactValues!;
      const list = new Array<Field>(schema.size);
      for (let i = 0; i < schema.size; i++) list[i] = { key: schema.keys[i], type: schema.types[i], value: values[i] };
      this.list = list;
      this.compactSchema = undefined;
      this.compactValues = undefined;
    }
    return this.list;
  }

  get fieldCount(): number {
    return this.list !== undefined ? this.list.length : this.compactSchema!.size;
  }

  /** The schema while the metric is in its compact form (read with `fieldValues`), else undefined. */
  get fieldSchema(): FieldSchema | undefined {
    return this.compactSchema;
  }

  /** The values in schema order while the metric is in its compact form, else undefined. */
  get fieldValues(): readonly FieldValue[] | undefined {
    return this.compactValues;
  }

  static from(name: string, tags: Tags, fields: Record<string, FieldInit>, time: bigint, type: ValueType = 'untyped'): Metric {
    const m = new Metric(name, time, type);
    for (const k in tags) m.setTag(k, tags[k]);
    for (const k in fields) m.addFieldInit(k, fields[k]);
    return m;
  }

  // ---- tags -------------------------------------------------------------

  /** Tag keys, sorted; `tagValues[i]` belongs to `tagKeys[i]`. Read-only: change tags through the methods. */
  get tagKeys(): readonly string[] {
    return this.tagSet.keys;
  }

  get tagValues(): readonly string[] {
    return this.tagSet.values;
  }

  /** The tag set, made this metric's own (unfrozen) so it can change. */
  ownTags(): TagSet {
    if (this.tagSet.frozen) this.tagSet = this.tagSet.clone();
    return this.tagSet;
  }

  hasTag(key: string): boolean {
    return this.tagSet.indexOf(key) >= 0;
  }

  getTag(key: string): string | undefined {
    return this.tagSet.get(key);
  }

  /** Sets (or replaces) a tag, keeping keys sorted by code unit as Go's sort.Strings does. */
  setTag(key: string, value: string): void {
    this.ownTags().set(key, value);
  }

  /** Adds a tag only when absent (Telegraf's precedence for plugin and global tags). */
  addTagIfAbsent(key: string, value: string): void {
    if (this.tagSet.indexOf(key) < 0) this.ownTags().set(key, value);
  }

  removeTag(key: string): void {
    if (this.tagSet.indexOf(key) >= 0) this.ownTags().delete(key);
  }

  tags(): Tags {
    const out: Tags = {};
    const t = this.tagSet;
    for (let i = 0; i < t.keys.length; i++) out[t.keys[i]] = t.values[i];
    return out;
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
    const schema = this.compactSchema;
    if (schema !== undefined) {
      const i = schema.keys.indexOf(key);
      return i < 0 ? undefined : { key, type: schema.types[i], value: this.compactValues![i] };
    }
    for (const f of this.list!) if (f.key === key) return f;
    return undefined;
  }

  removeField(key: string): void {
    const i = this.fields.findIndex((f) => f.key === key);
    if (i >= 0) this.fields.splice(i, 1);
  }

  /** A copy whose fields and tags can change independently; a frozen tag set is shared. */
  copy(): Metric {
    const tags = this.tagSet.frozen ? this.tagSet : this.tagSet.clone();
    if (this.compactSchema !== undefined) return new Metric(this.name, this.time, this.type, tags, this.compactSchema, this.compactValues);
    const m = new Metric(this.name, this.time, this.type, tags);
    for (const f of this.list!) m.list!.push({ key: f.key, type: f.type, value: f.value });
    return m;
  }
}

/** Current wall-clock time in nanoseconds (follows clock steps; see clock.ts). */
export const nowNs: () => bigint = wallClockNs;

/** Rounds a nanosecond timestamp to a precision, as Go's time.Round (halves away from zero). */
export function roundTime(t: bigint, precisionNs: bigint): bigint {
  if (precisionNs <= 1n) return t;
  const r = t % precisionNs;
  const down = t - r;
  return r + r < precisionNs ? down : down + precisionNs;
}
