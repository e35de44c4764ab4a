/**
 * The gather of inputs.ip_vs_conn: one read of the connection table through
 * the collector (counts per group and state, reuse tracking), then the
 * metrics, yielding to the event loop between chunks.
 */
import * as fs from 'node:fs';
import type { Accumulator, Input, PluginContext } from '../../../core/plugin';
import { ConnCollector } from './collector';
import { VirtualServerFilter } from './filter';
import { emitMetrics } from './metrics';
import { DEFAULT_OPTIONS, type IpVsConnOptions } from './options';
import { readConnTable } from './parse';
import { openFiles, readIntAndClose } from './source';

function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export class IpVsConnInput implements Input {
  readonly collector: ConnCollector;
  private readonly opts: IpVsConnOptions;
  private running = false;

  constructor(options: Partial<IpVsConnOptions>, private readonly ctx: Pick<PluginContext, 'log'>) {
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    const filter = new VirtualServerFilter(this.opts.virtual_servers);
    this.collector = new ConnCollector({
      include: filter.empty ? undefined : (tags) => filter.matches(tags),
      maxEvents: this.opts.report_reused_connections ? this.opts.max_reuse_events : 0,
      maxTracked: this.opts.max_tracked_connections,
    });
  }

  async gather(acc: Accumulator): Promise<void> {
    if (this.running) {
      acc.addError(new Error(`previous read of ${this.opts.path} still running; skipping this gather`));
      return;
    }
    this.running = true;
    try {
      await this.pass(acc);
    } finally {
      this.running = false;
    }
  }

  private async pass(acc: Accumulator): Promise<void> {
    const o = this.opts;
    let files;
    try {
      files = openFiles(o.path, o.conn_reuse_mode_path, o.namespace);
    } catch (err) {
      acc.addError(err);
      return;
    }
    const connReuseMode = readIntAndClose(files.sysctl);
    const c = this.collector;
    c.begin(monotonicSeconds());
    let failed: unknown;
    try {
      await readConnTable(files.table, c.parser);
    } catch (err) {
      failed = err;
    } finally {
      fs.closeSync(files.table);
      c.end(monotonicSeconds());
    }
    if (failed !== undefined) {
      acc.addError(new Error(`reading ${o.path}: ${(failed as Error).message}`));
      return;
    }
    const p = c.parser;
    if (p.malformed > 0) {
      this.ctx.log.warn(`${p.malformed} malformed line(s) in ${o.path}; first (line ${p.firstBadLineNo}): ${JSON.stringify(p.firstBadLine)}`);
    }
    await emitMetrics(c, { time: acc.time, namespace: o.namespace, connReuseMode, events: o.report_reused_connections }, (m) => acc.addMetric(m), acc.whenReady ? () => acc.whenReady!() : undefined);
  }
}
