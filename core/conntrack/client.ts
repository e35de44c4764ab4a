/**
 * A ctnetlink client over the shared `NetlinkSocket`: streaming table dumps
 * decoded into one reused `CtFlow`, per-CPU and global statistics, batched
 * entry creation (tests, benchmarks), and event subscriptions.
 */
import { wallClockNsNumber } from '../clock';
import { NETLINK_NETFILTER, NLMSG_HDRLEN } from '../netlink/constants';
import { NetlinkDecodeError } from '../netlink/errors';
import { NetlinkSocket, type DumpResult, type MessageBatch, type Subscription } from '../netlink/socket';
import * as C from './constants';
import { DECODE_ALL, decodeCpuStats, decodeFlow, decodeGlobalStats, eventKind } from './decode';
import { buildDumpRequest, buildNewEntry, buildStatsCpuRequest, buildStatsRequest, type CtDumpFilter, type CtNewEntry } from './encode';
import { CtFlow, CtMessageKind, type CtCpuStats, type CtGlobalStats } from './types';

export interface TableDumpResult extends DumpResult {
  /** Entry messages that could not be decoded (skipped). */
  parseErrors: number;
}

export class ConntrackClient {
  private readonly flow = new CtFlow();

  private constructor(private readonly sock: NetlinkSocket) {}

  /** Opens a ctnetlink socket, inside the network namespace at `netns` when given. */
  static open(netns?: string): ConntrackClient {
    return new ConntrackClient(NetlinkSocket.open(NETLINK_NETFILTER, { netns: netns || undefined }));
  }

  /**
   * Streams the table: `onEntry` is called once per entry with a record that
   * is reused for the next one. Kernel-side filters cut the dump in the kernel;
   * `parts` (DECODE_* bits) leaves out what the caller does not need.
   */
  async dumpTable(filter: CtDumpFilter, onEntry: (f: CtFlow) => void, opts: { timeoutMs?: number; parts?: number } = {}): Promise<TableDumpResult> {
    const parts = opts.parts ?? DECODE_ALL;
    const flow = this.flow;
    let parseErrors = 0;
    const r = await this.sock.dump(
      buildDumpRequest(filter),
      (buf, off, len, hdr) => {
        if (hdr.type !== C.CT_TYPE_NEW) return;
        try {
          decodeFlow(buf, off + NLMSG_HDRLEN, off + len, flow, CtMessageKind.Entry, parts);
        } catch (err) {
          if (err instanceof NetlinkDecodeError) {
            parseErrors++;
            return;
          }
          throw err;
        }
        onEntry(flow);
      },
      { timeoutMs: opts.timeoutMs },
    );
    return { ...r, parseErrors };
  }

  /** GET_STATS_CPU: one record per possible CPU, ordered by CPU. */
  async statsPerCpu(): Promise<CtCpuStats[]> {
    const out: CtCpuStats[] = [];
    await this.sock.dump(buildStatsCpuRequest(), (buf, off, len, hdr) => {
      if (hdr.type === C.CT_TYPE_GET_STATS_CPU) out.push(decodeCpuStats(buf, off + NLMSG_HDRLEN, off + len));
    });
    return out.sort((a, b) => a.cpu - b.cpu);
  }

  /** GET_STATS: the netns's entry count and the table limit. */
  async stats(): Promise<CtGlobalStats> {
    const replies = await this.sock.request(buildStatsRequest());
    for (const r of replies) {
      if (r.header.type === C.CT_TYPE_GET_STATS) return decodeGlobalStats(r.data, NLMSG_HDRLEN, r.data.length);
    }
    return {};
  }

  /**
   * Creates entries, packing many CT_NEW messages per datagram without ACKs
   * (the kernel processes them inside sendmsg), then syncs with a GET_STATS
   * request. Failures are not reported per entry: check the count afterwards.
   */
  async createEntries(entries: Iterable<CtNewEntry>, perDatagram = 128): Promise<void> {
    const parts: Buffer[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (parts.length === 0) return;
      this.sock.send(Buffer.concat(parts, bytes));
      parts.length = 0;
      bytes = 0;
    };
    for (const e of entries) {
      const m = buildNewEntry(e, false);
      parts.push(m);
      bytes += m.length;
      if (parts.length >= perDatagram) flush();
    }
    flush();
    await this.stats();
  }

  close(): void {
    this.sock.close();
  }
}

export interface EventOptions {
  netns?: string;
  /** Multicast groups (default NEW, UPDATE, DESTROY). */
  groups?: readonly number[];
  /** Receive buffer in bytes (SO_RCVBUFFORCE when permitted). */
  rcvbuf?: number;
  /** Datagrams per receive batch. */
  batchSize?: number;
}

export interface EventCounters {
  /** Event messages decoded. */
  events: number;
  /** Event messages that could not be decoded (skipped). */
  parseErrors: number;
  /** Exceptions thrown by the event callback (reported to onError). */
  handlerErrors: number;
}

/**
 * Subscribes to conntrack events. `onEvent` gets a reused record (kind set)
 * and the receive time in ns since the epoch (a double; the kernel's own
 * event timestamp, when present, is `flow.eventNs`). Overruns (ENOBUFS) go to
 * `onError` and are counted in `subscription.stats.overruns`; the
 * subscription keeps running.
 */
export function subscribeEvents(
  opts: EventOptions,
  onEvent: (f: CtFlow, recvNs: number) => void,
  onError: (err: Error) => void,
): { subscription: Subscription; counters: EventCounters } {
  const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: opts.netns || undefined });
  const flow = new CtFlow();
  const counters: EventCounters = { events: 0, parseErrors: 0, handlerErrors: 0 };
  let recvNs = 0;
  const onMessage = (buf: Buffer, off: number, len: number, hdr: { type: number; flags: number }): void => {
    const kind = eventKind(hdr.type, hdr.flags);
    if (kind === undefined) return;
    try {
      decodeFlow(buf, off + NLMSG_HDRLEN, off + len, flow, kind);
    } catch (err) {
      if (err instanceof NetlinkDecodeError) {
        counters.parseErrors++;
        return;
      }
      throw err;
    }
    counters.events++;
    try {
      onEvent(flow, recvNs);
    } catch (err) {
      // A consumer bug must not escape into the native poll callback (an uncaught exception ends the process).
      counters.handlerErrors++;
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const onBatch = (batch: MessageBatch): void => {
    recvNs = realtimeNs();
    batch.forEachMessage(onMessage);
  };
  try {
    const subscription = sock.subscribe(
      opts.groups ?? [C.NFNLGRP_CONNTRACK_NEW, C.NFNLGRP_CONNTRACK_UPDATE, C.NFNLGRP_CONNTRACK_DESTROY],
      onBatch,
      onError,
      { rcvbuf: opts.rcvbuf, batchSize: opts.batchSize ?? 256 },
    );
    return { subscription, counters };
  } catch (err) {
    sock.close();
    throw err;
  }
}

/** Wall-clock time in ns since the epoch as a double, in the kernel's CLOCK_REALTIME terms (event and flow timestamps). */
export const realtimeNs: () => number = wallClockNsNumber;
