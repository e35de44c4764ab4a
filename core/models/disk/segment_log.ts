/**
 * An append-only log of framed records (codec.ts) in segment files, with a
 * persisted read position. Record k of the log has sequence number k;
 * a segment is named after the sequence number of its first record
 * (`00000000000000012345.seg`), so only the last one is scanned at open (to
 * count its records and find a torn tail).
 *
 * Files of one output's directory:
 *   lock          the owning process (lock.ts)
 *   output.json   which output section the directory belongs to (for log lines)
 *   *.seg         16-byte header (magic, version, first sequence number), then records
 *   position      the first record not yet acknowledged: two checksummed slots
 *                 written alternately, so a torn position write leaves the other
 *
 * Nothing is ever rewritten in place except the position. Space is given back
 * a whole segment at a time, once the read position has passed it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../log';
import { crc32, RECORD_HEADER_BYTES, recordChecksum } from './codec';
import { CoalescedSync } from './fsync';

export const SEGMENT_HEADER_BYTES = 16;
const SEGMENT_MAGIC = 0x4253564c; // "LVSB"
const POSITION_MAGIC = 0x5053564c; // "LVSP"
const FORMAT_VERSION = 1;
const POSITION_SLOT_BYTES = 36;
const POSITION_SLOT_STRIDE = 512;
/** Largest record accepted when reading (a corrupt length field must not allocate gigabytes). */
const MAX_RECORD_BYTES = 64 << 20;
const READ_CHUNK_BYTES = 1 << 20;

export interface Segment {
  readonly startSeq: number;
  readonly file: string;
  /** Bytes of valid records plus the header (the file may be longer after a failed write that could not be cut back). */
  size: number;
  /** Read descriptor (the active segment's read-write one), opened on first read. */
  fd: number | undefined;
  deleted: boolean;
}

export interface SegmentLogOptions {
  dir: string;
  /** fdatasync appends and position updates (in the background, coalesced). */
  sync: boolean;
  /** A new segment is started once the active one has this many bytes. */
  segmentBytes: number;
  log: Logger;
}

/** What `Cursor.read` found (the record's place is then on the cursor: `buf`, `payloadStart`, `payloadLength`, `size`). */
export const enum Read {
  Record,
  End,
  /** Records [seq, gapTo) cannot be read (a corrupt record, a missing segment): the cursor moves past them with `skipGap`. */
  Gap,
}

const segmentName = (seq: number): string => `${String(seq).padStart(20, '0')}.seg`;

export class LogOpenError extends Error {}

/** A read position in the log with its own read-ahead buffer. */
export class Cursor {
  seq = 0;
  seg!: Segment;
  offset = SEGMENT_HEADER_BYTES;
  private chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private chunkSeg: Segment | undefined;
  private chunkStart = 0;
  private chunkLen = 0;
  private gapTarget: { seq: number; seg: Segment; offset: number } | undefined;
  /** The record `read` found: its bytes are buf[payloadStart, payloadStart + payloadLength); `size` with its header. */
  buf: Buffer = this.chunk;
  payloadStart = 0;
  payloadLength = 0;
  size = 0;
  /** End of the gap `read` found. */
  gapTo = 0;

  constructor(
    private readonly owner: SegmentLog,
    /** A probe (open-time scans): reads up to the file's end whatever writeSeq says, and reports no corruption. */
    private readonly probe = false,
  ) {}

  set(seq: number, seg: Segment, offset: number): void {
    this.seq = seq;
    this.seg = seg;
    this.offset = offset;
    this.gapTarget = undefined;
  }

  copyFrom(other: Cursor): void {
    this.set(other.seq, other.seg, other.offset);
  }

  /** The record at the cursor, without moving. */
  read(): Read {
    const log = this.owner;
    for (;;) {
      if (!this.probe && this.seq >= log.writeSeq) return Read.End;
      if (this.seg.deleted) {
        const found = log.locate(this.seq);
        this.set(found.seq, found.seg, found.offset);
        if (found.seq > this.seq) return this.gap(found.seq, found.seg, found.offset);
        continue;
      }
      const next = log.segmentAfter(this.seg);
      if (next && this.seq >= next.startSeq) {
        // The segment holds no more records than the next one's name allows.
        this.set(next.startSeq, next, SEGMENT_HEADER_BYTES);
        continue;
      }
      if (this.offset >= this.seg.size) {
        if (!next) return this.gap(log.writeSeq, this.seg, this.seg.size);
        if (next.startSeq === this.seq) {
          this.set(next.startSeq, next, SEGMENT_HEADER_BYTES);
          continue;
        }
        return this.gap(next.startSeq, next, SEGMENT_HEADER_BYTES);
      }
      if (!this.cover(this.offset, RECORD_HEADER_BYTES)) return this.corrupt(next, 'truncated record header');
      const at = this.offset - this.chunkStart;
      const payloadLength = this.chunk.readUInt32LE(at);
      const size = RECORD_HEADER_BYTES + payloadLength;
      if (payloadLength > MAX_RECORD_BYTES || this.offset + size > this.seg.size) return this.corrupt(next, `record length ${payloadLength} runs past the segment`);
      if (!this.cover(this.offset, size)) return this.corrupt(next, 'unreadable record');
      const rec = this.offset - this.chunkStart;
      if (recordChecksum(this.chunk, rec, payloadLength) !== this.chunk.readUInt32LE(rec + 4)) return this.corrupt(next, 'checksum mismatch');
      this.buf = this.chunk;
      this.payloadStart = rec + RECORD_HEADER_BYTES;
      this.payloadLength = payloadLength;
      this.size = size;
      return Read.Record;
    }
  }

  /** Moves past the record just read (its size from `read`). */
  advance(size: number): void {
    this.seq++;
    this.offset += size;
  }

  /** Moves past the gap `read` reported. */
  skipGap(): void {
    const t = this.gapTarget;
    if (!t) return;
    this.set(t.seq, t.seg, t.offset);
  }

  private gap(toSeq: number, seg: Segment, offset: number): Read {
    this.gapTarget = { seq: toSeq, seg, offset };
    this.gapTo = toSeq;
    return Read.Gap;
  }

  private corrupt(next: Segment | undefined, why: string): Read {
    if (!this.probe) this.owner.reportCorruption(this.seg, this.offset, why);
    return next ? this.gap(next.startSeq, next, SEGMENT_HEADER_BYTES) : this.gap(this.owner.writeSeq, this.seg, this.seg.size);
  }

  /** Makes file bytes [offset, offset + n) of the cursor's segment available in the chunk. */
  private cover(offset: number, n: number): boolean {
    const seg = this.seg;
    if (this.chunkSeg === seg && offset >= this.chunkStart && offset + n <= this.chunkStart + this.chunkLen) return true;
    if (n > this.chunk.length) this.chunk = Buffer.allocUnsafe(Math.max(n, this.chunk.length * 2));
    const fd = this.owner.readFd(seg);
    const want = Math.min(this.chunk.length, seg.size - offset);
    let got = 0;
    try {
      while (got < want) {
        const r = fs.readSync(fd, this.chunk, got, want - got, offset + got);
        if (r === 0) break;
        got += r;
      }
    } catch (err) {
      if (!this.probe) this.owner.reportCorruption(seg, offset, `read failed: ${(err as Error).message}`);
      got = 0;
    }
    this.chunkSeg = seg;
    this.chunkStart = offset;
    this.chunkLen = got;
    return got >= n;
  }

  /** Drops the read-ahead (after the bytes it holds were cut off a segment). */
  invalidate(): void {
    this.chunkSeg = undefined;
  }
}

interface PositionRecord {
  seq: number;
  segStart: number;
  offset: number;
}

export class SegmentLog {
  readonly dir: string;
  segments: Segment[] = [];
  /** Sequence number the next appended record gets. */
  writeSeq = 0;
  private active: Segment | undefined;
  private activeFd: number | undefined;
  private activeSync: CoalescedSync | undefined;
  private positionFd: number;
  private positionSync: CoalescedSync | undefined;
  private dirFd: number | undefined;
  private dirSync: CoalescedSync | undefined;
  private positionCounter = 0;
  private readonly corruptReported = new Set<Segment>();
  /** Where reading starts: the persisted position found at open. */
  readonly start: PositionRecord;
  /** Bytes of all segment files. */
  sizeBytes = 0;
  /** What open() found and repaired, for one log line by the owner. */
  readonly repairs: string[] = [];
  syncErrors = 0;

  private constructor(private readonly opts: SegmentLogOptions) {
    this.dir = opts.dir;
    this.positionFd = -1;
    this.start = { seq: 0, segStart: 0, offset: SEGMENT_HEADER_BYTES };
  }

  /**
   * How many unacknowledged metrics and bytes a log directory holds, without
   * changing anything (for a directory no configured output owns).
   */
  static inspect(dir: string, log: Logger): { metrics: number; bytes: number } | undefined {
    const l = new SegmentLog({ dir, sync: false, segmentBytes: Number.MAX_SAFE_INTEGER, log });
    try {
      const segs: Segment[] = [];
      for (const name of fs.readdirSync(dir).filter((n) => /^\d{20}\.seg$/.test(n)).sort()) {
        const file = path.join(dir, name);
        const size = fs.statSync(file).size;
        if (size >= SEGMENT_HEADER_BYTES) segs.push({ startSeq: Number(name.slice(0, 20)), file, size, fd: undefined, deleted: false });
      }
      if (segs.length === 0) return undefined;
      l.segments = segs;
      const last = segs[segs.length - 1];
      const { records } = l.scanTail(last);
      let bytes = 0;
      for (const seg of segs) bytes += seg.size;
      let readSeq = segs[0].startSeq;
      const posFile = path.join(dir, 'position');
      if (fs.existsSync(posFile)) {
        l.positionFd = fs.openSync(posFile, 'r');
        const p = l.readSlots();
        if (p && p.seq > readSeq) readSeq = p.seq;
      }
      return { metrics: Math.max(0, last.startSeq + records - readSeq), bytes };
    } catch {
      return undefined;
    } finally {
      for (const seg of l.segments) l.closeReadFd(seg);
      if (l.positionFd >= 0) fs.closeSync(l.positionFd);
    }
  }

  /** Opens (creating when needed) the log in `dir`, repairing a torn tail. Throws LogOpenError naming the file. */
  static open(opts: SegmentLogOptions): SegmentLog {
    const log = new SegmentLog(opts);
    log.load();
    return log;
  }

  private fail(file: string, err: unknown): never {
    throw new LogOpenError(`${file}: ${(err as Error).message}`);
  }

  private load(): void {
    const dir = this.dir;
    if (this.opts.sync) {
      try {
        this.dirFd = fs.openSync(dir, 'r');
        this.dirSync = new CoalescedSync(this.dirFd, true);
        this.dirSync.onError = () => this.syncErrors++;
      } catch (err) {
        this.fail(dir, err);
      }
    }
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      this.fail(dir, err);
    }
    const found: Segment[] = [];
    for (const name of names.filter((n) => /^\d{20}\.seg$/.test(n)).sort()) {
      const file = path.join(dir, name);
      const startSeq = Number(name.slice(0, 20));
      let size: number;
      let header = Buffer.alloc(SEGMENT_HEADER_BYTES);
      try {
        size = fs.statSync(file).size;
        const fd = fs.openSync(file, 'r');
        try {
          header = Buffer.alloc(SEGMENT_HEADER_BYTES);
          fs.readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0);
        } finally {
          fs.closeSync(fd);
        }
      } catch (err) {
        this.fail(file, err);
      }
      const valid = size >= SEGMENT_HEADER_BYTES && header.readUInt32LE(0) === SEGMENT_MAGIC && header.readUInt16LE(4) === FORMAT_VERSION && Number(header.readBigUInt64LE(8)) === startSeq;
      if (!valid) {
        // A segment cut short before its header was written (a crash right after creating it) holds nothing.
        if (size < SEGMENT_HEADER_BYTES) this.repairs.push(`removed empty segment ${name} (${size} bytes, crash while it was created)`);
        else this.repairs.push(`segment ${name} has no valid header; moved aside as ${name}.corrupt, its records are lost`);
        try {
          if (size < SEGMENT_HEADER_BYTES) fs.rmSync(file, { force: true });
          else fs.renameSync(file, `${file}.corrupt`);
        } catch (err) {
          this.fail(file, err);
        }
        continue;
      }
      found.push({ startSeq, file, size, fd: undefined, deleted: false });
    }
    this.segments = found;
    const position = this.readPosition();

    const last = found[found.length - 1];
    if (last) {
      const { records, goodBytes } = this.scanTail(last);
      if (goodBytes < last.size) {
        try {
          fs.truncateSync(last.file, goodBytes);
        } catch (err) {
          this.fail(last.file, err);
        }
        this.repairs.push(
          `torn record at the end of ${path.basename(last.file)} (${last.size - goodBytes} bytes after offset ${goodBytes}, an interrupted write); cut off, ${records} records before it kept`,
        );
        last.size = goodBytes;
      }
      this.writeSeq = last.startSeq + records;
      this.openActive(last);
    } else {
      this.writeSeq = position ? position.seq : 0;
      this.createSegment();
    }
    this.sizeBytes = 0;
    for (const s of this.segments) this.sizeBytes += s.size;

    // Where reading starts: the persisted position if it still names a record boundary of the log.
    const first = this.segments[0];
    let start: PositionRecord = { seq: first.startSeq, segStart: first.startSeq, offset: SEGMENT_HEADER_BYTES };
    if (position && position.seq >= first.startSeq && position.seq <= this.writeSeq) {
      const seg = this.segments.find((s) => s.startSeq === position.segStart);
      if (seg && position.offset >= SEGMENT_HEADER_BYTES && position.offset <= seg.size && this.isBoundary(seg, position)) start = position;
      else {
        const located = this.locate(position.seq);
        start = { seq: located.seq, segStart: located.seg.startSeq, offset: located.offset };
      }
    }
    Object.assign(this.start, start);
    this.deleteBefore(start.seq);
  }

  /** Counts the valid records of a segment and where they end. */
  private scanTail(seg: Segment): { records: number; goodBytes: number } {
    // A torn tail is reported by open(), not as corruption.
    const probe = new Cursor(this, true);
    probe.set(seg.startSeq, seg, SEGMENT_HEADER_BYTES);
    let records = 0;
    for (;;) {
      if (probe.read() !== Read.Record) break;
      probe.advance(probe.size);
      records++;
    }
    const goodBytes = probe.offset;
    this.closeReadFd(seg);
    return { records, goodBytes };
  }

  private isBoundary(seg: Segment, p: PositionRecord): boolean {
    if (p.seq === this.writeSeq) return seg === this.active && p.offset === seg.size;
    const probe = new Cursor(this, true);
    probe.set(p.seq, seg, p.offset);
    return probe.read() === Read.Record;
  }

  /** The position of record `seq` (or of the first readable record after it), by scanning its segment. */
  locate(seq: number): { seq: number; seg: Segment; offset: number } {
    let seg = this.segments[0];
    for (const s of this.segments) if (s.startSeq <= seq) seg = s;
    if (seq <= seg.startSeq) return { seq: seg.startSeq, seg, offset: SEGMENT_HEADER_BYTES };
    const probe = new Cursor(this, true);
    probe.set(seg.startSeq, seg, SEGMENT_HEADER_BYTES);
    while (probe.seq < seq && probe.seq < this.writeSeq) {
      const r = probe.read();
      if (r === Read.Record) probe.advance(probe.size);
      else if (r === Read.Gap) probe.skipGap();
      else break;
    }
    return { seq: probe.seq, seg: probe.seg, offset: probe.offset };
  }

  segmentAfter(seg: Segment): Segment | undefined {
    const segs = this.segments;
    // The cursors sit in the first few segments: search from the front.
    for (let i = 0; i < segs.length - 1; i++) if (segs[i] === seg) return segs[i + 1];
    return undefined;
  }

  readFd(seg: Segment): number {
    if (seg.fd === undefined) seg.fd = fs.openSync(seg.file, 'r');
    return seg.fd;
  }

  private closeReadFd(seg: Segment): void {
    if (seg.fd !== undefined && seg !== this.active) {
      try {
        fs.closeSync(seg.fd);
      } catch {
        /* already closed */
      }
      seg.fd = undefined;
    }
  }

  reportCorruption(seg: Segment, offset: number, why: string): void {
    if (this.corruptReported.has(seg)) return;
    this.corruptReported.add(seg);
    this.opts.log.error(`buffer ${path.basename(seg.file)} in ${this.dir}: ${why} at offset ${offset}; the records after it in this segment are skipped and counted as dropped`);
  }

  get activeSegment(): Segment | undefined {
    return this.active;
  }

  private openActive(seg: Segment): void {
    try {
      const fd = fs.openSync(seg.file, 'r+');
      if (seg.fd !== undefined) fs.closeSync(seg.fd);
      seg.fd = fd;
      this.activeFd = fd;
    } catch (err) {
      this.fail(seg.file, err);
    }
    this.active = seg;
    if (this.opts.sync) {
      this.activeSync = new CoalescedSync(this.activeFd!);
      this.activeSync.onError = () => this.syncErrors++;
    }
  }

  /** Starts a new active segment at writeSeq. Throws the I/O error (ENOSPC) when it cannot be created; the log then has no active segment. */
  createSegment(): void {
    // An active segment without records already starts here (and the name would be taken).
    if (this.active && this.active.startSeq === this.writeSeq) return;
    const file = path.join(this.dir, segmentName(this.writeSeq));
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    header.writeUInt32LE(SEGMENT_MAGIC, 0);
    header.writeUInt16LE(FORMAT_VERSION, 4);
    header.writeBigUInt64LE(BigInt(this.writeSeq), 8);
    // The new segment is made before the active one is given up: when that fails (no space), appending goes on where it was.
    const fd = fs.openSync(file, 'w+', 0o644);
    try {
      if (fs.writeSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0) !== SEGMENT_HEADER_BYTES) throw Object.assign(new Error('short write of segment header'), { code: 'ENOSPC' });
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw err;
    }
    this.retireActive();
    const seg: Segment = { startSeq: this.writeSeq, file, size: SEGMENT_HEADER_BYTES, fd, deleted: false };
    this.segments.push(seg);
    this.sizeBytes += SEGMENT_HEADER_BYTES;
    this.active = seg;
    this.activeFd = fd;
    if (this.opts.sync) {
      this.activeSync = new CoalescedSync(fd);
      this.activeSync.onError = () => this.syncErrors++;
      this.activeSync.request();
      this.dirSync?.request();
    }
  }

  /** The active segment stops taking records (its descriptor stays for reading until the segment is deleted). */
  private retireActive(): void {
    const sync = this.activeSync;
    const fd = this.activeFd;
    this.active = undefined;
    this.activeFd = undefined;
    this.activeSync = undefined;
    if (sync && fd !== undefined) sync.request();
  }

  get hasActive(): boolean {
    return this.active !== undefined;
  }

  /** Whether the active segment is big enough to start the next one. */
  get activeFull(): boolean {
    return this.active !== undefined && this.active.size >= this.opts.segmentBytes;
  }

  /**
   * Appends `records` whole records held in buf[start, end). Either all of
   * them are in the file afterwards, or none is: a failed or short write is
   * cut back to the last record boundary before the error is thrown.
   */
  append(buf: Buffer, start: number, end: number, records: number): void {
    const seg = this.active;
    const fd = this.activeFd;
    if (!seg || fd === undefined) throw Object.assign(new Error('no active segment'), { code: 'ENOSPC' });
    const before = seg.size;
    let written = 0;
    try {
      while (written < end - start) {
        const n = fs.writeSync(fd, buf, start + written, end - start - written, before + written);
        if (n <= 0) throw Object.assign(new Error('write returned 0'), { code: 'ENOSPC' });
        written += n;
      }
    } catch (err) {
      if (written > 0) {
        try {
          fs.ftruncateSync(fd, before);
        } catch {
          // The bytes past `before` stay but are not part of the log (size is not advanced); the next
          // append would overwrite them, yet a restart would see them: end this segment here.
          this.retireActive();
        }
      }
      throw err;
    }
    seg.size += written;
    this.sizeBytes += written;
    this.writeSeq += records;
    this.activeSync?.request();
  }

  /** Deletes the segments whose records all come before `seq` (the active one only when asked: when empty and being replaced). */
  deleteBefore(seq: number): void {
    while (this.segments.length > 1 && this.segments[1].startSeq <= seq) {
      const seg = this.segments.shift()!;
      this.remove(seg);
    }
  }

  /** Replaces the active segment, all of whose records have been read and acknowledged, with a new empty one (gives its space back). */
  recycleActive(): boolean {
    const seg = this.active;
    if (!seg || this.segments.length !== 1) return false;
    this.segments.shift();
    this.retireActive();
    this.remove(seg);
    try {
      this.createSegment();
      return true;
    } catch {
      return false;
    }
  }

  private remove(seg: Segment): void {
    seg.deleted = true;
    this.sizeBytes -= seg.size;
    if (seg.fd !== undefined) {
      const fd = seg.fd;
      seg.fd = undefined;
      // A background sync may still run on the descriptor: close it afterwards.
      const closeFd = (): void => {
        try {
          fs.closeSync(fd);
        } catch {
          /* already closed */
        }
      };
      if (this.opts.sync) setImmediate(closeFd);
      else closeFd();
    }
    try {
      fs.rmSync(seg.file, { force: true });
    } catch {
      /* gone already */
    }
    this.dirSync?.request();
  }

  // ---- position ---------------------------------------------------------

  private readPosition(): PositionRecord | undefined {
    const file = path.join(this.dir, 'position');
    try {
      this.positionFd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+', 0o644);
    } catch (err) {
      this.fail(file, err);
    }
    if (this.opts.sync) {
      this.positionSync = new CoalescedSync(this.positionFd);
      this.positionSync.onError = () => this.syncErrors++;
    }
    try {
      const found = this.readSlots();
      const size = fs.fstatSync(this.positionFd).size;
      const full = POSITION_SLOT_STRIDE + POSITION_SLOT_BYTES;
      // Both slots get their blocks now: later position writes must not need space (a full disk is when they matter).
      if (size < full) fs.writeSync(this.positionFd, Buffer.alloc(full - size), 0, full - size, size);
      return found;
    } catch (err) {
      this.fail(file, err);
    }
  }

  /** The newest valid slot of the position file. */
  private readSlots(): PositionRecord | undefined {
    const buf = Buffer.alloc(POSITION_SLOT_STRIDE + POSITION_SLOT_BYTES);
    const n = fs.readSync(this.positionFd, buf, 0, buf.length, 0);
    let best: (PositionRecord & { counter: number }) | undefined;
    for (const at of [0, POSITION_SLOT_STRIDE]) {
      if (at + POSITION_SLOT_BYTES > n) continue;
      if (buf.readUInt32LE(at) !== POSITION_MAGIC) continue;
      const crc = recordChecksumOfSlot(buf, at);
      if (crc !== buf.readUInt32LE(at + 32)) continue;
      const slot = { counter: buf.readUInt32LE(at + 4), seq: buf.readDoubleLE(at + 8), segStart: buf.readDoubleLE(at + 16), offset: buf.readDoubleLE(at + 24) };
      if (!best || slot.counter > best.counter) best = slot;
    }
    if (!best) return undefined;
    this.positionCounter = best.counter;
    return { seq: best.seq, segStart: best.segStart, offset: best.offset };
  }

  private readonly slot = Buffer.alloc(POSITION_SLOT_BYTES);

  /** Persists the read position (the next record to deliver). Errors are returned, not thrown: the log stays usable, a restart re-delivers. */
  persistPosition(seq: number, seg: Segment, offset: number): Error | undefined {
    const b = this.slot;
    this.positionCounter = (this.positionCounter + 1) >>> 0;
    b.writeUInt32LE(POSITION_MAGIC, 0);
    b.writeUInt32LE(this.positionCounter, 4);
    b.writeDoubleLE(seq, 8);
    b.writeDoubleLE(seg.startSeq, 16);
    b.writeDoubleLE(offset, 24);
    b.writeUInt32LE(recordChecksumOfSlot(b, 0), 32);
    try {
      fs.writeSync(this.positionFd, b, 0, POSITION_SLOT_BYTES, (this.positionCounter & 1) * POSITION_SLOT_STRIDE);
    } catch (err) {
      return err as Error;
    }
    this.positionSync?.request();
    return undefined;
  }

  /** Closes every descriptor (after syncing when `sync`). */
  close(): void {
    if (this.opts.sync) {
      this.activeSync?.syncNow();
      this.positionSync?.syncNow();
      this.dirSync?.syncNow();
    }
    for (const s of this.segments) {
      if (s.fd !== undefined) {
        try {
          fs.closeSync(s.fd);
        } catch {
          /* closed */
        }
        s.fd = undefined;
      }
    }
    for (const fd of [this.positionFd, this.dirFd]) {
      if (fd !== undefined && fd >= 0) {
        try {
          fs.closeSync(fd);
        } catch {
          /* closed */
        }
      }
    }
    this.positionFd = -1;
    this.dirFd = undefined;
    this.active = undefined;
    this.activeFd = undefined;
  }
}

function recordChecksumOfSlot(buf: Buffer, at: number): number {
  return crc32(buf.subarray(at, at + 32));
}
