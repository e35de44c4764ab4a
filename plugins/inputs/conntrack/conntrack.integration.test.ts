/**
 * Integration tests against the real kernel in throw-away network namespaces
 * (root needed; skipped with a message otherwise, a failure under CI=true).
 * Traffic is real TCP/UDP made by node processes inside the namespace; the
 * reference is conntrack-tools run in the same namespace.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ConntrackClient } from '../../../core/conntrack/client';
import { ConntrackInput } from './input';
import { ConntrackNamespace, conntrackTestSkip, parseConntrackLine } from '../../../test/support/inputs/conntrack/namespace';
import { DEFAULT_OPTIONS, type ConntrackOptions } from './options';
import { TestAccumulator } from '../../../test/support/accumulator';
import { CaptureLogger, inputContext } from '../../../test/support/capture-log';

const skip = conntrackTestSkip();

const withDefaults = (o: Partial<ConntrackOptions>): ConntrackOptions => ({ ...DEFAULT_OPTIONS, ...o });

async function gatherOnce(opts: Partial<ConntrackOptions>): Promise<TestAccumulator> {
  const input = new ConntrackInput(withDefaults(opts), inputContext(new CaptureLogger('inputs.conntrack'), 'inputs.conntrack'));
  input.init();
  const acc = new TestAccumulator();
  try {
    await input.gather(acc);
  } finally {
    input.stop();
  }
  return acc;
}

/** `conntrack -S` → per-CPU maps of counter name → value. */
function conntrackS(ns: ConntrackNamespace): Array<Map<string, number>> {
  return ns
    .exec('conntrack', ['-S'])
    .split('\n')
    .filter((l) => l.startsWith('cpu='))
    .map((l) => new Map([...l.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])])));
}

function conntrackC(ns: ConntrackNamespace): number {
  return Number(ns.exec('conntrack', ['-C']).trim());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('inputs.conntrack statistics and table in a namespace', { skip }, () => {
  let ns: ConntrackNamespace;
  let holder: ReturnType<ConntrackNamespace['spawnTraffic']> | undefined;

  before(async () => {
    ns = ConntrackNamespace.create();
    await ns.traffic(['tcp', '127.0.0.1', 8080, 4, 500]);
    await ns.traffic(['udp', '127.0.0.1', 5353, 3, 60]);
    holder = ns.spawnTraffic(['hold', '127.0.0.1', 8443, 5]);
    await new Promise<void>((resolve) => holder!.stdout!.once('data', () => resolve()));
    // Synthetic entries with marks and a zone, created over ctnetlink.
    const c = ConntrackClient.open(ns.path);
    const entries = [];
    for (let i = 0; i < 30; i++) entries.push({ src: 0x0a000001, dst: 0x0a010000 + (i % 3), proto: 6, sport: 20000 + i, dport: 80, timeout: 600, mark: 1 + (i % 2) });
    entries.push({ src: 0x0a000009, dst: 0x0a000002, proto: 17, sport: 999, dport: 53, timeout: 600, mark: 0x101, zone: 5 });
    await c.createEntries(entries);
    c.close();
  });

  after(() => {
    holder?.stdin?.end();
    holder?.kill();
    ns?.destroy();
  });

  test('Telegraf fields: sysctl count/max as floats, per-CPU counters agree with conntrack -S and -C', async () => {
    const acc = await gatherOnce({ collect: ['all', 'percpu'], namespace: ns.path });
    assert.deepEqual(acc.errors, []);
    const count = conntrackC(ns);
    const base = acc.find('conntrack').find((m) => m.getTag('cpu') === undefined)!;
    assert.equal(base.type, 'untyped');
    assert.equal(base.getTag('namespace'), ns.path);
    assert.equal(base.getField('ip_conntrack_count')!.type, 0 /* Float */);
    assert.equal(Number(base.getField('ip_conntrack_count')!.value), count);
    assert.equal(Number(base.getField('ip_conntrack_max')!.value), Number(ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_max'])));
    const s = conntrackS(ns);
    // Column names of /proc/net/stat/nf_conntrack → conntrack -S names.
    const map: Record<string, string> = { found: 'found', invalid: 'invalid', insert: 'insert', insert_failed: 'insert_failed', drop: 'drop', early_drop: 'early_drop', icmp_error: 'error', search_restart: 'search_restart', searched: 'clash_resolve', delete_list: 'chaintoolong' };
    for (const [cpu, counters] of s.entries()) {
      const tags = { cpu: `cpu${counters.get('cpu') ?? cpu}` };
      const m = acc.find('conntrack', tags)[0];
      assert.equal(m.type, 'counter');
      for (const [ours, theirs] of Object.entries(map)) assert.equal(acc.value('conntrack', tags, ours), counters.get(theirs), `${ours} on ${tags.cpu}`);
      assert.equal(acc.value('conntrack', tags, 'entries'), count);
    }
    assert.equal(acc.value('conntrack', { cpu: 'all' }, 'entries'), count, 'cpu=all entries is the count, not count × CPUs');
    const sumFound = s.reduce((a, c) => a + (c.get('found') ?? 0), 0);
    assert.equal(acc.value('conntrack', { cpu: 'all' }, 'found'), sumFound);
  });

  test('netlink source (for kernels without the procfs file) agrees with conntrack -S', async () => {
    const acc = await gatherOnce({ collect: ['all', 'percpu'], namespace: ns.path, stats_source: 'netlink' });
    assert.deepEqual(acc.errors, []);
    const s = conntrackS(ns);
    for (const [cpu, counters] of s.entries()) {
      const tags = { cpu: `cpu${cpu}` };
      for (const name of ['found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'search_restart', 'clash_resolve']) {
        assert.equal(acc.value('conntrack', tags, name), counters.get(name), `${name} cpu${cpu}`);
      }
      assert.equal(acc.value('conntrack', tags, 'icmp_error'), counters.get('error'));
      assert.equal(acc.value('conntrack', tags, 'chain_toolong'), counters.get('chaintoolong'));
    }
    assert.equal(acc.value('conntrack', { cpu: 'all' }, 'entries'), conntrackC(ns));
  });

  test('HOST_PROC without the file falls back to netlink; procfs-only reports Telegraf\'s error', async () => {
    const saved = process.env.HOST_PROC;
    process.env.HOST_PROC = '/nonexistent-proc';
    try {
      const auto = await gatherOnce({ collect: ['all'], namespace: ns.path });
      assert.deepEqual(auto.errors, []);
      assert.equal(auto.value('conntrack', { cpu: 'all' }, 'entries'), conntrackC(ns));
      const procfs = await gatherOnce({ collect: ['all'], namespace: ns.path, stats_source: 'procfs' });
      assert.deepEqual(procfs.errors, [
        'failed to retrieve conntrack statistics: open /nonexistent-proc/net/stat/nf_conntrack: no such file or directory',
        'conntrack input failed to collect stats',
      ]);
    } finally {
      if (saved === undefined) delete process.env.HOST_PROC;
      else process.env.HOST_PROC = saved;
    }
  });

  test('table breakdown agrees with conntrack -L', async () => {
    const acc = await gatherOnce({ namespace: ns.path, collect_table: true, table_by_mark: true, table_subnets: ['10.1.0.0/16', '127.0.0.0/8'] });
    assert.deepEqual(acc.errors, []);
    const lines = ns.list().map(parseConntrackLine);
    assert.ok(lines.length >= 40, `only ${lines.length} entries`);
    const count = <K>(key: (l: ReturnType<typeof parseConntrackLine>) => K | undefined) => {
      const m = new Map<K, number>();
      for (const l of lines) {
        const k = key(l);
        if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
      }
      return m;
    };
    const kv = (l: ReturnType<typeof parseConntrackLine>, k: string) => l.kv.filter(([n]) => n === k).map(([, v]) => v);
    for (const [proto, n] of count((l) => l.proto)) assert.equal(acc.value('conntrack_table', { protocol: proto, family: 'ipv4' }, 'entries'), n, proto);
    for (const [state, n] of count((l) => l.state)) assert.equal(acc.value('conntrack_table_tcp_state', { state }, 'entries'), n, state);
    for (const [mark, n] of count((l) => kv(l, 'mark')[0])) assert.equal(acc.value('conntrack_table_mark', { mark }, 'entries'), n, `mark ${mark}`);
    for (const [zone, n] of count((l) => kv(l, 'zone')[0] ?? '0')) assert.equal(acc.value('conntrack_table_zone', { zone }, 'entries'), n, `zone ${zone}`);
    assert.equal(acc.value('conntrack_table_subnet', { subnet: '10.1.0.0/16' }, 'entries'), 30);
    assert.equal(acc.value('conntrack_table_subnet', { subnet: '127.0.0.0/8' }, 'entries'), lines.filter((l) => kv(l, 'dst')[0].startsWith('127.')).length);
    // Accounting: byte and packet sums per protocol.
    for (const proto of ['tcp', 'udp']) {
      const mine = lines.filter((l) => l.proto === proto);
      const sum = (k: string, i: number) => mine.reduce((a, l) => a + Number(kv(l, k)[i] ?? 0), 0);
      const tags = { protocol: proto, family: 'ipv4' };
      assert.equal(acc.value('conntrack_table', tags, 'orig_bytes'), sum('bytes', 0), `${proto} orig bytes`);
      assert.equal(acc.value('conntrack_table', tags, 'reply_bytes'), sum('bytes', 1), `${proto} reply bytes`);
      assert.equal(acc.value('conntrack_table', tags, 'orig_packets'), sum('packets', 0), `${proto} orig packets`);
      assert.equal(acc.value('conntrack_table', tags, 'unreplied'), mine.filter((l) => l.flags.includes('[UNREPLIED]')).length);
    }
    assert.ok(acc.find('conntrack_table').every((m) => m.type === 'gauge' && m.getTag('namespace') === ns.path));
  });

  test('kernel-side mark filter gives what conntrack -L -m shows', async () => {
    const acc = await gatherOnce({ namespace: ns.path, collect_table: true, table_filter_mark: 1 });
    assert.deepEqual(acc.errors, []);
    const total = acc.find('conntrack_table').reduce((a, m) => a + Number(m.getField('entries')!.value), 0);
    assert.equal(total, ns.list(['-m', '1']).length);
    assert.equal(total, 15);
  });

  test('kernel-side zone and family filters', async () => {
    const zone = await gatherOnce({ namespace: ns.path, collect_table: true, table_filter_zone: 5 });
    assert.deepEqual(zone.errors, []);
    assert.equal(zone.value('conntrack_table', { protocol: 'udp' }, 'entries'), ns.list(['-w', '5']).length);
    assert.equal(zone.find('conntrack_table').length, 1);
    const v6 = await gatherOnce({ namespace: ns.path, collect_table: true, table_filter_family: 'ipv6' });
    assert.deepEqual(v6.errors, []);
    assert.equal(v6.find('conntrack_table').length, 0);
    const v4 = await gatherOnce({ namespace: ns.path, collect_table: true, table_filter_family: 'ipv4' });
    const total = v4.find('conntrack_table').reduce((a, m) => a + Number(m.getField('entries')!.value), 0);
    assert.equal(total, ns.list(['-f', 'ipv4']).length);
  });
});

describe('inputs.conntrack per-service flow metrics from events', { skip }, () => {
  test('counts exactly the flows made; bytes match conntrack -L accounting', async () => {
    const ns = ConntrackNamespace.create('lvsctev', { accounting: false, timestamps: false });
    const log = new CaptureLogger('inputs.conntrack');
    const input = new ConntrackInput(
      withDefaults({
        namespace: ns.path,
        collect_service_flows: true,
        service_subnets: ['127.0.0.0/8'],
        exclude_subnets: ['127.0.0.2/32'],
        enable_accounting: true,
        enable_timestamps: true,
      }),
      inputContext(log, 'inputs.conntrack'),
    );
    try {
      input.init();
      const startAcc = new TestAccumulator();
      input.start(startAcc);
      assert.equal(ns.sysctl('nf_conntrack_acct'), '1', 'enable_accounting sets nf_conntrack_acct');
      assert.equal(ns.sysctl('nf_conntrack_timestamp'), '1', 'enable_timestamps sets nf_conntrack_timestamp');
      assert.deepEqual(log.messages('warn'), []);

      await ns.traffic(['tcp', '127.0.0.1', 8080, 20, 1000]);
      await ns.traffic(['udp', '127.0.0.1', 5353, 10, 50]);
      await ns.traffic(['tcp', '127.0.0.2', 9090, 5, 10]);
      const lines = ns.list().map(parseConntrackLine);
      ns.exec('conntrack', ['-F']);

      let acc = new TestAccumulator();
      for (let i = 0; i < 50; i++) {
        await sleep(100);
        acc = new TestAccumulator();
        await input.gather(acc);
        const ended = acc.find('conntrack_service').reduce((a, m) => a + Number(m.getField('flows_ended')?.value ?? 0), 0);
        if (ended >= 30) break;
      }
      assert.deepEqual(acc.errors, []);
      const tcp = { address: '127.0.0.1', port: '8080', protocol: 'tcp' };
      const udp = { address: '127.0.0.1', port: '5353', protocol: 'udp' };
      assert.equal(acc.value('conntrack_service', tcp, 'flows_started'), 20);
      assert.equal(acc.value('conntrack_service', tcp, 'flows_ended'), 20);
      assert.equal(acc.value('conntrack_service', udp, 'flows_started'), 10);
      assert.equal(acc.value('conntrack_service', udp, 'flows_ended'), 10);
      assert.equal(acc.find('conntrack_service', { address: '127.0.0.2' }).length, 0, 'excluded subnet');
      const kv = (l: ReturnType<typeof parseConntrackLine>, k: string) => l.kv.filter(([n]) => n === k).map(([, v]) => Number(v));
      for (const [svc, dport, proto] of [[tcp, 8080, 'tcp'], [udp, 5353, 'udp']] as const) {
        const mine = lines.filter((l) => l.proto === proto && kv(l, 'dport')[0] === dport);
        assert.equal(mine.length, proto === 'tcp' ? 20 : 10);
        assert.equal(acc.value('conntrack_service', svc, 'bytes_orig_sum'), mine.reduce((a, l) => a + kv(l, 'bytes')[0], 0));
        assert.equal(acc.value('conntrack_service', svc, 'bytes_reply_sum'), mine.reduce((a, l) => a + kv(l, 'bytes')[1], 0));
        assert.equal(acc.value('conntrack_service', svc, 'packets_orig_sum'), mine.reduce((a, l) => a + kv(l, 'packets')[0], 0));
        assert.equal(acc.value('conntrack_service', svc, 'duration_seconds_count'), mine.length);
        assert.equal(acc.value('conntrack_service', svc, 'connect_latency_seconds_count'), mine.length);
        assert.equal(acc.value('conntrack_service', { ...svc, le: '+Inf' }, 'bytes_orig_bucket'), mine.length);
      }
      assert.equal(acc.value('conntrack_service', tcp, 'fin_latency_seconds_count'), 20);
      const hist = acc.find('conntrack_service').filter((m) => m.type === 'histogram');
      assert.ok(hist.length > 0 && hist.every((m) => m.fields.every((f) => /_(bucket|sum|count)$/.test(f.key))));
      assert.equal(acc.value('conntrack_events', {}, 'overruns'), 0);
      assert.ok(acc.value('conntrack_events', {}, 'events_new') >= 35);
      assert.equal(acc.value('conntrack_events', {}, 'events_destroy'), 35);
      assert.equal(acc.value('conntrack_events', {}, 'flows_tracked'), 0);
    } finally {
      input.stop();
      ns.destroy();
    }
  });

  test('only_dnat: a DNAT-ed virtual IP is the service, direct flows to the backend are not', async () => {
    const ns = ConntrackNamespace.create('lvsctdn');
    ns.exec('ip', ['addr', 'add', '10.96.0.10/32', 'dev', 'lo']);
    ns.exec('ip', ['addr', 'add', '10.0.0.1/32', 'dev', 'lo']);
    ns.exec('nft', ['add table ip nat; add chain ip nat out { type nat hook output priority -100; }; add rule ip nat out ip daddr 10.96.0.10 tcp dport 80 dnat to 10.0.0.1:8080']);
    const input = new ConntrackInput(
      withDefaults({ namespace: ns.path, collect_service_flows: true, service_subnets: ['10.0.0.0/8'], only_dnat: true }),
      inputContext(new CaptureLogger('inputs.conntrack'), 'inputs.conntrack'),
    );
    try {
      input.init();
      input.start(new TestAccumulator());
      await ns.traffic(['tcp', '10.0.0.1', 8080, 4, 100, '10.96.0.10', 80]);
      await ns.traffic(['tcp', '10.0.0.1', 8080, 2, 100]);
      const lines = ns.list().map(parseConntrackLine);
      ns.exec('conntrack', ['-F']);
      let acc = new TestAccumulator();
      for (let i = 0; i < 50; i++) {
        await sleep(100);
        acc = new TestAccumulator();
        await input.gather(acc);
        if (acc.find('conntrack_service', { port: '80' }).some((m) => Number(m.getField('flows_ended')?.value ?? 0) >= 4)) break;
      }
      const vip = { address: '10.96.0.10', port: '80', protocol: 'tcp' };
      assert.equal(acc.value('conntrack_service', vip, 'flows_started'), 4);
      assert.equal(acc.value('conntrack_service', vip, 'flows_ended'), 4);
      assert.equal(acc.find('conntrack_service', { address: '10.0.0.1' }).length, 0);
      const natted = lines.filter((l) => l.kv.some(([k, v]) => k === 'dport' && v === '80'));
      assert.equal(natted.length, 4);
      const replyBytes = natted.reduce((a, l) => a + Number(l.kv.filter(([k]) => k === 'bytes')[1][1]), 0);
      assert.equal(acc.value('conntrack_service', vip, 'bytes_reply_sum'), replyBytes);
    } finally {
      input.stop();
      ns.destroy();
    }
  });

  test('a flood larger than the receive buffer: overruns counted, listener survives; one warning for missing fields', async () => {
    const ns = ConntrackNamespace.create('lvsctfl', { accounting: false, timestamps: false });
    const log = new CaptureLogger('inputs.conntrack');
    const input = new ConntrackInput(
      withDefaults({ namespace: ns.path, collect_service_flows: true, service_subnets: ['127.0.0.0/8'], event_buffer_size: 4096 }),
      inputContext(log, 'inputs.conntrack'),
    );
    try {
      input.init();
      input.start(new TestAccumulator());
      const warns = log.messages('warn');
      assert.equal(warns.length, 1, warns.join('\n'));
      assert.match(warns[0], /bytes_orig/);
      assert.match(warns[0], /duration_seconds/);

      const child = ns.spawnTraffic(['flood', '127.0.0.1', 20000, 10000]);
      const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
      // Keep the event loop busy until the flood is over, so the kernel fills the small receive buffer.
      // (The child cannot be reaped while we spin: it stays a zombie, state Z, once it has exited.)
      const until = Date.now() + 15_000;
      const exited = (): boolean => {
        try {
          return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
        } catch {
          return true;
        }
      };
      while (Date.now() < until && !exited()) {
        /* spin */
      }
      assert.equal(await done, 0);
      await sleep(200);
      let acc = new TestAccumulator();
      await input.gather(acc);
      const overruns = acc.value('conntrack_events', {}, 'overruns');
      const seen = acc.value('conntrack_events', {}, 'events_new');
      assert.ok(overruns > 0, 'overruns counted');
      assert.ok(seen < 10000, `events lost (${seen} of 10000 received)`);
      // Still listening: new flows are seen (the tiny buffer may drop part of a burst again, not all of it).
      await ns.traffic(['tcp', '127.0.0.1', 8080, 3, 10]);
      await sleep(200);
      acc = new TestAccumulator();
      await input.gather(acc);
      assert.ok(acc.value('conntrack_events', {}, 'events_new') > seen);
      assert.ok(acc.value('conntrack_service', { port: '8080' }, 'flows_started') >= 1);
      assert.ok(log.messages('warn').some((m) => /overrun/.test(m)));
    } finally {
      input.stop();
      ns.destroy();
    }
  });
});
