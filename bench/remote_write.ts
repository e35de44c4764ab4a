/**
 * Prometheus remote write encoding (protobuf WriteRequest + snappy block) of
 * `ipvs_real_server` metrics as lvsagent emits them (bench/_ipvs-metrics.ts):
 * 1,000 real servers × 16 numeric fields per gather, 63 gathers per round,
 * about 1,000,000 samples. Beside it, in the same run on the same metrics:
 *  - the `prometheus-remote-write` npm package (protobufjs static code +
 *    snappyjs), fed its own Timeseries objects built outside the timed region;
 *  - protobufjs (reflection, from the spec's .proto) on WriteRequest objects
 *    built outside the timed region, compressed with our snappy encoder.
 * and the two parts alone: protobuf (ours vs protobufjs) and snappy on the
 * same bytes (ours vs the native `snappy` module vs snappyjs).
 * Target: ours ≥ 3× the npm package. CPU time of this process, best of 5.
 */
import { pushTimeseries } from 'prometheus-remote-write';
import { compressSync } from 'snappy';
import SnappyJS from 'snappyjs';
import { SnappyEncoder } from '../core/compress/snappy';
import { FieldType, type Metric } from '../core/metric';
import { labelPairs, metricName } from '../core/prometheus/naming';
import { RemoteWriteSerializer } from '../core/serializers/remote_write';
import { WriteRequest, decodeRemoteWrite } from '../test/support/remote_write';
import { gather, SERVERS } from './_ipvs-metrics';

const GATHERS = 63;
const ROUNDS = 5;

interface Sample {
  value: number;
  timestamp: number;
}
interface LabelledSeries {
  labels: Record<string, string>;
  samples: Sample[];
}

/** The same series as objects: what a user of the npm package or of protobufjs hands to them. */
function toSeries(ms: readonly Metric[]): LabelledSeries[] {
  const out: LabelledSeries[] = [];
  for (const m of ms) {
    const { names, values } = labelPairs(m, false, true);
    const timestamp = Number(m.time / 1_000_000n);
    for (const f of m.fields) {
      if (f.type === FieldType.String) continue;
      const labels: Record<string, string> = { __name__: metricName(m.name, f.key, false) };
      names.forEach((n, i) => (labels[n] = values[i]));
      out.push({ labels, samples: [{ value: Number(f.value), timestamp }] });
    }
  }
  return out;
}

/** protobufjs message objects: labels as sorted name/value pairs. */
function toMessages(series: LabelledSeries[]): { timeseries: { labels: { name: string; value: string }[]; samples: Sample[] }[] } {
  return {
    timeseries: series.map((s) => ({
      labels: Object.keys(s.labels)
        .sort()
        .map((name) => ({ name, value: s.labels[name] })),
      samples: s.samples,
    })),
  };
}

function cpuNs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) * 1000;
}

interface Side {
  label: string;
  prepare: (ms: Metric[]) => unknown;
  /** Encodes one gather; resolves the bytes produced. */
  run: (input: never) => Promise<number> | number;
}

const ours = new RemoteWriteSerializer();
const snappy = new SnappyEncoder();
let captured: Uint8Array = new Uint8Array(0);
const captureFetch = async (_url: string, init?: { body: ArrayBufferLike }) => {
  captured = new Uint8Array(init!.body);
  return { status: 204, statusText: 'No Content', text: async () => '' };
};

const sides: Side[] = [
  {
    label: 'lvsagent (hand-written protobuf + own snappy)',
    prepare: (ms) => ms,
    run: (ms: Metric[]) => ours.serializeBatch(ms).reduce((n, r) => n + r.body.length, 0),
  },
  {
    label: 'prometheus-remote-write npm (pushTimeseries)',
    prepare: toSeries,
    run: async (series: LabelledSeries[]) => {
      await pushTimeseries(series as never, { url: 'http://unused.invalid/', fetch: captureFetch as never });
      return captured.length;
    },
  },
  {
    label: 'protobufjs encode + own snappy',
    prepare: (ms) => toMessages(toSeries(ms)),
    run: (msg: object) => snappy.compress(WriteRequest.encode(WriteRequest.fromObject(msg)).finish()).length,
  },
];

/** Parts alone, on one gather's bytes. */
const parts: Side[] = [
  { label: 'protobuf: lvsagent encoder', prepare: (ms) => ms, run: (ms: Metric[]) => ours.encodeUncompressed(ms).bytes.length },
  { label: 'protobuf: protobufjs encode', prepare: (ms) => toMessages(toSeries(ms)), run: (msg: object) => WriteRequest.encode(WriteRequest.fromObject(msg)).finish().length },
  { label: 'snappy: lvsagent encoder', prepare: (ms) => ours.encodeUncompressed(ms).bytes, run: (b: Buffer) => snappy.compress(b).length },
  { label: 'snappy: native snappy module', prepare: (ms) => ours.encodeUncompressed(ms).bytes, run: (b: Buffer) => compressSync(b).length },
  { label: 'snappy: snappyjs', prepare: (ms) => ours.encodeUncompressed(ms).bytes, run: (b: Buffer) => SnappyJS.compress(b).length },
];

async function measure(list: Side[]): Promise<{ best: number[]; bytes: number[] }> {
  const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
  const best = list.map(() => Infinity);
  const bytes = list.map(() => 0);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < list.length; k++) {
      gc();
      let total = 0;
      let b = 0;
      for (let g = 1; g <= GATHERS; g++) {
        const input = list[k].prepare(gather(g)) as never;
        const start = process.cpuUsage();
        b += await list[k].run(input);
        total += cpuNs(start);
      }
      best[k] = Math.min(best[k], total);
      bytes[k] = b;
    }
  }
  return { best, bytes };
}

async function main(): Promise<void> {
  // Same series and values from every side.
  const first = gather(0);
  const a = decodeRemoteWrite(ours.serializeBatch(first)[0].body);
  await sides[1].run(sides[1].prepare(first) as never);
  const b = decodeRemoteWrite(captured);
  const key = (s: { labels: [string, string][]; samples: Sample[] }) => JSON.stringify([[...s.labels].sort(), s.samples]);
  const theirs = new Set(b.map(key));
  if (a.length === 0 || !a.every((s) => theirs.has(key(s)))) throw new Error('the npm package encodes other series than ours');
  const samples = GATHERS * SERVERS * 16;
  console.log(`${samples.toLocaleString('en-US')} samples per round (${SERVERS} real servers x 16 fields x ${GATHERS} gathers), best of ${ROUNDS} rounds, CPU time`);
  const whole = await measure(sides);
  sides.forEach((s, k) => {
    const sec = whole.best[k] / 1e9;
    console.log(`  ${s.label.padEnd(50)} ${(samples / sec / 1e6).toFixed(2).padStart(6)} M samples/s  ${((whole.best[k] / samples) | 0).toString().padStart(5)} ns/sample  ${(whole.bytes[k] / samples).toFixed(2)} bytes/sample`);
  });
  console.log(`  ratio lvsagent / npm package: ${(whole.best[1] / whole.best[0]).toFixed(1)}x (target >= 3x); lvsagent / protobufjs: ${(whole.best[2] / whole.best[0]).toFixed(1)}x`);
  const alone = await measure(parts);
  parts.forEach((s, k) => console.log(`  ${s.label.padEnd(50)} ${((alone.best[k] / samples) | 0).toString().padStart(5)} ns/sample  ${(alone.bytes[k] / samples).toFixed(2)} bytes/sample out`));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
