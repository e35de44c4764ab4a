/** Test support: an accumulator that keeps metrics and errors, and a logger that keeps its lines. */
import { Logger } from '../../../core/log';
import { Metric, nowNs, type FieldInit, type Tags, type ValueType } from '../../../core/metric';
import type { Accumulator, PluginContext } from '../../../core/plugin';

export class CollectingAccumulator implements Accumulator {
  readonly metrics: Metric[] = [];
  readonly errors: string[] = [];
  readonly time = nowNs();

  private add(type: ValueType, name: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.addMetric(Metric.from(name, tags ?? {}, fields, time ?? this.time, type));
  }
  addFields(n: string, f: Record<string, FieldInit>, t?: Tags, time?: bigint): void {
    this.add('untyped', n, f, t, time);
  }
  addGauge(n: string, f: Record<string, FieldInit>, t?: Tags, time?: bigint): void {
    this.add('gauge', n, f, t, time);
  }
  addCounter(n: string, f: Record<string, FieldInit>, t?: Tags, time?: bigint): void {
    this.add('counter', n, f, t, time);
  }
  addHistogram(n: string, f: Record<string, FieldInit>, t?: Tags, time?: bigint): void {
    this.add('histogram', n, f, t, time);
  }
  addMetric(m: Metric): void {
    this.metrics.push(m);
  }
  addError(err: unknown): void {
    this.errors.push(err instanceof Error ? err.message : String(err));
  }

  /** Metrics of a measurement whose tags include all of `tags`. */
  find(name: string, tags: Tags = {}): Metric[] {
    return this.metrics.filter((m) => m.name === name && Object.entries(tags).every(([k, v]) => m.getTag(k) === v));
  }

  /** The numeric value of a field in the only metric matching (throws when absent). */
  value(name: string, tags: Tags, field: string): number {
    for (const m of this.find(name, tags)) {
      const f = m.getField(field);
      if (f) return Number(f.value);
    }
    throw new Error(`no field ${field} in ${name} ${JSON.stringify(tags)}`);
  }
}

export class CapturingLogger extends Logger {
  readonly lines: Array<[string, string]> = [];
  constructor() {
    super('inputs.conntrack', 'error');
  }
  override error(m: string): void {
    this.lines.push(['error', m]);
  }
  override warn(m: string): void {
    this.lines.push(['warn', m]);
  }
  override info(m: string): void {
    this.lines.push(['info', m]);
  }
  override debug(m: string): void {
    this.lines.push(['debug', m]);
  }
}

export function testContext(log: Logger = new CapturingLogger()): PluginContext {
  return { log, section: 'inputs.conntrack', intervalNs: 10_000_000_000n, oneShot: false };
}
