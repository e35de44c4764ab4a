/**
 * inputs.ip_vs_conn: the IPVS connection table (/proc/net/ip_vs_conn) counted
 * per virtual service, real server and state, with connection-reuse detection
 * across gathers (kubernetes#81775). See README.md.
 */
import * as fs from 'node:fs';
import { readAsset } from '../../../core/assets';
import type { Accumulator, Input, InputPlugin, PluginContext } from '../../../core/plugin';
import { ConnCollector } from './collector';
import { VirtualServerFilter } from './filter';
import { MEASUREMENTS, emitMetrics } from './metrics';
import { readConnTable } from './parse';
import { openFiles, readIntAndClose } from './source';
import schema from './schema.json';

export interface IpVsConnOptions {
  path: string;
  namespace: string;
  conn_reuse_mode_path: string;
  virtual_servers: string[];
  report_reused_connections: boolean;
  max_reuse_events: number;
  max_tracked_connections: number;
}

export const DEFAULTS: IpVsConnOptions = {
  path: '/proc/net/ip_vs_conn',
  namespace: '',
  conn_reuse_mode_path: '/proc/sys/net/ipv4/vs/conn_reuse_mode',
  virtual_servers: [],
  report_reused_connections: false,
  max_reuse_events: 1000,
  max_tracked_connections: 0,
};

function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export class IpVsConnInput implements Input {
  readonly collector: ConnCollector;
  private readonly opts: IpVsConnOptions;
  private running = false;

  constructor(options: Partial<IpVsConnOptions>, private readonly ctx: Pick<PluginContext, 'log'>) {
    this.opts = { ...DEFAULTS, ...options };
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

const plugin: InputPlugin<IpVsConnOptions> = {
  kind: 'input',
  name: 'ip_vs_conn',
  description: 'Count IPVS connections per real server and state, and detect connection reuse',
  schema,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  measurements: MEASUREMENTS,
  create: (options: IpVsConnOptions, ctx: PluginContext) => new IpVsConnInput(options, ctx),
};

export default plugin;
