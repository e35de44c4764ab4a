/**
 * NetlinkSocket protocol logic over a scripted fake handle: the paths the
 * kernel rarely takes on demand (NLM_F_DUMP_INTR, DONE carrying an error,
 * extended-ack errors, replies split over datagrams, EAGAIN waits, timeouts,
 * truncated and malformed datagrams, batch delivery edge cases). The same
 * logic runs against the real kernel in kernel.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeHandle } from './binding';
import {
  NETLINK_NETFILTER,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
} from './constants';
import { errnoError } from './errors';
import { decodeHeader, MessageBuilder, NlMsgHeader, setSequence } from './message';
import { HOST_LE } from './attributes';
import { NetlinkSocket } from './socket';

type Responder = (msg: Buffer, h: NlMsgHeader) => Buffer[] | undefined;

class FakeHandle implements NativeHandle {
  queue: Buffer[] = [];
  sent: Buffer[] = [];
  closed = false;
  readable: (() => void) | null = null;
  batch: { buffers: Buffer[]; lengths: Uint32Array; onBatch: (n: number) => void; onError: (e: Error) => void } | null = null;
  constructor(public respond: Responder = () => undefined) {}
  bind(): void {}
  portId(): number {
    return 4242;
  }
  fd(): number {
    return this.closed ? -1 : 99;
  }
  setInt(): void {}
  getInt(): number {
    return 212992;
  }
  addMembership(): void {}
  dropMembership(): void {}
  send(buf: Buffer, offset: number, length: number): number {
    const copy = Buffer.from(buf.subarray(offset, offset + length));
    this.sent.push(copy);
    const replies = this.respond(copy, decodeHeader(copy));
    if (replies) this.queue.push(...replies);
    return length;
  }
  recv(buf: Buffer, offset: number, length: number): number {
    const d = this.queue.shift();
    if (!d) return -1;
    d.copy(buf, offset, 0, Math.min(length, d.length));
    return d.length;
  }
  pollStart(buffers: Buffer[], lengths: Uint32Array, onBatch: (n: number) => void, onError: (e: Error) => void): void {
    this.batch = { buffers, lengths, onBatch, onError };
  }
  pollOnce(cb: () => void): void {
    this.readable = cb;
  }
  pollStop(): void {
    this.readable = null;
  }
  ref(): void {}
  unref(): void {}
  close(): void {
    this.closed = true;
    this.readable = null;
    this.batch = null;
  }
  /** Queues datagrams and signals readability (as the poller would). */
  arrive(...datagrams: Buffer[]): void {
    this.queue.push(...datagrams);
    const cb = this.readable;
    this.readable = null;
    cb?.();
  }
}

function s32(v: number): Buffer {
  const b = Buffer.alloc(4);
  if (HOST_LE) b.writeInt32LE(v);
  else b.writeInt32BE(v);
  return b;
}

/** A reply message with a given sequence number; payload = nfgenmsg + one u32 attribute. */
function reply(type: number, flags: number, seq: number, value = 0): Buffer {
  const m = Buffer.from(new MessageBuilder(type, flags).nfgen(2).u32(1, value).finish());
  setSequence(m, seq, 4242);
  return m;
}

function done(seq: number, errno = 0): Buffer {
  const m = Buffer.from(new MessageBuilder(NLMSG_DONE, NLM_F_MULTI).rawPadded(s32(-errno)).finish());
  setSequence(m, seq, 4242);
  return m;
}

function ack(seq: number, errno = 0, extAck?: string): Buffer {
  const payload = Buffer.concat([s32(-errno), Buffer.alloc(16)]);
  const b = new MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED | (extAck ? NLM_F_ACK_TLVS : 0)).rawPadded(payload);
  if (extAck) b.string(1, extAck);
  const m = Buffer.from(b.finish());
  setSequence(m, seq, 4242);
  return m;
}

const dumpReq = (): Buffer => Buffer.from(new MessageBuilder(0x0101, NLM_F_DUMP).nfgen(0).finish());
const getReq = (): Buffer => Buffer.from(new MessageBuilder(0x0105, 0).nfgen(0).finish());

function valueOf(buf: Buffer, off: number): number {
  return HOST_LE ? buf.readUInt32LE(off + 24) : buf.readUInt32BE(off + 24);
}

describe('NetlinkSocket (scripted handle)', () => {
  test('dump: messages over several datagrams, stale replies skipped, DUMP_INTR reported, DONE ends', async () => {
    const fake = new FakeHandle((_m, h) => [
      Buffer.concat([reply(0x100, NLM_F_MULTI, h.seq - 1, 999), reply(0x100, NLM_F_MULTI, h.seq, 1), reply(0x100, NLM_F_MULTI, h.seq, 2)]),
      Buffer.concat([reply(0x100, NLM_F_MULTI | NLM_F_DUMP_INTR, h.seq, 3)]),
      Buffer.concat([reply(0x100, NLM_F_MULTI, h.seq, 4), done(h.seq)]),
    ]);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const values: number[] = [];
    const r = await sock.dump(dumpReq(), (buf, off) => values.push(valueOf(buf, off)));
    assert.deepEqual(values, [1, 2, 3, 4]);
    assert.deepEqual(r, { messages: 4, datagrams: 3, interrupted: true });
    const sentHdr = decodeHeader(fake.sent[0]);
    assert.equal(sentHdr.flags, NLM_F_REQUEST | NLM_F_DUMP);
  });

  test('dump: DONE carrying an error rejects with its code', async () => {
    const fake = new FakeHandle((_m, h) => [Buffer.concat([reply(0x100, NLM_F_MULTI, h.seq, 1), done(h.seq, 16)])]);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    await assert.rejects(sock.dump(dumpReq(), () => {}), (e: NodeJS.ErrnoException) => e.code === 'EBUSY' && e.errno === 16);
  });

  test('request: adds REQUEST|ACK, increments seq, resolves at the ACK, handles MULTI-without-DONE', async () => {
    const fake = new FakeHandle((_m, h) => [reply(0x105, NLM_F_MULTI, h.seq, 7), ack(h.seq)]);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const [a, b] = await Promise.all([sock.request(getReq()), sock.request(getReq())]);
    assert.equal(a.length, 1);
    assert.equal(valueOf(a[0].data, 0), 7);
    assert.equal(a[0].header.type, 0x105);
    const h1 = decodeHeader(fake.sent[0]);
    const h2 = decodeHeader(fake.sent[1]);
    assert.equal(h1.flags, NLM_F_REQUEST | NLM_F_ACK);
    assert.equal(h2.seq, (h1.seq + 1) >>> 0);
    assert.equal(b[0].header.seq, h2.seq);
  });

  test('request: NLMSG_ERROR with extended ack -> Error with code, errno, syscall and the kernel text', async () => {
    const fake = new FakeHandle((_m, h) => [ack(h.seq, 22, 'missing CTA_TUPLE_ORIG')]);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    await assert.rejects(sock.request(getReq()), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.errno, 22);
      assert.equal(e.syscall, 'netlink');
      assert.match(e.message, /missing CTA_TUPLE_ORIG/);
      assert.match(e.message, /0x0105/);
      return true;
    });
  });

  test('EAGAIN waits for readability, then continues', async () => {
    let seq = 0;
    const fake = new FakeHandle((_m, h) => {
      seq = h.seq;
      return [reply(0x100, NLM_F_MULTI, h.seq, 1)];
    });
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const values: number[] = [];
    const p = sock.dump(dumpReq(), (buf, off) => values.push(valueOf(buf, off)));
    await new Promise((r) => setImmediate(r));
    assert.ok(fake.readable, 'waiting for readability');
    fake.arrive(Buffer.concat([reply(0x100, NLM_F_MULTI, seq, 2), done(seq)]));
    const r = await p;
    assert.deepEqual(values, [1, 2]);
    assert.equal(r.datagrams, 2);
  });

  test('timeout rejects with ETIMEDOUT; leftovers are drained before the next request', async () => {
    let calls = 0;
    const fake = new FakeHandle((_m, h) => {
      calls++;
      return calls === 1 ? [reply(0x100, NLM_F_MULTI, h.seq, 1)] : [reply(0x105, 0, h.seq, 5), ack(h.seq)];
    });
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const t0 = Date.now();
    await assert.rejects(sock.dump(dumpReq(), () => {}, { timeoutMs: 40 }), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
    assert.ok(Date.now() - t0 >= 35);
    fake.queue.push(reply(0x100, NLM_F_MULTI, 12345, 9)); // late part of the abandoned dump
    const replies = await sock.request(getReq());
    assert.equal(fake.queue.length, 0);
    assert.equal(replies.length, 1);
    assert.equal(valueOf(replies[0].data, 0), 5);
  });

  test('truncated datagram -> EMSGSIZE; malformed datagram -> EBADMSG; the socket stays usable', async () => {
    let mode = 'big';
    const fake = new FakeHandle((_m, h) => {
      if (mode === 'big') return [Buffer.alloc(5000)];
      if (mode === 'bad') {
        const m = reply(0x100, NLM_F_MULTI, h.seq, 1);
        m.writeUInt32LE(4000, 0);
        return [m];
      }
      return [reply(0x105, 0, h.seq, 3), ack(h.seq)];
    });
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake, 4096);
    await assert.rejects(sock.dump(dumpReq(), () => {}), (e: NodeJS.ErrnoException) => e.code === 'EMSGSIZE');
    mode = 'bad';
    await assert.rejects(sock.dump(dumpReq(), () => {}), (e: NodeJS.ErrnoException) => e.code === 'EBADMSG');
    mode = 'ok';
    assert.equal((await sock.request(getReq())).length, 1);
  });

  test('close while waiting rejects with EBADF; later calls too', async () => {
    const fake = new FakeHandle(() => undefined);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const p = sock.dump(dumpReq(), () => {});
    await new Promise((r) => setImmediate(r));
    sock.close();
    await assert.rejects(p, (e: NodeJS.ErrnoException) => e.code === 'EBADF');
    await assert.rejects(sock.request(getReq()), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
    assert.ok(fake.closed);
  });

  test('subscribe: batches, truncation and malformed datagrams reported, ENOBUFS counted, requests refused', async () => {
    const fake = new FakeHandle();
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    const seen: number[] = [];
    const errors: string[] = [];
    const sub = sock.subscribe(
      [1, 3],
      (batch) => {
        batch.forEachMessage((buf, off) => seen.push(valueOf(buf, off)));
      },
      (e) => errors.push((e as NodeJS.ErrnoException).code ?? '?'),
      { batchSize: 4, datagramSize: 4096 },
    );
    const b = fake.batch;
    assert.ok(b);
    assert.equal(b.buffers.length, 4);
    const put = (i: number, d: Buffer, len = d.length): void => {
      d.copy(b.buffers[i]);
      b.lengths[i] = len;
    };
    put(0, Buffer.concat([reply(0x100, 0, 0, 10), reply(0x100, 0, 0, 11)]));
    put(1, reply(0x100, 0, 0, 12), 9000); // truncated by the kernel
    const bad = reply(0x100, 0, 0, 13);
    bad.writeUInt32LE(3000, 0);
    put(2, bad);
    put(3, reply(0x102, 0, 0, 14));
    b.onBatch(4);
    b.onError(errnoError(105, 'recvmsg'));
    assert.deepEqual(seen, [10, 11, 14]);
    assert.deepEqual(errors, ['EMSGSIZE', 'EBADMSG', 'ENOBUFS']);
    assert.deepEqual(sub.stats, { batches: 1, datagrams: 4, overruns: 1, errors: 2 });
    await assert.rejects(sock.request(getReq()), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
    assert.throws(() => sock.subscribe([1], () => {}, () => {}), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
    sub.close();
    assert.ok(fake.closed);
  });

  test('an exception in onMessage aborts the dump with that exception', async () => {
    const fake = new FakeHandle((_m, h) => [Buffer.concat([reply(0x100, NLM_F_MULTI, h.seq, 1), reply(0x100, NLM_F_MULTI, h.seq, 2)])]);
    const sock = NetlinkSocket.fromHandle(NETLINK_NETFILTER, fake);
    let calls = 0;
    await assert.rejects(
      sock.dump(dumpReq(), () => {
        calls++;
        throw new RangeError('stop');
      }),
      RangeError,
    );
    assert.equal(calls, 1);
  });
});
