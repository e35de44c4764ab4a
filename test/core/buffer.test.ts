import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldType, Metric } from '../../core/metric';
import { MetricBuffer } from '../../core/models/buffer';
import { RunningOutput } from '../../core/models/running_output';
import { Logger } from '../../core/log';
import { PartialWriteError, type Output } from '../../core/plugin';
import { selfStats } from '../../core/selfstat';

function metrics(from: number, to: number): Metric[] {
  const out: Metric[] = [];
  for (let i = from; i < to; i++) {
    const m = new Metric('m', BigInt(i));
    m.addField('i', FieldType.Int, i);
    out.push(m);
  }
  return out;
}
const ids = (ms: readonly Metric[]): number[] => ms.map((m) => Number(m.time));

describe('metric buffer', () => {
  test('drops the oldest when full and counts them', () => {
    const b = new MetricBuffer(5);
    assert.equal(b.add(metrics(0, 7)), 2);
    assert.equal(b.dropped, 2);
    assert.deepEqual(ids(b.batch(10)), [2, 3, 4, 5, 6]);
  });

  test('a rejected batch stays at the front in order; an accepted one is removed', () => {
    const b = new MetricBuffer(10);
    b.add(metrics(0, 6));
    const first = b.batch(4);
    b.endBatch(first, false);
    assert.deepEqual(ids(b.batch(4)), [0, 1, 2, 3]);
    b.endBatch(first, true);
    assert.equal(b.length, 2);
    assert.deepEqual(ids(b.batch(10)), [4, 5]);
  });

  test('overflow while a batch is in flight shrinks the batch instead of removing newer metrics', () => {
    const b = new MetricBuffer(4);
    b.add(metrics(0, 4));
    const batch = b.batch(3); // 0,1,2 in flight
    b.add(metrics(4, 6)); // evicts 0 and 1
    b.endBatch(batch, true); // only 2 remains of the batch
    assert.deepEqual(ids(b.batch(10)), [3, 4, 5]);
  });

  test('peek shows metrics behind the in-flight batch without taking them', () => {
    const b = new MetricBuffer(4);
    b.add(metrics(0, 6)); // keeps 2..5
    b.batch(2);
    assert.deepEqual(ids(b.peek(2, 10)), [4, 5]);
    assert.deepEqual(ids(b.peek(4, 10)), []);
    assert.equal(b.length, 4);
  });

  test('partial results keep only the undecided metrics', () => {
    const b = new MetricBuffer(10);
    b.add(metrics(0, 5));
    const batch = b.batch(5);
    b.endBatch(batch, true, new Set([1, 3]));
    assert.deepEqual(ids(b.batch(10)), [1, 3]);
  });
});

class ScriptedOutput implements Output {
  written: number[] = [];
  calls = 0;
  constructor(private readonly script: ((batch: Metric[]) => void)[] = []) {}
  async write(batch: Metric[]): Promise<void> {
    const step = this.script[this.calls++];
    if (step) step(batch);
    this.written.push(...ids(batch));
  }
}

function runningOutput(out: Output, batch: number, limit: number): RunningOutput {
  return new RunningOutput(
    { name: 'scripted', flushIntervalNs: 1n, flushJitterNs: 0n, metricBatchSize: batch, metricBufferLimit: limit, filter: {}, startupErrorBehavior: 'error' },
    out,
    new Logger('test', 'error'),
  );
}

describe('running output delivery', () => {
  test('a timer flush writes every batch present; a failure keeps the batch for the next flush without duplicates', async () => {
    const fail = (): void => {
      throw new Error('server down');
    };
    const out = new ScriptedOutput([undefined as never, fail]);
    const ro = runningOutput(out, 3, 100);
    for (const m of metrics(0, 8)) ro.add(m);
    assert.equal(await ro.flush(), false); // batch 0-2 written, 3-5 failed, stop at first error
    assert.deepEqual(out.written, [0, 1, 2]);
    assert.equal(ro.buffer.length, 5);
    assert.equal(ro.stats.writeErrors.value, 1);
    assert.equal(await ro.flush(), true);
    assert.deepEqual(out.written, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(ro.stats.metricsWritten.value, 8);
  });

  test('a full batch triggers an early flush, suppressed after a failed write', async () => {
    let ready = 0;
    const out = new ScriptedOutput([
      () => {
        throw new Error('x');
      },
    ]);
    const ro = runningOutput(out, 2, 100);
    ro.onBatchReady = () => ready++;
    ro.add(metrics(0, 1)[0]);
    assert.equal(ready, 0);
    ro.add(metrics(1, 2)[0]);
    assert.equal(ready, 1);
    await ro.flush(true); // fails
    ro.add(metrics(2, 3)[0]);
    ro.add(metrics(3, 4)[0]);
    assert.equal(ready, 1, 'no batch-ready flush after a failure');
    await ro.flush(); // timer flush succeeds
    ro.add(metrics(4, 5)[0]);
    ro.add(metrics(5, 6)[0]);
    assert.equal(ready, 2);
  });

  test('partial write: rejected metrics are dropped and counted, undecided ones retried', async () => {
    const out = new ScriptedOutput([
      () => {
        throw new PartialWriteError('field type conflict', [1], [0, 2]);
      },
    ]);
    const ro = runningOutput(out, 4, 100);
    for (const m of metrics(0, 4)) ro.add(m);
    await ro.flush();
    assert.equal(ro.stats.metricsRejected.value, 1);
    assert.deepEqual(ids(ro.buffer.batch(10)), [3]);
  });

  test('overflow is counted and reported once', async () => {
    const out = new ScriptedOutput();
    const ro = runningOutput(out, 100, 3);
    for (const m of metrics(0, 5)) ro.add(m);
    assert.equal(ro.stats.metricsDropped.value, 2);
    await ro.flush();
    assert.deepEqual(out.written, [2, 3, 4]);
    assert.equal(ro.buffer.droppedSinceWarning, 0);
  });

  test("an output's own statistics become internal_write fields", async () => {
    let bytes = 0;
    const out: Output = {
      write: async (b) => void (bytes += b.length * 10),
      stats: () => ({ bytes_written: bytes }),
    };
    const ro = runningOutput(out, 10, 100);
    for (const m of metrics(0, 3)) ro.add(m);
    await ro.flush();
    const group = selfStats.snapshot().find((g) => g.measurement === 'internal_write' && g.tags.output === 'scripted' && 'bytes_written' in g.fields);
    assert.equal(group?.fields.bytes_written, 30);
  });

  test('while a batch is on the wire the output is asked to prepare exactly the next one', async () => {
    const events: string[] = [];
    const out: Output = {
      write: async (b) => {
        events.push(`write ${ids(b).join(',')}`);
        await new Promise((r) => setTimeout(r, 5));
      },
      prepare: (b) => void events.push(`prepare ${ids(b).join(',')}`),
    };
    const ro = runningOutput(out, 3, 100);
    for (const m of metrics(0, 8)) ro.add(m);
    await ro.flush();
    assert.deepEqual(events, ['write 0,1,2', 'prepare 3,4,5', 'write 3,4,5', 'prepare 6,7', 'write 6,7']);
  });

  test('concurrent flushes do not write the same metrics twice', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const out: Output = {
      write: async (b) => {
        await gate;
        written.push(...ids(b));
      },
    };
    const ro = runningOutput(out, 10, 100);
    for (const m of metrics(0, 3)) ro.add(m);
    const a = ro.flush();
    const b = ro.flush();
    release();
    await Promise.all([a, b]);
    assert.deepEqual(written, [0, 1, 2]);
  });
});
