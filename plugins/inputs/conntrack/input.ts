/**
 * inputs.conntrack: Telegraf's conntrack input (sysctl files and per-CPU
 * statistics) plus an opt-in table breakdown from a streaming netlink dump and
 * opt-in per-service flow metrics from conntrack events.
 */
import { parseDuration } from '../../../core/config/duration';
import * as fs from 'node:fs';
import { ConntrackClient, subscribeEvents, type EventCounters } from '../../../core/conntrack/client';
import type { Subscription } from '../../../core/netlink/socket';
import { withCapabilityHint } from '../../../core/netlink/errors';
import { withNetns } from '../../../core/netlink/netns';
import { moduleState } from '../../../core/kmod';
import { Metric, nowNs, int, type Tags } from '../../../core/metric';
import type { Accumulator, Input, PluginContext } from '../../../core/plugin';
import { FlowAggregator } from './flows';
import { goErrorText } from './goerror';
import { bucketsOf, familyNumber, namespacePath, parseSize, sysctlSources, validate, type ConntrackOptions } from './options';
import { parseProcStat, StatLayoutError } from './procstat';
import { netlinkStatRows, procStatRows, type CollectModes, type StatsRow } from './stats';
import { readSysctlFields } from './sysctl';
import { TableAggregator } from './table';

export const MEASUREMENT = 'conntrack';
export const EVENTS_MEASUREMENT = 'conntrack_events';

const SYSCTL_DIR = '/proc/sys/net/netfilter';

/** What a ctnetlink socket needs; the kernel would load them on demand. */
const CTNETLINK_MODULES = ['nfnetlink', 'nf_conntrack_netlink'];


/** Where the per-CPU statistics file is; honours HOST_PROC like gopsutil (which Telegraf uses). */
export function procStatPath(inNamespace: boolean): string {
  const hostProc = process.env.HOST_PROC;
  if (hostProc) return `${hostProc}/net/stat/nf_conntrack`;
  // /proc/net is the main thread's namespace; thread-self follows a withNetns switch on any thread.
  return inNamespace ? '/proc/thread-self/net/stat/nf_conntrack' : '/proc/net/stat/nf_conntrack';
}

type ProcRead = { text?: string; error?: NodeJS.ErrnoException };

export class ConntrackInput implements Input {
  private readonly modes: CollectModes;
  private readonly nsPath: string | undefined;
  private readonly baseTags: Tags;
  private client: ConntrackClient | undefined;
  /** Set after a failed request: the socket is replaced before the next one. */
  private clientBroken = false;
  private table: TableAggregator | undefined;
  private flows: FlowAggregator | undefined;
  private subscription: Subscription | undefined;
  private eventCounters: EventCounters | undefined;
  private lastOverrunLog = 0;
  private kernelChecked = false;

  constructor(
    private readonly opts: ConntrackOptions,
    private readonly ctx: PluginContext,
  ) {
    this.modes = { all: opts.collect.includes('all'), percpu: opts.collect.includes('percpu') };
    this.nsPath = namespacePath(opts.namespace);
    this.baseTags = opts.namespace ? { namespace: opts.namespace } : {};
  }

  init(): void {
    const opts = this.opts;
    validate(opts);
    if (opts.collect_table) {
      this.table = new TableAggregator({
        byMark: opts.table_by_mark,
        markMask: opts.table_mark_mask,
        subnets: opts.table_subnets,
        filterFamily: familyNumber(opts.table_filter_family),
        filterMark: opts.table_filter_mark,
        filterMarkMask: opts.table_filter_mark_mask,
        filterZone: opts.table_filter_zone,
      });
    }
  }

  /** Runs synchronous file access inside the configured namespace. */
  private inNs<T>(fn: () => T): T {
    return this.nsPath ? withNetns(this.nsPath, fn) : fn();
  }

  private netlink(): ConntrackClient {
    if (!this.client || this.clientBroken) {
      this.client?.close();
      this.client = ConntrackClient.open(this.nsPath);
      this.clientBroken = false;
    }
    return this.client;
  }

  /**
   * Opening a ctnetlink request or subscription makes the kernel load
   * nf_conntrack_netlink (and nfnetlink) when they are modules that are not
   * loaded. The agent loads no module behind the operator's back: without
   * `load_module = true` a missing module is an error that says so.
   */
  private requireCtnetlink(what: string): void {
    if (this.opts.load_module) return;
    const missing = CTNETLINK_MODULES.filter((m) => moduleState(m) === 'absent');
    if (missing.length > 0) {
      throw new Error(`${what}: kernel module ${missing.join(' and ')} is not loaded (lvsagent loads none by itself; load it, or set load_module = true)`);
    }
  }

  // ---- service flows ----------------------------------------------------

  start(acc: Accumulator): void {
    if (!this.opts.collect_service_flows) return;
    if (this.ctx.oneShot) {
      this.ctx.log.debug('one-shot run: conntrack event listener not started');
      return;
    }
    const o = this.opts;
    if (this.nsPath) {
      try {
        this.inNs(() => undefined);
      } catch (err) {
        throw new Error(`cannot enter network namespace ${JSON.stringify(o.namespace)}: ${(err as Error).message}`);
      }
    }
    // Warned about once, however often a failed start is retried (startup_error_behavior = "retry").
    if (!this.kernelChecked) {
      this.kernelChecked = true;
      this.configureKernel();
    }
    const flows = new FlowAggregator({
      serviceSubnets: o.service_subnets,
      excludeSubnets: o.exclude_subnets,
      onlyDnat: o.only_dnat,
      buckets: bucketsOf(o),
      maxFlows: o.max_flows,
      maxServices: o.max_services,
      reset: o.histogram_reset,
      expireNs: Number(parseDuration(o.service_expiration)),
    });
    this.requireCtnetlink('listening to conntrack events');
    let subscribed: ReturnType<typeof subscribeEvents>;
    try {
      subscribed = subscribeEvents(
        { netns: this.nsPath, rcvbuf: parseSize(o.event_buffer_size) },
        (f, recvNs) => flows.handle(f, recvNs),
        (err) => this.onEventError(err, acc),
      );
    } catch (err) {
      throw withCapabilityHint(err, 'listening to conntrack events');
    }
    const { subscription, counters } = subscribed;
    this.flows = flows;
    this.subscription = subscription;
    this.eventCounters = counters;
    this.ctx.log.debug(`listening to conntrack events, receive buffer ${subscription.rcvbuf} bytes`);
  }

  private onEventError(err: Error, acc: Accumulator): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOBUFS') {
      // Counted in the subscription stats; log at most once a minute.
      const now = Date.now();
      if (now - this.lastOverrunLog > 60_000) {
        this.lastOverrunLog = now;
        this.ctx.log.warn('conntrack event receive buffer overrun: events were lost (raise event_buffer_size)');
      }
      return;
    }
    acc.addError(new Error(`conntrack events: ${err.message}`));
  }

  /**
   * Applies enable_accounting / enable_timestamps (the agent changes no kernel
   * setting unless asked) and warns ONCE about the fields that will be
   * missing when either is off.
   */
  private configureKernel(): void {
    const o = this.opts;
    const missing: string[] = [];
    const settings: Array<[string, boolean, string]> = [
      ['nf_conntrack_acct', o.enable_accounting, 'bytes_orig, bytes_reply, packets_orig, packets_reply (enable_accounting = true)'],
      ['nf_conntrack_timestamp', o.enable_timestamps, 'duration_seconds and kernel event times (enable_timestamps = true)'],
    ];
    for (const [name, enable, fields] of settings) {
      const file = `${SYSCTL_DIR}/${name}`;
      let value: string | undefined;
      let problem = '';
      try {
        value = this.inNs(() => {
          if (enable) {
            try {
              fs.writeFileSync(file, '1');
            } catch (err) {
              problem = ` (could not set it: ${goErrorText(err, 'open', file)})`;
            }
          }
          return fs.readFileSync(file, 'utf8').trim();
        });
      } catch (err) {
        problem = ` (${goErrorText(err, 'open', file)})`;
      }
      if (value !== '1') missing.push(`${name} is ${value ?? 'unreadable'}${problem}: missing ${fields}`);
    }
    // One warning for everything that will be missing.
    if (missing.length > 0) this.ctx.log.warn(`conntrack flow metrics incomplete: ${missing.join('; ')}`);
    try {
      const events = this.inNs(() => fs.readFileSync(`${SYSCTL_DIR}/nf_conntrack_events`, 'utf8').trim());
      if (events === '0') this.ctx.log.warn('net.netfilter.nf_conntrack_events is 0: the kernel sends no conntrack events');
      else if (events === '2') {
        this.ctx.log.info('net.netfilter.nf_conntrack_events is 2 (auto): flows created before the listener started produce no events');
      }
    } catch {
      // older kernels without the sysctl
    }
  }

  // ---- gather -----------------------------------------------------------

  async gather(acc: Accumulator): Promise<void> {
    const o = this.opts;
    const wantStats = this.modes.all || this.modes.percpu;
    const statFile = procStatPath(this.nsPath !== undefined);
    let statRead: ProcRead | undefined;
    let sysctl: ReturnType<typeof readSysctlFields>;
    const read = (f: string): string => fs.readFileSync(f, 'utf8');
    try {
      // All file access in one namespace switch; /proc/sys shows the reader's namespace.
      [sysctl, statRead] = this.inNs(() => {
        const { dirs, files } = sysctlSources(o);
        const s = readSysctlFields(dirs, files, read);
        let r: ProcRead | undefined;
        if (wantStats && o.stats_source !== 'netlink') {
          try {
            r = { text: read(statFile) };
          } catch (err) {
            r = { error: err as NodeJS.ErrnoException };
          }
        }
        return [s, r] as const;
      });
    } catch (err) {
      acc.addError(new Error(`failed to enter network namespace ${JSON.stringify(o.namespace)}: ${(err as Error).message}`));
      return;
    }
    for (const e of sysctl.errors) acc.addError(new Error(e));

    if (wantStats) await this.gatherStats(acc, statFile, statRead);
    if (this.table) await this.gatherTable(acc);
    if (this.flows) this.emitFlows(acc);

    if (sysctl.fields.size === 0) {
      acc.addError(new Error('conntrack input failed to collect metrics, make sure that the kernel module is loaded'));
    } else {
      const fields: Record<string, number> = {};
      for (const [k, v] of sysctl.fields) fields[k] = v;
      acc.addFields(MEASUREMENT, fields, { ...this.baseTags });
    }
  }

  private async gatherStats(acc: Accumulator, statFile: string, statRead: ProcRead | undefined): Promise<void> {
    let rows: StatsRow[] | undefined;
    const useNetlink = this.opts.stats_source === 'netlink' || (statRead?.error?.code === 'ENOENT' && this.opts.stats_source === 'auto');
    if (statRead?.text !== undefined) {
      const table = parseProcStat(statRead.text, statFile);
      if (table instanceof StatLayoutError) {
        acc.addError(new Error(`failed to retrieve conntrack statistics: ${table.message}`));
        return;
      }
      for (const w of table.warnings) this.ctx.log.debug(w);
      rows = procStatRows(table, this.modes, this.baseTags);
    } else if (useNetlink) {
      // Kernels built without CONFIG_NF_CONNTRACK_PROCFS have no file: ask ctnetlink.
      try {
        this.requireCtnetlink('reading conntrack statistics over netlink');
        const client = this.netlink();
        const cpus = await client.statsPerCpu();
        const global = await client.stats();
        rows = netlinkStatRows(cpus, global, this.modes, this.baseTags);
      } catch (err) {
        this.clientBroken = true;
        acc.addError(new Error(`failed to retrieve conntrack statistics: ${withCapabilityHint(err, 'netlink').message}`));
      }
    } else if (statRead?.error) {
      acc.addError(new Error(`failed to retrieve conntrack statistics: ${goErrorText(statRead.error, 'open', statFile)}`));
    }
    if (!rows || rows.length === 0) {
      acc.addError(new Error('conntrack input failed to collect stats'));
      return;
    }
    for (const r of rows) acc.addCounter(MEASUREMENT, r.fields, r.tags);
  }

  private async gatherTable(acc: Accumulator): Promise<void> {
    const table = this.table!;
    const o = this.opts;
    table.begin();
    try {
      this.requireCtnetlink('dumping the conntrack table');
      const r = await this.netlink().dumpTable(
        {
          family: familyNumber(o.table_filter_family),
          mark: o.table_filter_mark,
          markMask: o.table_filter_mark_mask,
          zone: o.table_filter_zone,
        },
        (f) => table.add(f),
        { parts: table.decodeParts },
      );
      if (r.parseErrors > 0) this.ctx.log.warn(`conntrack table dump: ${r.parseErrors} entries could not be decoded`);
    } catch (err) {
      this.clientBroken = true;
      acc.addError(new Error(`conntrack table dump failed: ${withCapabilityHint(err, 'netlink').message}`));
      return;
    }
    const time = acc.time;
    for (const row of table.rows(this.baseTags)) {
      acc.addMetric(Metric.from(row.measurement, row.tags, row.fields, time, 'gauge'));
    }
  }

  private emitFlows(acc: Accumulator): void {
    const flows = this.flows!;
    const time = acc.time || nowNs();
    flows.expire(Date.now() * 1e6);
    for (const m of flows.metrics(this.baseTags, time)) acc.addMetric(m);
    const sub = this.subscription;
    const c = flows.counters;
    acc.addFields(
      EVENTS_MEASUREMENT,
      {
        events_new: int(c.eventsNew),
        events_update: int(c.eventsUpdate),
        events_destroy: int(c.eventsDestroy),
        events_ignored: int(c.eventsIgnored),
        parse_errors: int(this.eventCounters?.parseErrors ?? 0),
        overruns: int(sub?.stats.overruns ?? 0),
        receive_errors: int(sub?.stats.errors ?? 0),
        datagrams: int(sub?.stats.datagrams ?? 0),
        flows_tracked: int(flows.flowsTracked),
        flows_evicted: int(c.flowsEvicted),
        services: int(flows.serviceCount),
        services_dropped: int(c.servicesDropped),
        services_expired: int(c.servicesExpired),
        receive_buffer_bytes: int(sub?.rcvbuf ?? 0),
      },
      { ...this.baseTags },
    );
  }

  stop(): void {
    this.subscription?.close();
    this.subscription = undefined;
    this.client?.close();
    this.client = undefined;
  }
}
