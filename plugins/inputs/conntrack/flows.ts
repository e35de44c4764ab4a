/**
 * Per-service flow metrics from conntrack events.
 *
 * A flow belongs to a service when its ORIGINAL destination lies in one of
 * `service_subnets` and in none of `exclude_subnets` (and, with `only_dnat`,
 * when it was destination-NATed). The service is (original destination
 * address, port, protocol): for a NATed virtual IP that is the VIP.
 *
 * Per flow the in-flight table keeps only what later events need (start
 * time, whether the reply/FIN was seen), and only until the connect latency
 * (and, for TCP, the FIN latency) is measured; the table has a hard cap, the
 * oldest flow is evicted when full. Everything measured at DESTROY (duration, bytes,
 * packets) comes from the DESTROY message itself, so evictions and missed NEW
 * events lose only the latencies.
 */
import {
  AF_INET6,
  IPPROTO_TCP,
  IPS_DST_NAT,
  IPS_SEEN_REPLY,
  TCP_CONNTRACK_CLOSE,
  TCP_CONNTRACK_CLOSE_WAIT,
  TCP_CONNTRACK_FIN_WAIT,
  TCP_CONNTRACK_LAST_ACK,
  TCP_CONNTRACK_SYN_RECV,
  TCP_CONNTRACK_TIME_WAIT,
  protocolName,
} from '../../../core/conntrack/constants';
import { CtMessageKind, ipv4String, ipv6String, type CtFlow } from '../../../core/conntrack/types';
import { FieldSchema, FieldType, Metric, TagSet, type Tags } from '../../../core/metric';
import { Histogram } from './histogram';
import { SubnetList } from './subnet';

export const SERVICE_MEASUREMENT = 'conntrack_service';

export interface FlowOptions {
  serviceSubnets: readonly string[];
  excludeSubnets: readonly string[];
  onlyDnat: boolean;
  buckets: { duration: readonly number[]; connectLatency: readonly number[]; finLatency: readonly number[]; bytes: readonly number[]; packets: readonly number[] };
  maxFlows: number;
  maxServices: number;
  /** Zero everything after each emission (Telegraf histogram aggregator's `reset`). */
  reset: boolean;
  /**
   * Forget a service with no event for this long (ns; 0 = never), as
   * Telegraf's histogram aggregator does with `expiration_interval`: service
   * addresses come and go (Kubernetes ClusterIPs, pod IPs), and without it the
   * table would fill up to max_services and then refuse every new one.
   */
  expireNs: number;
  /** Per-bound tag sets kept at most (BOUND_TAG_SET_BUDGET when unset). */
  boundTagSetBudget?: number;
}

/** Histogram field names, in the order ServiceStats.histograms lists them. */
const HISTOGRAMS = ['duration_seconds', 'connect_latency_seconds', 'fin_latency_seconds', 'bytes_orig', 'bytes_reply', 'packets_orig', 'packets_reply'];
const COUNTER_FIELDS = new FieldSchema(['flows_started', 'flows_ended', 'flows_unreplied'], [FieldType.Uint, FieldType.Uint, FieldType.Uint]);
const BUCKET_FIELDS = HISTOGRAMS.map((h) => new FieldSchema([`${h}_bucket`], [FieldType.Int]));
const SUMMARY_FIELDS = HISTOGRAMS.map((h) => new FieldSchema([`${h}_sum`, `${h}_count`], [FieldType.Float, FieldType.Int]));

/**
 * Frozen tag sets per (service, bound) kept at most, across all services:
 * each costs about half a kilobyte with the agent's copy and its encoding,
 * and a service has some 60 distinct bounds. Beyond the budget a service's
 * bucket metrics get fresh, unshared tag sets each gather (slower, nothing kept).
 */
export const BOUND_TAG_SET_BUDGET = 65_536;

/** How many per-bound tag sets the aggregator keeps (shared by its services). */
interface BoundSetCount {
  kept: number;
  budget: number;
}

/** A service's tags as frozen sets: its own, and one per bucket bound (`le`), which its histograms share. */
class ServiceTagSets {
  readonly base: TagSet;
  private readonly bounds = new Map<string, TagSet>();

  constructor(
    readonly baseTags: Tags,
    s: ServiceStats,
    private readonly count: BoundSetCount,
  ) {
    const t = new TagSet();
    for (const k in baseTags) t.set(k, baseTags[k]);
    t.set('address', s.address);
    t.set('port', String(s.port));
    t.set('protocol', s.protocol);
    this.base = t.freeze();
  }

  withBound(le: string): TagSet {
    const kept = this.bounds.get(le);
    if (kept !== undefined) return kept;
    const t = this.base.clone();
    t.set('le', le);
    if (this.count.kept >= this.count.budget) return t;
    this.count.kept++;
    this.bounds.set(le, t.freeze());
    return t;
  }

  /** Gives the kept sets back to the budget (the service is forgotten, or its base tags changed). */
  release(): void {
    this.count.kept -= this.bounds.size;
    this.bounds.clear();
  }
}

export class ServiceStats {
  flowsStarted = 0;
  flowsEnded = 0;
  flowsUnreplied = 0;
  /** Receive time of the service's last event (ns since the epoch). */
  lastEventNs = 0;
  readonly duration: Histogram;
  readonly connectLatency: Histogram;
  readonly finLatency: Histogram;
  readonly bytesOrig: Histogram;
  readonly bytesReply: Histogram;
  readonly packetsOrig: Histogram;
  readonly packetsReply: Histogram;
  /** The seven above, in HISTOGRAMS order. */
  readonly histograms: readonly Histogram[];

  constructor(
    readonly address: string,
    readonly port: number,
    readonly protocol: string,
    b: FlowOptions['buckets'],
    /** How the aggregator finds the service again (to forget it): family, protocol number, IPv4 address as a number. */
    readonly family = 0,
    readonly protoNumber = 0,
    readonly address4 = 0,
  ) {
    this.duration = new Histogram(b.duration);
    this.connectLatency = new Histogram(b.connectLatency);
    this.finLatency = new Histogram(b.finLatency);
    this.bytesOrig = new Histogram(b.bytes);
    this.bytesReply = new Histogram(b.bytes);
    this.packetsOrig = new Histogram(b.packets);
    this.packetsReply = new Histogram(b.packets);
    this.histograms = [this.duration, this.connectLatency, this.finLatency, this.bytesOrig, this.bytesReply, this.packetsOrig, this.packetsReply];
  }

  /** Set when the aggregator forgot this service (expiry). */
  expired = false;


  reset(): void {
    this.flowsStarted = this.flowsEnded = this.flowsUnreplied = 0;
    for (const h of this.histograms) h.reset();
  }

  private tags: ServiceTagSets | undefined;

  /** The service's frozen tag sets for these base tags (the input's, the same object every gather). */
  tagSets(baseTags: Tags, count: BoundSetCount): ServiceTagSets {
    if (this.tags === undefined || this.tags.baseTags !== baseTags) {
      this.tags?.release();
      this.tags = new ServiceTagSets(baseTags, this, count);
    }
    return this.tags;
  }

  /** Gives its kept tag sets back (the aggregator forgets the service). */
  releaseTags(): void {
    this.tags?.release();
    this.tags = undefined;
  }
}

interface InFlight {
  service: ServiceStats;
  /** ns since the epoch (double). */
  startNs: number;
  replied: boolean;
  fin: boolean;
}

export interface FlowCounters {
  eventsNew: number;
  eventsUpdate: number;
  eventsDestroy: number;
  /** Events whose flow is no service's. */
  eventsIgnored: number;
  flowsEvicted: number;
  /** Flows not counted because max_services was reached. */
  servicesDropped: number;
  /** Services forgotten after service_expiration without events. */
  servicesExpired: number;
}

const NS = 1e9;

export class FlowAggregator {
  private readonly include: SubnetList;
  private readonly exclude: SubnetList;
  /** IPv4 services: address → (port << 8 | proto) → stats. */
  private readonly v4 = new Map<number, Map<number, ServiceStats>>();
  private readonly v6 = new Map<string, ServiceStats>();
  private readonly all: ServiceStats[] = [];
  private readonly inflight = new Map<number, InFlight>();
  private readonly boundSets: BoundSetCount;
  readonly counters: FlowCounters = { eventsNew: 0, eventsUpdate: 0, eventsDestroy: 0, eventsIgnored: 0, flowsEvicted: 0, servicesDropped: 0, servicesExpired: 0 };

  constructor(private readonly opts: FlowOptions) {
    this.boundSets = { kept: 0, budget: opts.boundTagSetBudget ?? BOUND_TAG_SET_BUDGET };
    this.include = new SubnetList(opts.serviceSubnets);
    this.exclude = new SubnetList(opts.excludeSubnets);
  }

  get flowsTracked(): number {
    return this.inflight.size;
  }

  get serviceCount(): number {
    return this.all.length;
  }

  /** Per-bound tag sets kept (at most BOUND_TAG_SET_BUDGET). */
  get boundTagSetsKept(): number {
    return this.boundSets.kept;
  }

  /** True when the flow's original destination makes it a service flow. */
  matches(f: CtFlow): boolean {
    const o = f.orig;
    if (o.family === AF_INET6) {
      if (this.include.match6(o.dst6) < 0 || this.exclude.match6(o.dst6) >= 0) return false;
    } else {
      if (this.include.match4(o.dst4) < 0 || this.exclude.match4(o.dst4) >= 0) return false;
    }
    if (this.opts.onlyDnat && !isDnat(f)) return false;
    return true;
  }

  private service(f: CtFlow): ServiceStats | undefined {
    const o = f.orig;
    const key = (o.dport << 8) | o.proto;
    if (o.family === AF_INET6) {
      const k = `${ipv6String(o.dst6)}|${key}`;
      let s = this.v6.get(k);
      if (s === undefined) {
        s = this.create(ipv6String(o.dst6), o);
        if (s) this.v6.set(k, s);
      }
      return s;
    }
    let byPort = this.v4.get(o.dst4);
    if (byPort === undefined) {
      byPort = new Map();
      this.v4.set(o.dst4, byPort);
    }
    let s = byPort.get(key);
    if (s === undefined) {
      s = this.create(ipv4String(o.dst4), o);
      if (s) byPort.set(key, s);
    }
    return s;
  }

  private create(address: string, o: CtFlow['orig']): ServiceStats | undefined {
    if (this.all.length >= this.opts.maxServices) {
      this.counters.servicesDropped++;
      return undefined;
    }
    const s = new ServiceStats(address, o.dport, protocolName(o.proto), this.opts.buckets, o.family, o.proto, o.family === AF_INET6 ? 0 : o.dst4);
    this.all.push(s);
    return s;
  }

  /**
   * Handles one event. `recvNs` (ns since the epoch) stands in for the
   * kernel's event timestamp when the message has none.
   */
  handle(f: CtFlow, recvNs: number): void {
    const c = this.counters;
    if (f.kind === CtMessageKind.New) c.eventsNew++;
    else if (f.kind === CtMessageKind.Update) c.eventsUpdate++;
    else if (f.kind === CtMessageKind.Destroy) c.eventsDestroy++;
    if (!this.matches(f)) {
      c.eventsIgnored++;
      return;
    }
    const at = f.eventNs || recvNs;
    switch (f.kind) {
      case CtMessageKind.New: {
        const s = this.service(f);
        if (!s) return;
        s.lastEventNs = recvNs;
        s.flowsStarted++;
        if (f.id < 0) return;
        if (this.inflight.size >= this.opts.maxFlows) {
          // Map iteration order is insertion order: the first key is the oldest flow.
          const oldest = this.inflight.keys().next().value as number;
          this.inflight.delete(oldest);
          c.flowsEvicted++;
        }
        this.inflight.set(f.id, { service: s, startNs: f.eventNs || f.startNs || recvNs, replied: false, fin: false });
        return;
      }
      case CtMessageKind.Update: {
        const r = this.inflight.get(f.id);
        if (r === undefined) return;
        if (r.service.expired) {
          // The flow outlived its service's expiry: measure it on the service as it is now.
          const now = this.service(f);
          if (now === undefined) {
            this.inflight.delete(f.id);
            return;
          }
          r.service = now;
        }
        r.service.lastEventNs = recvNs;
        if (!r.replied && ((f.status & IPS_SEEN_REPLY) !== 0 || f.tcpState === TCP_CONNTRACK_SYN_RECV)) {
          r.replied = true;
          r.service.connectLatency.observe(Math.max(0, at - r.startNs) / NS);
        }
        const tcp = f.orig.proto === IPPROTO_TCP;
        if (!r.fin && tcp && isClosing(f.tcpState)) {
          r.fin = true;
          r.service.finLatency.observe(Math.max(0, at - r.startNs) / NS);
        }
        // Nothing left to measure from later UPDATEs: DESTROY carries all it needs itself.
        if (r.replied && (r.fin || !tcp)) this.inflight.delete(f.id);
        return;
      }
      case CtMessageKind.Destroy: {
        const r = this.inflight.get(f.id);
        if (r !== undefined) this.inflight.delete(f.id);
        // A flow that outlived its service's expiry counts on the service as it is now.
        const s = r && !r.service.expired ? r.service : this.service(f);
        if (!s) return;
        s.lastEventNs = recvNs;
        s.flowsEnded++;
        if ((f.status & IPS_SEEN_REPLY) === 0) s.flowsUnreplied++;
        if (f.startNs > 0 && f.stopNs >= f.startNs) s.duration.observe((f.stopNs - f.startNs) / NS);
        if (f.hasCounters) {
          s.bytesOrig.observe(f.origBytes);
          s.bytesReply.observe(f.replyBytes);
          s.packetsOrig.observe(f.origPackets);
          s.packetsReply.observe(f.replyPackets);
        }
        return;
      }
      default:
        return;
    }
  }

  /** Forgets the services without an event since `nowNs - expireNs`; returns how many. */
  expire(nowNs: number): number {
    if (this.opts.expireNs <= 0) return 0;
    const cutoff = nowNs - this.opts.expireNs;
    let kept = 0;
    for (let i = 0; i < this.all.length; i++) {
      const s = this.all[i];
      if (s.lastEventNs >= cutoff) {
        this.all[kept++] = s;
        continue;
      }
      s.expired = true;
      s.releaseTags();
      this.forget(s);
    }
    const expired = this.all.length - kept;
    this.all.length = kept;
    this.counters.servicesExpired += expired;
    return expired;
  }

  private forget(s: ServiceStats): void {
    const key = (s.port << 8) | s.protoNumber;
    if (s.family === AF_INET6) {
      this.v6.delete(`${s.address}|${key}`);
      return;
    }
    const byPort = this.v4.get(s.address4);
    if (byPort === undefined) return;
    byPort.delete(key);
    if (byPort.size === 0) this.v4.delete(s.address4);
  }

  /**
   * The metrics of every known service, then resets them when configured:
   * per service one counter metric, and per histogram one metric per bucket
   * (cumulative, `le` tag) plus one with `_sum` and `_count`, as Telegraf's
   * histogram aggregator emits them. Built on shared schemas and on frozen tag
   * sets kept per service (and per bound), since a service yields over a
   * hundred metrics per gather.
   */
  metrics(baseTags: Tags, time: bigint): Metric[] {
    const out: Metric[] = [];
    for (const s of this.all) {
      const tags = s.tagSets(baseTags, this.boundSets);
      out.push(new Metric(SERVICE_MEASUREMENT, time, 'counter', tags.base, COUNTER_FIELDS, [s.flowsStarted, s.flowsEnded, s.flowsUnreplied]));
      const histograms = s.histograms;
      for (let k = 0; k < histograms.length; k++) {
        const h = histograms[k];
        const buckets = BUCKET_FIELDS[k];
        let cumulative = 0;
        for (let i = 0; i < h.counts.length; i++) {
          cumulative += h.counts[i];
          out.push(new Metric(SERVICE_MEASUREMENT, time, 'histogram', tags.withBound(h.labels[i]), buckets, [cumulative]));
        }
        out.push(new Metric(SERVICE_MEASUREMENT, time, 'histogram', tags.base, SUMMARY_FIELDS[k], [h.sum, h.count]));
      }
      if (this.opts.reset) s.reset();
    }
    return out;
  }
}

/** Destination-NATed: the kernel's DST_NAT bit, or a reply source differing from the original destination. */
export function isDnat(f: CtFlow): boolean {
  if (f.status & IPS_DST_NAT) return true;
  const o = f.orig;
  const r = f.reply;
  if (r.family === 0) return false;
  if (o.dport !== r.sport) return true;
  if (o.family === AF_INET6) {
    for (let i = 0; i < 16; i++) if (o.dst6[i] !== r.src6[i]) return true;
    return false;
  }
  return o.dst4 !== r.src4;
}

function isClosing(state: number): boolean {
  return (
    state === TCP_CONNTRACK_FIN_WAIT ||
    state === TCP_CONNTRACK_CLOSE_WAIT ||
    state === TCP_CONNTRACK_LAST_ACK ||
    state === TCP_CONNTRACK_TIME_WAIT ||
    state === TCP_CONNTRACK_CLOSE
  );
}
