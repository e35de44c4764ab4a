/**
 * The ipvs_probe input: each gather is one round. Find the pairs (IPVS or
 * static), probe every unique target once with bounded concurrency before the
 * round's deadline (the input's interval), then emit one `ipvs_probe` metric
 * per pair and one `ipvs_probe_round` summary.
 */
import { Metric, nowNs } from '../../../core/metric';
import type { Accumulator, Input, PluginContext } from '../../../core/plugin';
import { RESULT_CODE, type ProbeResult } from './classify';
import { pairsFromIpvs, pairsFromStatic, parseStaticTargets, ServiceSelector, type ServiceSource, type StaticTarget } from './discovery';
import type { IpvsProbeOptions } from './options';
import { startProbe, type ProbeOutcome, type ProbeSpec } from './probe';
import { runRound } from './round';
import type { NetnsRunner } from './socket';
import type { PairTags, TargetSet } from './target';
import { VirtualServerFilter } from '../../../core/ipvs/vsfilter';

export const MEASUREMENT = 'ipvs_probe';
export const ROUND_MEASUREMENT = 'ipvs_probe_round';

/** How many not-started or port-less targets a warning names before "and N more". */
const NAMES_IN_WARNING = 5;

export interface ProbeInputDeps {
  /** IPVS table reader; required unless static targets are configured. */
  services?: ServiceSource;
  /** Runs a function with the thread inside the probe namespace; undefined for the agent's own. */
  inNetns?: NetnsRunner;
  /** Round deadline in ms from the start of gather; defaults to the input's interval. */
  deadlineMs?: number;
  /** Releases what the services reader holds (netlink sockets). */
  close?: () => void;
}

interface TargetState {
  failures: number;
  /** Round number in which the target was last seen, to forget vanished ones. */
  seen: number;
}

export class IpvsProbeInput implements Input {
  private readonly staticTargets: StaticTarget[];
  private readonly filter: VirtualServerFilter;
  private readonly state = new Map<string, TargetState>();
  /** Targets that could not be started last round; they go first this round. */
  private carryOver = new Set<string>();
  private round = 0;
  private warnedPortless = false;
  private warnedNonTcp = false;

  constructor(
    private readonly options: IpvsProbeOptions,
    private readonly spec: ProbeSpec,
    private readonly ctx: PluginContext,
    private readonly deps: ProbeInputDeps,
  ) {
    this.staticTargets = parseStaticTargets(options.targets);
    this.filter = new VirtualServerFilter(options.virtual_servers, options.virtual_servers_exclude);
    // In a namespace, rounds start probes in batches under one switch (see runRound's enter).
    if (deps.inNetns) spec.insideNetns = true;
  }

  /**
   * The round's budget: the interval less a small margin (5 %, at most
   * 500 ms) so that closing the last sockets and emitting the metrics also
   * fit before the next gather is due.
   */
  private get deadlineMs(): number {
    if (this.deps.deadlineMs !== undefined) return this.deps.deadlineMs;
    const interval = Number(this.ctx.intervalNs / 1_000_000n);
    return interval - Math.min(interval / 20, 500);
  }

  stop(): void {
    this.deps.close?.();
  }

  async gather(acc: Accumulator): Promise<void> {
    const startedAt = performance.now();
    const deadline = startedAt + this.deadlineMs;
    const time = acc.time || nowNs();
    this.round++;

    let set: TargetSet;
    let preset: Map<number, ProbeOutcome> | undefined;
    if (this.staticTargets.length > 0) {
      const r = await pairsFromStatic(this.staticTargets, this.options.port, this.spec.timeoutMs);
      set = r.set;
      if (r.dnsFailures.size > 0) {
        preset = new Map();
        for (const [target] of r.dnsFailures) preset.set(target, { result: 'dns_error', status: 0, seconds: 0 });
      }
    } else {
      if (!this.deps.services) throw new Error('no IPVS reader available');
      const selector = new ServiceSelector(this.filter, this.options.udp_services);
      let table;
      try {
        table = await this.deps.services(selector.select);
      } catch (err) {
        acc.addError(new Error(`failed to list IPVS services: ${(err as Error).message}`));
        return;
      }
      const r = pairsFromIpvs(table, this.options.port);
      set = r.set;
      if (r.portless.length > 0 && !this.warnedPortless) {
        this.warnedPortless = true;
        this.ctx.log.warn(`not probing ${describe(r.portless)}: real servers of fwmark services with port 0 need the "port" option`);
      }
      if (selector.nonTcpSkipped > 0 && !this.warnedNonTcp) {
        this.warnedNonTcp = true;
        this.ctx.log.info(`skipping ${selector.nonTcpSkipped} UDP/SCTP virtual server(s); set udp_services = true to probe their real servers over TCP`);
      }
    }

    const targets = set.targets;
    const outcomes: (ProbeOutcome | undefined)[] = new Array(targets.length);
    // Start order: targets skipped last round first, then the rest in table order.
    const order: number[] = [];
    const rest: number[] = [];
    for (let i = 0; i < targets.length; i++) {
      if (preset?.has(i)) {
        outcomes[i] = preset.get(i);
        continue;
      }
      (this.carryOver.has(targets[i].key) ? order : rest).push(i);
    }
    for (const i of rest) order.push(i);

    const spec = this.spec;
    const report = await runRound(
      order,
      (i, done) => {
        const t = targets[i];
        startProbe(spec, t.host, t.port, (o) => {
          outcomes[i] = o;
          done();
        });
      },
      { maxConcurrency: this.options.max_concurrency, probeMs: spec.timeoutMs, deadline, enter: this.deps.inNetns },
    );

    const nextCarry = new Set<string>();
    const skippedNames: string[] = [];
    for (const pos of report.notStarted) {
      const t = targets[order[pos]];
      nextCarry.add(t.key);
      if (skippedNames.length < NAMES_IN_WARNING + 1) skippedNames.push(t.key);
    }
    this.carryOver = nextCarry;

    // Failure streaks per target; targets gone from the table are forgotten.
    const failures = new Int32Array(targets.length);
    for (let i = 0; i < targets.length; i++) {
      const o = outcomes[i];
      let st = this.state.get(targets[i].key);
      if (!st) {
        st = { failures: 0, seen: this.round };
        this.state.set(targets[i].key, st);
      }
      st.seen = this.round;
      if (o) st.failures = o.result === 'success' ? 0 : st.failures + 1;
      failures[i] = st.failures;
    }
    for (const [key, st] of this.state) if (st.seen !== this.round) this.state.delete(key);

    const httpKind = spec.kind !== 'tcp';
    const ns = this.options.namespace;
    let failed = 0;
    for (let i = 0; i < targets.length; i++) if (outcomes[i] && outcomes[i]!.result !== 'success') failed++;
    for (const pair of set.pairs) {
      const o = outcomes[pair.target];
      if (!o) continue;
      acc.addMetric(probeMetric(pair.tags, ns, o, failures[pair.target], httpKind, time));
    }

    const roundSeconds = (performance.now() - startedAt) / 1000;
    const summary = new Metric(ROUND_MEASUREMENT, time, 'gauge');
    if (ns) summary.setTag('namespace', ns);
    summary.addInt('pairs', set.pairs.length);
    summary.addInt('targets', targets.length);
    summary.addInt('probes_started', report.started);
    summary.addInt('probes_not_started', report.notStarted.length);
    summary.addInt('probes_failed', failed);
    summary.addInt('max_in_flight', report.maxInFlight);
    summary.addFloat('round_time', roundSeconds);
    acc.addMetric(summary);

    if (report.notStarted.length > 0) {
      this.ctx.log.warn(
        `${report.notStarted.length} of ${targets.length} real servers not probed this round: ` +
          `starting them could not finish within the interval (round budget ${this.deadlineMs / 1000} s, timeout ${spec.timeoutMs / 1000} s, ` +
          `max_concurrency ${this.options.max_concurrency}); they go first next round: ${describe(skippedNames, report.notStarted.length)}`,
      );
    }
  }
}

function describe(names: string[], total = names.length): string {
  const shown = names.slice(0, NAMES_IN_WARNING).join(', ');
  return total > NAMES_IN_WARNING ? `${shown} and ${total - NAMES_IN_WARNING} more` : shown;
}

export function probeMetric(
  tags: PairTags,
  namespace: string,
  o: ProbeOutcome,
  consecutiveFailures: number,
  httpKind: boolean,
  time: bigint,
): Metric {
  const m = new Metric(MEASUREMENT, time, 'gauge');
  for (const k in tags) {
    const v = tags[k as keyof PairTags];
    if (v !== undefined) m.setTag(k, v);
  }
  if (namespace) m.setTag('namespace', namespace);
  m.setTag('result', o.result);
  m.addInt('up', o.result === 'success' ? 1 : 0);
  m.addFloat('response_time', o.seconds);
  if (httpKind && o.status > 0) m.addInt('http_response_code', o.status);
  m.addInt('result_code', RESULT_CODE[o.result as ProbeResult]);
  m.addInt('consecutive_failures', consecutiveFailures);
  return m;
}
