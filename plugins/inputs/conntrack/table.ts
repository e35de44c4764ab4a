/**
 * Table breakdown: aggregates a conntrack dump WHILE it streams (one call
 * per entry, no entry kept) into groups per protocol, TCP state, zone and,
 * optionally, mark and original-destination subnet.
 *
 * Group keys persist across dumps: a group that had entries before and has
 * none now is reported with 0 rather than vanishing, so gauges fall to zero.
 */
import { AF_INET, AF_INET6, IPS_ASSURED, IPS_SEEN_REPLY, TCP_STATE_NAMES, protocolName } from '../../../core/conntrack/constants';
import { DECODE_ADDRESSES } from '../../../core/conntrack/decode';
import type { CtFlow } from '../../../core/conntrack/types';
import { uint, type FieldInit, type Tags } from '../../../core/metric';
import { SubnetList } from './subnet';

export const TABLE_MEASUREMENT = 'conntrack_table';
export const TABLE_STATE_MEASUREMENT = 'conntrack_table_tcp_state';
export const TABLE_ZONE_MEASUREMENT = 'conntrack_table_zone';
export const TABLE_MARK_MEASUREMENT = 'conntrack_table_mark';
export const TABLE_SUBNET_MEASUREMENT = 'conntrack_table_subnet';

/** Keys per dimension beyond which new marks/zones are counted under `other`. */
const MAX_KEYS = 4096;

export class TableGroup {
  entries = 0;
  unreplied = 0;
  assured = 0;
  /** Entries that carried counters (accounting on when they were created). */
  accounted = 0;
  origPackets = 0;
  origBytes = 0;
  replyPackets = 0;
  replyBytes = 0;

  clear(): void {
    this.entries = this.unreplied = this.assured = this.accounted = 0;
    this.origPackets = this.origBytes = this.replyPackets = this.replyBytes = 0;
  }

  add(f: CtFlow): void {
    this.entries++;
    if ((f.status & IPS_SEEN_REPLY) === 0) this.unreplied++;
    if (f.status & IPS_ASSURED) this.assured++;
    if (f.hasCounters) {
      this.accounted++;
      this.origPackets += f.origPackets;
      this.origBytes += f.origBytes;
      this.replyPackets += f.replyPackets;
      this.replyBytes += f.replyBytes;
    }
  }

  fields(): Record<string, FieldInit> {
    const out: Record<string, FieldInit> = {
      entries: uint(this.entries),
      assured: uint(this.assured),
      unreplied: uint(this.unreplied),
    };
    if (this.accounted > 0) {
      out.orig_packets = uint(this.origPackets);
      out.orig_bytes = uint(this.origBytes);
      out.reply_packets = uint(this.replyPackets);
      out.reply_bytes = uint(this.replyBytes);
    }
    return out;
  }
}

export interface TableOptions {
  byMark: boolean;
  markMask: number;
  subnets: readonly string[];
  /** Re-checked in user space (older kernels ignore some kernel filters). */
  filterFamily?: number;
  filterMark?: number;
  filterMarkMask?: number;
  filterZone?: number;
}

export interface TableRow {
  measurement: string;
  tags: Tags;
  fields: Record<string, FieldInit>;
}

export class TableAggregator {
  private readonly byProto = new Map<number, TableGroup>();
  private readonly byState = new Map<number, TableGroup>();
  private readonly byZone = new Map<number, TableGroup>();
  private readonly byMark = new Map<number, TableGroup>();
  private readonly bySubnet: TableGroup[];
  private readonly subnets: SubnetList;
  private other = { zone: new TableGroup(), mark: new TableGroup() };
  /** Entries seen in the current dump (after filters). */
  seen = 0;
  /** Entries dropped by the user-space re-check of the filters. */
  filtered = 0;

  /** The DECODE_* parts this aggregation needs from each entry. */
  get decodeParts(): number {
    return this.subnets.length > 0 ? DECODE_ADDRESSES : 0;
  }

  constructor(private readonly opts: TableOptions) {
    this.subnets = new SubnetList(opts.subnets);
    this.bySubnet = this.subnets.subnets.map(() => new TableGroup());
  }

  /** Starts a new dump: counts to zero, keys kept. */
  begin(): void {
    for (const m of [this.byProto, this.byState, this.byZone, this.byMark]) for (const g of m.values()) g.clear();
    for (const g of this.bySubnet) g.clear();
    this.other.zone.clear();
    this.other.mark.clear();
    this.seen = this.filtered = 0;
  }

  private group(map: Map<number, TableGroup>, key: number, overflow?: TableGroup): TableGroup {
    let g = map.get(key);
    if (g === undefined) {
      if (overflow && map.size >= MAX_KEYS) return overflow;
      g = new TableGroup();
      map.set(key, g);
    }
    return g;
  }

  /** Adds one dumped entry (the record is reused by the caller after this returns). */
  add(f: CtFlow): void {
    const o = this.opts;
    if (
      (o.filterFamily !== undefined && f.family !== o.filterFamily) ||
      (o.filterZone !== undefined && f.zone !== o.filterZone) ||
      (o.filterMark !== undefined && ((f.mark & (o.filterMarkMask ?? 0xffffffff)) >>> 0) !== o.filterMark >>> 0)
    ) {
      this.filtered++;
      return;
    }
    this.seen++;
    const family = f.family === AF_INET6 ? AF_INET6 : AF_INET;
    this.group(this.byProto, (family << 8) | f.orig.proto).add(f);
    if (f.tcpState >= 0) this.group(this.byState, f.tcpState).add(f);
    this.group(this.byZone, f.zone, this.other.zone).add(f);
    if (o.byMark) this.group(this.byMark, (f.mark & o.markMask) >>> 0, this.other.mark).add(f);
    if (this.subnets.length > 0) {
      const l = this.subnets.subnets;
      const v6 = f.orig.family === AF_INET6;
      for (let i = 0; i < l.length; i++) {
        const s = l[i];
        if (s.v6 !== v6) continue;
        const inside = v6 ? this.subnets.match6Single(i, f.orig.dst6) : this.subnets.match4Single(i, f.orig.dst4);
        if (inside) this.bySubnet[i].add(f);
      }
    }
  }

  rows(baseTags: Tags): TableRow[] {
    const out: TableRow[] = [];
    for (const [key, g] of this.byProto) {
      out.push({
        measurement: TABLE_MEASUREMENT,
        tags: { ...baseTags, family: key >> 8 === AF_INET6 ? 'ipv6' : 'ipv4', protocol: protocolName(key & 255) },
        fields: g.fields(),
      });
    }
    for (const [state, g] of this.byState) {
      out.push({ measurement: TABLE_STATE_MEASUREMENT, tags: { ...baseTags, state: TCP_STATE_NAMES[state] ?? String(state) }, fields: g.fields() });
    }
    for (const [zone, g] of this.byZone) {
      out.push({ measurement: TABLE_ZONE_MEASUREMENT, tags: { ...baseTags, zone: String(zone) }, fields: g.fields() });
    }
    if (this.other.zone.entries > 0) {
      out.push({ measurement: TABLE_ZONE_MEASUREMENT, tags: { ...baseTags, zone: 'other' }, fields: this.other.zone.fields() });
    }
    if (this.opts.byMark) {
      for (const [mark, g] of this.byMark) {
        out.push({ measurement: TABLE_MARK_MEASUREMENT, tags: { ...baseTags, mark: String(mark) }, fields: g.fields() });
      }
      if (this.other.mark.entries > 0) {
        out.push({ measurement: TABLE_MARK_MEASUREMENT, tags: { ...baseTags, mark: 'other' }, fields: this.other.mark.fields() });
      }
    }
    this.subnets.subnets.forEach((s, i) => {
      out.push({ measurement: TABLE_SUBNET_MEASUREMENT, tags: { ...baseTags, subnet: s.text }, fields: this.bySubnet[i].fields() });
    });
    return out;
  }
}

