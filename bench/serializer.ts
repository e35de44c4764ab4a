/**
 * Line-protocol serialization of `ipvs_real_server` metrics as lvsagent emits
 * them: built by the ipvs input's own metric builder, passed through the
 * agent's input step (which adds the `host` tag: 7 tags, 16 integer fields and
 * the fwd_method string), gather after gather for the same 1,000 real servers.
 * ns per metric for our LineProtocolSerializer beside
 * @influxdata/influxdb-client's Point on the same metrics in the same run.
 * Target: ≤ 0.4 µs per metric and ≥ 8× faster than Point.
 *
 * Each gather's metrics are new objects, built outside the timed region (for
 * both sides); only serializing is timed, in CPU time of this process.
 */
import { Point } from '@influxdata/influxdb-client';
import { Metric, TagSet } from '../core/metric';
import { LineProtocolSerializer } from '../core/serializers/influx';
import { gather, SERVERS } from './_ipvs-metrics';

const GATHERS = 200;
const ROUNDS = 7;

/** The same metrics with their tags copied (not frozen): the path of a series' first gather, and of inputs that build tags per metric. */
function unfrozen(ms: Metric[]): Metric[] {
  return ms.map((m) => {
    const c = m.copy();
    c.tagSet = new TagSet([...m.tagKeys], [...m.tagValues]);
    return c;
  });
}

function toPoint(m: Metric): Point {
  const p = new Point(m.name);
  for (let i = 0; i < m.tagKeys.length; i++) p.tag(m.tagKeys[i], m.tagValues[i]);
  for (const f of m.fields) {
    if (f.type === 1) p.intField(f.key, f.value as number);
    else if (f.type === 2) p.uintField(f.key, String(f.value));
    else p.stringField(f.key, f.value as string);
  }
  p.timestamp(m.time.toString());
  return p;
}

function cpuNs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) * 1000;
}

interface Side {
  label: string;
  /** Prepares a gather's input outside the timed region. */
  prepare: (ms: Metric[]) => unknown;
  run: (input: never) => number;
}

const serializer = new LineProtocolSerializer({ uintSupport: true });
const sides: Side[] = [
  {
    label: 'lvsagent serializeBatchToBuffer (bytes to send)',
    prepare: (ms) => ms,
    run: (ms: Metric[]) => {
      const bytes = serializer.serializeBatchToBuffer(ms);
      const n = bytes.length;
      serializer.recycle(bytes); // as the outputs do once the write is done
      return n;
    },
  },
  {
    label: '  same, tags not cached (first gather)',
    prepare: unfrozen,
    run: (ms: Metric[]) => {
      const bytes = serializer.serializeBatchToBuffer(ms);
      const n = bytes.length;
      serializer.recycle(bytes);
      return n;
    },
  },
  {
    label: 'Point.toLineProtocol, joined, to bytes',
    prepare: (ms) => ms.map(toPoint),
    run: (points: Point[]) => {
      const lines = new Array<string>(points.length);
      for (let i = 0; i < points.length; i++) lines[i] = points[i].toLineProtocol()!;
      return Buffer.from(lines.join('\n') + '\n').length;
    },
  },
  {
    label: 'lvsagent serialize (a string per metric)',
    prepare: (ms) => ms,
    run: (ms: Metric[]) => {
      let n = 0;
      for (let i = 0; i < ms.length; i++) n += serializer.serialize(ms[i]).length;
      return n;
    },
  },
  {
    label: 'Point.toLineProtocol (a string per metric)',
    prepare: (ms) => ms.map(toPoint),
    run: (points: Point[]) => {
      let n = 0;
      for (let i = 0; i < points.length; i++) n += points[i].toLineProtocol()!.length;
      return n;
    },
  },
];

// Same content from both libraries (field order aside).
const first = gather(0);
const ours = serializer.serialize(first[0]).trim();
const theirs = toPoint(first[0]).toLineProtocol()!;
const norm = (l: string): string => {
  const [series, fields, time] = l.split(' ');
  return [series, fields.split(',').sort().join(','), time].join(' ');
};
if (norm(ours) !== norm(theirs)) {
  console.error(`output differs:\n ours   ${ours}\n Point  ${theirs}`);
  process.exit(1);
}
console.log(`${SERVERS} real servers per gather, ${GATHERS} gathers per round, best of ${ROUNDS} rounds (CPU time)`);
console.log(`line: ${ours.length + 1} bytes, ${first[0].tagKeys.length} tags, ${first[0].fields.length} fields`);

// Each side runs its own pass over the gathers after a full GC: process CPU time includes the
// collector's helper threads, which would otherwise charge one side's garbage to another.
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
const best = sides.map(() => Infinity);
const bytesPerLine = sides.map(() => 0);
for (let r = 0; r < ROUNDS; r++) {
  sides.forEach((side, k) => {
    gc();
    let total = 0;
    let bytes = 0;
    for (let g = 1; g <= GATHERS; g++) {
      const input = side.prepare(gather(g)) as never;
      total += cpuNs(() => (bytes += side.run(input)));
    }
    best[k] = Math.min(best[k], total / (GATHERS * SERVERS));
    bytesPerLine[k] = bytes / (GATHERS * SERVERS);
  });
}
sides.forEach((side, k) => {
  console.log(`${side.label.padEnd(48)} ${best[k].toFixed(0).padStart(6)} ns/metric  (${(1e3 / best[k]).toFixed(2)} M metrics/s, ${bytesPerLine[k].toFixed(0)} bytes/line)`);
});
console.log(`bytes to send:    lvsagent ${best[0].toFixed(0)} ns vs Point ${best[2].toFixed(0)} ns -> ${(best[2] / best[0]).toFixed(1)}x (first gather ${best[1].toFixed(0)} ns, ${(best[2] / best[1]).toFixed(1)}x)`);
console.log(`string per metric: lvsagent ${best[3].toFixed(0)} ns vs Point ${best[4].toFixed(0)} ns -> ${(best[4] / best[3]).toFixed(1)}x`);
console.log('targets: <= 400 ns per metric and >= 8x faster than Point');
