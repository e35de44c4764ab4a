/**
 * outputs.file: line protocol to stdout and/or files (Telegraf's file output
 * with data_format = "influx"). Metrics that cannot be serialized are skipped
 * with a debug message, as Telegraf does.
 *
 * Each file keeps its own progress. A file that fails (disk full, say) while
 * another takes the batch holds the bytes it missed — starting exactly where
 * its last write stopped, so a torn line is completed, not repeated — and
 * catches up when it can be written again; the healthy files never see a
 * batch twice. Only when no destination took any of a batch does the write
 * fail, so the agent keeps the batch buffered. A file's held bytes are
 * bounded (BACKLOG_LIMIT): past it the oldest whole lines are dropped and
 * counted. When stdout's reader goes away, that is reported once and stdout
 * is dropped from the destinations.
 */
import * as fs from 'node:fs';
import { readAsset } from '../../../core/assets';
import type { Metric } from '../../../core/metric';
import type { Output, OutputContext, OutputPlugin } from '../../../core/plugin';
import { LineProtocolSerializer, serializerOptions, type LineProtocolOptions } from '../../../core/serializers/influx';
import { stdout } from '../../../core/stdout';
import schema from './schema.json';

export interface FileOutputOptions extends LineProtocolOptions {
  files: string[];
  data_format: 'influx';
  use_batch_format: boolean;
}

/** Bytes a failing file may hold while other destinations go on. */
export const BACKLOG_LIMIT = 32 << 20;

interface FileTarget {
  name: string;
  fd: number;
  /** Bytes this file still has to get, oldest first; the first may be the rest of a torn line. */
  backlog: Buffer[];
  backlogBytes: number;
  /** The error of the failure in progress (logged once), if any. */
  failing?: string;
}

type Progress = 'all' | 'some' | 'none';

export class FileOutput implements Output {
  private readonly serializer: LineProtocolSerializer;
  private files: FileTarget[] = [];
  private toStdout = false;
  private connected = false;
  private droppedLines = 0;

  constructor(
    private readonly opts: FileOutputOptions,
    private readonly ctx: OutputContext,
    private readonly backlogLimit = BACKLOG_LIMIT,
  ) {
    this.serializer = new LineProtocolSerializer(serializerOptions(opts));
  }

  connect(): void {
    if (this.connected) return;
    for (const name of this.opts.files) {
      if (name === 'stdout') this.toStdout = true;
      else this.files.push({ name, fd: fs.openSync(name, 'a'), backlog: [], backlogBytes: 0 });
    }
    if (this.toStdout) {
      stdout().onClose((err) => {
        this.toStdout = false;
        this.ctx.log.error(`stdout: its reader went away (${(err as NodeJS.ErrnoException).code ?? err.message}); metrics are no longer written there`);
      });
    }
    this.connected = true;
  }

  async write(metrics: Metric[]): Promise<void> {
    this.connect();
    const data = this.serializer.serializeBatchToBuffer(metrics, (err) => this.ctx.log.debug(`Could not serialize metric: ${err.message}`));
    if (data.length === 0) return;
    let taken = false;
    const missed: FileTarget[] = [];
    if (this.toStdout && (await stdout().write(data))) taken = true;
    for (const f of this.files) {
      const p = this.writeFile(f, data);
      if (p === 'none') missed.push(f);
      else taken = true;
    }
    if (!taken && (this.files.length > 0 || this.toStdout)) {
      // Nobody took any of it: the agent keeps the batch and retries it.
      this.serializer.recycle(data);
      throw new Error(`failed to write: ${this.files.map((f) => `${f.name}: ${f.failing}`).join('; ')}`);
    }
    // The batch is written: files that missed it hold their own copy.
    for (const f of missed) this.hold(f, Buffer.from(data));
    this.serializer.recycle(data);
  }

  /** Writes the file's backlog and then `data`; how much of `data` it took. */
  private writeFile(f: FileTarget, data: Buffer): Progress {
    while (f.backlog.length > 0) {
      const head = f.backlog[0];
      const n = this.writeSome(f, head);
      f.backlogBytes -= n;
      if (n < head.length) {
        f.backlog[0] = head.subarray(n);
        return 'none';
      }
      f.backlog.shift();
    }
    const n = this.writeSome(f, data);
    if (n === data.length) {
      if (f.failing !== undefined) {
        this.ctx.log.info(`${f.name}: written again; caught up after: ${f.failing}`);
        f.failing = undefined;
      }
      return 'all';
    }
    if (n === 0) return 'none';
    // A torn write: the rest of the line (and batch) goes first next time.
    this.hold(f, Buffer.from(data.subarray(n)));
    return 'some';
  }

  /** Writes as much of `b` as the file takes; remembers (and logs once) why it stopped. */
  private writeSome(f: FileTarget, b: Buffer): number {
    let off = 0;
    try {
      while (off < b.length) off += fs.writeSync(f.fd, b, off);
    } catch (err) {
      const msg = (err as Error).message;
      if (f.failing === undefined) this.ctx.log.error(`${f.name}: ${msg}; holding its metrics until it can be written`);
      f.failing = msg;
    }
    return off;
  }

  private hold(f: FileTarget, b: Buffer): void {
    f.backlog.push(b);
    f.backlogBytes += b.length;
    let dropped = 0;
    // The first piece may complete a torn line: drop whole pieces after it.
    while (f.backlogBytes > this.backlogLimit && f.backlog.length > 1) {
      const old = f.backlog.splice(1, 1)[0];
      f.backlogBytes -= old.length;
      dropped += countLines(old);
    }
    if (dropped > 0) {
      if (this.droppedLines === 0) this.ctx.log.error(`${f.name}: more than ${this.backlogLimit >> 20} MiB waiting; dropping the oldest metrics (counted in internal_write file_metrics_dropped)`);
      this.droppedLines += dropped;
    }
  }

  /** `internal_write` fields: what failing files hold and what they dropped. */
  stats(): Record<string, number> {
    return { file_backlog_bytes: this.files.reduce((n, f) => n + f.backlogBytes, 0), file_metrics_dropped: this.droppedLines };
  }

  close(): void {
    for (const f of this.files) {
      if (f.backlogBytes > 0) this.ctx.log.error(`${f.name}: closing with ${f.backlogBytes} bytes of metrics it could not take`);
      fs.closeSync(f.fd);
    }
    this.files = [];
    this.toStdout = false;
    this.connected = false;
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
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
