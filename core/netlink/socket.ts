/**
 * `NetlinkSocket`: requests, streaming dumps and event subscriptions over the
 * native binding.
 *
 *     const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: 'blue' });
 *     const replies = await sock.request(msg);           // single request, waits for the ACK
 *     const r = await sock.dump(msg, (buf, off, len, hdr) => { ... });   // streamed
 *     sock.close();
 *
 * Requests and dumps on one socket are serialized (the kernel runs one dump per
 * socket); use several sockets (see pool.ts) for concurrency. Each request gets
 * a fresh sequence number written into the message (the caller's Buffer is
 * modified in place) and replies with another sequence number (leftovers of an
 * abandoned request) are ignored.
 *
 * Receiving is synchronous and non-blocking: the kernel produces request
 * replies and dump parts inside our send/recv calls, so a dump is read in a
 * tight recv loop with one 64 KiB buffer (datagrams are ≤ 32 KiB); only when
 * nothing is queued (EAGAIN) does the loop wait for readability through libuv,
 * and every `yieldEvery` datagrams it yields to the event loop so long dumps do
 * not starve timers and I/O.
 *
 * Dump semantics: NLM_F_MULTI messages are handed to `onMessage` as they
 * arrive (buffer and header are reused: copy what you keep); NLMSG_DONE ends
 * the dump (a non-zero error in its payload rejects); NLMSG_ERROR rejects with
 * an Error carrying `code`/`errno` and the kernel's extended-ack text;
 * NLM_F_DUMP_INTR (the table changed during the dump) is reported as
 * `interrupted: true`. An exception thrown by `onMessage` aborts the dump and
 * rejects with it; the rest of the kernel's dump is drained before the socket
 * is used again.
 *
 * Events: `subscribe()` turns the socket into an event socket (no requests
 * afterwards). Datagrams are received in batches by the native poller and
 * handed to `onBatch` once per wakeup. ENOBUFS (receive buffer overrun: events
 * were lost) goes to `onError` with code 'ENOBUFS', is counted in
 * `stats.overruns`, and the subscription keeps running; resynchronize with a
 * dump if the consumer needs exact state.
 */
import { HOST_LE } from './attributes';
import { loadBinding, NativeHandle } from './binding';
import {
  NLM_F_ACK,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_NO_ENOBUFS,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOL_NETLINK,
  SOL_SOCKET,
} from './constants';
import { errnoError, isErrno, NetlinkDecodeError } from './errors';
import {
  decodeDoneErrno,
  decodeErrorPayload,
  decodeHeader,
  forEachMessage,
  MessageHandler,
  newHeader,
  NlMsgHeader,
  setSequence,
} from './message';
import { withNetns } from './netns';

export interface OpenOptions {
  /** Create the socket inside this network namespace (name under /var/run/netns, or a path). */
  netns?: string;
  /** Legacy multicast bind mask (bit g-1 for group g); prefer `subscribe()`. */
  groups?: number;
  /** Receive buffer for requests and dumps, bytes (default 65536; the kernel's dump datagrams are ≤ 32 KiB). */
  readBufferSize?: number;
  /** Ask for extended-ack error texts (default true). */
  extAck?: boolean;
  /** NETLINK_GET_STRICT_CHK (default false). */
  strictCheck?: boolean;
}

export interface RequestOptions {
  /** Give up waiting for the kernel after this many ms (default 30000); rejects with ETIMEDOUT. */
  timeoutMs?: number;
}

export interface DumpOptions extends RequestOptions {
  /** Yield to the event loop every N datagrams (default 32, i.e. about 1 MB). 0 = never. */
  yieldEvery?: number;
}

export interface DumpResult {
  /** Messages handed to onMessage. */
  messages: number;
  /** Datagrams read. */
  datagrams: number;
  /** NLM_F_DUMP_INTR was seen: the dump may be inconsistent (entries skipped or repeated). */
  interrupted: boolean;
}

/** A reply message of `request()`: `data` is a copy of the whole message (header included). */
export interface NetlinkMessage {
  header: NlMsgHeader;
  data: Buffer;
}

/** One wakeup's worth of datagrams; the object and its buffers are reused after `onBatch` returns. */
export interface MessageBatch {
  /** Number of datagrams in this batch. */
  readonly count: number;
  /** Datagram i is `buffers[i].subarray(0, lengths[i])` for i < count. */
  readonly buffers: readonly Buffer[];
  readonly lengths: Uint32Array;
  /**
   * Calls onMessage for every message of every datagram; returns the message
   * count. A malformed datagram (or a NetlinkDecodeError thrown by onMessage) is
   * reported to the subscription's onError and skipped; other exceptions propagate.
   */
  forEachMessage(onMessage: MessageHandler): number;
}

export interface SubscribeOptions {
  /** Receive buffer in bytes: SO_RCVBUFFORCE (CAP_NET_ADMIN), falling back to SO_RCVBUF (capped by rmem_max). */
  rcvbuf?: number;
  /** NETLINK_NO_ENOBUFS: suppress overrun errors (events are still lost, silently). Default false. */
  noEnobufs?: boolean;
  /** Datagrams per batch (default 64). */
  batchSize?: number;
  /** Bytes per datagram buffer (default 16384; events are single small messages). */
  datagramSize?: number;
  /** Whether the subscription keeps the event loop alive (default true). */
  ref?: boolean;
}

export interface SubscriptionStats {
  batches: number;
  datagrams: number;
  /** ENOBUFS errors seen: each means one or more events were lost. */
  overruns: number;
  /** Other errors reported to onError (truncated or malformed datagrams, receive errors). */
  errors: number;
}

export interface Subscription {
  readonly stats: SubscriptionStats;
  /** Effective SO_RCVBUF as reported by the kernel (twice the requested size). */
  readonly rcvbuf: number;
  readonly groups: readonly number[];
  ref(): void;
  unref(): void;
  /** Stops delivery and closes the socket. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 30000;

interface Exchange {
  seq: number;
  mode: 'request' | 'dump';
  onMessage: MessageHandler | null;
  replies: NetlinkMessage[];
  messages: number;
  datagrams: number;
  interrupted: boolean;
  done: boolean;
  error: Error | null;
  requestType: number;
}

export class NetlinkSocket {
  readonly protocol: number;
  /** The socket's netlink port id (nl_pid). */
  readonly portId: number;
  private handle: NativeHandle;
  private seq: number;
  private readBuf: Buffer;
  private tail: Promise<void> = Promise.resolve();
  private needsDrain = false;
  private closed = false;
  private subscribed = false;
  private readonly header = newHeader();

  private constructor(protocol: number, handle: NativeHandle, readBufferSize: number) {
    this.protocol = protocol;
    this.handle = handle;
    this.portId = handle.portId();
    this.readBuf = Buffer.allocUnsafeSlow(readBufferSize);
    // Start away from 0 (events use seq 0) and differ between sockets for easier tracing.
    this.seq = (Math.random() * 0x3fffffff) >>> 0 || 1;
  }

  /** Opens and binds a socket (kernel-assigned port id), optionally inside a network namespace. */
  static open(protocol: number, options: OpenOptions = {}): NetlinkSocket {
    const create = (): NativeHandle => {
      const { NetlinkHandle } = loadBinding();
      return new NetlinkHandle(protocol);
    };
    const handle = options.netns ? withNetns(options.netns, create) : create();
    try {
      handle.bind(0, options.groups ?? 0);
      // Errors carry their reason, ACKs do not echo whole requests back.
      if (options.extAck !== false) trySetInt(handle, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      trySetInt(handle, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      if (options.strictCheck) handle.setInt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
      return new NetlinkSocket(protocol, handle, options.readBufferSize ?? 65536);
    } catch (err) {
      handle.close();
      throw err;
    }
  }

  /**
   * Wraps an already bound handle (tests use a scripted fake to reach paths
   * the kernel rarely takes: NLM_F_DUMP_INTR, DONE errors, timeouts).
   */
  static fromHandle(protocol: number, handle: NativeHandle, readBufferSize = 65536): NetlinkSocket {
    return new NetlinkSocket(protocol, handle, readBufferSize);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Integer setsockopt at any level (SOL_SOCKET, SOL_NETLINK, ...). */
  setOption(level: number, option: number, value: number): void {
    this.handle.setInt(level, option, value);
  }

  getOption(level: number, option: number): number {
    return this.handle.getInt(level, option);
  }

  /**
   * Sets the receive buffer: SO_RCVBUFFORCE (needs CAP_NET_ADMIN, ignores
   * net.core.rmem_max), else SO_RCVBUF. Returns the effective size the kernel reports.
   */
  setReceiveBuffer(bytes: number): number {
    try {
      this.handle.setInt(SOL_SOCKET, SO_RCVBUFFORCE, bytes);
    } catch (err) {
      if (!isErrno(err, 'EPERM')) throw err;
      this.handle.setInt(SOL_SOCKET, SO_RCVBUF, bytes);
    }
    return this.handle.getInt(SOL_SOCKET, SO_RCVBUF);
  }

  addMembership(group: number): void {
    this.handle.addMembership(group);
  }

  dropMembership(group: number): void {
    this.handle.dropMembership(group);
  }

  /** Sends a message as is (no sequence number, no reply handling). */
  send(msg: Buffer): void {
    this.assertOpen();
    this.handle.send(msg, 0, msg.length);
  }

  /**
   * Sends a request (NLM_F_REQUEST | NLM_F_ACK are added) and resolves with the
   * reply messages once the kernel acknowledged it. Rejects with the kernel's
   * errno as an Error with `code`. Also handles replies marked NLM_F_MULTI
   * without NLMSG_DONE (ctnetlink GET_STATS).
   */
  request(msg: Buffer, options: RequestOptions = {}): Promise<NetlinkMessage[]> {
    return this.serialize(async () => {
      const ex = this.newExchange(msg, 'request', null);
      await this.run(msg, ex, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 0);
      return ex.replies;
    });
  }

  /**
   * Sends a dump request (the caller sets NLM_F_DUMP; NLM_F_REQUEST is added)
   * and streams every reply message to `onMessage` until NLMSG_DONE.
   */
  dump(msg: Buffer, onMessage: MessageHandler, options: DumpOptions = {}): Promise<DumpResult> {
    return this.serialize(async () => {
      const ex = this.newExchange(msg, 'dump', onMessage);
      await this.run(msg, ex, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.yieldEvery ?? 32);
      return { messages: ex.messages, datagrams: ex.datagrams, interrupted: ex.interrupted };
    });
  }

  /**
   * Joins multicast `groups` and delivers their datagrams in batches. The socket
   * becomes an event socket: request()/dump() reject afterwards.
   */
  subscribe(
    groups: readonly number[],
    onBatch: (batch: MessageBatch) => void,
    onError: (err: Error) => void,
    options: SubscribeOptions = {},
  ): Subscription {
    this.assertOpen();
    if (this.subscribed) throw errnoError(16 /* EBUSY */, 'netlink subscribe', 'socket already subscribed');
    const handle = this.handle;
    let rcvbuf = handle.getInt(SOL_SOCKET, SO_RCVBUF);
    if (options.rcvbuf) rcvbuf = this.setReceiveBuffer(options.rcvbuf);
    if (options.noEnobufs) handle.setInt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
    for (const g of groups) handle.addMembership(g);
    this.subscribed = true;

    const batchSize = Math.max(1, Math.min(1024, options.batchSize ?? 64));
    const datagramSize = Math.max(4096, options.datagramSize ?? 16384);
    const buffers: Buffer[] = [];
    for (let i = 0; i < batchSize; i++) buffers.push(Buffer.allocUnsafeSlow(datagramSize));
    const lengths = new Uint32Array(batchSize);
    const stats: SubscriptionStats = { batches: 0, datagrams: 0, overruns: 0, errors: 0 };
    const header = newHeader();
    const reportError = (err: Error): void => {
      if (isErrno(err, 'ENOBUFS')) stats.overruns++;
      else stats.errors++;
      onError(err);
    };
    const batch = {
      count: 0,
      buffers,
      lengths,
      forEachMessage(onMessage: MessageHandler): number {
        let messages = 0;
        for (let i = 0; i < this.count; i++) {
          const len = lengths[i];
          if (len > datagramSize) continue; // truncated: already reported
          try {
            messages += forEachMessage(buffers[i], 0, len, onMessage, header);
          } catch (err) {
            if (!(err instanceof NetlinkDecodeError)) throw err;
            reportError(err);
          }
        }
        return messages;
      },
    };
    const onNativeBatch = (count: number): void => {
      batch.count = count;
      stats.batches++;
      stats.datagrams += count;
      for (let i = 0; i < count; i++) {
        if (lengths[i] > datagramSize) {
          reportError(
            errnoError(90 /* EMSGSIZE */, 'recvmsg', `event datagram of ${lengths[i]} bytes truncated to ${datagramSize}`),
          );
        }
      }
      onBatch(batch);
    };
    handle.pollStart(buffers, lengths, onNativeBatch, reportError);
    if (options.ref === false) handle.unref();

    const self = this;
    return {
      stats,
      rcvbuf,
      groups: [...groups],
      ref: () => handle.ref(),
      unref: () => handle.unref(),
      close: () => self.close(),
    };
  }

  /** Whether a pending wait keeps the process alive (default true). */
  ref(): void {
    this.handle.ref();
  }

  unref(): void {
    this.handle.unref();
  }

  /** Closes the socket. Idempotent; safe inside callbacks. Pending requests reject with EBADF. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    const wake = this.wakeWaiter;
    this.wakeWaiter = null;
    if (wake) wake();
  }

  // ---- internals ----

  private wakeWaiter: (() => void) | null = null;

  private assertOpen(): void {
    if (this.closed) throw errnoError(9 /* EBADF */, 'netlink', 'socket closed');
  }

  private serialize<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      this.assertOpen();
      if (this.subscribed) throw errnoError(16 /* EBUSY */, 'netlink', 'event socket cannot send requests');
      return job();
    });
    this.tail = result.then(noop, noop);
    return result;
  }

  private newExchange(msg: Buffer, mode: 'request' | 'dump', onMessage: MessageHandler | null): Exchange {
    if (msg.length < NLMSG_HDRLEN) throw new NetlinkDecodeError('netlink request shorter than its header');
    const h = decodeHeader(msg, 0);
    if (h.length !== msg.length) {
      throw new NetlinkDecodeError(`netlink request length field ${h.length} != buffer length ${msg.length}`);
    }
    let flags = h.flags | NLM_F_REQUEST;
    if (mode === 'request') flags |= NLM_F_ACK;
    if (HOST_LE) msg.writeUInt16LE(flags & 0xffff, 6);
    else msg.writeUInt16BE(flags & 0xffff, 6);
    this.seq = (this.seq + 1) >>> 0 || 1;
    setSequence(msg, this.seq, 0);
    return {
      seq: this.seq,
      mode,
      onMessage,
      replies: [],
      messages: 0,
      datagrams: 0,
      interrupted: false,
      done: false,
      error: null,
      requestType: h.type,
    };
  }

  private async run(msg: Buffer, ex: Exchange, timeoutMs: number, yieldEvery: number): Promise<void> {
    if (this.needsDrain) this.drain();
    this.handle.send(msg, 0, msg.length);
    const buf = this.readBuf;
    const onMsg: MessageHandler = (b, off, len, hdr) => this.handleMessage(ex, b, off, len, hdr);
    let sinceYield = 0;
    try {
      for (;;) {
        this.assertOpen();
        const n = this.handle.recv(buf, 0, buf.length);
        if (n < 0) {
          await this.waitReadable(timeoutMs);
          continue;
        }
        if (n > buf.length) {
          throw errnoError(90 /* EMSGSIZE */, 'recvmsg', `datagram of ${n} bytes exceeds the ${buf.length}-byte buffer`);
        }
        ex.datagrams++;
        forEachMessage(buf, 0, n, onMsg, this.header);
        if (ex.error) throw ex.error;
        if (ex.done) return;
        if (yieldEvery > 0 && ++sinceYield >= yieldEvery) {
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (err) {
      // The kernel may still be producing this dump: drain it before the next request.
      if (!ex.done) this.needsDrain = true;
      throw err;
    }
  }

  private handleMessage(ex: Exchange, buf: Buffer, off: number, len: number, hdr: NlMsgHeader): void {
    if (ex.done || ex.error) return; // rest of a datagram after the end (e.g. a trailing ACK)
    if (hdr.seq !== ex.seq) return; // stale reply of an abandoned request, or an unrelated message
    switch (hdr.type) {
      case NLMSG_NOOP:
        return;
      case NLMSG_ERROR: {
        const e = decodeErrorPayload(buf, off, len, hdr.flags);
        // An error ends the exchange as an ACK does: nothing more follows, no drain needed.
        if (e.errno !== 0) ex.error = kernelError(e.errno, ex.requestType, e.message);
        ex.done = true;
        return;
      }
      case NLMSG_DONE: {
        const errno = decodeDoneErrno(buf, off, len);
        // A dump ends here. A request ends here too: an ACK may follow (ignored later as rest of the exchange).
        if (errno !== 0) ex.error = kernelError(errno, ex.requestType);
        ex.done = true;
        return;
      }
      case NLMSG_OVERRUN:
        ex.error = errnoError(105 /* ENOBUFS */, 'netlink', 'NLMSG_OVERRUN');
        return;
    }
    if (hdr.flags & NLM_F_DUMP_INTR) ex.interrupted = true;
    ex.messages++;
    if (ex.onMessage) ex.onMessage(buf, off, len, hdr);
    else ex.replies.push({ header: { ...hdr }, data: Buffer.from(buf.subarray(off, off + len)) });
  }

  /** Reads and discards whatever is queued (including the rest of an abandoned dump). */
  private drain(): void {
    const buf = this.readBuf;
    for (let i = 0; i < 1_000_000; i++) {
      let n: number;
      try {
        n = this.handle.recv(buf, 0, buf.length);
      } catch {
        continue; // a pending socket error is consumed by the failing recv
      }
      if (n < 0) break;
    }
    this.needsDrain = false;
  }

  private waitReadable(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.wakeWaiter = null;
        resolve();
      };
      this.wakeWaiter = finish;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.wakeWaiter = null;
          this.handle.pollStop();
          reject(errnoError(110 /* ETIMEDOUT */, 'netlink', `no reply from the kernel within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.handle.pollOnce(finish);
    });
  }
}

function noop(): void {}

function trySetInt(handle: NativeHandle, level: number, option: number, value: number): void {
  try {
    handle.setInt(level, option, value);
  } catch {
    // Old kernels lack some options (EXT_ACK < 4.12, CAP_ACK < 4.3): optional comforts only.
  }
}

function kernelError(errno: number, requestType: number, extAck?: string): Error {
  const what = `request type 0x${requestType.toString(16).padStart(4, '0')}`;
  return errnoError(errno, 'netlink', extAck ? `${extAck} (${what})` : what);
}
