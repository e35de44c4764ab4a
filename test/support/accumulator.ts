/**
 * The fake accumulator of every input test, bench and lab driver (Telegraf's
 * testutil.Accumulator): keeps what an input hands over, typed as the agent
 * would type it, and the messages of the errors it reports.
 */
import { Metric, nowNs, type FieldInit, type FieldValue, type Tags, type ValueType } from '../../core/metric';
import type { Accumulator } from '../../core/plugin';

export interface TestAccumulatorOptions {
  /** `time` of the accumulator, used when addFields() gets none (default: now). */
  time?: bigint;
  /**
   * Keep only the last N metrics, as an output buffer with metric_buffer_limit
   * N would (for benches gathering more than they can hold); `count` still
   * counts every metric.
   */
  keepLast?: number;
  /** The input must build its metrics itself: addFields, addGauge, addCounter and addHistogram throw. */
  metricsOnly?: boolean;
}

export class TestAccumulator implements Accumulator {
  /** The metrics kept, in the order they came (unless `keepLast` wraps). */
  readonly metrics: Metric[] = [];
  /** Messages of the errors reported with addError(). */
  readonly errors: string[] = [];
  /** Metrics handed over, including those `keepLast` let go. */
  count = 0;
  readonly time: bigint;
  private readonly keepLast: number;
  private readonly metricsOnly: boolean;

  constructor(options: TestAccumulatorOptions = {}) {
    this.time = options.time ?? nowNs();
    this.keepLast = options.keepLast ?? Infinity;
    this.metricsOnly = options.metricsOnly ?? false;
  }

  addFields(name: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('addFields', 'untyped', name, fields, tags, time);
  }
  addGauge(name: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('addGauge', 'gauge', name, fields, tags, time);
  }
  addCounter(name: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('addCounter', 'counter', name, fields, tags, time);
  }
  addHistogram(name: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('addHistogram', 'histogram', name, fields, tags, time);
  }

  addMetric(m: Metric): void {
    if (this.metrics.length < this.keepLast) this.metrics.push(m);
    else this.metrics[this.count % this.keepLast] = m;
    this.count++;
  }

  addError(err: unknown): void {
    this.errors.push(err instanceof Error ? err.message : String(err));
  }

  /** Metrics of a measurement whose tags include all of `tags`. */
  find(name: string, tags: Tags = {}): Metric[] {
    return this.metrics.filter((m) => m.name === name && Object.entries(tags).every(([k, v]) => m.getTag(k) === v));
  }

  /** The numeric value of a field in the first metric matching that has it (throws when none has). */
  value(name: string, tags: Tags, field: string): number {
    for (const m of this.find(name, tags)) {
      const f = m.getField(field);
      if (f) return Number(f.value);
    }
    throw new Error(`no field ${field} in ${name} ${JSON.stringify(tags)}`);
  }

  private add(method: string, type: ValueType, name: string, fields: Record<string, FieldInit>, tags: Tags | undefined, time: bigint | undefined): void {
    if (this.metricsOnly) throw new Error(`unexpected ${method}`);
    this.addMetric(Metric.from(name, tags ?? {}, fields, time ?? this.time, type));
  }
}

/** A field's value, or undefined when the metric has no such field. */
export function fieldValue(m: Metric, key: string): FieldValue | undefined {
  return m.getField(key)?.value;
}

/** A metric as plain JSON (integers as numbers), for lab drivers that print what they gathered. */
export interface PlainMetric {
  name: string;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
}

export function plainMetric(m: Metric): PlainMetric {
  const fields: PlainMetric['fields'] = {};
  for (const f of m.fields) fields[f.key] = typeof f.value === 'bigint' ? Number(f.value) : f.value;
  return { name: m.name, tags: m.tags(), fields };
}
