/**
 * A process that uses a disk buffer and then dies by SIGKILL, for crash tests:
 *
 *   node disk-buffer-child.js <dir> <steps as JSON>
 *
 * Steps run in order: {add: [from, to]} adds metrics m,id=<i> v=<i>i at time
 * i; {ack: n} takes a batch of n and acknowledges it; {take: n} takes a batch
 * of n and leaves it in flight; {wait: "commit"} lets the pending writes
 * happen (one turn of the event loop). After the last step the process prints
 * "ready" and, once that job has ended, kills itself with SIGKILL (nothing is
 * closed or flushed).
 */
import { Logger } from '../../core/log';
import { int, Metric } from '../../core/metric';
import { DiskBuffer } from '../../core/models/disk/disk_buffer';

type Step = { add: [number, number] } | { ack: number } | { take: number } | { wait: 'commit' };

export function childMetric(i: number): Metric {
  return Metric.from('m', { id: String(i) }, { v: int(i) }, BigInt(i));
}

async function main(): Promise<void> {
  const [dir, stepsJson] = process.argv.slice(2);
  const steps = JSON.parse(stepsJson) as Step[];
  const buf = DiskBuffer.open({
    dir,
    owner: { output: 'test', section: '[[outputs.test]]' },
    limit: Number(process.env.LIMIT ?? 1_000_000),
    batchSize: 1000,
    sync: process.env.SYNC !== 'false',
    segmentBytes: Number(process.env.SEGMENT_BYTES ?? 16 << 20),
    log: new Logger('outputs.test', 'warn'),
  });
  for (const s of steps) {
    if ('add' in s) {
      const ms: Metric[] = [];
      for (let i = s.add[0]; i < s.add[1]; i++) ms.push(childMetric(i));
      buf.add(ms);
    } else if ('ack' in s) {
      const b = buf.batch(s.ack);
      buf.endBatch(b, true);
    } else if ('take' in s) {
      buf.batch(s.take);
    } else await new Promise((r) => setImmediate(r));
  }
  // After the current job (its pending writes happen at its end), as a kill from outside would come.
  process.stdout.write('ready\n');
  setImmediate(() => process.kill(process.pid, 'SIGKILL'));
}

if (require.main === module) void main();
