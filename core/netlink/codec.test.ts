/**
 * Wire-codec unit tests: attribute encoder/decoder round trips, nesting,
 * padding, byte order, unknown attributes, malformed input; message framing,
 * error/ACK payloads. No kernel needed.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AttributeDecoder, AttributeEncoder, HOST_LE } from './attributes';
import {
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
} from './constants';
import { errnoError, errnoName, isErrno, NetlinkDecodeError } from './errors';
import {
  decodeDoneErrno,
  decodeErrorPayload,
  decodeGenlHeader,
  decodeHeader,
  decodeNfgenHeader,
  encodeHeader,
  forEachMessage,
  MessageBuilder,
  newHeader,
  nlmsgAlign,
  setSequence,
} from './message';

/** Collects (type, flags, payload hex) of every attribute in a range. */
function listAttrs(buf: Buffer, start = 0, end = buf.length): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  const d = new AttributeDecoder(buf, start, end);
  while (d.next()) out.push([d.type, d.flags, d.bytes().toString('hex')]);
  return out;
}

function u16h(v: number): string {
  const b = Buffer.alloc(2);
  if (HOST_LE) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b.toString('hex');
}

describe('AttributeEncoder', () => {
  test('pads every attribute to 4 bytes and writes the unpadded length', () => {
    const buf = new AttributeEncoder().u8(1, 0xab).u16(2, 0x1234).string(3, 'abcde').finish();
    // u8: 4+1 -> 8; u16: 4+2 -> 8; string 'abcde\0': 4+6 -> 12
    assert.equal(buf.length, 8 + 8 + 12);
    assert.equal(buf.subarray(0, 2).toString('hex'), u16h(5));
    assert.equal(buf.subarray(8, 10).toString('hex'), u16h(6));
    assert.equal(buf.subarray(16, 18).toString('hex'), u16h(10));
    // padding bytes are zero
    assert.deepEqual([...buf.subarray(5, 8)], [0, 0, 0]);
    assert.deepEqual([...buf.subarray(26, 28)], [0, 0]);
  });

  test('host vs big-endian integers', () => {
    const buf = new AttributeEncoder().u32(1, 0x01020304).be32(2, 0x01020304).be16(3, 80).u64(4, 1n << 40n).be64(5, 258).finish();
    const attrs = listAttrs(buf);
    assert.equal(attrs[0][2], HOST_LE ? '04030201' : '01020304');
    assert.equal(attrs[1][2], '01020304');
    assert.equal(attrs[2][2], '0050');
    assert.equal(attrs[3][2], HOST_LE ? '0000000000010000' : '0000010000000000');
    assert.equal(attrs[4][2], '0000000000000102');
  });

  test('grows past its initial capacity', () => {
    const enc = new AttributeEncoder(16);
    const blob = Buffer.alloc(1000, 7);
    for (let i = 0; i < 20; i++) enc.bytes(i + 1, blob);
    const attrs = listAttrs(enc.finish());
    assert.equal(attrs.length, 20);
    assert.equal(attrs[19][0], 20);
    assert.equal(attrs[19][2], blob.toString('hex'));
  });

  test('nested attributes carry NLA_F_NESTED and the total length; unflagged on request', () => {
    const buf = new AttributeEncoder()
      .nest(1, (e) => e.u16(1, 2).nest(2, (f) => f.u8(1, 6)))
      .nest(3, (e) => e.u32(1, 9), false)
      .finish();
    const d = new AttributeDecoder(buf);
    assert.ok(d.next());
    assert.equal(d.type, 1);
    assert.ok(d.isNested);
    assert.equal(d.length, 8 + 4 + 8); // u16 attr, inner nest header, u8 attr
    const inner = d.nested();
    assert.ok(inner.next());
    assert.equal(inner.u16(), 2);
    assert.ok(inner.next());
    assert.equal(inner.type, 2);
    const innermost = inner.nested();
    assert.ok(innermost.next());
    assert.equal(innermost.u8(), 6);
    assert.equal(innermost.next(), false);
    assert.equal(inner.next(), false);
    assert.ok(d.next());
    assert.equal(d.type, 3);
    assert.equal(d.isNested, false);
    assert.equal(d.nested().next(), true);
    assert.equal(d.next(), false);
  });

  test('rejects attributes longer than 65535 bytes', () => {
    assert.throws(() => new AttributeEncoder().bytes(1, Buffer.alloc(70000)), RangeError);
  });
});

describe('AttributeEncoder growth', () => {
  test('every writer survives the buffer growing under it', () => {
    // A tiny initial capacity forces a reallocation inside each call.
    const writers: [string, (e: AttributeEncoder, t: number) => void, (d: AttributeDecoder) => unknown, unknown][] = [
      ['u8', (e, t) => e.u8(t, 0xab), (d) => d.u8(), 0xab],
      ['u16', (e, t) => e.u16(t, 0xabcd), (d) => d.u16(), 0xabcd],
      ['u32', (e, t) => e.u32(t, 0xdeadbeef), (d) => d.u32(), 0xdeadbeef],
      ['u64', (e, t) => e.u64(t, 0x0102030405060708n), (d) => d.u64(), 0x0102030405060708n],
      ['be16', (e, t) => e.be16(t, 0x1234), (d) => d.be16(), 0x1234],
      ['be32', (e, t) => e.be32(t, 0x12345678), (d) => d.be32(), 0x12345678],
      ['be64', (e, t) => e.be64(t, 0x1122334455667788n), (d) => d.be64(), 0x1122334455667788n],
    ];
    for (const [name, write, read, expected] of writers) {
      const e = new AttributeEncoder(4);
      for (let t = 1; t <= 40; t++) write(e, t);
      const d = new AttributeDecoder(e.finish());
      let n = 0;
      while (d.next()) {
        n++;
        assert.equal(d.type, n, name);
        assert.equal(read(d), expected, `${name} attribute ${n}`);
      }
      assert.equal(n, 40, name);
    }
  });
});

describe('AttributeDecoder', () => {
  test('round trip of every accessor', () => {
    const buf = new AttributeEncoder()
      .u8(1, 200)
      .u16(2, 65000)
      .u32(3, 0xfedcba98)
      .s32(4, -5)
      .u64(5, 0xffffffffffffffffn)
      .be16(6, 8080)
      .be32(7, 0x80000001)
      .be64(8, 123456789012345n)
      .string(9, 'wrr')
      .bytes(10, Buffer.from([10, 0, 0, 1]))
      .flag(11)
      .u64(12, 2 ** 40 + 7)
      .finish();
    const d = new AttributeDecoder(buf);
    const seen: Record<number, unknown> = {};
    while (d.next()) {
      switch (d.type) {
        case 1: seen[1] = d.u8(); break;
        case 2: seen[2] = d.u16(); break;
        case 3: seen[3] = d.u32(); break;
        case 4: seen[4] = d.s32(); break;
        case 5: seen[5] = d.u64(); break;
        case 6: seen[6] = d.be16(); break;
        case 7: seen[7] = d.be32(); break;
        case 8: seen[8] = [d.be64(), d.be64Number()]; break;
        case 9: seen[9] = d.string(); break;
        case 10: seen[10] = [...d.bytes()]; break;
        case 11: seen[11] = d.length; break;
        case 12: seen[12] = [d.u64(), d.u64Number()]; break;
      }
    }
    assert.deepEqual(seen, {
      1: 200,
      2: 65000,
      3: 0xfedcba98,
      4: -5,
      5: 0xffffffffffffffffn,
      6: 8080,
      7: 0x80000001,
      8: [123456789012345n, 123456789012345],
      9: 'wrr',
      10: [10, 0, 0, 1],
      11: 0,
      12: [2n ** 40n + 7n, 2 ** 40 + 7],
    });
  });

  test('masks NLA_F_NESTED and NLA_F_NET_BYTEORDER from the type, exposes them as flags', () => {
    const enc = new AttributeEncoder().bytes(5 | NLA_F_NET_BYTEORDER, Buffer.from([0, 1]));
    const buf = enc.finish();
    const d = new AttributeDecoder(buf);
    assert.ok(d.next());
    assert.equal(d.type, 5);
    assert.equal(d.flags, NLA_F_NET_BYTEORDER);
    assert.ok(d.isNetByteOrder);
    assert.equal(d.isNested, false);
    assert.equal(d.be16(), 1);
    const nested = new AttributeEncoder().nest(7, (e) => e.u8(1, 1)).finish();
    const n = new AttributeDecoder(nested);
    assert.ok(n.next());
    assert.equal(n.type, 7);
    assert.equal(n.flags, NLA_F_NESTED);
  });

  test('unknown attributes are skipped by simply not reading them', () => {
    const buf = new AttributeEncoder().u32(99, 1).string(1, 'x').bytes(1000, Buffer.alloc(37)).u16(2, 7).finish();
    const d = new AttributeDecoder(buf);
    let name = '';
    let val = 0;
    while (d.next()) {
      if (d.type === 1) name = d.string();
      else if (d.type === 2) val = d.u16();
    }
    assert.equal(name, 'x');
    assert.equal(val, 7);
  });

  test('decodes a sub-range only and can be reused with reset()', () => {
    const a = new AttributeEncoder().u32(1, 11).finish();
    const framed = Buffer.concat([Buffer.from([9, 9, 9, 9]), a, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const d = new AttributeDecoder(framed, 4, 4 + a.length);
    assert.ok(d.next());
    assert.equal(d.u32(), 11);
    assert.equal(d.next(), false);
    d.reset(a);
    assert.ok(d.next());
    assert.equal(d.u32(), 11);
    const into = new AttributeDecoder(Buffer.alloc(0));
    const nest = new AttributeEncoder().nest(1, (e) => e.u8(2, 3)).finish();
    const outer = new AttributeDecoder(nest);
    assert.ok(outer.next());
    assert.equal(outer.nested(into), into);
    assert.ok(into.next());
    assert.equal(into.u8(), 3);
  });

  test('string without a NUL terminator and with embedded padding', () => {
    const raw = new AttributeEncoder().bytes(1, Buffer.from('rr')).finish();
    const d = new AttributeDecoder(raw);
    assert.ok(d.next());
    assert.equal(d.string(), 'rr');
  });

  test('trailing bytes shorter than a header are ignored', () => {
    const buf = Buffer.concat([new AttributeEncoder().u8(1, 1).finish(), Buffer.from([0, 0])]);
    const d = new AttributeDecoder(buf);
    assert.ok(d.next());
    assert.equal(d.next(), false);
  });

  test('an unpadded last attribute is accepted', () => {
    const buf = new AttributeEncoder().u8(1, 42).finish().subarray(0, 5);
    const d = new AttributeDecoder(buf);
    assert.ok(d.next());
    assert.equal(d.u8(), 42);
    assert.equal(d.next(), false);
  });

  test('length running past the end -> NetlinkDecodeError, not a crash', () => {
    const buf = new AttributeEncoder().u32(1, 5).finish();
    buf.writeUInt16LE(200, 0);
    if (!HOST_LE) buf.writeUInt16BE(200, 0);
    const d = new AttributeDecoder(buf);
    assert.throws(() => d.next(), (e: unknown) => e instanceof NetlinkDecodeError && e.code === 'EBADMSG');
    assert.equal(d.next(), false); // the decoder stops after an error
  });

  test('length smaller than the header -> error', () => {
    const buf = Buffer.alloc(8);
    const d = new AttributeDecoder(buf); // len 0
    assert.throws(() => d.next(), NetlinkDecodeError);
  });

  test('truncated attribute in the middle of a nest -> error', () => {
    const buf = new AttributeEncoder().nest(1, (e) => e.u32(1, 1).u32(2, 2)).finish();
    const cut = buf.subarray(0, buf.length - 4); // outer length now runs past the end
    assert.throws(() => new AttributeDecoder(cut).next(), NetlinkDecodeError);
  });

  test('accessor too wide for the payload -> error', () => {
    const d = new AttributeDecoder(new AttributeEncoder().u16(1, 1).finish());
    assert.ok(d.next());
    assert.throws(() => d.u32(), NetlinkDecodeError);
    assert.throws(() => d.be64(), NetlinkDecodeError);
    assert.equal(d.u16(), 1);
  });

  test('range outside the buffer -> error', () => {
    assert.throws(() => new AttributeDecoder(Buffer.alloc(4), 0, 8), NetlinkDecodeError);
    assert.throws(() => new AttributeDecoder(Buffer.alloc(4), 3, 2), NetlinkDecodeError);
  });
});

describe('messages', () => {
  test('MessageBuilder writes nlmsghdr + genlmsghdr + attributes with the right length', () => {
    const msg = new MessageBuilder(0x1a, NLM_F_REQUEST | NLM_F_DUMP).genl(8, 1).nest(1, (e) => e.u16(1, 2).be16(4, 80)).finish();
    assert.equal(msg.length, 16 + 4 + 4 + 8 + 8);
    const h = decodeHeader(msg);
    assert.deepEqual(h, { length: msg.length, type: 0x1a, flags: 0x301, seq: 0, pid: 0 });
    assert.deepEqual(decodeGenlHeader(msg, 0), { cmd: 8, version: 1 });
    const attrs = listAttrs(msg, 20);
    assert.equal(attrs.length, 1);
    assert.equal(attrs[0][0], 1);
  });

  test('the derived IPVS dest-dump request from the reference has the documented SERVICE nest', () => {
    const addr = Buffer.alloc(16);
    addr.set([10, 0, 0, 1]);
    const msg = new MessageBuilder(42, NLM_F_REQUEST | NLM_F_DUMP)
      .genl(8, 1)
      .nest(1, (e) => e.u16(1, 2).u16(2, 6).bytes(3, addr).be16(4, 80), false)
      .finish();
    const d = new AttributeDecoder(msg, 20);
    assert.ok(d.next());
    assert.equal(d.length, 44); // the reference's "nest len 44" is the nest's payload
    if (HOST_LE) {
      assert.equal(msg.subarray(24, 24 + 44).toString('hex'),
        '06000100' + '0200' + '0000' + '06000200' + '0600' + '0000' + '14000300' + '0a000001' + '00'.repeat(12) + '06000400' + '0050' + '0000');
    }
  });

  test('nfgenmsg encodes res_id big-endian', () => {
    const msg = new MessageBuilder(0x0104, NLM_F_REQUEST | NLM_F_DUMP).nfgen(10, 0, 0x0102).finish();
    assert.deepEqual(decodeNfgenHeader(msg, 0), { family: 10, version: 0, resId: 0x0102 });
    assert.equal(msg.subarray(18, 20).toString('hex'), '0102');
  });

  test('setSequence / encodeHeader / decodeHeader round trip', () => {
    const buf = Buffer.alloc(32);
    encodeHeader(buf, 16, { length: 16, type: 3, flags: 2, seq: 0xdeadbeef, pid: 77 });
    assert.deepEqual(decodeHeader(buf, 16), { length: 16, type: 3, flags: 2, seq: 0xdeadbeef, pid: 77 });
    setSequence(buf, 5, 6, 16);
    const h = decodeHeader(buf, 16, newHeader());
    assert.equal(h.seq, 5);
    assert.equal(h.pid, 6);
    assert.throws(() => decodeHeader(buf, 20), NetlinkDecodeError);
  });

  test('forEachMessage walks aligned messages and reuses one header object', () => {
    const a = new MessageBuilder(0x100, 2).nfgen(2).u8(1, 1).finish(); // 16+4+8
    const b = new MessageBuilder(0x100, 2).nfgen(2).string(2, 'abcde').finish(); // 16+4+12
    const done = new MessageBuilder(NLMSG_DONE, 2).rawPadded(Buffer.alloc(4)).finish();
    const dgram = Buffer.concat([Buffer.from(a), Buffer.from(b), Buffer.from(done)]);
    const seen: Array<[number, number, number]> = [];
    const headers = new Set<object>();
    const n = forEachMessage(dgram, 0, dgram.length, (buf, off, len, h) => {
      seen.push([off, len, h.type]);
      headers.add(h);
    });
    assert.equal(n, 3);
    assert.deepEqual(seen, [[0, a.length, 0x100], [a.length, b.length, 0x100], [a.length + b.length, 20, NLMSG_DONE]]);
    assert.equal(headers.size, 1);
    assert.equal(nlmsgAlign(21), 24);
  });

  test('forEachMessage rejects a length beyond the datagram or below a header', () => {
    const a = Buffer.from(new MessageBuilder(0x100, 2).u32(1, 1).finish());
    const cut = a.subarray(0, a.length - 2);
    assert.throws(() => forEachMessage(cut, 0, cut.length, () => {}), NetlinkDecodeError);
    const bad = Buffer.from(a);
    bad.writeUInt32LE(8, 0);
    if (!HOST_LE) bad.writeUInt32BE(8, 0);
    assert.throws(() => forEachMessage(bad, 0, bad.length, () => {}), NetlinkDecodeError);
  });

  test('NLMSG_ERROR: errno, ACK, capped with extended-ack TLVs', () => {
    const req = new MessageBuilder(0x1a, 1).genl(3, 1).u32(1, 1).finish();
    // full (uncapped) error with the request echoed
    const payload = Buffer.alloc(4 + req.length);
    if (HOST_LE) payload.writeInt32LE(-2, 0);
    else payload.writeInt32BE(-2, 0);
    req.copy(payload, 4);
    const err = new MessageBuilder(NLMSG_ERROR, 0).rawPadded(payload).finish();
    assert.deepEqual(decodeErrorPayload(err, 0, err.length, 0), { errno: 2 });

    // capped error with TLVs: s32 + request header only + MSG + OFFS
    const capped = Buffer.alloc(4 + 16);
    if (HOST_LE) capped.writeInt32LE(-22, 0);
    else capped.writeInt32BE(-22, 0);
    req.copy(capped, 4, 0, 16);
    const withTlvs = new MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS)
      .rawPadded(capped)
      .string(1, 'Unknown attribute')
      .u32(2, 24)
      .finish();
    assert.deepEqual(decodeErrorPayload(withTlvs, 0, withTlvs.length, NLM_F_CAPPED | NLM_F_ACK_TLVS), {
      errno: 22,
      message: 'Unknown attribute',
      badAttributeOffset: 24,
    });

    const ackPayload = Buffer.alloc(20);
    const ack = new MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED).rawPadded(ackPayload).finish();
    assert.equal(decodeErrorPayload(ack, 0, ack.length, NLM_F_CAPPED).errno, 0);
    assert.throws(() => decodeErrorPayload(ack, 0, 18, 0), NetlinkDecodeError);
  });

  test('NLMSG_DONE error payload', () => {
    const p = Buffer.alloc(4);
    if (HOST_LE) p.writeInt32LE(-16, 0);
    else p.writeInt32BE(-16, 0);
    const done = new MessageBuilder(NLMSG_DONE, 2).rawPadded(p).finish();
    assert.equal(decodeDoneErrno(done, 0, done.length), 16);
    const bare = new MessageBuilder(NLMSG_DONE, 2).finish();
    assert.equal(decodeDoneErrno(bare, 0, bare.length), 0);
  });
});

describe('errors', () => {
  test('errnoError carries code, positive errno and syscall', () => {
    const e = errnoError(2, 'netlink', 'family "X" not found');
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.errno, 2);
    assert.equal(e.syscall, 'netlink');
    assert.match(e.message, /^ENOENT: .*family "X" not found/);
    assert.ok(isErrno(e, 'ENOENT'));
    assert.ok(!isErrno(e, 'EPERM'));
    assert.equal(errnoName(105), 'ENOBUFS');
    assert.equal(errnoName(99999), 'E99999');
  });
});
