/**
 * MetricLineStream's backpressure: a producer that awaits `ready()` is held
 * while the sink is behind, so what waits in memory stays at a few batches
 * however large the gather, and every line still arrives, in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldSchema, FieldType, Metric, TagSet } from '../../core/metric';
import { ByteSink, MetricLineStream, type WritableLike } from '../../core/stdout';

/** A stream whose writes complete only when the test says so (a reader that has stopped reading). */
class StalledStream implements WritableLike {
  readonly chunks: Uint8Array[] = [];
  private callbacks: ((err?: Error | null) => void)[] = [];
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean {
    this.chunks.push(Buffer.from(chunk));
    this.callbacks.push(cb);
    return false;
  }
  on(): this {
    return this;
  }
  /** Completes every write so far. */
  release(): void {
    for (const cb of this.callbacks.splice(0)) cb();
  }
}

const schema = new FieldSchema(['v'], [FieldType.Int]);
const tags = TagSet.frozen(['k'], ['x']);

test('a producer awaiting ready() is held while the sink is behind; queued bytes stay at a few batches', async () => {
  const stream = new StalledStream();
  const out = new MetricLineStream(new ByteSink(stream), {}, 100);
  const total = 20_000;
  let produced = 0;
  let maxQueued = 0;
  const producer = (async () => {
    for (let i = 0; i < total; i++) {
      out.push(new Metric('m', BigInt(i), 'gauge', tags, schema, [i]));
      produced++;
      maxQueued = Math.max(maxQueued, out.queuedBytes);
      if (i % 100 === 99) await (out.ready() ?? new Promise<void>((r) => setImmediate(r)));
    }
  })();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.ok(produced < total / 10, `the producer ran on while nothing was written: ${produced} metrics`);
  // The reader takes what is written, a write at a time, until everything is through.
  let reading = true;
  const reader = (async () => {
    while (reading) {
      stream.release();
      await new Promise((r) => setImmediate(r));
    }
  })();
  await producer;
  await out.flush();
  reading = false;
  await reader;
  const lineBytes = Buffer.byteLength('m,k=x v=19999i 19999\n');
  assert.ok(maxQueued <= 5 * 100 * lineBytes, `queued at most ${maxQueued} bytes`);
  const lines = Buffer.concat(stream.chunks).toString().split('\n').filter(Boolean);
  assert.equal(lines.length, total);
  lines.forEach((l, i) => assert.equal(l, `m,k=x v=${i}i ${i}`));
});

test('ready() is undefined while the sink keeps up', () => {
  const stream = new StalledStream();
  const out = new MetricLineStream(new ByteSink(stream), {}, 100);
  for (let i = 0; i < 250; i++) out.push(new Metric('m', 1n, 'gauge', tags, schema, [i]));
  assert.equal(out.ready(), undefined);
});
