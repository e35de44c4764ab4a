/**
 * A per-output ring buffer of metrics (Telegraf's memory buffer). When full,
 * the oldest metric is overwritten and counted as dropped. Batches are taken
 * from the oldest end and either accepted (removed) or rejected (kept, in
 * order, at the front), so a failed write is retried without duplication.
 */
import type { Metric } from '../metric';

/**
 * What a RunningOutput needs of its buffer: the memory ring below, or the
 * disk-backed log (disk/disk_buffer.ts, `buffer_strategy = "disk"`).
 */
export interface OutputBuffer {
  /** metric_buffer_limit */
  readonly capacity: number;
  /** Metrics buffered (not yet acknowledged by the output). */
  readonly length: number;
  /** Metrics dropped so far (overflow, and for a disk buffer metrics it could neither write nor hold). */
  dropped: number;
  /** Drops not yet reported by a warning. */
  droppedSinceWarning: number;
  /** Buffers metrics; returns how many (older) metrics were dropped to make room. */
  add(metrics: readonly Metric[]): number;
  /** The oldest `n` metrics (not removed until `endBatch`). One batch at a time. */
  batch(n: number): Metric[];
  /** Metrics [offset, offset + n) counted from the oldest, without taking them (to prepare the next batch). */
  peek(offset: number, n: number): Metric[];
  /** Ends the batch from `batch`: `remove` (written or rejected) takes it out except the indices in `keep`. */
  endBatch(batch: readonly Metric[], remove: boolean, keep?: ReadonlySet<number>): void;
  /** Drops that happen outside `add` (a disk buffer whose write failed later): the count, for the output's statistics. */
  onLateDrop?: (n: number) => void;
  /** Releases files; metrics buffered on disk stay there for the next start. */
  close?(): void;
}

export class MetricBuffer implements OutputBuffer {
  private readonly buf: (Metric | undefined)[];
  private first = 0; // index of the oldest metric
  private size = 0;
  /** Metrics of the batch currently being written (they stay in the buffer until accepted). */
  private batchSize = 0;
  dropped = 0;
  /** Drops not yet reported by a warning. */
  droppedSinceWarning = 0;

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new Error('metric_buffer_limit must be positive');
    this.buf = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  add(metrics: readonly Metric[]): number {
    let dropped = 0;
    for (const m of metrics) {
      if (this.size === this.capacity) {
        // Overwrite the oldest. If it belongs to an in-flight batch, that batch shrinks.
        this.first = (this.first + 1) % this.capacity;
        this.size--;
        if (this.batchSize > 0) this.batchSize--;
        dropped++;
      }
      this.buf[(this.first + this.size) % this.capacity] = m;
      this.size++;
    }
    this.dropped += dropped;
    this.droppedSinceWarning += dropped;
    return dropped;
  }

  /** The oldest `n` metrics (not removed until `accept`). */
  batch(n: number): Metric[] {
    const count = Math.min(n, this.size);
    const out = new Array<Metric>(count);
    for (let i = 0; i < count; i++) out[i] = this.buf[(this.first + i) % this.capacity] as Metric;
    this.batchSize = count;
    return out;
  }

  /** Metrics [offset, offset + n) counted from the oldest, without taking them (to prepare the next batch). */
  peek(offset: number, n: number): Metric[] {
    const count = Math.max(0, Math.min(n, this.size - offset));
    const out = new Array<Metric>(count);
    for (let i = 0; i < count; i++) out[i] = this.buf[(this.first + offset + i) % this.capacity] as Metric;
    return out;
  }

  /**
   * Ends the in-flight batch: `acceptedOrDropped` metrics at the front are
   * removed (the batch may have shrunk if the buffer overflowed meanwhile).
   * `keep` lists batch indices to keep buffered (partial writes).
   */
  endBatch(batch: readonly Metric[], remove: boolean, keep?: ReadonlySet<number>): void {
    // Overflow during the write may have evicted the first metrics of the batch.
    const evicted = batch.length - this.batchSize;
    const live = this.batchSize;
    this.batchSize = 0;
    if (!remove) return;
    const kept: Metric[] = [];
    if (keep) for (let i = evicted; i < batch.length; i++) if (keep.has(i)) kept.push(batch[i]);
    for (let i = 0; i < live; i++) {
      this.buf[this.first] = undefined;
      this.first = (this.first + 1) % this.capacity;
      this.size--;
    }
    // Put kept metrics back at the front, in their original order.
    for (let i = kept.length - 1; i >= 0; i--) {
      if (this.size === this.capacity) break;
      this.first = (this.first - 1 + this.capacity) % this.capacity;
      this.buf[this.first] = kept[i];
      this.size++;
    }
  }
}
