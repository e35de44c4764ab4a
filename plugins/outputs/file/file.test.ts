import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Logger } from '../../../core/log';
import { FieldSchema, FieldType, Metric, TagSet } from '../../../core/metric';
import { RunningOutput } from '../../../core/models/running_output';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { FileOutput } from './index';

const schema = new FieldSchema(['n', 's'], [FieldType.Int, FieldType.String]);
const tags = TagSet.frozen(['host'], ['h']);

function batch(from: number, count: number): Metric[] {
  return Array.from({ length: count }, (_, i) => new Metric('m', BigInt(from + i), 'untyped', tags, schema, [from + i, 'x'.repeat((from + i) % 50)]));
}

test('consecutive batches reach the files whole and in order (batch memory is reused between writes)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-file-'));
  const files = [path.join(dir, 'a.out'), path.join(dir, 'b.out')];
  const out = new FileOutput(
    { files, data_format: 'influx', use_batch_format: true, influx_uint_support: false, influx_omit_timestamp: false, influx_sort_fields: false, influx_max_line_bytes: 0 },
    { log: new Logger('outputs.file'), section: '[[outputs.file]]', intervalNs: 10_000_000_000n, oneShot: false },
  );
  let expected = '';
  for (let b = 0; b < 5; b++) {
    const metrics = batch(b * 1000, 1000 - 150 * b); // shrinking batches: stale bytes from a longer one must not show
    for (const m of metrics) expected += `m,host=h n=${m.fieldValues![0]}i,s="${m.fieldValues![1]}" ${m.time}\n`;
    await out.write(metrics);
  }
  out.close();
  for (const f of files) assert.equal(fs.readFileSync(f, 'utf8'), expected);
});

/** Root only: a size-limited tmpfs that the test fills and frees. */
function smallTmpfs(t: { skip(msg: string): void }, bytes: number): { dir: string; fill(): void; free(): void; done(): void } | undefined {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error('this test needs root in CI (it mounts a tmpfs)');
    t.skip('needs root to mount a small tmpfs');
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill: () => {
      const fd = fs.openSync(filler, 'w');
      const block = Buffer.alloc(4096, 120);
      try {
        for (;;) fs.writeSync(fd, block);
      } catch {
        /* full */
      } finally {
        fs.closeSync(fd);
      }
    },
    free: () => fs.rmSync(filler, { force: true }),
    done: () => {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('one failing file: no duplicates in the healthy file, no torn lines, it catches up when space returns', async (t) => {
  const small = smallTmpfs(t, 256 * 1024);
  if (!small) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-file-'));
  try {
    const healthy = path.join(dir, 'healthy.lp');
    const limited = path.join(small.dir, 'limited.lp');
    const log = new CaptureLogger('outputs.file');
    const out = new FileOutput(
      { files: [healthy, limited], data_format: 'influx', use_batch_format: false, influx_uint_support: false, influx_omit_timestamp: false, influx_sort_fields: false, influx_max_line_bytes: 0 },
      outputContext(log),
    );
    const ro = new RunningOutput({ name: 'file', flushIntervalNs: 1n, flushJitterNs: 0n, metricBatchSize: 100, metricBufferLimit: 100_000, filter: {}, startupErrorBehavior: 'error' }, out, log);
    await out.connect();
    ro.connected = true;
    let next = 0;
    const expected: string[] = [];
    const round = async (): Promise<void> => {
      for (const m of batch(next, 100)) {
        expected.push(`m,host=h n=${m.fieldValues![0]}i,s="${m.fieldValues![1]}" ${m.time}`);
        ro.add(m);
      }
      next += 100;
      await ro.flush();
    };
    for (let i = 0; i < 5; i++) await round();
    small.fill(); // the limited file's disk is full from here on (mid-line, most likely)
    for (let i = 0; i < 10; i++) await round();
    assert.match(log.text(), /limited\.lp: .*no space left on device.*; holding its metrics/i);
    assert.ok(out.stats().file_backlog_bytes > 0, 'the missed batches are held');
    small.free();
    for (let i = 0; i < 3; i++) await round();
    out.close();
    const h = fs.readFileSync(healthy, 'utf8').trim().split('\n');
    assert.equal(h.length, expected.length, 'no duplicates, nothing missing in the healthy file');
    assert.deepEqual(h, expected);
    const l = fs.readFileSync(limited, 'utf8').trim().split('\n');
    assert.deepEqual(l, expected, 'the limited file caught up: every line whole, once, in order');
    assert.match(log.text(), /limited\.lp: written again; caught up/);
    assert.equal(ro.stats.metricsWritten.value, expected.length);
  } finally {
    small.done();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing file holds at most its limit, dropping the oldest whole lines', async () => {
  const log = new CaptureLogger('outputs.file');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-file-'));
  try {
    const healthy = path.join(dir, 'healthy.lp');
    const out = new FileOutput(
      { files: [healthy, '/dev/full'], data_format: 'influx', use_batch_format: false, influx_uint_support: false, influx_omit_timestamp: false, influx_sort_fields: false, influx_max_line_bytes: 0 },
      outputContext(log),
      16 * 1024,
    );
    for (let b = 0; b < 20; b++) await out.write(batch(b * 100, 100));
    const s = out.stats();
    assert.ok(s.file_backlog_bytes <= 16 * 1024 + 8 * 1024, `held ${s.file_backlog_bytes} bytes`);
    assert.ok(s.file_metrics_dropped > 0);
    assert.equal(fs.readFileSync(healthy, 'utf8').trim().split('\n').length, 2000);
    assert.equal((log.text().match(/dropping the oldest metrics/g) ?? []).length, 1, 'said once');
    out.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('when no destination takes a batch the write fails and nothing is held', async () => {
  const log = new CaptureLogger('outputs.file');
  const out = new FileOutput(
    { files: ['/dev/full'], data_format: 'influx', use_batch_format: false, influx_uint_support: false, influx_omit_timestamp: false, influx_sort_fields: false, influx_max_line_bytes: 0 },
    outputContext(log),
  );
  await assert.rejects(out.write(batch(0, 10)), /failed to write: \/dev\/full: .*no space/i);
  assert.equal(out.stats().file_backlog_bytes, 0, 'the agent keeps the batch, not the output');
  out.close();
});
