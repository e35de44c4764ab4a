/**
 * Stdout as lvsagent writes to it, for every path that does: `--test`,
 * `--once`, `--execd` and `outputs.file` with "stdout".
 *
 * On Linux a pipe on stdout is asynchronous in Node: a write returns before
 * the reader took the bytes, and `process.exit()` with writes queued loses
 * them. So every write here resolves only when the kernel has the bytes,
 * producers await it (a slow reader slows the agent instead of growing a
 * queue), and exiting waits for `drain()`. When the reader goes away (EPIPE:
 * `| head -1`, or Telegraf stopped) the sink closes once, its `onClose`
 * listeners decide what that means, and later writes are dropped and counted
 * instead of raising an unhandled 'error'.
 */
import type { Metric } from './metric';
import { LineProtocolSerializer, type InfluxSerializerOptions } from './serializers/influx';

export interface WritableLike {
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

export class ByteSink {
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private closedBy: Error | undefined;
  private readonly closeListeners: ((err: Error) => void)[] = [];
  /** Bytes dropped because the reader had gone. */
  droppedBytes = 0;

  constructor(private readonly stream: WritableLike) {
    stream.on('error', (err) => this.close(err));
  }

  /** True once the reader went away (EPIPE, or any other write error). */
  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  /** Called once, with the error, when the reader goes away. */
  onClose(fn: (err: Error) => void): void {
    if (this.closedBy) fn(this.closedBy);
    else this.closeListeners.push(fn);
  }

  private close(err: Error): void {
    if (this.closedBy) return;
    this.closedBy = err;
    for (const fn of this.closeListeners.splice(0)) fn(err);
    this.settle();
  }

  /** Writes `bytes`; resolves true when the kernel has them, false when they were dropped (reader gone). */
  write(bytes: Uint8Array): Promise<boolean> {
    if (this.closedBy) {
      this.droppedBytes += bytes.length;
      return Promise.resolve(false);
    }
    this.pending++;
    return new Promise((resolve) => {
      try {
        this.stream.write(bytes, (err) => {
          this.pending--;
          if (err) {
            this.droppedBytes += bytes.length;
            this.close(err);
          }
          this.settle();
          resolve(!err);
        });
      } catch (err) {
        this.pending--;
        this.droppedBytes += bytes.length;
        this.close(err as Error);
        resolve(false);
      }
    });
  }

  private settle(): void {
    if (this.pending === 0 || this.closedBy) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Waits until every write has completed (or the reader went away); false when `timeoutMs` passed first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0 || this.closedBy) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Writes in progress. */
  get writesPending(): number {
    return this.pending;
  }
}

let stdoutSink: ByteSink | undefined;

/** The process's one stdout sink (created on first use; it owns stdout's 'error' events). */
export function stdout(): ByteSink {
  stdoutSink ??= new ByteSink(process.stdout);
  return stdoutSink;
}

/** How long exiting waits for stdout and stderr to take what was written. */
export const EXIT_DRAIN_MS = 10_000;

/**
 * Waits (at most EXIT_DRAIN_MS) until stdout and stderr have taken everything
 * written to them, then exits: `process.exit()` over queued pipe writes would
 * lose them. Says so on stderr if the bound was hit.
 */
export async function exitAfterDrain(code: number): Promise<never> {
  const deadline = Date.now() + EXIT_DRAIN_MS;
  const drained = stdoutSink ? await stdoutSink.drain(EXIT_DRAIN_MS) : true;
  if (!drained) process.stderr.write(`W! [agent] stdout did not take all output within ${EXIT_DRAIN_MS / 1000}s; the rest is lost\n`);
  await new Promise<void>((resolve) => {
    const stderr = process.stderr as NodeJS.WriteStream & { writableLength?: number };
    if (!stderr.writableLength) return resolve();
    const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    stderr.once('drain', () => {
      clearTimeout(t);
      resolve();
    });
  });
  process.exit(code);
}

/**
 * Metrics streamed to a ByteSink as line protocol. Each metric is serialized
 * into the open batch as it arrives, so metric objects die young (a gather's
 * worth kept as objects would be promoted and linger in the old generation);
 * full batches wait, outside the JS heap, until the sink has taken the batch
 * before them, and their memory is then reused for a later batch.
 */
/** Serialized batches a MetricLineStream holds for the sink before producers are asked to wait. */
const MAX_QUEUED_BATCHES = 4;

export class MetricLineStream {
  private readonly queued: Buffer[] = [];
  /** Metrics in the open batch (-1: none open). */
  private inBatch = -1;
  private pumping: Promise<void> | undefined;
  /** Producers waiting for the queue to shrink below MAX_QUEUED_BATCHES. */
  private roomWaiters: (() => void)[] = [];
  /** Metrics that could not be serialized (skipped, as Telegraf does). */
  skipped = 0;
  /** Bytes serialized and not yet written. */
  queuedBytes = 0;

  private readonly serializer: LineProtocolSerializer;
  private readonly onSkip = (): void => {
    this.skipped++;
  };

  constructor(
    private readonly sink: ByteSink,
    options: InfluxSerializerOptions = {},
    private readonly batchSize = 1000,
  ) {
    // Enough spare batch buffers for the batches queued and the one being filled.
    this.serializer = new LineProtocolSerializer({ ...options, spareBuffers: MAX_QUEUED_BATCHES + 2 });
  }

  /** Serializes `m` into the open batch at once (the metric object can die young); a full batch is queued. */
  push(m: Metric): void {
    if (this.sink.closed) return;
    if (this.inBatch < 0) {
      this.serializer.startBatch();
      this.inBatch = 0;
    }
    this.serializer.appendToBatch(m, this.onSkip);
    if (++this.inBatch >= this.batchSize) this.seal();
  }

  private seal(): void {
    if (this.inBatch < 0) return;
    this.inBatch = -1;
    const bytes = this.serializer.endBatch();
    if (bytes.length === 0 || this.sink.closed) return this.serializer.recycle(bytes);
    this.queued.push(bytes);
    this.queuedBytes += bytes.length;
    this.pumping ??= this.pump();
  }

  /**
   * A promise while serialized batches wait for the sink beyond
   * MAX_QUEUED_BATCHES (resolved once one of them is written), else undefined:
   * producers that await it keep the bytes in memory at a few batches and
   * the batch buffers recycled, whatever the gather's size.
   */
  ready(): Promise<void> | undefined {
    if (this.queued.length < MAX_QUEUED_BATCHES || this.sink.closed) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Writes everything pushed so far; resolves when the sink has it (or the reader is gone). */
  flush(): Promise<void> {
    this.seal();
    return this.pumping ?? Promise.resolve();
  }

  private async pump(): Promise<void> {
    try {
      for (let bytes = this.queued.shift(); bytes !== undefined; bytes = this.queued.shift()) {
        this.queuedBytes -= bytes.length;
        await this.sink.write(bytes);
        // Reused by a later batch: garbage Buffers would hold their memory until a collection.
        this.serializer.recycle(bytes);
        if (this.roomWaiters.length && (this.queued.length < MAX_QUEUED_BATCHES || this.sink.closed)) this.wakeProducers();
      }
    } finally {
      this.pumping = undefined;
      this.wakeProducers();
    }
  }

  private wakeProducers(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }
}
