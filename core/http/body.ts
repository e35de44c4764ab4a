/**
 * Request bodies of line protocol for HTTP outputs, optionally gzip-compressed.
 *
 * A large batch is serialized in slices and each slice is compressed as its
 * own gzip member as soon as it is ready: compression runs on libuv's thread
 * pool while the event loop serializes the next slice, instead of after the
 * whole batch. Concatenated members form one valid gzip stream (RFC 1952
 * §2.2) that Go's and Node's readers decompress as a whole.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Metric } from '../metric';
import type { LineProtocolSerializer, MetricSerializeError } from '../serializers/influx';

const gzip = promisify(zlib.gzip);

/** Metrics per gzip member: big enough for a good ratio, small enough to overlap. */
const SLICE = 1000;

export async function lineProtocolBody(
  serializer: LineProtocolSerializer,
  batch: readonly Metric[],
  gzipLevel: number | undefined,
  onSkip?: (err: MetricSerializeError, m: Metric) => void,
): Promise<Buffer> {
  if (gzipLevel === undefined || batch.length <= SLICE) {
    const raw = serializer.serializeBatchToBuffer(batch, onSkip);
    if (raw.length === 0 || gzipLevel === undefined) return raw;
    return compress(serializer, raw, gzipLevel);
  }
  const parts: Promise<Buffer>[] = [];
  for (let i = 0; i < batch.length; i += SLICE) {
    const raw = serializer.serializeBatchToBuffer(batch.slice(i, i + SLICE), onSkip);
    if (raw.length > 0) parts.push(compress(serializer, raw, gzipLevel));
  }
  if (parts.length === 0) return Buffer.alloc(0);
  const members = await Promise.all(parts);
  return members.length === 1 ? members[0] : Buffer.concat(members);
}

/** Gzips a serialized slice, whose memory the serializer reuses once zlib is done with it. */
async function compress(serializer: LineProtocolSerializer, raw: Buffer, level: number): Promise<Buffer> {
  const out = await gzip(raw, { level });
  serializer.recycle(raw);
  return out;
}

/**
 * Something encoded ahead of its write (Output.prepare) and the metrics it
 * holds. A buffer batch is a contiguous run of the FIFO buffer, so the same
 * length with the same first and last metric objects means the same metrics.
 */
export class PreparedBatch<T> {
  private entry: { first: Metric; last: Metric; length: number; value: Promise<T> } | undefined;

  prepare(batch: readonly Metric[], encode: () => Promise<T>): void {
    if (batch.length === 0) return;
    const value = encode();
    value.catch(() => undefined); // an unused preparation must not become an unhandled rejection
    this.entry = { first: batch[0], last: batch[batch.length - 1], length: batch.length, value };
  }

  /** The prepared value when it holds exactly `batch`; forgets it either way. */
  take(batch: readonly Metric[]): Promise<T> | undefined {
    const e = this.entry;
    this.entry = undefined;
    if (e && e.length === batch.length && e.first === batch[0] && e.last === batch[batch.length - 1]) return e.value;
    return undefined;
  }
}

/** A line-protocol body encoded ahead of its write. */
export class PreparedBody extends PreparedBatch<Buffer> {
  prepareBody(serializer: LineProtocolSerializer, batch: readonly Metric[], gzipLevel: number | undefined, onSkip?: (err: MetricSerializeError, m: Metric) => void): void {
    this.prepare(batch, () => lineProtocolBody(serializer, batch, gzipLevel, onSkip));
  }
}
