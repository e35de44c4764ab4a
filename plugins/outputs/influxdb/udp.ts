/**
 * Line protocol over UDP (`udp://`, `udp4://`, `udp6://`): lines packed into
 * datagrams of at most `udp_payload` bytes; a metric longer than that is split
 * into several lines by the serializer (as Telegraf does with max line bytes).
 * UDP has no acknowledgement: a batch counts as written once sent.
 */
import * as dgram from 'node:dgram';
import type { Logger } from '../../../core/log';
import type { Metric } from '../../../core/metric';
import { LineProtocolSerializer, MetricSerializeError } from '../../../core/serializers/influx';
import { redactUrl } from '../../../core/http/client';
import type { ClientResult } from './http';

export class UdpClient {
  readonly url: string;
  bytesWritten = 0;
  private readonly socket: dgram.Socket;
  private readonly serializer: LineProtocolSerializer;
  private readonly host: string;
  private readonly port: number;

  constructor(raw: string, private readonly payload: number, serializer: LineProtocolSerializer, private readonly log: Logger) {
    const u = new URL(raw);
    this.url = redactUrl(raw);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 8089);
    const family = u.protocol === 'udp6:' || this.host.includes(':') ? 'udp6' : 'udp4';
    this.socket = dgram.createSocket(family);
    this.socket.on('error', (e) => this.log.debug(`UDP socket error: ${e.message}`));
    this.socket.unref();
    this.serializer = new LineProtocolSerializer({
      uintSupport: serializer.uintSupport,
      sortFields: serializer.sortFields,
      omitTimestamp: serializer.omitTimestamp,
      maxLineBytes: payload,
    });
  }

  async write(metrics: readonly Metric[], indices: readonly number[]): Promise<ClientResult> {
    const datagrams: Buffer[] = [];
    let current = '';
    let currentBytes = 0;
    for (const i of indices) {
      let lines: string;
      try {
        lines = this.serializer.serialize(metrics[i]);
      } catch (err) {
        if (err instanceof MetricSerializeError) {
          this.log.debug(`Could not serialize metric: ${err.message}`);
          continue;
        }
        throw err;
      }
      // With max line bytes set every line fits one datagram; pack lines greedily.
      for (const line of lines.split(/(?<=\n)/)) {
        const bytes = Buffer.byteLength(line);
        if (currentBytes + bytes > this.payload && current !== '') {
          datagrams.push(Buffer.from(current));
          current = '';
          currentBytes = 0;
        }
        current += line;
        currentBytes += bytes;
      }
    }
    if (current !== '') datagrams.push(Buffer.from(current));
    try {
      for (const d of datagrams) {
        await new Promise<void>((resolve, reject) => this.socket.send(d, this.port, this.host, (err) => (err ? reject(err) : resolve())));
        this.bytesWritten += d.length;
      }
    } catch (err) {
      return { written: [], dropped: [], error: err as Error };
    }
    return { written: indices.slice(), dropped: [] };
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }
}
