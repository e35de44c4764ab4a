/**
 * An output plugin instance with its buffer and Telegraf's delivery rules
 * (models/running_output.go): filters (selectors, then modifiers, then name
 * changes) before buffering; batches of `metric_batch_size` taken from the
 * oldest end; a failed write keeps the batch for the next flush; a timer flush
 * writes every batch present at its start and stops at the first error; a full
 * batch triggers an early flush unless the last write failed.
 */
import { MetricFilter, type FilterConfig } from '../filter/filter';
import type { Logger } from '../log';
import type { Metric } from '../metric';
import { PartialWriteError, type Output } from '../plugin';
import { selfStats, type Stat, type StatGroup } from '../selfstat';
import { MetricBuffer, type OutputBuffer } from './buffer';
import { filterTagTransform, type TagTransform } from './tag_transform';

export interface RunningOutputConfig {
  name: string;
  alias?: string;
  flushIntervalNs: bigint;
  flushJitterNs: bigint;
  metricBatchSize: number;
  metricBufferLimit: number;
  nameOverride?: string;
  namePrefix?: string;
  nameSuffix?: string;
  filter: FilterConfig;
  startupErrorBehavior: 'error' | 'retry' | 'ignore' | 'probe';
}

/** The tags of an output's `internal_write` statistics. */
export function writeStatTags(name: string, alias?: string): Record<string, string> {
  const tags: Record<string, string> = { output: name };
  if (alias) tags.alias = alias;
  return tags;
}

export class RunningOutput {
  readonly filter: MetricFilter;
  readonly buffer: OutputBuffer;
  readonly stats: Record<
    | 'metricsAdded'
    | 'metricsWritten'
    | 'metricsDropped'
    | 'metricsFiltered'
    | 'metricsRejected'
    | 'bufferSize'
    | 'bufferLimit'
    | 'writeErrors'
    | 'errors'
    | 'writeTime'
    | 'startupErrors',
    Stat
  >;
  /** The flush in progress: at most one write is in flight per output. */
  private flushing: Promise<boolean> | undefined;
  private readonly statTags: Record<string, string>;
  /** The internal_write series this output reports under. */
  readonly statGroup: StatGroup;
  /** After a failed write, "batch ready" flushes wait for the next timer flush. */
  private lastWriteFailed = false;
  /** Called when a full batch is waiting (the agent schedules a flush). */
  onBatchReady?: () => void;
  connected = false;
  /** Tag selectors and modifiers: undefined when there are none. */
  private readonly tagTransform: TagTransform | undefined;

  constructor(
    readonly config: RunningOutputConfig,
    readonly output: Output,
    readonly log: Logger,
    /** The buffer (default: a memory ring of metric_buffer_limit metrics). */
    buffer?: OutputBuffer,
  ) {
    this.filter = new MetricFilter(config.filter);
    this.tagTransform = filterTagTransform(this.filter);
    this.buffer = buffer ?? new MetricBuffer(config.metricBufferLimit);
    const tags = writeStatTags(config.name, config.alias);
    this.statTags = tags;
    this.statGroup = { measurement: 'internal_write', tags };
    const reg = (f: string, timing = false): Stat => selfStats.register('internal_write', f, tags, timing);
    this.stats = {
      metricsAdded: reg('metrics_added'),
      metricsWritten: reg('metrics_written'),
      metricsDropped: reg('metrics_dropped'),
      metricsFiltered: reg('metrics_filtered'),
      metricsRejected: reg('metrics_rejected'),
      bufferSize: reg('buffer_size'),
      bufferLimit: reg('buffer_limit'),
      writeErrors: reg('write_errors'),
      errors: reg('errors'),
      writeTime: reg('write_time_ns', true),
      startupErrors: reg('startup_errors'),
    };
    this.stats.bufferLimit.set(config.metricBufferLimit);
    this.buffer.onLateDrop = (n) => {
      this.stats.metricsDropped.incr(n);
      selfStats.register('internal_agent', 'metrics_dropped').incr(n);
      this.stats.bufferSize.set(this.buffer.length);
    };
  }

  get logName(): string {
    return this.config.alias ? `outputs.${this.config.name}::${this.config.alias}` : `outputs.${this.config.name}`;
  }

  /** Filters and buffers one metric (the caller hands over its own copy). */
  add(m: Metric): void {
    const f = this.filter;
    if (f.isActive) {
      // Selectors, then modifiers (the tag steps as one transform, once per frozen tag set).
      if (!f.selectName(m.name) || (this.tagTransform && !this.tagTransform.apply(m))) {
        this.stats.metricsFiltered.incr();
        return;
      }
      f.modifyFields(m);
      if (m.fieldCount === 0) {
        this.stats.metricsFiltered.incr();
        return;
      }
    }
    const c = this.config;
    if (c.nameOverride) m.name = c.nameOverride;
    if (c.namePrefix) m.name = c.namePrefix + m.name;
    if (c.nameSuffix) m.name = m.name + c.nameSuffix;
    const dropped = this.buffer.add([m]);
    this.stats.metricsAdded.incr();
    if (dropped) {
      this.stats.metricsDropped.incr(dropped);
      selfStats.register('internal_agent', 'metrics_dropped').incr(dropped);
    }
    this.stats.bufferSize.set(this.buffer.length);
    if (this.buffer.length >= c.metricBatchSize && !this.lastWriteFailed && !this.flushing) this.onBatchReady?.();
  }

  private reportOverflow(): void {
    if (this.buffer.droppedSinceWarning > 0) {
      this.log.warn(`Metric buffer overflow; ${this.buffer.droppedSinceWarning} metrics have been dropped`);
      this.buffer.droppedSinceWarning = 0;
    }
  }

  /** True while a write is in flight. */
  get busy(): boolean {
    return this.flushing !== undefined;
  }

  /**
   * Writes every batch present now (timer flush), or one batch when
   * `onlyFullBatch`. Resolves true when everything attempted was written.
   * Never rejects. While a flush is in progress a new one does not queue
   * behind it (a hanging output would pile up waiters, each later spending a
   * full timeout): the caller shares the running flush's result.
   */
  flush(onlyFullBatch = false): Promise<boolean> {
    if (this.flushing) return this.flushing;
    const run = this.writeBatches(onlyFullBatch).finally(() => {
      this.flushing = undefined;
    });
    this.flushing = run;
    return run;
  }

  /** Waits for a flush in progress, then flushes what is left (the final flush at shutdown). */
  async flushAfterCurrent(): Promise<boolean> {
    if (this.flushing) await this.flushing;
    return this.flush();
  }

  /** Resolves when no write is in flight (before a buffer is handed to a reloaded agent). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async writeBatches(onlyFullBatch: boolean): Promise<boolean> {
    // startup_error_behavior = "retry": connect again on the flush schedule (Telegraf retries in Write).
    if (!this.connected && !(await this.reconnect())) return false;
    this.reportOverflow();
    const size = this.config.metricBatchSize;
    let batches = Math.ceil(this.buffer.length / size);
    if (onlyFullBatch) batches = this.buffer.length >= size ? 1 : 0;
    let ok = true;
    for (let i = 0; i < batches; i++) {
      const batch = this.buffer.batch(size);
      if (batch.length === 0) break;
      const written = this.writeBatch(batch);
      // While this batch is on the wire, let the output encode the next one.
      if (i + 1 < batches && this.output.prepare) this.output.prepare(this.buffer.peek(batch.length, size));
      if (!(await written)) {
        ok = false;
        break;
      }
    }
    this.stats.bufferSize.set(this.buffer.length);
    return ok;
  }

  private async reconnect(): Promise<boolean> {
    try {
      await this.output.connect?.();
      this.connected = true;
      this.log.info('Connected (startup_error_behavior = "retry")');
      return true;
    } catch (err) {
      this.stats.errors.incr();
      this.log.error(`connecting: ${err instanceof Error ? err.message : String(err)}; will retry at the next flush`);
      return false;
    }
  }

  /** How long one write may take (the output's own timeout; 5 s when it has none). */
  get writeTimeoutMs(): number {
    return this.output.timeoutMs ?? 5000;
  }

  private publishOutputStats(): void {
    if (!this.output.stats) return;
    for (const [field, value] of Object.entries(this.output.stats())) selfStats.register('internal_write', field, this.statTags).set(value);
  }

  private async writeBatch(batch: Metric[]): Promise<boolean> {
    const start = process.hrtime.bigint();
    try {
      await this.output.write(batch);
      this.buffer.endBatch(batch, true);
      const ns = process.hrtime.bigint() - start;
      this.stats.metricsWritten.incr(batch.length);
      selfStats.register('internal_agent', 'metrics_written').incr(batch.length);
      this.stats.writeTime.set(Number(ns));
      this.publishOutputStats();
      this.lastWriteFailed = false;
      this.log.debug(`Wrote batch of ${batch.length} metrics in ${(Number(ns) / 1e6).toFixed(3)}ms`);
      this.log.debug(`Buffer fullness: ${this.buffer.length} / ${this.config.metricBufferLimit} metrics`);
      return true;
    } catch (err) {
      if (err instanceof PartialWriteError) {
        const keep = new Set<number>();
        const done = new Set<number>([...err.rejected, ...err.accepted]);
        for (let i = 0; i < batch.length; i++) if (!done.has(i)) keep.add(i);
        this.buffer.endBatch(batch, true, keep);
        this.stats.metricsWritten.incr(err.accepted.length);
        this.stats.metricsRejected.incr(err.rejected.length);
        selfStats.register('internal_agent', 'metrics_rejected').incr(err.rejected.length);
        this.log.error(`Error writing: ${err.message}`);
        this.lastWriteFailed = keep.size > 0;
        return keep.size === 0;
      }
      this.buffer.endBatch(batch, false);
      this.stats.writeErrors.incr();
      this.stats.errors.incr();
      selfStats.register('internal_agent', 'write_errors').incr();
      this.lastWriteFailed = true;
      this.log.error(`Error writing to ${this.logName}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }
}
