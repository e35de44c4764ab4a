/**
 * The `prometheusremotewrite` data format (Prometheus Remote Write 1.0):
 * a protobuf `WriteRequest` compressed with snappy's block format.
 *
 * Every numeric field of a metric is one sample of the series
 * `<measurement>_<field>` with the metric's tags as labels, named exactly as
 * outputs.prometheus_client names them (core/prometheus/naming.ts). Labels
 * are unique, without empty values, sorted by name with `__name__` among
 * them; the samples of a series appear once per request, in timestamp order,
 * in milliseconds. Booleans are 1/0; string fields are skipped and counted
 * (or become labels with `prometheus_string_as_label`). Histograms become
 * `_bucket` series with an `le` label, `_sum` and `_count` (whose value is
 * also the `+Inf` bucket).
 *
 * The protobuf is written by hand for this one message type: the labels of
 * a frozen tag set are encoded once and copied for every field and every
 * batch, so a sample costs a few byte copies, a double and a varint (see
 * docs/design/remote-write.md for the measurement against protobufjs).
 */
import { FieldType, type FieldSchema, type FieldValue, type Metric, type TagSet } from '../metric';
import { SnappyEncoder } from '../compress/snappy';
import { formatBound, labelPairs, metricName, parseBound, sampleCount, sampleSum, sanitizeMetricName } from '../prometheus/naming';

export interface RemoteWriteOptions {
  /** String fields become labels (Telegraf's `prometheus_string_as_label`). */
  stringAsLabel?: boolean;
  /** Series in label order (Telegraf's `prometheus_sort_metrics`), for reproducible bodies. */
  sortMetrics?: boolean;
  /** Most samples in one request; a batch with more is sent as several (0: no limit). */
  maxSamplesPerRequest?: number;
}

/** One encoded request: metrics [start, end) of the batch as a snappy-compressed WriteRequest. */
export interface RemoteWriteRequest {
  body: Buffer;
  start: number;
  end: number;
  series: number;
  samples: number;
}

/** The labels of a series without `__name__`, encoded as repeated `TimeSeries.labels` fields. */
interface LabelCore {
  /** Identity of the label set within a batch. */
  key: string;
  names: string[];
  values: string[];
  bytes: Uint8Array;
  /** Where `__name__` goes: the bytes of the labels that sort before it. */
  split: number;
}

/** The names of one measurement's fields on one schema: encoded `__name__` labels (undefined: no sample). */
interface SchemaPlan {
  measurement: string;
  nameLabels: (Uint8Array | undefined)[];
  names: (string | undefined)[];
  samples: number;
}

/** A series of the generic path (histograms, sorted output, label sets seen with several field layouts). */
interface Series {
  core: LabelCore;
  name: string;
  nameLabel: Uint8Array;
  times: number[];
  values: number[];
}

/** Metrics of one label set and measurement within a request. */
interface Group {
  core: LabelCore;
  metrics: Metric[];
}

const NAME_LABEL = '__name__';

function varintLength(n: number): number {
  if (n < 0) return 10; // int64 two's complement
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** An encoded `Label { name = 1; value = 2 }` inside its `TimeSeries.labels` field (tag 1). */
function encodeLabel(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const v = Buffer.from(value, 'utf8');
  const inner = 1 + varintLength(n.length) + n.length + 1 + varintLength(v.length) + v.length;
  const out = Buffer.allocUnsafe(1 + varintLength(inner) + inner);
  let p = 0;
  p = writeVarintTo(out, writeByte(out, 0, 0x0a), inner);
  p = writeVarintTo(out, writeByte(out, p, 0x0a), n.length);
  p += n.copy(out, p);
  p = writeVarintTo(out, writeByte(out, p, 0x12), v.length);
  v.copy(out, p);
  return out;
}

function writeByte(b: Uint8Array, p: number, v: number): number {
  b[p] = v;
  return p + 1;
}

function writeVarintTo(b: Uint8Array, p: number, n: number): number {
  if (n < 0) {
    // A time before 1970: int64 varints are the 64-bit two's complement.
    let u = BigInt.asUintN(64, BigInt(n));
    for (let i = 0; i < 9; i++, u >>= 7n) b[p++] = Number(u & 0x7fn) | 0x80;
    b[p++] = Number(u);
    return p;
  }
  while (n >= 128) {
    b[p++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  return p;
}

/** Label pairs (sorted, unique, no `__name__`) as a LabelCore. */
function makeCore(names: string[], values: string[]): LabelCore {
  const parts: Buffer[] = [];
  let split = 0;
  let size = 0;
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const e = encodeLabel(names[i], values[i]);
    parts.push(e);
    if (names[i] < NAME_LABEL) split += e.length;
    size += e.length;
    key += names[i] + '\u0000' + values[i] + '\u0001';
  }
  return { key, names, values, bytes: Buffer.concat(parts, size), split };
}

/** The sorted, unique labels of a metric, without `__name__` (the series name always wins). */
function corePairs(m: Metric, stringAsLabel: boolean): { names: string[]; values: string[] } {
  const p = labelPairs(m, stringAsLabel, true);
  const at = p.names.indexOf(NAME_LABEL);
  if (at >= 0) {
    p.names.splice(at, 1);
    p.values.splice(at, 1);
  }
  return p;
}

function numberOf(v: FieldValue): number {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : v ? 1 : 0;
}

function isNumeric(t: FieldType): boolean {
  return t !== FieldType.String;
}

export class RemoteWriteSerializer {
  private readonly stringAsLabel: boolean;
  private readonly sortMetrics: boolean;
  private readonly maxSamples: number;
  private readonly snappy = new SnappyEncoder();
  /** Scratch memory for the uncompressed WriteRequest, reused by every request. */
  private buf: Buffer = Buffer.allocUnsafe(256 * 1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private readonly cores = new WeakMap<TagSet, LabelCore>();
  private readonly nameLabels = new Map<string, Uint8Array>();
  private readonly plans = new WeakMap<FieldSchema, Map<string, SchemaPlan>>();
  /** Prometheus names by measurement and field key (null: not a valid name). */
  private readonly names = new Map<string, Map<string, string | null>>();
  private lastNs = -1n;
  private lastMs = 0;
  /** String fields left out since the serializer was made (Telegraf skips them too). */
  stringsSkipped = 0;
  /** Samples left out since the serializer was made (invalid names, bad histogram fields or `le` tags). */
  samplesSkipped = 0;
  /** Why the last sample was left out, for a log line per batch. */
  lastSkipReason = '';

  constructor(opts: RemoteWriteOptions = {}) {
    this.stringAsLabel = opts.stringAsLabel ?? false;
    this.sortMetrics = opts.sortMetrics ?? false;
    this.maxSamples = opts.maxSamplesPerRequest && opts.maxSamplesPerRequest > 0 ? opts.maxSamplesPerRequest : Infinity;
  }

  /**
   * A batch as one or more requests (more when it holds more than
   * `maxSamplesPerRequest` samples), each covering consecutive metrics so
   * that series stay in time order when the requests are sent in order.
   * A request whose metrics yield no sample has an empty body (nothing to send).
   */
  serializeBatch(metrics: readonly Metric[]): RemoteWriteRequest[] {
    const out: RemoteWriteRequest[] = [];
    let start = 0;
    let samples = 0;
    for (let i = 0; i < metrics.length; i++) {
      const n = this.sampleEstimate(metrics[i]);
      if (samples > 0 && samples + n > this.maxSamples) {
        this.pushRequest(out, metrics, start, i);
        start = i;
        samples = 0;
      }
      samples += n;
    }
    if (start < metrics.length) this.pushRequest(out, metrics, start, metrics.length);
    return out;
  }

  /** The uncompressed WriteRequest of metrics [start, end) (tests and benchmarks). */
  encodeUncompressed(metrics: readonly Metric[], start = 0, end = metrics.length): { bytes: Buffer; series: number; samples: number } {
    const r = this.encode(metrics, start, end);
    return { bytes: Buffer.from(this.buf.subarray(0, r.length)), series: r.series, samples: r.samples };
  }

  private pushRequest(out: RemoteWriteRequest[], metrics: readonly Metric[], start: number, end: number): void {
    const r = this.encode(metrics, start, end);
    const body = r.samples === 0 ? Buffer.alloc(0) : this.snappy.compress(this.buf.subarray(0, r.length));
    out.push({ body, start, end, series: r.series, samples: r.samples });
  }

  /** Samples a metric yields at most (for splitting batches into requests). */
  private sampleEstimate(m: Metric): number {
    const schema = m.fieldSchema;
    if (schema !== undefined && m.type !== 'histogram') return this.plan(schema, m.name).samples;
    let n = 0;
    for (const f of m.fields) if (f.type !== FieldType.String) n++;
    return m.type === 'histogram' ? n * 2 : n;
  }

  private ms(ns: bigint): number {
    if (ns !== this.lastNs) {
      this.lastNs = ns;
      this.lastMs = Number(ns / 1_000_000n);
    }
    return this.lastMs;
  }

  private promName(measurement: string, key: string): string | undefined {
    let byKey = this.names.get(measurement);
    if (byKey === undefined) {
      if (this.names.size > 10_000) this.names.clear();
      this.names.set(measurement, (byKey = new Map()));
    }
    let name = byKey.get(key);
    if (name === undefined) {
      name = sanitizeMetricName(metricName(measurement, key, false)) ?? null;
      if (byKey.size > 10_000) byKey.clear();
      byKey.set(key, name);
    }
    return name ?? undefined;
  }

  /** The Prometheus name of a plain field, or undefined (counted as skipped) when none can be made. */
  private fieldName(m: Metric, key: string): string | undefined {
    const name = this.promName(m.name, key);
    if (name === undefined) this.skip(`invalid metric name for field ${JSON.stringify(key)} of ${JSON.stringify(m.name)}`);
    return name;
  }

  private nameLabel(name: string): Uint8Array {
    let b = this.nameLabels.get(name);
    if (b === undefined) {
      if (this.nameLabels.size > 100_000) this.nameLabels.clear();
      b = encodeLabel(NAME_LABEL, name);
      this.nameLabels.set(name, b);
    }
    return b;
  }

  private plan(schema: FieldSchema, measurement: string): SchemaPlan {
    let byName = this.plans.get(schema);
    if (byName === undefined) this.plans.set(schema, (byName = new Map()));
    let plan = byName.get(measurement);
    if (plan === undefined) {
      const names: (string | undefined)[] = [];
      const nameLabels: (Uint8Array | undefined)[] = [];
      let samples = 0;
      for (let i = 0; i < schema.size; i++) {
        const name = isNumeric(schema.types[i]) ? this.promName(measurement, schema.keys[i]) : undefined;
        names.push(name);
        nameLabels.push(name === undefined ? undefined : this.nameLabel(name));
        if (name !== undefined) samples++;
      }
      plan = { measurement, names, nameLabels, samples };
      if (byName.size > 1000) byName.clear();
      byName.set(measurement, plan);
    }
    return plan;
  }

  private core(m: Metric): LabelCore {
    const tags = m.tagSet;
    if (!tags.frozen || this.stringAsLabel) {
      const p = corePairs(m, this.stringAsLabel);
      return makeCore(p.names, p.values);
    }
    let c = this.cores.get(tags);
    if (c === undefined) {
      const p = corePairs(m, false);
      c = makeCore(p.names, p.values);
      this.cores.set(tags, c);
    }
    return c;
  }

  private ensure(pos: number, n: number): void {
    if (pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** Encodes metrics [start, end) into the scratch buffer; returns its length and counts. */
  private encode(metrics: readonly Metric[], start: number, end: number): { length: number; series: number; samples: number } {
    // Group by label set and measurement: a series' samples must be together and in order.
    const groups = new Map<string, Map<string, Group>>();
    const generic = new Map<string, Series>();
    const strings = this.stringAsLabel;
    for (let i = start; i < end; i++) {
      const m = metrics[i];
      if (m.type === 'histogram') {
        this.addHistogram(generic, m);
        continue;
      }
      if (!strings) this.countStrings(m);
      const core = this.core(m);
      let byName = groups.get(core.key);
      if (byName === undefined) groups.set(core.key, (byName = new Map()));
      const g = byName.get(m.name);
      if (g === undefined) byName.set(m.name, { core, metrics: [m] });
      else g.metrics.push(m);
    }
    let pos = 0;
    let series = 0;
    let samples = 0;
    if (this.sortMetrics) {
      for (const byName of groups.values()) for (const g of byName.values()) this.groupToSeries(generic, g);
      const all = [...generic.values()].sort(compareSeries);
      for (const s of all) {
        pos = this.writeSeries(pos, s);
        series++;
        samples += s.times.length;
      }
      return { length: pos, series, samples };
    }
    for (const byName of groups.values()) {
      for (const g of byName.values()) {
        if (g.metrics.length === 1 || !this.sameLayout(g.metrics)) {
          if (g.metrics.length > 1) {
            this.groupToSeries(generic, g);
            continue;
          }
          const r = this.writeMetric(pos, g.core, g.metrics[0]);
          pos = r.pos;
          series += r.samples;
          samples += r.samples;
          continue;
        }
        const r = this.writeGroup(pos, g);
        pos = r.pos;
        series += r.series;
        samples += r.samples;
      }
    }
    for (const s of generic.values()) {
      pos = this.writeSeries(pos, s);
      series++;
      samples += s.times.length;
    }
    return { length: pos, series, samples };
  }

  private countStrings(m: Metric): void {
    const schema = m.fieldSchema;
    if (schema !== undefined) {
      for (let i = 0; i < schema.size; i++) if (schema.types[i] === FieldType.String) this.stringsSkipped++;
      return;
    }
    for (const f of m.fields) if (f.type === FieldType.String) this.stringsSkipped++;
  }

  /** True when all metrics share one field schema (the case of a series gathered several times). */
  private sameLayout(ms: readonly Metric[]): boolean {
    const schema = ms[0].fieldSchema;
    if (schema === undefined) return false;
    for (let i = 1; i < ms.length; i++) if (ms[i].fieldSchema !== schema) return false;
    return true;
  }

  /** One TimeSeries per numeric field of a single metric (the common case: one sample per series). */
  private writeMetric(pos: number, core: LabelCore, m: Metric): { pos: number; samples: number } {
    const ms = this.ms(m.time);
    const tsLen = varintLength(ms);
    const schema = m.fieldSchema;
    let samples = 0;
    if (schema !== undefined) {
      const plan = this.plan(schema, m.name);
      const values = m.fieldValues!;
      for (let i = 0; i < schema.size; i++) {
        const label = plan.nameLabels[i];
        if (label === undefined) continue;
        pos = this.writeOne(pos, core, label, numberOf(values[i]), ms, tsLen);
        samples++;
      }
      return { pos, samples };
    }
    for (const f of m.fields) {
      if (f.type === FieldType.String) continue;
      const name = this.fieldName(m, f.key);
      if (name === undefined) continue;
      pos = this.writeOne(pos, core, this.nameLabel(name), numberOf(f.value), ms, tsLen);
      samples++;
    }
    return { pos, samples };
  }

  /** A label set and measurement seen several times with one schema: one TimeSeries per field, samples in time order. */
  private writeGroup(pos: number, g: Group): { pos: number; series: number; samples: number } {
    const ms = orderedByTime(g.metrics);
    const m0 = ms[0];
    const plan = this.plan(m0.fieldSchema!, m0.name);
    const times = ms.map((m) => this.ms(m.time));
    // Equal timestamps: the later metric wins (as Telegraf's accumulateSample).
    const keep: number[] = [];
    for (let k = 0; k < ms.length; k++) {
      if (k + 1 < ms.length && times[k + 1] === times[k]) continue;
      keep.push(k);
    }
    let series = 0;
    let samples = 0;
    for (let i = 0; i < plan.nameLabels.length; i++) {
      const label = plan.nameLabels[i];
      if (label === undefined) continue;
      let body = g.core.bytes.length + label.length;
      for (const k of keep) body += sampleEntryLength(numberOf(ms[k].fieldValues![i]), times[k]);
      this.ensure(pos, body + 10);
      pos = this.writeHeader(pos, body, g.core, label);
      for (const k of keep) pos = this.writeSample(pos, numberOf(ms[k].fieldValues![i]), times[k], varintLength(times[k]));
      series++;
      samples += keep.length;
    }
    return { pos, series, samples };
  }

  /** A group's samples into the generic series map (several field layouts, or sorted output). */
  private groupToSeries(generic: Map<string, Series>, g: Group): void {
    for (const m of orderedByTime(g.metrics)) {
      const ms = this.ms(m.time);
      for (const f of m.fields) {
        if (f.type === FieldType.String) continue;
        const name = this.fieldName(m, f.key);
        if (name === undefined) continue;
        this.addSample(generic, g.core, name, ms, numberOf(f.value));
      }
    }
  }

  /** Telegraf's histogram rules: `_bucket` with `le`, `_sum`, `_count` (also the `+Inf` bucket). */
  private addHistogram(generic: Map<string, Series>, m: Metric): void {
    if (!this.stringAsLabel) this.countStrings(m);
    const p = corePairs(m, this.stringAsLabel);
    let core: LabelCore | undefined;
    const ms = this.ms(m.time);
    for (const f of m.fields) {
      if (f.type === FieldType.String) continue;
      const base = sanitizeMetricName(metricName(m.name, f.key, true));
      if (base === undefined) {
        this.skip(`invalid metric name for field ${JSON.stringify(f.key)} of ${JSON.stringify(m.name)}`);
        continue;
      }
      const key = f.key;
      if (key.endsWith('_bucket')) {
        const le = m.getTag('le');
        const bound = le === undefined ? undefined : parseBound(le);
        const count = sampleCount(f);
        if (bound === undefined || Number.isNaN(bound) || count === undefined) {
          this.skip(le === undefined ? `${base}: no le tag` : `${base}: bad bucket ${JSON.stringify(le)} or count`);
          continue;
        }
        this.addSample(generic, withLabel(p, 'le', formatBound(bound)), base + '_bucket', ms, Number(count));
      } else if (key.endsWith('_sum')) {
        const sum = sampleSum(f);
        if (sum === undefined) {
          this.skip(`${base}: bad sum`);
          continue;
        }
        this.addSample(generic, (core ??= makeCore(p.names, p.values)), base + '_sum', ms, sum);
      } else if (key.endsWith('_count')) {
        const count = sampleCount(f);
        if (count === undefined) {
          this.skip(`${base}: bad count`);
          continue;
        }
        this.addSample(generic, withLabel(p, 'le', '+Inf'), base + '_bucket', ms, Number(count));
        this.addSample(generic, (core ??= makeCore(p.names, p.values)), base + '_count', ms, Number(count));
      } else this.skip(`${base}: histogram field ${JSON.stringify(key)} has no _bucket, _sum or _count suffix`);
    }
  }

  private addSample(generic: Map<string, Series>, core: LabelCore, name: string, ms: number, value: number): void {
    const key = core.key + '\u0002' + name;
    const s = generic.get(key);
    if (s === undefined) {
      generic.set(key, { core, name, nameLabel: this.nameLabel(name), times: [ms], values: [value] });
      return;
    }
    const last = s.times.length - 1;
    if (ms > s.times[last]) {
      s.times.push(ms);
      s.values.push(value);
    } else if (ms === s.times[last]) s.values[last] = value;
    else insertSample(s, ms, value);
  }

  private skip(reason: string): void {
    this.samplesSkipped++;
    this.lastSkipReason = reason;
  }

  private writeSeries(pos: number, s: Series): number {
    let body = s.core.bytes.length + s.nameLabel.length;
    for (let k = 0; k < s.times.length; k++) body += sampleEntryLength(s.values[k], s.times[k]);
    this.ensure(pos, body + 10);
    pos = this.writeHeader(pos, body, s.core, s.nameLabel);
    for (let k = 0; k < s.times.length; k++) pos = this.writeSample(pos, s.values[k], s.times[k], varintLength(s.times[k]));
    return pos;
  }

  /** One TimeSeries with one sample. */
  private writeOne(pos: number, core: LabelCore, label: Uint8Array, value: number, ms: number, tsLen: number): number {
    const body = core.bytes.length + label.length + 2 + (value !== 0 ? 9 : 0) + 1 + tsLen;
    this.ensure(pos, body + 10);
    pos = this.writeHeader(pos, body, core, label);
    return this.writeSample(pos, value, ms, tsLen);
  }

  /** `WriteRequest.timeseries` tag and length, then the labels with `__name__` in its sorted place. */
  private writeHeader(pos: number, body: number, core: LabelCore, nameLabel: Uint8Array): number {
    const buf = this.buf;
    buf[pos++] = 0x0a;
    pos = writeVarintTo(buf, pos, body);
    const bytes = core.bytes;
    const split = core.split;
    if (split > 0) {
      buf.set(split === bytes.length ? bytes : bytes.subarray(0, split), pos);
      pos += split;
    }
    buf.set(nameLabel, pos);
    pos += nameLabel.length;
    if (split < bytes.length) {
      buf.set(split === 0 ? bytes : bytes.subarray(split), pos);
      pos += bytes.length - split;
    }
    return pos;
  }

  /** `TimeSeries.samples` entry: `Sample { double value = 1; int64 timestamp = 2 }`, zero value omitted (proto3). */
  private writeSample(pos: number, value: number, ms: number, tsLen: number): number {
    const buf = this.buf;
    buf[pos++] = 0x12;
    if (value !== 0) {
      buf[pos++] = 10 + tsLen;
      buf[pos++] = 0x09;
      this.view.setFloat64(pos, value, true);
      pos += 8;
    } else buf[pos++] = 1 + tsLen;
    buf[pos++] = 0x10;
    return writeVarintTo(buf, pos, ms);
  }
}

function sampleEntryLength(value: number, ms: number): number {
  return 2 + (value !== 0 ? 9 : 0) + 1 + varintLength(ms);
}

/** Metrics in time order (stable: equal times keep their order, the later one winning later). */
function orderedByTime(ms: Metric[]): Metric[] {
  for (let i = 1; i < ms.length; i++) if (ms[i].time < ms[i - 1].time) return ms.slice().sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return ms;
}

function insertSample(s: Series, ms: number, value: number): void {
  let lo = 0;
  let hi = s.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.times[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  if (s.times[lo] === ms) {
    // An earlier metric of the batch with the same time: the later one (this) wins.
    s.values[lo] = value;
    return;
  }
  s.times.splice(lo, 0, ms);
  s.values.splice(lo, 0, value);
}

/** A LabelCore of `p` plus one more label (`le`), in sorted place. */
function withLabel(p: { names: string[]; values: string[] }, name: string, value: string): LabelCore {
  const names = p.names.slice();
  const values = p.values.slice();
  let at = names.indexOf(name);
  if (at >= 0) values[at] = value;
  else {
    at = 0;
    while (at < names.length && names[at] < name) at++;
    names.splice(at, 0, name);
    values.splice(at, 0, value);
  }
  return makeCore(names, values);
}

/** Telegraf's prometheus_sort_metrics order: fewer labels first, then label by label (name, then value), `__name__` included. */
function compareSeries(a: Series, b: Series): number {
  const la = fullLabels(a);
  const lb = fullLabels(b);
  if (la.length !== lb.length) return la.length - lb.length;
  for (let i = 0; i < la.length; i++) {
    if (la[i][0] !== lb[i][0]) return la[i][0] < lb[i][0] ? -1 : 1;
    if (la[i][1] !== lb[i][1]) return la[i][1] < lb[i][1] ? -1 : 1;
  }
  return 0;
}

function fullLabels(s: Series): [string, string][] {
  const out: [string, string][] = [];
  let named = false;
  for (let i = 0; i < s.core.names.length; i++) {
    if (!named && s.core.names[i] > NAME_LABEL) {
      out.push([NAME_LABEL, s.name]);
      named = true;
    }
    out.push([s.core.names[i], s.core.values[i]]);
  }
  if (!named) out.push([NAME_LABEL, s.name]);
  return out;
}
