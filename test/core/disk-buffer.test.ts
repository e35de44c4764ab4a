/**
 * The disk buffer's log (buffer_strategy = "disk"): record format round trip,
 * persistence across reopening and across SIGKILL, torn and corrupt records,
 * segment rotation and deletion, metric_buffer_limit, partial writes, the
 * directory lock, and a real full filesystem (a 64 KiB tmpfs).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, test } from 'node:test';
import { FieldSchema, FieldType, float, int, Metric, TagSet, uint, type Field } from '../../core/metric';
import { crc32Range, RecordReader, RecordWriter } from '../../core/models/disk/codec';
import { DiskBuffer, DiskBufferError, type DiskBufferOptions } from '../../core/models/disk/disk_buffer';
import { SegmentLog } from '../../core/models/disk/segment_log';
import { CaptureLogger } from '../support/capture-log';
import { childMetric } from '../support/disk-buffer-child';
import { skipOrFail } from '../support/influxdb';
import { tempDir } from '../support/process';

const tmp = tempDir('lvsagent-diskbuf-');
let dirs = 0;
const freshDir = (): string => path.join(tmp, `b${dirs++}`);
const CHILD = path.join(__dirname, '..', 'support', 'disk-buffer-child.js');

function open(dir: string, over: Partial<DiskBufferOptions> = {}, log = new CaptureLogger('outputs.test')): DiskBuffer {
  return DiskBuffer.open({ dir, owner: { output: 'test', section: '[[outputs.test]]' }, limit: 1_000_000, batchSize: 100, sync: true, log, ...over });
}

const range = (from: number, to: number): Metric[] => Array.from({ length: to - from }, (_, i) => childMetric(from + i));
const ids = (ms: readonly Metric[]): number[] => ms.map((m) => Number(m.time));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function waitFor(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred());
}

/** Takes and acknowledges everything; returns the ids in delivery order. */
function drain(b: DiskBuffer, size = 100): number[] {
  const out: number[] = [];
  for (;;) {
    const batch = b.batch(size);
    if (batch.length === 0) return out;
    out.push(...ids(batch));
    b.endBatch(batch, true);
  }
}

const segments = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const seq = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Everything a metric holds, in a form deepStrictEqual compares exactly (number vs bigint, -0, NaN). */
function plain(m: Metric): unknown {
  return { name: m.name, time: m.time, type: m.type, tags: m.tags(), fields: m.fields.map((f: Field) => ({ key: f.key, type: f.type, value: f.value })) };
}

function roundTrip(ms: Metric[]): Metric[] {
  const w = new RecordWriter(16);
  for (const m of ms) w.append(m);
  const r = new RecordReader();
  const out: Metric[] = [];
  for (let pos = 0; pos < w.length; ) {
    const len = w.buf.readUInt32LE(pos);
    out.push(r.decode(w.buf, pos + 8, len));
    pos += 8 + len;
  }
  return out;
}

function runChild(dir: string, steps: unknown[], env: Record<string, string> = {}): void {
  const r = spawnSync(process.execPath, [CHILD, dir, JSON.stringify(steps)], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.signal, 'SIGKILL', `child should die by SIGKILL: ${r.stderr}`);
  assert.match(r.stdout, /ready/);
}

describe('disk buffer record format', () => {
  test('metrics round-trip losslessly: every field type and integer representation, tags, names, value types, timestamps', () => {
    const m1 = new Metric('ipvs_real_server', 1_700_000_000_123_456_789n, 'counter');
    m1.setTag('address', '10.0.0.1');
    m1.setTag('ünïcode tag, with spaces', 'välue=✓ 𝄞');
    m1.addFloat('f', 1.5);
    m1.addFloat('nan', NaN);
    m1.addFloat('inf', -Infinity);
    m1.addFloat('negzero', -0);
    m1.addInt('small', -5);
    m1.addInt('i31', 2 ** 31);
    m1.addInt('i53', Number.MAX_SAFE_INTEGER);
    m1.addInt('oddnumber', 1.25);
    m1.addInt('minus_zero_int', -0);
    m1.addInt('big_min', -(2n ** 63n));
    m1.addInt('big_max', 2n ** 63n - 1n);
    m1.addUint('u64max', 2n ** 64n - 1n);
    m1.addUint('u_number', 0);
    m1.addUint('beyond64', 2n ** 70n + 3n);
    m1.addInt('neg_beyond64', -(2n ** 66n));
    m1.addString('s', 'héllo ✓ 𝄞');
    m1.addString('empty', '');
    m1.addString('long_ascii', 'x'.repeat(300));
    m1.addString('long_unicode', 'ü'.repeat(200));
    m1.addBool('t', true);
    m1.addBool('f_', false);
    const m2 = Metric.from('ñame with spaces', {}, { v: int(1) }, -5n, 'gauge');
    const m3 = Metric.from('h', { a: 'b' }, { v: uint(7) }, 0n, 'histogram');
    const m4 = Metric.from('x'.repeat(200), { ['k'.repeat(150)]: 'v'.repeat(150) }, { ['f'.repeat(130)]: float(2) }, 2n ** 63n - 1n);
    const schema = new FieldSchema(['a', 'b', 'c'], [FieldType.Int, FieldType.Uint, FieldType.String]);
    const frozen = TagSet.frozen(['host', 'z'], ['h1', 'zz']);
    const m5 = new Metric('compact', 42n, 'untyped', frozen, schema, [1, 2n ** 64n - 1n, 's']);
    // The same schema and tag set again under another name: cached encodings must follow the name.
    const m6 = new Metric('compact_other', 43n, 'untyped', frozen, schema, [-(2 ** 40), 0, '']);
    const all = [m1, m2, m3, m4, m5, m6];
    const back = roundTrip(all);
    assert.equal(back[4].fieldSchema?.keys.join(), 'a,b,c', 'decoded in compact form');
    assert.ok(back[4].tagSet.frozen);
    assert.deepStrictEqual(back.map(plain), all.map(plain));
  });

  test('decoded metrics of one series share their tag set and schema', () => {
    const ms = [0, 1, 2].map((i) => Metric.from('m', { host: 'a', dc: 'x' }, { v: int(i), w: 1.5 }, BigInt(i)));
    const back = roundTrip(ms);
    assert.equal(back[0].tagSet, back[2].tagSet);
    assert.equal(back[0].fieldSchema, back[1].fieldSchema);
    assert.deepStrictEqual(back.map(plain), ms.map(plain));
  });

  test('the checksum is CRC-32 as zlib computes it (chained over length and payload)', (t) => {
    const z = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
    if (!z) return t.skip('this Node has no zlib.crc32');
    for (const n of [0, 1, 7, 8, 9, 63, 265, 4096]) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 131 + n) & 255;
      assert.equal(crc32Range(b, 0, n), z(b), `length ${n}`);
      const cut = n >> 1;
      assert.equal(crc32Range(b, cut, n, crc32Range(b, 0, cut)), z(b), `chained, length ${n}`);
    }
  });

  test('a metric the format cannot hold (timestamp beyond int64) is dropped, counted and logged, not thrown', () => {
    const log = new CaptureLogger();
    const b = open(freshDir(), {}, log);
    const bad = Metric.from('m', {}, { v: int(1) }, 2n ** 64n);
    assert.equal(b.add([bad, childMetric(1)]), 1);
    assert.equal(b.length, 1);
    assert.match(log.text(), /cannot be stored \(timestamp .* int64/);
    b.close();
  });
});

describe('disk buffer log', () => {
  test('metrics survive closing and reopening, in order, acknowledged ones gone', async () => {
    const dir = freshDir();
    let b = open(dir);
    b.add(range(0, 250));
    await turn();
    const first = b.batch(100);
    b.endBatch(first, true);
    b.close();
    const log = new CaptureLogger();
    b = open(dir, {}, log);
    assert.equal(b.length, 150);
    assert.match(log.text(), /150 metrics from an earlier run/);
    const three = b.batch(3);
    assert.deepStrictEqual(plain(three[0]), plain(childMetric(100)));
    b.endBatch(three, false);
    assert.deepEqual(drain(b), seq(100, 250));
    b.close();
  });

  test('a torn last record is cut off with one warning; the good prefix is delivered, appending goes on', async () => {
    const dir = freshDir();
    let b = open(dir);
    b.add(range(0, 50));
    b.close();
    const [seg] = segments(dir);
    const file = path.join(dir, seg);
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const log = new CaptureLogger();
    b = open(dir, {}, log);
    const warnings = log.lines.filter((l) => l.startsWith('W!'));
    assert.equal(warnings.length, 1, log.text());
    assert.match(warnings[0], /torn record at the end of .*\.seg .*49 records before it kept/);
    assert.equal(b.length, 49);
    b.add(range(50, 60));
    b.close();
    const log2 = new CaptureLogger();
    b = open(dir, {}, log2);
    assert.doesNotMatch(log2.text(), /torn/);
    assert.deepEqual(drain(b), [...seq(0, 49), ...seq(50, 60)]);
    b.close();
  });

  test('a record torn inside its header (a few bytes of it written) is cut off too', () => {
    const dir = freshDir();
    let b = open(dir);
    b.add(range(0, 10));
    b.close();
    const file = path.join(dir, segments(dir)[0]);
    const oneRecord = (fs.statSync(file).size - 16) / 10;
    fs.truncateSync(file, 16 + 9 * oneRecord + 5);
    const log = new CaptureLogger();
    b = open(dir, {}, log);
    assert.match(log.text(), /torn record .*5 bytes after offset/);
    assert.deepEqual(drain(b), seq(0, 9));
    b.close();
  });

  test('segments rotate at their size and are deleted once delivered; sizes are accounted', async () => {
    const dir = freshDir();
    let b = open(dir, { segmentBytes: 4096 });
    for (let k = 0; k < 10; k++) {
      b.add(range(k * 100, k * 100 + 100));
      await turn();
    }
    const before = segments(dir);
    assert.ok(before.length >= 5, `several segments: ${before.join(' ')}`);
    for (const s of before) assert.ok(fs.statSync(path.join(dir, s)).size <= 4096 + 200, `${s} near the segment size`);
    const sum = (): number => segments(dir).reduce((n, s) => n + fs.statSync(path.join(dir, s)).size, 0);
    assert.equal(b.diskBytes, sum());
    for (let i = 0; i < 6; i++) b.endBatch(b.batch(100), true);
    const left = segments(dir);
    assert.ok(left.length < before.length && left.length >= 2, `delivered segments deleted: ${left.join(' ')}`);
    assert.equal(b.diskBytes, sum());
    b.close();
    b = open(dir, { segmentBytes: 4096 });
    assert.deepEqual(drain(b), seq(600, 1000));
    b.close();
  });

  test('metric_buffer_limit bounds disk and memory together: the oldest are dropped and counted, also at open', async () => {
    const dir = freshDir();
    let b = open(dir, { limit: 100 });
    assert.equal(b.add(range(0, 250)), 150);
    assert.equal(b.dropped, 150);
    assert.equal(b.length, 100);
    await turn();
    b.close();
    const log = new CaptureLogger();
    b = open(dir, { limit: 40 }, log);
    assert.equal(b.dropped, 60);
    assert.match(log.text(), /60 of them exceed metric_buffer_limit \(40\)/);
    assert.deepEqual(drain(b), seq(210, 250));
    b.close();
  });

  test('a failed write keeps the batch; a partial write keeps the unfinished metrics at the front, in order', async () => {
    const b = open(freshDir());
    b.add(range(0, 30));
    await turn();
    const first = b.batch(10);
    assert.deepEqual(b.peek(10, 5).map((m) => Number(m.time)), seq(10, 15), 'the next batch, for prepare()');
    b.endBatch(first, false);
    const again = b.batch(10);
    assert.deepEqual(ids(again), seq(0, 10));
    b.endBatch(again, true, new Set([2, 5]));
    assert.equal(b.length, 22);
    assert.deepEqual(drain(b, 5), [2, 5, ...seq(10, 30)]);
    b.close();
  });

  test('overflow while a batch is in flight shrinks the batch instead of removing newer metrics', async () => {
    const b = open(freshDir(), { limit: 20 });
    b.add(range(0, 20));
    await turn();
    const inFlight = b.batch(10);
    b.add(range(20, 25)); // evicts 0-4, which belong to the batch
    b.endBatch(inFlight, true);
    assert.deepEqual(drain(b), seq(10, 25));
    assert.equal(b.dropped, 5);
    b.close();
  });

  test('closed while a batch is in flight (a final flush past its deadline): late calls are harmless, the batch comes again after reopening', async () => {
    const dir = freshDir();
    let b = open(dir);
    b.add(range(0, 20));
    await turn();
    const inFlight = b.batch(10);
    b.close();
    b.endBatch(inFlight, true);
    assert.deepEqual(b.batch(10), []);
    assert.equal(b.add(range(20, 21)), 1, 'a straggler after the stop is dropped, not thrown');
    b = open(dir);
    assert.deepEqual(drain(b), seq(0, 20));
    b.close();
  });

  test('a corrupt record inside an older segment: logged once, the rest of that segment counted as dropped, later segments delivered', async () => {
    const dir = freshDir();
    let b = open(dir, { segmentBytes: 2048 });
    for (let k = 0; k < 6; k++) {
      b.add(range(k * 50, k * 50 + 50));
      await turn();
    }
    b.close();
    const segs = segments(dir);
    const second = Number(segs[1].slice(0, 20));
    const file = path.join(dir, segs[0]);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 16 + 8 + 3); // inside the first record's payload
    fs.closeSync(fd);
    const log = new CaptureLogger();
    b = open(dir, { segmentBytes: 2048 }, log);
    let lateDrops = 0;
    b.onLateDrop = (n) => (lateDrops += n);
    const got = drain(b);
    assert.deepEqual(got, seq(second, 300));
    assert.equal(lateDrops, second);
    assert.equal(log.lines.filter((l) => /checksum mismatch/.test(l)).length, 1, log.text());
    b.close();
  });

  test('a directory whose owner died is taken over; one still open is refused', () => {
    const dir = freshDir();
    const b = open(dir);
    assert.throws(() => open(dir), (e: Error) => e instanceof DiskBufferError && /already open in this process/.test(e.message));
    b.close();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dir, 'lock'), `${dead.stdout} 12345\n`);
    open(dir).close();
  });

  test('a lock held by a live process is refused: in our PID namespace by its pid and start time, in another by its refresh time', async () => {
    const dir = freshDir();
    open(dir).close();
    const lock = path.join(dir, 'lock');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await waitFor(() => fs.existsSync(`/proc/${child.pid}/stat`));
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      const ns = fs.readlinkSync('/proc/self/ns/pid');
      fs.writeFileSync(lock, `${child.pid} ${start} ${ns}\n`);
      assert.throws(() => open(dir), /is in use by process \d+ \(another lvsagent with the same buffer_directory\?\)/);
    } finally {
      child.kill('SIGKILL');
    }
    // Another PID namespace (another container): only the refresh time tells.
    fs.writeFileSync(lock, `1 999 pid:[1]\n`);
    assert.throws(() => open(dir), /in use by process 1 of another PID namespace .* refreshed 0s ago/);
    const old = new Date(Date.now() - 6000);
    fs.utimesSync(lock, old, old);
    open(dir).close();
  });

  test('an unusable directory is a clear error naming the path', () => {
    const file = path.join(tmp, 'not-a-dir');
    fs.writeFileSync(file, '');
    assert.throws(
      () => open(path.join(file, 'out')),
      (e: Error) => e instanceof DiskBufferError && e.message.includes(path.join(file, 'out')) && /ENOTDIR|EEXIST/.test(e.message),
    );
  });

  test('a read-only filesystem is refused at open, naming the path', (t) => {
    if (process.getuid?.() !== 0) return skipOrFail(t, 'mounting a read-only tmpfs needs root');
    const mnt = path.join(tmp, 'ro');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return skipOrFail(t, `mount failed: ${m.stderr}`);
    try {
      assert.throws(() => open(path.join(mnt, 'out')), (e: Error) => e instanceof DiskBufferError && e.message.includes(mnt) && /EROFS/.test(e.message));
    } finally {
      spawnSync('umount', ['-l', mnt]);
    }
  });

  test('inspect counts what a directory holds without changing it', async () => {
    const dir = freshDir();
    const b = open(dir);
    b.add(range(0, 80));
    await turn();
    b.endBatch(b.batch(30), true);
    b.close();
    const before = fs.readdirSync(dir).map((f) => `${f}:${fs.statSync(path.join(dir, f)).size}`);
    assert.deepEqual(SegmentLog.inspect(dir, new CaptureLogger()), { metrics: 50, bytes: fs.statSync(path.join(dir, segments(dir)[0])).size });
    assert.deepEqual(fs.readdirSync(dir).map((f) => `${f}:${fs.statSync(path.join(dir, f)).size}`), before);
  });
});

describe('disk buffer after SIGKILL', () => {
  test('everything added before the job ended is there; acknowledged batches are not delivered again, the one in flight is', () => {
    const dir = freshDir();
    runChild(dir, [{ add: [0, 500] }, { wait: 'commit' }, { ack: 200 }, { add: [500, 600] }, { take: 100 }]);
    const log = new CaptureLogger();
    const b = open(dir, {}, log);
    assert.equal(b.length, 400);
    assert.doesNotMatch(log.text(), /torn|corrupt/);
    assert.deepEqual(drain(b), seq(200, 600));
    b.close();
  });

  test('killed with nothing acknowledged and no sync: the page cache has it all', () => {
    const dir = freshDir();
    runChild(dir, [{ add: [0, 1000] }], { SYNC: 'false', SEGMENT_BYTES: '8192' });
    const b = open(dir, { segmentBytes: 8192 });
    assert.deepEqual(drain(b), seq(0, 1000));
    b.close();
  });
});

describe('disk buffer on a full filesystem (64 KiB tmpfs)', () => {
  const mnt = path.join(tmp, 'small');
  let mounted = false;
  after(() => {
    if (mounted) spawnSync('umount', ['-l', mnt]);
  });

  test('fills, keeps the newest metrics in memory and delivers them, counts drops, recovers by itself, never corrupts the log', async (t) => {
    if (process.getuid?.() !== 0) return skipOrFail(t, 'mounting a tmpfs needs root');
    fs.mkdirSync(mnt, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return skipOrFail(t, `mount failed: ${m.stderr}`);
    mounted = true;
    const dir = path.join(mnt, 'out');
    const big = (i: number): Metric => Metric.from('m', { id: String(i) }, { v: int(i), pad: 'p'.repeat(900) }, BigInt(i));
    const log = new CaptureLogger();
    const b = open(dir, { memoryMetrics: 100, retryMs: 20 }, log);
    let late = 0;
    b.onLateDrop = (n) => (late += n);
    // ~1 KB per record: 64 KiB take some 60; 300 cannot fit.
    for (let i = 0; i < 300; i += 10) {
      b.add(Array.from({ length: 10 }, (_, k) => big(i + k)));
      await turn();
    }
    assert.match(log.text(), /cannot write \(ENOSPC\); holding up to 100 of the newest metrics in memory/);
    assert.equal(log.lines.filter((l) => /cannot write/.test(l)).length, 1, 'reported once');
    assert.ok(late > 0 && b.dropped === late, `drops counted: ${late}`);
    assert.ok(b.memoryOnly > 0 && b.memoryOnly <= 100);
    const onDisk = b.length - b.memoryOnly;
    assert.ok(onDisk > 20, `the disk holds what fitted (${onDisk})`);
    // Delivered: what is on disk, then the newest 100 from memory; the ones in between were dropped.
    const got = drain(b, 25);
    assert.deepEqual(got.slice(0, onDisk), seq(0, onDisk));
    assert.deepEqual(got.slice(onDisk), seq(200, 300));
    await new Promise((r) => setTimeout(r, 100));
    // Delivered metrics freed the space: writing works again.
    for (let i = 300; i < 320; i += 10) {
      b.add(Array.from({ length: 10 }, (_, k) => big(i + k)));
      await turn();
    }
    assert.equal(b.memoryOnly, 0);
    assert.match(log.text(), /writable again/);
    b.close();
    const log2 = new CaptureLogger();
    const again = open(dir, {}, log2);
    assert.doesNotMatch(log2.text(), /torn|corrupt|no valid header/, 'the log stayed valid');
    assert.deepEqual(drain(again), seq(300, 320));
    again.close();
  });
});
