/**
 * `buffer_strategy = "disk"`: an output's buffer kept in an append-only log
 * (segment_log.ts) in its own directory, so a restart — a crash, `kill -9`, a
 * reboot — delivers what was buffered before it.
 *
 * Life of a metric:
 *   add()      encodes it into a pending byte buffer (memory part)
 *   commit     at the end of the current job (a microtask), or before a batch
 *              is taken, the pending records go to the log in one write; with
 *              `buffer_disk_sync` an fdatasync follows in the background
 *   batch()    the oldest metrics, from the log (disk part) and then the memory part
 *   endBatch() acknowledged metrics leave: the read position moves past them
 *              and is persisted; a segment is deleted once it is all behind it
 *
 * Memory does not grow with the backlog: the newest committed metrics and the
 * ones decoded for the current and next batch are held in a window of
 * `cacheMetrics` objects (so a healthy output never decodes what it just
 * wrote); everything else is read back from disk as it is needed.
 *
 * Crash safety: a record is in the log once its write returned; the read
 * position only ever moves past acknowledged records (or ones dropped by the
 * limit), so after `kill -9` every committed metric is delivered at least
 * once — twice only if its batch was in flight (or its acknowledgement not
 * yet persisted) when the process died. A torn last record is cut off at open.
 *
 * A failing disk (full, read-only remount, I/O error) is not fatal: the
 * memory part keeps the newest `memoryMetrics` metrics (older ones that could
 * not be written are dropped and counted), is delivered from memory, and is
 * written again once a retry succeeds (every second, and whenever delivered
 * metrics free a segment). Partial writes are cut back, so the log stays valid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../log';
import type { Metric } from '../../metric';
import type { Stat } from '../../selfstat';
import type { OutputBuffer } from '../buffer';
import { RecordDecodeError, RecordEncodeError, RecordReader, RecordWriter } from './codec';
import { DirectoryLock } from './lock';
import { Cursor, Read, SEGMENT_HEADER_BYTES, SegmentLog, type Segment } from './segment_log';

/** Which output a buffer directory belongs to (`output.json`), for log lines about backlogs found later. */
export interface BufferOwner {
  output: string;
  alias?: string;
  section: string;
  file?: string;
}

export interface DiskBufferOptions {
  /** The output's own directory (inside buffer_directory). */
  dir: string;
  owner: BufferOwner;
  /** metric_buffer_limit: metrics on disk and in memory together. */
  limit: number;
  batchSize: number;
  /** buffer_disk_sync */
  sync: boolean;
  log: Logger;
  /** Registers one of the buffer's `internal_write` fields. */
  stat?: (field: string) => Stat;
  segmentBytes?: number;
  /** Metric objects kept decoded (at least two batches, the default). */
  cacheMetrics?: number;
  /** Metrics held in memory while the log cannot be written. */
  memoryMetrics?: number;
  /** false: written metrics are not kept decoded, every batch is read back from disk (how a backlog is delivered; for measurements). */
  keepWritten?: boolean;
  retryMs?: number;
}

export const DEFAULT_SEGMENT_BYTES = 16 << 20;
/**
 * Extra decoded metrics kept beyond the current and next batch. None: keeping
 * 20,000 cost 13-40 MB of RSS while a backlog drained (they are promoted to
 * the old generation) and halved the rate of filling the log, and the
 * throughput into InfluxDB was the same with every batch read back from disk
 * (bench/disk_buffer.ts, disk-cold).
 */
const DEFAULT_CACHE_METRICS = 0;
const DEFAULT_MEMORY_METRICS = 10_000;
/** Segments are at most this part of their filesystem, so a small one is given back in pieces while it drains. */
const SEGMENTS_PER_FILESYSTEM = 16;
const MIN_SEGMENT_BYTES = 4096;

export class DiskBufferError extends Error {}

interface InFlight {
  /** Log sequence numbers of the batch's disk part, in batch order. */
  seqs: number[];
  /** Ids of the batch's memory part (after the disk part). */
  memIds: number[];
}

export class DiskBuffer implements OutputBuffer {
  readonly capacity: number;
  readonly dir: string;
  dropped = 0;
  droppedSinceWarning = 0;
  onLateDrop?: (n: number) => void;

  private readonly log: SegmentLog;
  private readonly lock: DirectoryLock;
  private readonly logger: Logger;
  private readonly reader = new RecordReader();
  private readonly writer = new RecordWriter();
  /** Next record to deliver; the head cursor is always there. */
  private readSeq: number;
  private readonly head: Cursor;
  /** Where the window ends; the fetch cursor is always there. */
  private readonly fetch: Cursor;

  // Window of decoded metrics: log records [readSeq, winHi), a ring of winCap entries.
  private readonly winCap: number;
  private readonly winMetrics: (Metric | undefined)[];
  private readonly winSizes: Uint32Array;
  private winFirst = 0;
  private winCount = 0;

  /** Records past readSeq already acknowledged (partial writes) or undecodable: skipped, not counted. */
  private readonly mask = new Set<number>();

  // Memory part: records not in the log yet, their bytes in `writer` from writerFront on.
  private memMetrics: Metric[] = [];
  private memEnds: number[] = [];
  private memFront = 0;
  private writerFront = 0;
  /** Id of memMetrics[memFront]. */
  private memBaseId = 0;
  private readonly memoryCap: number;

  private inFlight: InFlight | undefined;
  private commitQueued = false;
  /** The log cannot be written: since when, and when to try again (0: at the next chance, space was freed). */
  private failing: { since: number; nextAttempt: number } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryMs: number;
  private readonly segmentBytes: number;
  private readonly keepWritten: boolean;
  private positionDirty = false;
  private closed = false;
  private closing = false;
  private encodeErrors = 0;

  private readonly stats: { diskBytes?: Stat; droppedBytes?: Stat; diskErrors?: Stat };

  private constructor(
    opts: DiskBufferOptions,
    log: SegmentLog,
    lock: DirectoryLock,
  ) {
    this.capacity = opts.limit;
    this.dir = opts.dir;
    this.log = log;
    this.lock = lock;
    this.logger = opts.log;
    this.winCap = Math.max(opts.cacheMetrics ?? DEFAULT_CACHE_METRICS, 2 * opts.batchSize + 16);
    this.winMetrics = new Array(this.winCap);
    this.winSizes = new Uint32Array(this.winCap);
    this.memoryCap = Math.min(opts.limit, opts.memoryMetrics ?? Math.max(opts.batchSize, DEFAULT_MEMORY_METRICS));
    this.retryMs = opts.retryMs ?? 1000;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.keepWritten = opts.keepWritten ?? true;
    this.stats = {
      diskBytes: opts.stat?.('buffer_disk_bytes'),
      droppedBytes: opts.stat?.('buffer_dropped_bytes'),
      diskErrors: opts.stat?.('buffer_disk_errors'),
    };
    const start = log.start;
    const seg = log.segments.find((s) => s.startSeq === start.segStart) ?? log.segments[0];
    this.readSeq = start.seq;
    this.head = new Cursor(log);
    this.head.set(start.seq, seg, start.offset);
    this.fetch = new Cursor(log);
    this.fetch.copyFrom(this.head);
  }

  /**
   * Opens the buffer in `opts.dir` (created when missing), taking its lock
   * and repairing a torn tail. Throws DiskBufferError naming the path when
   * the directory cannot be used.
   */
  static open(opts: DiskBufferOptions): DiskBuffer {
    const dir = opts.dir;
    let lock: DirectoryLock;
    try {
      makeDirectory(dir);
      const taken = DirectoryLock.acquire(dir);
      lock = taken.lock;
      if (taken.staleOwner !== undefined) opts.log.debug(`buffer ${dir}: took over the lock of process ${taken.staleOwner}, which no longer runs`);
    } catch (err) {
      throw new DiskBufferError(`cannot use ${dir}: ${(err as Error).message}`);
    }
    let log: SegmentLog;
    const segmentBytes = segmentSize(dir, opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    try {
      writeOwner(dir, opts.owner);
      log = SegmentLog.open({ dir, sync: opts.sync, segmentBytes, log: opts.log });
    } catch (err) {
      lock.release();
      throw new DiskBufferError(`cannot use ${dir}: ${(err as Error).message}`);
    }
    for (const r of log.repairs) opts.log.warn(`buffer ${dir}: ${r}`);
    const b = new DiskBuffer({ ...opts, segmentBytes }, log, lock);
    const found = log.writeSeq - b.readSeq;
    if (found > 0) opts.log.info(`buffer ${dir}: ${found} metrics from an earlier run, delivered first`);
    const dropped = b.enforceLimit();
    if (dropped > 0) {
      b.countDropped(dropped);
      opts.log.warn(`buffer ${dir}: ${dropped} of them exceed metric_buffer_limit (${opts.limit}); the oldest were dropped`);
    }
    b.persistIfMoved();
    b.updateDiskStat();
    return b;
  }

  get length(): number {
    return this.log.writeSeq - this.readSeq - this.mask.size + this.memCount;
  }

  /** Bytes the output's log holds on disk. */
  get diskBytes(): number {
    return this.log.sizeBytes;
  }

  /** Metrics waiting in memory because the log could not be written. */
  get memoryOnly(): number {
    return this.failing ? this.memCount : 0;
  }

  private get memCount(): number {
    return this.memMetrics.length - this.memFront;
  }

  private get diskCount(): number {
    return this.log.writeSeq - this.readSeq - this.mask.size;
  }

  private get winHi(): number {
    return this.readSeq + this.winCount;
  }

  add(metrics: readonly Metric[]): number {
    if (this.closed) {
      // Only a straggler after the stop (its agent is gone): nowhere to keep it.
      this.countDropped(metrics.length);
      return metrics.length;
    }
    let dropped = 0;
    for (let i = 0; i < metrics.length; i++) {
      const m = metrics[i];
      try {
        this.writer.append(m);
      } catch (err) {
        if (!(err instanceof RecordEncodeError)) throw err;
        if (this.encodeErrors++ === 0) this.logger.error(`buffer ${this.dir}: metric ${m.name} cannot be stored (${err.message}); dropped`);
        dropped++;
        continue;
      }
      this.memMetrics.push(m);
      this.memEnds.push(this.writer.length);
    }
    dropped += this.enforceLimit();
    this.countDropped(dropped);
    if (this.failing) {
      this.enforceMemoryCap();
      if (Date.now() >= this.failing.nextAttempt) this.queueCommit();
    } else this.queueCommit();
    return dropped;
  }

  /** Writes the metrics added so far to the log now (instead of at the end of the current job). */
  writePending(): void {
    this.commit();
  }

  private queueCommit(): void {
    if (this.commitQueued) return;
    this.commitQueued = true;
    queueMicrotask(() => {
      this.commitQueued = false;
      this.commit();
    });
  }

  /** Writes the memory part to the log (unless a batch that includes some of it is in flight). */
  private commit(): void {
    if (this.closed) return;
    this.persistIfMoved();
    if (this.memCount === 0 || (this.inFlight && this.inFlight.memIds.length > 0)) return;
    const log = this.log;
    try {
      // Whole records up to the segment size per write, so segments stay near their size and are given back in pieces.
      while (this.memCount > 0) {
        if (!log.hasActive || log.activeFull) log.createSegment();
        const active = log.activeSegment!;
        const room = this.segmentBytes - active.size;
        let k = this.memFront;
        while (k < this.memEnds.length && (k === this.memFront || this.memEnds[k] - this.writerFront <= room)) k++;
        const firstSeq = log.writeSeq;
        const sizeBefore = active.size;
        log.append(this.writer.buf, this.writerFront, this.memEnds[k - 1], k - this.memFront);
        this.committed(firstSeq, active, sizeBefore, k);
      }
    } catch (err) {
      this.writeFailed(err as NodeJS.ErrnoException);
      return;
    }
    if (this.failing) {
      const heldFor = Math.round((Date.now() - this.failing.since) / 1000);
      this.logger.info(`buffer ${this.dir}: writable again after ${heldFor}s; the metrics held in memory are on disk now`);
      this.failing = undefined;
    }
    this.updateDiskStat();
  }

  /** Memory entries [memFront, end) went to the log as records [firstSeq, …) at `sizeBefore` in `active`. */
  private committed(firstSeq: number, active: Segment, sizeBefore: number, end: number): void {
    // Cursors waiting at the end of the log point at where the new records begin.
    if (this.readSeq === firstSeq) this.head.set(firstSeq, active, sizeBefore);
    if (this.winHi === firstSeq) this.fetch.set(firstSeq, active, sizeBefore);
    let prevEnd = this.writerFront;
    for (let i = this.memFront; i < end; i++) {
      const size = this.memEnds[i] - prevEnd;
      prevEnd = this.memEnds[i];
      // Newest records join the window while it is contiguous and has room (a healthy output reads them from here).
      if (this.keepWritten && this.winHi === firstSeq + (i - this.memFront) && this.winCount < this.winCap) {
        this.winPush(this.memMetrics[i], size);
        this.fetch.advance(size);
      }
      this.memMetrics[i] = undefined as unknown as Metric;
    }
    this.memBaseId += end - this.memFront;
    this.writerFront = prevEnd;
    this.memFront = end;
    if (this.memFront === this.memMetrics.length) this.clearMemory();
  }

  private clearMemory(): void {
    this.memMetrics.length = 0;
    this.memEnds.length = 0;
    this.memFront = 0;
    this.writerFront = 0;
    this.writer.reset();
  }

  private writeFailed(err: NodeJS.ErrnoException): void {
    this.stats.diskErrors?.incr();
    if (this.failing) this.failing.nextAttempt = Date.now() + this.retryMs;
    else {
      this.failing = { since: Date.now(), nextAttempt: Date.now() + this.retryMs };
      this.logger.error(
        `buffer ${this.dir}: cannot write (${err.code ?? err.message}); holding up to ${this.memoryCap} of the newest metrics in memory, dropping older ones, retrying every ${this.retryMs / 1000}s`,
      );
    }
    this.enforceMemoryCap();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.commit();
      if (this.failing) this.scheduleRetry();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  // ---- dropping ---------------------------------------------------------

  /** Drops the oldest metrics beyond the limit; returns how many. */
  private enforceLimit(): number {
    let dropped = 0;
    while (this.length > this.capacity) {
      if (this.diskCount > 0) {
        const before = this.readSeq;
        dropped += this.advanceHead(true);
        if (this.readSeq === before) break; // nothing readable to drop (cannot happen with a consistent log)
      } else {
        this.dropMemoryFront();
        dropped++;
      }
    }
    return dropped;
  }

  /** While the log cannot be written, only the newest memoryCap metrics are held. */
  private enforceMemoryCap(): void {
    let dropped = 0;
    while (this.memCount > this.memoryCap) {
      this.dropMemoryFront();
      dropped++;
    }
    if (dropped > 0) {
      this.countDropped(dropped);
      this.onLateDrop?.(dropped);
    }
    // Bytes of dropped records are given back once they are a good part of the buffer.
    if (this.writerFront > 1 << 20 && this.writerFront > this.writer.length / 2) this.compactWriter();
  }

  private dropMemoryFront(): void {
    const i = this.memFront;
    const end = this.memEnds[i];
    this.stats.droppedBytes?.incr(end - this.writerFront);
    this.writerFront = end;
    this.memMetrics[i] = undefined as unknown as Metric;
    this.memFront++;
    this.memBaseId++;
    if (this.memFront === this.memMetrics.length) this.clearMemory();
  }

  private compactWriter(): void {
    const shift = this.writerFront;
    const w = this.writer;
    w.buf.copy(w.buf, 0, shift, w.length);
    w.length -= shift;
    this.memMetrics = this.memMetrics.slice(this.memFront);
    this.memEnds = this.memEnds.slice(this.memFront).map((e) => e - shift);
    this.memFront = 0;
    this.writerFront = 0;
  }

  private countDropped(n: number): void {
    this.dropped += n;
    this.droppedSinceWarning += n;
  }

  /**
   * Moves the read position past one record (or a gap of unreadable ones).
   * Returns how many metrics that dropped (`counting`: an overflow) — masked
   * records were delivered already and count for nothing.
   */
  private advanceHead(counting: boolean): number {
    const s = this.readSeq;
    let lost = 0;
    let size: number;
    if (this.winCount > 0) {
      size = this.winSizes[this.winFirst];
      this.winMetrics[this.winFirst] = undefined;
      this.winFirst = (this.winFirst + 1) % this.winCap;
      this.winCount--;
      this.head.advance(size);
    } else {
      const r = this.head.read();
      if (r === Read.Record) {
        size = this.head.size;
        this.head.advance(size);
      } else if (r === Read.Gap) {
        this.head.skipGap();
        size = 0;
        for (let q = s; q < this.head.seq; q++) if (!this.mask.delete(q)) lost++;
        this.readSeq = this.head.seq;
        this.afterHeadMoved();
        this.countDropped(lost);
        this.onLateDrop?.(lost);
        return 0;
      } else return 0;
    }
    this.readSeq = s + 1;
    const wasMasked = this.mask.size > 0 && this.mask.delete(s);
    if (counting && !wasMasked) {
      lost = 1;
      this.stats.droppedBytes?.incr(size);
    }
    this.afterHeadMoved();
    return lost;
  }

  private afterHeadMoved(): void {
    this.positionDirty = true;
    if (this.winCount === 0) this.fetch.copyFrom(this.head);
    if (this.log.segments.length > 1 && this.log.segments[1].startSeq <= this.readSeq) {
      this.persistIfMoved();
      this.log.deleteBefore(this.readSeq);
      this.updateDiskStat();
      if (this.failing) this.failing.nextAttempt = 0;
    }
  }

  // ---- batches ----------------------------------------------------------

  batch(n: number): Metric[] {
    // A flush still running when the buffer was closed at a stop (past its deadline) finds nothing more to write.
    if (this.closed) return [];
    // A batch taken and never ended (nothing to write) is simply replaced, as in the memory buffer.
    this.inFlight = undefined;
    this.commit();
    const seqs: number[] = [];
    const memIds: number[] = [];
    const out = this.collect(0, n, seqs, memIds);
    if (out.length > 0) this.inFlight = { seqs, memIds };
    return out;
  }

  peek(offset: number, n: number): Metric[] {
    return this.closed ? [] : this.collect(offset, n, undefined, undefined);
  }

  /** Metrics [offset, offset + n) in delivery order: the log's unmasked records, then the memory part. */
  private collect(offset: number, n: number, seqs: number[] | undefined, memIds: number[] | undefined): Metric[] {
    const out: Metric[] = [];
    let skip = offset;
    let s = this.readSeq;
    const end = this.log.writeSeq;
    const masked = this.mask.size > 0;
    for (; s < end && out.length < n; s++) {
      if (masked && this.mask.has(s)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      const m = this.metricAt(s);
      if (m === undefined) {
        if (this.mask.has(s)) continue; // undecodable: dropped just now
        break;
      }
      out.push(m);
      seqs?.push(s);
    }
    // The memory part follows only when the whole log part came first.
    if (s < end && out.length < n) {
      if (out.length === 0 && seqs && this.skipHeadGap()) return this.collect(offset, n, seqs, memIds);
      return out;
    }
    for (let i = this.memFront; i < this.memMetrics.length && out.length < n; i++) {
      if (skip > 0) {
        skip--;
        continue;
      }
      out.push(this.memMetrics[i]);
      memIds?.push(this.memBaseId + (i - this.memFront));
    }
    return out;
  }

  /** When the record at the read position cannot be read, moves past the unreadable ones (counted as dropped). */
  private skipHeadGap(): boolean {
    if (this.winCount > 0) return false;
    if (this.head.read() !== Read.Gap) return false;
    this.advanceHead(true);
    this.persistIfMoved();
    return true;
  }

  /** The metric of log record `s` (readSeq <= s), decoding forward from the window's end; undefined when unreadable or the window is full. */
  private metricAt(s: number): Metric | undefined {
    if (s < this.winHi) return this.winMetrics[(this.winFirst + (s - this.readSeq)) % this.winCap];
    while (this.winHi <= s) {
      if (this.winCount >= this.winCap) return undefined;
      const f = this.fetch;
      if (f.read() !== Read.Record) return undefined;
      let m: Metric | undefined;
      try {
        m = this.reader.decode(f.buf, f.payloadStart, f.payloadLength);
      } catch (err) {
        if (!(err instanceof RecordDecodeError)) throw err;
        // Checksummed but not decodable (written by a newer format?): dropped, counted once.
        this.logger.error(`buffer ${this.dir}: record ${this.winHi} cannot be decoded (${err.message}); dropped`);
        this.mask.add(this.winHi);
        this.countDropped(1);
        this.onLateDrop?.(1);
      }
      this.winPush(m, f.size);
      f.advance(f.size);
    }
    return this.winMetrics[(this.winFirst + (s - this.readSeq)) % this.winCap];
  }

  private winPush(m: Metric | undefined, size: number): void {
    const i = (this.winFirst + this.winCount) % this.winCap;
    this.winMetrics[i] = m;
    this.winSizes[i] = size;
    this.winCount++;
  }

  endBatch(batch: readonly Metric[], remove: boolean, keep?: ReadonlySet<number>): void {
    // Closed while this batch was on the wire: it stays in the log and is delivered (again) after the restart.
    if (this.closed) return;
    const f = this.inFlight;
    this.inFlight = undefined;
    if (f && batch.length !== f.seqs.length + f.memIds.length) throw new Error('disk buffer: endBatch with another batch than the one in flight');
    if (f && remove) {
      // Acknowledged records at the read position are passed at once; only those after a kept one
      // (a partial write) go into the mask. (A mask of a whole batch would cost hash-table churn per batch.)
      let passing = true;
      for (let i = 0; i < f.seqs.length; i++) {
        const s = f.seqs[i];
        // Overflow during the write may have dropped the oldest of the batch already.
        if (s < this.readSeq) continue;
        if (keep?.has(i)) {
          passing = false;
          continue;
        }
        if (passing && s === this.readSeq) {
          this.advanceHead(false);
          while (this.mask.size > 0 && this.mask.has(this.readSeq)) this.advanceHead(false);
        } else this.mask.add(s);
      }
      this.removeMemory(f, keep);
    }
    this.persistIfMoved();
    if (this.diskCount === 0 && this.mask.size === 0) this.recycleIfEmpty();
    if (this.memCount > 0 && (!this.failing || Date.now() >= this.failing.nextAttempt)) this.queueCommit();
  }

  /** Takes acknowledged metrics of the memory part out (they were delivered before they reached the disk). */
  private removeMemory(f: InFlight, keep: ReadonlySet<number> | undefined): void {
    if (f.memIds.length === 0) return;
    const base = f.seqs.length;
    const gone = new Set<number>();
    for (let j = 0; j < f.memIds.length; j++) if (f.memIds[j] >= this.memBaseId && !keep?.has(base + j)) gone.add(f.memIds[j]);
    if (gone.size === 0) return;
    // Usually a prefix (no partial write): drop from the front.
    let prefix = 0;
    while (prefix < this.memCount && gone.has(this.memBaseId)) {
      gone.delete(this.memBaseId);
      this.writerFront = this.memEnds[this.memFront];
      this.memMetrics[this.memFront] = undefined as unknown as Metric;
      this.memFront++;
      this.memBaseId++;
      prefix++;
    }
    if (this.memFront === this.memMetrics.length) this.clearMemory();
    if (gone.size === 0) return;
    // Kept metrics in between: rebuild the memory part without the acknowledged ones.
    const keptMetrics: Metric[] = [];
    const old = this.writer.buf;
    const bytes: Buffer[] = [];
    let prevEnd = this.writerFront;
    for (let i = this.memFront; i < this.memMetrics.length; i++) {
      const id = this.memBaseId + (i - this.memFront);
      const endAt = this.memEnds[i];
      if (!gone.has(id)) {
        keptMetrics.push(this.memMetrics[i]);
        bytes.push(Buffer.from(old.subarray(prevEnd, endAt)));
      }
      prevEnd = endAt;
    }
    this.memBaseId += this.memCount;
    this.clearMemory();
    const ends: number[] = [];
    let at = 0;
    for (const b of bytes) at += b.length;
    if (at > this.writer.buf.length) this.writer.buf = Buffer.allocUnsafe(at);
    at = 0;
    for (const b of bytes) {
      b.copy(this.writer.buf, at);
      at += b.length;
      ends.push(at);
    }
    this.writer.length = at;
    this.memMetrics = keptMetrics;
    this.memEnds = ends;
  }

  /**
   * An emptied active segment is replaced by a fresh one, giving its space
   * back: a drained buffer holds no disk space (one file created and one
   * removed per drain, measured as negligible beside the writes).
   */
  private recycleIfEmpty(): void {
    const active = this.log.activeSegment;
    if (!active || this.log.segments.length !== 1 || this.inFlight) return;
    if (active.size <= SEGMENT_HEADER_BYTES) return;
    if (this.failing) this.failing.nextAttempt = 0;
    if (this.log.recycleActive()) {
      const seg = this.log.activeSegment!;
      this.head.set(this.readSeq, seg, SEGMENT_HEADER_BYTES);
      this.fetch.copyFrom(this.head);
      this.positionDirty = true;
      this.persistIfMoved();
    }
    this.updateDiskStat();
  }

  private persistIfMoved(): void {
    if (!this.positionDirty) return;
    this.positionDirty = false;
    const err = this.log.persistPosition(this.readSeq, this.head.seg, this.head.offset);
    if (err) this.stats.diskErrors?.incr();
  }

  private updateDiskStat(): void {
    this.stats.diskBytes?.set(this.log.sizeBytes);
  }

  /**
   * Writes what is still in memory, persists the read position and releases
   * the directory. Returns how many metrics could not be written (lost).
   */
  close(): number {
    if (this.closed) return 0;
    this.closing = true;
    this.inFlight = undefined;
    this.failing = undefined;
    this.commit();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const lost = this.memCount;
    if (lost > 0) this.logger.error(`buffer ${this.dir}: ${lost} metrics held in memory could not be written before closing; lost`);
    this.persistIfMoved();
    this.closed = true;
    this.log.close();
    this.lock.release();
    return lost;
  }
}

/** The segment size for a directory: the configured one, smaller on a small filesystem. */
function segmentSize(dir: string, configured: number): number {
  try {
    const st = fs.statfsSync(dir);
    return Math.min(configured, Math.max(MIN_SEGMENT_BYTES, Math.floor((st.blocks * st.bsize) / SEGMENTS_PER_FILESYSTEM)));
  } catch {
    return configured;
  }
}

/** mkdir -p that reports the real cause (Node's recursive mkdir says ENOENT for a read-only filesystem). */
function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error(`ENOTDIR: exists and is not a directory, ${dir}`), { code: 'ENOTDIR' });
      return;
    }
    if (code !== 'ENOENT' || path.dirname(dir) === dir) throw err;
    makeDirectory(path.dirname(dir));
    fs.mkdirSync(dir, { mode: 0o750 });
  }
}

const OWNER_FILE = 'output.json';

function writeOwner(dir: string, owner: BufferOwner): void {
  const file = path.join(dir, OWNER_FILE);
  const text = JSON.stringify({ format: 1, ...owner }, null, 2) + '\n';
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    /* missing: written below */
  }
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

/** The owner recorded in a buffer directory, if readable. */
export function readOwner(dir: string): BufferOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Partial<BufferOwner>;
    return typeof o.output === 'string' && typeof o.section === 'string' ? (o as BufferOwner) : undefined;
  } catch {
    return undefined;
  }
}
