/**
 * `outputs.prometheus_client`: keeps the newest sample of every series and
 * serves them on a scrape endpoint (Telegraf's metric_version 2 semantics).
 */
import { durationMs, parseDuration } from '../../../core/config/duration';
import type { Metric } from '../../../core/metric';
import type { Output, OutputContext } from '../../../core/plugin';
import { Collection } from './collection';
import { HelpIndex } from './help';
import type { PrometheusClientOptions } from './options';
import { ScrapeServer } from './server';

/** Go's http.Server timeouts as Telegraf sets them: below one second means the 10 s default (prometheus_client.go 189-194). */
function serverTimeoutMs(v: string | number): number {
  const ms = durationMs(parseDuration(v));
  return ms < 1000 ? 10_000 : ms;
}

export interface PrometheusClientExtras {
  now?: () => number;
}

export class PrometheusClientOutput implements Output {
  readonly collection: Collection;
  readonly server: ScrapeServer;

  constructor(opts: PrometheusClientOptions, private readonly ctx: OutputContext, extras: PrometheusClientExtras = {}) {
    if (opts.metric_version === 1) ctx.log.info('metric_version = 1 is served with metric_version 2 semantics');
    this.collection = new Collection({
      stringAsLabel: opts.string_as_label,
      exportTimestamp: opts.export_timestamp,
      expirationMs: durationMs(parseDuration(opts.expiration_interval)),
      counterGlobs: opts.metric_types.counter ?? [],
      gaugeGlobs: opts.metric_types.gauge ?? [],
      counterTotalSuffix: opts.counter_total_suffix,
      // HELP texts and types from the inputs' field docs, which the agent hands over in the context.
      help: new HelpIndex(ctx.measurements ?? []),
      log: ctx.log,
      now: extras.now,
    });
    this.server = new ScrapeServer({
      listen: opts.listen,
      path: opts.path || '/metrics',
      basicUsername: opts.basic_username,
      basicPassword: opts.basic_password,
      ipRange: opts.ip_range,
      tls: opts,
      readTimeoutMs: serverTimeoutMs(opts.read_timeout),
      writeTimeoutMs: serverTimeoutMs(opts.write_timeout),
      headers: opts.http_headers,
      render: () => this.collection.render(),
    });
    this.server.onWriteTimeout = (remote) => ctx.log.warn(`Response to ${remote ?? 'a client'} not written within write_timeout; connection closed`);
    this.server.onRefusedClient = (remote, why) => ctx.log.warn(`TLS client ${remote ?? ''} refused: ${why}`);
  }

  async connect(): Promise<void> {
    await this.server.start();
    this.ctx.log.info(`Listening on ${this.server.url()}`);
  }

  async write(metrics: Metric[]): Promise<void> {
    this.collection.add(metrics);
  }

  async close(): Promise<void> {
    await this.server.stop();
  }
}
