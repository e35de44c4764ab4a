/**
 * outputs.file: line protocol to stdout and/or files (Telegraf's file output
 * with data_format = "influx"). Metrics that cannot be serialized are skipped
 * with a debug message, as Telegraf does.
 */
import * as fs from 'node:fs';
import { readAsset } from '../../../core/assets';
import type { Metric } from '../../../core/metric';
import type { Output, OutputContext, OutputPlugin } from '../../../core/plugin';
import { LineProtocolSerializer, serializerOptions, type LineProtocolOptions } from '../../../core/serializers/influx';
import schema from './schema.json';

export interface FileOutputOptions extends LineProtocolOptions {
  files: string[];
  data_format: 'influx';
  use_batch_format: boolean;
}

export class FileOutput implements Output {
  private readonly serializer: LineProtocolSerializer;
  private fds: { name: string; fd: number; owned: boolean }[] = [];

  constructor(
    private readonly opts: FileOutputOptions,
    private readonly ctx: OutputContext,
  ) {
    this.serializer = new LineProtocolSerializer(serializerOptions(opts));
  }

  connect(): void {
    for (const name of this.opts.files) {
      if (name === 'stdout') this.fds.push({ name, fd: 1, owned: false });
      else this.fds.push({ name, fd: fs.openSync(name, 'a'), owned: true });
    }
  }

  async write(metrics: Metric[]): Promise<void> {
    if (this.fds.length === 0) this.connect();
    const data = this.serializer.serializeBatchToBuffer(metrics, (err) => this.ctx.log.debug(`Could not serialize metric: ${err.message}`));
    if (data.length === 0) return;
    const errors: string[] = [];
    for (const f of this.fds) {
      let off = 0;
      try {
        while (off < data.length) off += fs.writeSync(f.fd, data, off);
      } catch (err) {
        // stdout may be a non-blocking pipe: hand the rest to the stream instead of losing lines.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && f.fd === 1) {
          await new Promise<void>((resolve) => process.stdout.write(data.subarray(off), () => resolve()));
          continue;
        }
        errors.push(`${f.name}: ${(err as Error).message}`);
      }
    }
    // Every write has completed: the next batch can reuse this memory.
    this.serializer.recycle(data);
    if (errors.length) throw new Error(`failed to write: ${errors.join('; ')}`);
  }

  close(): void {
    for (const f of this.fds) if (f.owned) fs.closeSync(f.fd);
    this.fds = [];
  }
}

const plugin: OutputPlugin<FileOutputOptions> = {
  kind: 'output',
  name: 'file',
  description: 'Send metrics to files or stdout in InfluxDB line protocol',
  schema,
  telegrafOnlyKeys: ['rotation_interval', 'rotation_max_size', 'rotation_max_archives', 'compression_algorithm', 'compression_level'],
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  create: (options, ctx) => new FileOutput(options, ctx),
};

export default plugin;
