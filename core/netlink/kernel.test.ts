/**
 * Integration tests of the netlink layer against the HOST kernel (generic
 * netlink controller, ctnetlink in a throw-away network namespace). They need
 * root and `ip`; without them they skip locally and fail under CI=true.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AttributeDecoder } from './attributes';
import {
  NETLINK_GENERIC,
  NETLINK_NETFILTER,
  NETLINK_ROUTE,
  NLM_F_DUMP,
  NLMSG_HDRLEN,
  NFGEN_HDRLEN,
  SO_RCVBUF,
  SOL_SOCKET,
} from './constants';
import { familyCache, getFamily, resolveFamily } from './genl';
import { decodeNfgenHeader, MessageBuilder, setSequence } from './message';
import { withNetns } from './netns';
import { SocketPool } from './pool';
import { NetlinkSocket } from './socket';
import { conntrackNewMessage, kernelTestBlocker, skipUnlessPossible, TestNetns } from '../../test/support/kernel';

const CT_GET = 0x0101;
const CT_GET_STATS_CPU = 0x0104;
const CT_GET_STATS = 0x0105;
const CT_NEW_REPLY = 0x0100;

const blocker = kernelTestBlocker(['ip']);
let ns: TestNetns | undefined;

function statsRequest(): Buffer {
  return Buffer.from(new MessageBuilder(CT_GET_STATS, 0).nfgen(0).finish());
}

/** CTA_STATS_GLOBAL_ENTRIES from a GET_STATS reply. */
function globalEntries(data: Buffer): number {
  const d = new AttributeDecoder(data, NLMSG_HDRLEN + NFGEN_HDRLEN);
  while (d.next()) if (d.type === 1) return d.be32();
  throw new Error('no CTA_STATS_GLOBAL_ENTRIES');
}

/** Original-direction source port of a ctnetlink conntrack message. */
function origSourcePort(buf: Buffer, off: number, len: number): number {
  const d = new AttributeDecoder(buf, off + NLMSG_HDRLEN + NFGEN_HDRLEN, off + len);
  while (d.next()) {
    if (d.type !== 1) continue;
    const tuple = d.nested();
    while (tuple.next()) {
      if (tuple.type !== 2) continue;
      const proto = tuple.nested();
      while (proto.next()) if (proto.type === 2) return proto.be16();
    }
  }
  return -1;
}

function udpFlow(sport: number) {
  return { src: '10.9.0.1', dst: '10.9.0.2', proto: 17, sport, dport: 53 };
}

function possibleCpus(): number {
  let n = 0;
  for (const part of fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

function netnsInode(p: string): string {
  return fs.readlinkSync(p);
}

describe('netlink against the host kernel', () => {
  before(() => {
    if (!blocker) ns = TestNetns.create('lvsagent-nltest');
  });
  after(() => ns?.destroy());

  test('sockets of every supported protocol open, bind and report a port id', (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    for (const proto of [NETLINK_ROUTE, NETLINK_NETFILTER, NETLINK_GENERIC]) {
      const s = NetlinkSocket.open(proto);
      assert.ok(s.portId > 0, `port id for protocol ${proto}`);
      assert.ok(s.getOption(SOL_SOCKET, SO_RCVBUF) > 0);
      s.close();
      s.close(); // idempotent
      assert.ok(s.isClosed);
    }
  });

  test('generic netlink: nlctrl resolves to 16, a missing family is ENOENT, lookups are cached', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const s = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      const ctrl = await getFamily(s, 'nlctrl');
      assert.equal(ctrl.id, 16);
      assert.equal(ctrl.name, 'nlctrl');
      assert.ok(ctrl.groups.has('notify'));
      const [a, b] = await Promise.all([resolveFamily(s, 'nlctrl'), resolveFamily(s, 'nlctrl')]);
      assert.equal(a, b);
      assert.equal(await resolveFamily(s, 'nlctrl'), a);
      familyCache.invalidate('nlctrl');
      assert.notEqual(await resolveFamily(s, 'nlctrl'), a);
      const missing = `nx${process.pid}`; // < 16 bytes: longer names are EINVAL (GENL_NAMSIZ)
      await assert.rejects(resolveFamily(s, missing), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.errno, 2);
        assert.equal(err.syscall, 'netlink');
        assert.match(err.message, new RegExp(missing));
        return true;
      });
      // the socket is still usable after an error reply
      assert.equal((await getFamily(s, 'nlctrl')).id, 16);
    } finally {
      s.close();
    }
  });

  test('withNetns switches the thread, returns the result, and always switches back', (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const target = ns as TestNetns;
    const original = netnsInode('/proc/thread-self/ns/net');
    const targetIno = `net:[${fs.statSync(target.path).ino}]`;
    assert.notEqual(original, targetIno);
    const inside = withNetns(target.path, () => netnsInode('/proc/thread-self/ns/net'));
    assert.equal(inside, targetIno);
    assert.equal(netnsInode('/proc/thread-self/ns/net'), original);
    // by name, and back after a throw
    assert.throws(() => withNetns(target.name, () => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(netnsInode('/proc/thread-self/ns/net'), original);
    // files opened inside belong to the namespace: its loopback only, no host interfaces
    const devs = withNetns(target.name, () => fs.readFileSync('/proc/thread-self/net/dev', 'utf8'));
    const names = devs.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);
    assert.deepEqual(names, ['lo']);
    // nesting: inner call goes to the original namespace (through an fd path), then back to the target
    const fd = fs.openSync('/proc/thread-self/ns/net', 'r');
    try {
      const seen = withNetns(target.name, () => [
        withNetns(`/proc/${process.pid}/fd/${fd}`, () => netnsInode('/proc/thread-self/ns/net')),
        netnsInode('/proc/thread-self/ns/net'),
      ]);
      assert.deepEqual(seen, [original, targetIno]);
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(netnsInode('/proc/thread-self/ns/net'), original);
  });

  test('withNetns errors carry code/errno/syscall (ENOENT, EINVAL) and refuse async callbacks', (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    assert.throws(() => withNetns('/var/run/netns/lvsagent-does-not-exist', () => 1), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.errno, 2);
      assert.equal(err.syscall, 'open');
      return true;
    });
    assert.throws(() => withNetns('/etc/hostname', () => 1), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EINVAL');
      assert.equal(err.syscall, 'setns');
      assert.match(err.message, /not a network namespace/);
      return true;
    });
    assert.throws(() => withNetns((ns as TestNetns).path, async () => 1), TypeError);
  });

  test('unprivileged: setns is EPERM (mentions CAP_SYS_ADMIN), ctnetlink requests are EPERM', (t) => {
    if (skipUnlessPossible(t, blocker ?? kernelTestBlocker(['setpriv']))) return;
    const index = path.join(__dirname, 'index.js');
    const script = `
      const nl = require(${JSON.stringify(index)});
      const out = {};
      try { nl.withNetns(${JSON.stringify((ns as TestNetns).path)}, () => 1); } catch (e) { out.setns = [e.code, e.errno, e.syscall, e.message]; }
      const s = nl.NetlinkSocket.open(nl.NETLINK_NETFILTER);
      s.request(new nl.MessageBuilder(0x0105, 0).nfgen(0).finish()).then(
        () => { out.stats = 'ok'; }, (e) => { out.stats = [e.code, e.errno, e.syscall]; })
        .finally(() => { s.close(); process.stdout.write(JSON.stringify(out)); });`;
    // root without any capability (empty bounding set): still able to read the checkout wherever it lives
    const r = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, '-e', script], {
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { setns: [string, number, string, string]; stats: [string, number, string] };
    assert.equal(out.setns[0], 'EPERM');
    assert.equal(out.setns[1], 1);
    assert.equal(out.setns[2], 'setns');
    assert.match(out.setns[3], /CAP_SYS_ADMIN/);
    assert.deepEqual(out.stats, ['EPERM', 1, 'netlink']);
  });

  test('ctnetlink in a namespace: GET_STATS (MULTI reply, no DONE) counts exactly what was created', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const s = NetlinkSocket.open(NETLINK_NETFILTER, { netns: (ns as TestNetns).name });
    try {
      const before = await s.request(statsRequest());
      assert.equal(before.length, 1);
      assert.equal(before[0].header.type, CT_GET_STATS);
      const base = globalEntries(before[0].data);
      for (let i = 0; i < 25; i++) await s.request(conntrackNewMessage(udpFlow(1000 + i)));
      const afterReplies = await s.request(statsRequest());
      assert.equal(globalEntries(afterReplies[0].data), base + 25);
      // creating the same flow again: EEXIST with code
      await assert.rejects(s.request(conntrackNewMessage(udpFlow(1000))), (err: NodeJS.ErrnoException) => err.code === 'EEXIST');
      // the host namespace does not see these entries
      const host = NetlinkSocket.open(NETLINK_NETFILTER);
      try {
        let seen = 0;
        await host.dump(new MessageBuilder(CT_GET, NLM_F_DUMP).nfgen(0).finish(), (b, o, l) => {
          const sp = origSourcePort(b, o, l);
          if (sp >= 1000 && sp < 1025) seen++;
        });
        assert.equal(seen, 0);
      } finally {
        host.close();
      }
    } finally {
      s.close();
    }
  });

  test('GET_STATS_CPU dump: one message per possible CPU with distinct res_id', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const s = NetlinkSocket.open(NETLINK_NETFILTER, { netns: (ns as TestNetns).name });
    try {
      const cpus: number[] = [];
      const r = await s.dump(new MessageBuilder(CT_GET_STATS_CPU, NLM_F_DUMP).nfgen(0).finish(), (buf, off, len, h) => {
        assert.equal(h.type, CT_GET_STATS_CPU);
        cpus.push(decodeNfgenHeader(buf, off).resId);
      });
      assert.equal(r.messages, possibleCpus());
      assert.equal(new Set(cpus).size, cpus.length);
      assert.equal(r.interrupted, false);
    } finally {
      s.close();
    }
  });

  test('a large dump streams over many datagrams; an abandoned dump is drained; stale replies are ignored', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const target = ns as TestNetns;
    const s = NetlinkSocket.open(NETLINK_NETFILTER, { netns: target.name });
    const N = 3000;
    try {
      for (let i = 0; i < N; i++) s.send(conntrackNewMessage(udpFlow(20000 + i)));
      const dumpAll = async (): Promise<{ ports: Set<number>; datagrams: number; messages: number }> => {
        const ports = new Set<number>();
        const r = await s.dump(new MessageBuilder(CT_GET, NLM_F_DUMP).nfgen(2).finish(), (buf, off, len, h) => {
          assert.equal(h.type, CT_NEW_REPLY);
          const sp = origSourcePort(buf, off, len);
          if (sp >= 20000 && sp < 20000 + N) ports.add(sp);
        });
        return { ports, datagrams: r.datagrams, messages: r.messages };
      };
      const first = await dumpAll();
      assert.equal(first.ports.size, N);
      assert.ok(first.datagrams > 5, `datagrams: ${first.datagrams}`);

      // abandon a dump from inside the callback
      await assert.rejects(
        s.dump(new MessageBuilder(CT_GET, NLM_F_DUMP).nfgen(2).finish(), () => {
          throw new Error('consumer gave up');
        }),
        /consumer gave up/,
      );
      const second = await dumpAll();
      assert.equal(second.ports.size, N);
      assert.equal(second.messages, first.messages);

      // a reply with a foreign sequence number queued ahead of ours is skipped
      const stray = statsRequest();
      setSequence(stray, 0x7ffffff0);
      s.send(stray);
      const replies = await s.request(statsRequest());
      assert.equal(replies.length, 1);
      assert.notEqual(replies[0].header.seq, 0x7ffffff0);
    } finally {
      s.close();
    }
  });

  test('socket pool: concurrent requests over at most `size` sockets', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const pool = new SocketPool(() => NetlinkSocket.open(NETLINK_NETFILTER, { netns: (ns as TestNetns).name }), 2);
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, () => pool.use(async (sock) => globalEntries((await sock.request(statsRequest()))[0].data))),
      );
      assert.equal(new Set(results).size, 1);
      assert.ok(pool.openCount <= 2 && pool.openCount >= 1);
    } finally {
      pool.close();
    }
    await assert.rejects(pool.use(async () => 1), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  });

  test('an overflowed event socket reports ENOBUFS and keeps delivering', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const target = ns as TestNetns;
    const events = NetlinkSocket.open(NETLINK_NETFILTER, { netns: target.name });
    const producer = NetlinkSocket.open(NETLINK_NETFILTER, { netns: target.name });
    const ports: number[] = [];
    const errors: string[] = [];
    let waiter: (() => void) | null = null;
    const sub = events.subscribe(
      [1],
      (batch) => {
        batch.forEachMessage((buf, off, len) => {
          ports.push(origSourcePort(buf, off, len));
        });
        waiter?.();
      },
      (err) => {
        errors.push((err as NodeJS.ErrnoException).code ?? '');
        waiter?.();
      },
      { rcvbuf: 4096 },
    );
    const until = async (cond: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 50);
        });
      }
    };
    try {
      assert.ok(sub.rcvbuf < 65536, `rcvbuf ${sub.rcvbuf}`);
      // the event loop is blocked while thousands of events pile up in a tiny buffer
      for (let i = 0; i < 4000; i++) producer.send(conntrackNewMessage(udpFlow(30000 + i)));
      await until(() => errors.includes('ENOBUFS'), 'ENOBUFS');
      assert.ok(sub.stats.overruns >= 1);
      assert.ok(ports.length < 4000, `only part of the events can have arrived (${ports.length})`);
      // The kernel keeps the socket "congested" (dropping events) until its queue was read empty:
      // wait for the queued events to be delivered first.
      await until(() => sub.stats.batches > 0, 'the queued events');
      await new Promise((resolve) => setTimeout(resolve, 20));
      // later events still arrive, one at a time
      for (let i = 0; i < 5; i++) {
        const port = 40000 + i;
        await producer.request(conntrackNewMessage(udpFlow(port)));
        await until(() => ports.includes(port), `event for port ${port}`);
      }
      assert.equal(sub.stats.errors, 0);
      assert.ok(sub.stats.datagrams >= ports.length);
    } finally {
      sub.close();
      producer.close();
    }
  });

  test('closing an event socket inside its callback stops delivery safely', async (t) => {
    if (skipUnlessPossible(t, blocker)) return;
    const target = ns as TestNetns;
    const events = NetlinkSocket.open(NETLINK_NETFILTER, { netns: target.name });
    const producer = NetlinkSocket.open(NETLINK_NETFILTER, { netns: target.name });
    let batches = 0;
    const sub = events.subscribe(
      [1],
      () => {
        batches++;
        sub.close();
        sub.close();
      },
      () => {},
      { batchSize: 2 },
    );
    try {
      for (let i = 0; i < 50; i++) producer.send(conntrackNewMessage(udpFlow(45000 + i)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(batches, 1);
      assert.ok(events.isClosed);
      await assert.rejects(events.request(statsRequest()), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
      // garbage collection of closed handles must not crash either
      if (typeof global.gc === 'function') global.gc();
    } finally {
      producer.close();
    }
  });

  test('conntrack CLI agrees with our dump count (oracle)', (t) => {
    if (skipUnlessPossible(t, blocker ?? kernelTestBlocker(['conntrack']))) return;
    const target = ns as TestNetns;
    const cli = Number(target.exec('conntrack', ['-C']).trim());
    const viaNetlink = withNetns(target.path, () => Number(fs.readFileSync('/proc/sys/net/netfilter/nf_conntrack_count', 'utf8')));
    assert.ok(cli > 0);
    assert.equal(viaNetlink, cli);
  });
});

describe('netlink binding lifecycle (no privileges needed)', () => {
  test('sockets left open (one polling) in terminated worker threads neither crash nor hang the process', async () => {
    const index = path.join(__dirname, 'index.js');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const nl = require(${JSON.stringify(index)});
      const events = nl.NetlinkSocket.open(nl.NETLINK_GENERIC);
      events.subscribe([16 /* nlctrl "notify" */], () => {}, () => {});
      const s = nl.NetlinkSocket.open(nl.NETLINK_GENERIC);
      nl.getFamily(s, 'nlctrl').then((f) => parentPort.postMessage(f.id), (e) => parentPort.postMessage(String(e)));`;
    // run in a child process so that a crash shows up as a failed exit status, not a dead test runner
    const script = `
      const { Worker } = require('node:worker_threads');
      let left = 4;
      for (let i = 0; i < 4; i++) {
        const w = new Worker(${JSON.stringify(code)}, { eval: true });
        w.on('message', (m) => { if (m !== 16) { console.error('bad', m); process.exit(3); } w.terminate().then(() => { if (--left === 0) console.log('all terminated'); }); });
        w.on('error', (e) => { console.error(e); process.exit(4); });
      }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /all terminated/);
  });
});
