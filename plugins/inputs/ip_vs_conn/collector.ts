/**
 * One pass over the connection table: counts rows per (virtual service, real
 * server) and state, and compares every connection with the previous pass to
 * detect reuse (README.md, "Reuse detection"):
 *
 * (a) reused: same protocol, client address:port, virtual address:port and
 *     real server; TCP; closing state (FIN_WAIT, TIME_WAIT, CLOSE,
 *     CLOSE_WAIT, LAST_ACK) in the previous pass; timer re-armed, i.e.
 *     expires_now > expires_prev - elapsed + 1 where elapsed is a lower bound
 *     of the time between the two reads (start of this read minus end of the
 *     previous one); and the state now is not the same close continuing
 *     (see reArmMeansNewConnection).
 * (b) rescheduled: same protocol, client address:port and virtual
 *     address:port, now on a different real server. Counted on the new one.
 * Both only when the previous entry may still have been alive at the start
 * of this read (expires_prev + 1 > elapsed).
 */
import { ConnRow, ConnTableParser, RowSink } from './parse';
import { GroupTable, GroupTags } from './groups';
import { ConnTracker, DUPLICATE, FIRST, NEW, NO_PREVIOUS, ipv6Key, v6Key } from './tracker';
import { PROTO_TCP, STATE_COUNT, isClosingTcpState, reArmMeansNewConnection } from './states';

export interface ReuseEvent {
  kind: 'reused' | 'rescheduled';
  /** Group (real server) now. */
  group: number;
  /** Group before (differs from `group` for rescheduled connections). */
  previousGroup: number;
  proto: number;
  af: number;
  client: Uint32Array;
  clientPort: number;
  previousState: number;
  state: number;
  previousExpires: number;
  expires: number;
}

export interface CollectorOptions {
  /** Decides per virtual service whether its rows are counted (true = all). */
  include?: (tags: GroupTags, proto: number, fwmark: boolean) => boolean;
  /** Keep up to this many ReuseEvent records per pass (0: none). */
  maxEvents?: number;
  /** Snapshots a vanished real server keeps its cumulative counters. */
  groupGrace?: number;
  /** Most connections tracked for reuse detection (0: the table's limit, 16,777,215). */
  maxTracked?: number;
}

export class ConnCollector implements RowSink {
  readonly groups: GroupTable;
  readonly tracker = new ConnTracker();
  readonly parser: ConnTableParser;
  /** Passes begun so far. */
  snapshot = 0;

  // Figures of the current pass.
  connections = 0;
  templates = 0;
  filteredRows = 0;
  reusedNow = 0;
  rescheduledNow = 0;
  /** Connections counted but not tracked (tracking table full). */
  untracked = 0;
  events: ReuseEvent[] = [];
  eventsDropped = 0;
  /** Lower bound of the seconds between the previous pass and this one (NaN on the first). */
  elapsed = NaN;

  private prevEnd = NaN;
  private readonly maxEvents: number;
  private readonly grace: number;

  constructor(opts: CollectorOptions = {}) {
    const include = opts.include ?? (() => true);
    this.groups = new GroupTable(include);
    this.parser = new ConnTableParser(this);
    this.maxEvents = opts.maxEvents ?? 0;
    if (opts.maxTracked) this.tracker.limit = Math.min(opts.maxTracked, this.tracker.limit);
    this.grace = opts.groupGrace ?? 10;
  }

  /** Starts a pass; `now` = monotonic seconds at the start of the read. */
  begin(now: number): void {
    this.snapshot++;
    this.tracker.beginSnapshot();
    this.groups.resetCounts();
    this.parser.reset();
    this.connections = 0;
    this.templates = 0;
    this.filteredRows = 0;
    this.reusedNow = 0;
    this.rescheduledNow = 0;
    this.untracked = 0;
    this.events = [];
    this.eventsDropped = 0;
    this.elapsed = now - this.prevEnd;
  }

  /** Ends a pass; `now` = monotonic seconds at the end of the read. */
  end(now: number): void {
    this.tracker.endSnapshot();
    this.groups.expire(this.snapshot, this.grace);
    this.prevEnd = now;
  }

  row(r: ConnRow): void {
    const groups = this.groups;
    const g = groups.lookup(r, this.snapshot);
    if (groups.included[g] === 0) {
      this.filteredRows++;
      return;
    }
    if (r.template) {
      groups.templates[g]++;
      this.templates++;
      return;
    }
    this.connections++;
    groups.counts[g * STATE_COUNT + r.state]++;
    const ports = ((r.cport << 16) | r.vport) >>> 0;
    const t = this.tracker;
    let e: number;
    if (r.af === 4) e = t.upsert(r.caddr[0], r.vaddr[0], ports, r.proto);
    else {
      ipv6Key(r.proto, ports, r.caddr, r.vaddr);
      e = t.upsert(v6Key[0], v6Key[1], v6Key[2], v6Key[3]);
    }
    const status = t.status;
    if (e < 0) {
      this.untracked++; // tracking table full: counted, not tracked
      return;
    }
    if (status === NEW) {
      t.set(e, g, r.state, r.expires);
      return;
    }
    this.compare(e, g, r);
    if (status === FIRST || (status === DUPLICATE && r.expires > t.expires(e))) t.set(e, g, r.state, r.expires);
  }

  private compare(e: number, g: number, r: ConnRow): void {
    const t = this.tracker;
    const ps = t.prevState(e);
    if (ps === NO_PREVIOUS) return; // a duplicate of a connection that is new in this pass
    const pe = t.prevExpires(e);
    // If the old entry's timer certainly ran out before this read began, the
    // new connection may just as well have come after it expired: a normal
    // new connection, not counted.
    if (!(pe + 1 > this.elapsed)) return;
    const pg = t.prevRs(e);
    if (pg !== g) {
      this.groups.rescheduled[g]++;
      this.rescheduledNow++;
      this.record('rescheduled', e, g, pg, r);
      return;
    }
    if (r.proto !== PROTO_TCP) return;
    if (!isClosingTcpState(ps)) return;
    if (!(r.expires > pe - this.elapsed + 1)) return;
    if (!reArmMeansNewConnection(ps, r.state)) return;
    this.groups.reused[g]++;
    this.reusedNow++;
    this.record('reused', e, g, pg, r);
  }

  private record(kind: ReuseEvent['kind'], e: number, g: number, pg: number, r: ConnRow): void {
    if (this.events.length >= this.maxEvents) {
      if (this.maxEvents > 0) this.eventsDropped++;
      return;
    }
    const t = this.tracker;
    this.events.push({
      kind,
      group: g,
      previousGroup: pg,
      proto: r.proto,
      af: r.af,
      client: Uint32Array.from(r.caddr),
      clientPort: r.cport,
      previousState: t.prevState(e),
      state: r.state,
      previousExpires: t.prevExpires(e),
      expires: r.expires,
    });
  }

  /** Parses a whole in-memory table as one pass (tests; the agent streams from a file). */
  collectText(text: string | Buffer, start: number, end: number): void {
    const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    this.begin(start);
    const used = this.parser.feed(buf, 0, buf.length);
    if (used < buf.length) this.parser.line(buf, used, buf.length);
    this.end(end);
  }
}
