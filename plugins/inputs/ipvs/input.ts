/**
 * The gather of inputs.ipvs: one service dump, the virtual-server filter, one
 * destination dump per remaining service (over a small socket pool), then
 * metrics in table order (each virtual server followed by its real servers).
 *
 * The IPVS client is opened on first use and, after an error, closed and
 * reopened at the next gather (as Telegraf does with its handle).
 */
import { IpvsClient, IpvsPermissionError, IpvsUnavailableError } from '../../../core/ipvs/client';
import type { VirtualService } from '../../../core/ipvs/types';
import { FieldType, Metric } from '../../../core/metric';
import { withNetns } from '../../../core/netlink/netns';
import type { Accumulator, Input, PluginContext } from '../../../core/plugin';
import { protocolName, realServerMetric, serviceSeries, serviceTags, virtualServerMetric, type IpvsSeries } from './metrics';
import { SeriesCache } from '../../../core/series_cache';
import { DEFAULT_OPTIONS, type IpvsOptions } from './options';
import { readIpvsSysctls } from './sysctl';
import { VirtualServerFilter } from '../../../core/ipvs/vsfilter';

export class IpvsInput implements Input {
  private readonly opts: IpvsOptions;
  private readonly filter: VirtualServerFilter;
  private client: IpvsClient | undefined;
  private readonly series: IpvsSeries = new SeriesCache();

  constructor(options: Partial<IpvsOptions>, private readonly ctx?: PluginContext) {
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    // Bad patterns are configuration errors: thrown at creation.
    this.filter = new VirtualServerFilter(this.opts.virtual_servers, this.opts.virtual_servers_exclude);
  }

  init(): void {
    if (process.platform !== 'linux') throw new Error('Current platform is not supported');
  }

  private async openClient(): Promise<IpvsClient> {
    if (!this.client) {
      this.client = await IpvsClient.open({
        namespace: this.opts.namespace || undefined,
        loadModule: this.opts.load_module,
        sockets: this.opts.connections,
      });
      this.ctx?.log.debug(`IPVS family ${this.client.familyId}, ${this.client.socketCount} socket(s)${this.opts.namespace ? ` in namespace ${this.opts.namespace}` : ''}`);
    }
    return this.client;
  }

  async gather(acc: Accumulator): Promise<void> {
    const time = acc.time;
    const ns = this.opts.namespace;
    let client: IpvsClient;
    try {
      client = await this.openClient();
    } catch (err) {
      acc.addError(describe(err, 'unable to open IPVS handle'));
      return;
    }
    try {
      const filter = this.filter.selectsAll ? undefined : (vs: VirtualService): boolean => this.filter.matches({ protocol: vs.fwmark ? '' : protocolName(vs.protocol), address: vs.address, port: vs.port, fwmark: vs.fwmark });
      // Streamed: each service's metrics leave as soon as its dump is done.
      await client.streamAll(
        (service, destinations) => {
          const t = serviceTags(service);
          const series = serviceSeries(this.series, t);
          acc.addMetric(virtualServerMetric(service, t, ns, time, series));
          for (let i = 0; i < destinations.length; i++) acc.addMetric(realServerMetric(destinations[i], t, ns, time, series));
        },
        filter,
        this.opts.collect_real_servers,
      );
      if (this.opts.collect_sysctls) acc.addMetric(await this.globalMetric(client, time));
    } catch (err) {
      this.close();
      acc.addError(describe(err, 'failed to list IPVS services'));
    } finally {
      this.series.sweep();
    }
  }

  private async globalMetric(client: IpvsClient, time: bigint): Promise<Metric> {
    const ns = this.opts.namespace;
    // /proc/sys shows the reader's namespace: read it from inside.
    const sysctls = ns ? withNetns(ns, () => readIpvsSysctls()) : readIpvsSysctls();
    const [info, timeouts] = await Promise.all([client.getInfo(), client.getConfig()]);
    const m = new Metric('ipvs', time, 'untyped');
    if (ns) m.setTag('namespace', ns);
    for (const [name, value] of sysctls) m.addField(name, FieldType.Int, value);
    m.addField('version', FieldType.String, info.version);
    m.addField('conn_tab_size', FieldType.Int, info.connTabSize);
    m.addField('timeout_tcp', FieldType.Int, timeouts.tcp);
    m.addField('timeout_tcp_fin', FieldType.Int, timeouts.tcpFin);
    m.addField('timeout_udp', FieldType.Int, timeouts.udp);
    return m;
  }

  private close(): void {
    this.client?.close();
    this.client = undefined;
  }

  stop(): void {
    this.close();
  }
}

/** One line: our own errors already say what happened; others get Telegraf's prefix. */
function describe(err: unknown, prefix: string): string {
  if (err instanceof IpvsUnavailableError || err instanceof IpvsPermissionError) return err.message;
  const msg = err instanceof Error ? err.message : String(err);
  return `${prefix}: ${msg}`;
}
