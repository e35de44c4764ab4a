/**
 * Decodes Prometheus remote write bodies with independent implementations:
 * the native `snappy` module (block format) and protobufjs reading the
 * WriteRequest schema of the Remote Write 1.0 specification.
 */
import * as protobuf from 'protobufjs';
import { uncompressSync } from 'snappy';

const SCHEMA = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;

export const WriteRequest = protobuf.parse(SCHEMA).root.lookupType('prometheus.WriteRequest');

export interface DecodedSeries {
  /** Label pairs in the order they were sent. */
  labels: [string, string][];
  samples: { value: number; timestamp: number }[];
}

export function decodeUncompressed(raw: Uint8Array): DecodedSeries[] {
  const msg = WriteRequest.toObject(WriteRequest.decode(raw), { longs: Number, defaults: true }) as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[];
  };
  return msg.timeseries.map((t) => ({ labels: t.labels.map((l) => [l.name, l.value] as [string, string]), samples: t.samples }));
}

export function decodeRemoteWrite(body: Uint8Array): DecodedSeries[] {
  return decodeUncompressed(uncompressSync(Buffer.from(body)) as Buffer);
}

/** `name{a="b",…}` of a decoded series, labels in the order sent (for comparisons and messages). */
export function seriesId(s: DecodedSeries): string {
  const name = s.labels.find(([k]) => k === '__name__')?.[1] ?? '';
  const rest = s.labels.filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${name}{${rest.join(',')}}`;
}
