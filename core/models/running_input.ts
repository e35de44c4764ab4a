/**
 * An input plugin instance with its common options applied in Telegraf's
 * order (models/running_input.go): selectors on the raw metric, then
 * name_override / name_prefix / name_suffix, plugin tags, global tags, then
 * modifiers; metrics left without fields are dropped; timestamps rounded to
 * the input's precision.
 */
import { MetricFilter, type FilterConfig } from '../filter/filter';
import type { Logger } from '../log';
import { Metric, nowNs, roundTime, type FieldInit, type Tags, type ValueType } from '../metric';
import type { Accumulator, Input } from '../plugin';
import { selfStats, type Stat, type StatGroup } from '../selfstat';
import { filterTagTransform, type TagTransform } from './tag_transform';

export interface RunningInputConfig {
  name: string;
  alias?: string;
  intervalNs: bigint;
  precisionNs: bigint;
  collectionJitterNs: bigint;
  collectionOffsetNs: bigint;
  nameOverride?: string;
  namePrefix?: string;
  nameSuffix?: string;
  tags: Tags;
  filter: FilterConfig;
  startupErrorBehavior: 'error' | 'retry' | 'ignore' | 'probe';
}

export type MetricSink = (m: Metric) => void;

export class RunningInput {
  readonly filter: MetricFilter;
  readonly stats: {
    metricsGathered: Stat;
    gatherTime: Stat;
    errors: Stat;
    gatherTimeouts: Stat;
    startupErrors: Stat;
  };
  /** Set while a gather runs, so ticks never overlap one. */
  gathering = false;
  started = false;
  /** Tag selectors, plugin and global tags, tag modifiers: undefined when there are none. */
  private readonly tagTransform: TagTransform | undefined;
  /** The internal_gather series this input reports under. */
  readonly statGroup: StatGroup;

  constructor(
    readonly config: RunningInputConfig,
    readonly input: Input,
    readonly log: Logger,
    globalTags: Tags,
  ) {
    this.filter = new MetricFilter(config.filter);
    this.tagTransform = filterTagTransform(this.filter, [...Object.entries(config.tags), ...Object.entries(globalTags)]);
    const tags: Record<string, string> = { input: config.name };
    if (config.alias) tags.alias = config.alias;
    this.statGroup = { measurement: 'internal_gather', tags };
    this.stats = {
      metricsGathered: selfStats.register('internal_gather', 'metrics_gathered', tags),
      gatherTime: selfStats.register('internal_gather', 'gather_time_ns', tags, true),
      errors: selfStats.register('internal_gather', 'errors', tags),
      gatherTimeouts: selfStats.register('internal_gather', 'gather_timeouts', tags),
      startupErrors: selfStats.register('internal_gather', 'startup_errors', tags),
    };
  }

  get logName(): string {
    return this.config.alias ? `inputs.${this.config.name}::${this.config.alias}` : `inputs.${this.config.name}`;
  }

  /**
   * Applies the common options to a plugin metric; undefined when it is
   * filtered out. The tag steps depend on the tags alone, so they run as one
   * transform (once per frozen tag set); the result equals Telegraf's order.
   */
  makeMetric(m: Metric): Metric | undefined {
    const f = this.filter;
    if (f.isActive && !f.selectName(m.name)) return undefined;
    const c = this.config;
    if (c.nameOverride) m.name = c.nameOverride;
    if (c.namePrefix) m.name = c.namePrefix + m.name;
    if (c.nameSuffix) m.name = m.name + c.nameSuffix;
    if (this.tagTransform && !this.tagTransform.apply(m)) return undefined;
    if (f.isActive) {
      f.modifyFields(m);
      if (m.fieldCount === 0) return undefined;
    }
    if (c.precisionNs > 1n) m.time = roundTime(m.time, c.precisionNs);
    this.stats.metricsGathered.incr();
    return m;
  }

  accumulator(sink: MetricSink, time?: bigint, ready?: () => Promise<void> | undefined): InputAccumulator {
    return new InputAccumulator(this, sink, time ?? nowNs(), ready);
  }
}

export class InputAccumulator implements Accumulator {
  errors = 0;

  constructor(
    private readonly ri: RunningInput,
    private readonly sink: MetricSink,
    readonly time: bigint,
    private readonly ready?: () => Promise<void> | undefined,
  ) {}

  whenReady(): Promise<void> {
    return this.ready?.() ?? new Promise<void>((resolve) => setImmediate(resolve));
  }

  private add(type: ValueType, measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    const m = new Metric(measurement, time ?? this.time, type);
    if (tags) for (const k in tags) m.setTag(k, tags[k]);
    for (const k in fields) m.addFieldInit(k, fields[k]);
    this.addMetric(m);
  }

  addFields(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('untyped', measurement, fields, tags, time);
  }
  addGauge(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('gauge', measurement, fields, tags, time);
  }
  addCounter(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('counter', measurement, fields, tags, time);
  }
  addHistogram(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void {
    this.add('histogram', measurement, fields, tags, time);
  }

  addMetric(metric: Metric): void {
    if (metric.fieldCount === 0) return;
    if (metric.time === 0n) metric.time = this.time;
    const m = this.ri.makeMetric(metric);
    if (m) this.sink(m);
  }

  addError(err: unknown): void {
    this.errors++;
    this.ri.stats.errors.incr();
    selfStats.register('internal_agent', 'gather_errors').incr();
    const msg = err instanceof Error ? err.message : String(err);
    this.ri.log.error(`Error in plugin: ${msg}`);
  }
}
