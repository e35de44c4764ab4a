/**
 * buffer_strategy = "disk" with the built agent and a real InfluxDB 1.x:
 * nothing lost across `kill -9` (also with a torn last record), a 64 KiB
 * tmpfs that fills and recovers, SIGHUP reloads (a changed output does not
 * get another section's backlog), every push output, prometheus_client
 * exempt, and clear errors for an unusable buffer_directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Metric } from '../../core/metric';
import { RecordReader } from '../../core/models/disk/codec';
import { SegmentLog } from '../../core/models/disk/segment_log';
import { LineProtocolSerializer } from '../../core/serializers/influx';
import { CaptureLogger } from '../support/capture-log';
import { startFaultProxy, type FaultProxy } from '../support/faultproxy';
import { destroyInfluxDB, InfluxDBUnavailable, skipOrFail, startInfluxDB, type InfluxDBServer } from '../support/influxdb';
import { startInfluxDB2Stub } from '../support/influxdb2-stub';
import { AgentProcess, sleep, tempDir } from '../support/process';

const tmp = tempDir('lvsagent-diskagent-');
let server: InfluxDBServer | undefined;
let proxy: FaultProxy | undefined;
let unavailable = '';
/** What reached InfluxDB through the proxy (identity encoding: readable lines). */
let wire = '';

before(async () => {
  try {
    server = await startInfluxDB();
    proxy = await startFaultProxy(server.port, '127.0.0.1', { onForward: (d) => (wire += d.toString('latin1')) });
  } catch (err) {
    if (err instanceof InfluxDBUnavailable) unavailable = err.message;
    else throw err;
  }
});

after(async () => {
  await proxy?.close();
  if (server) await destroyInfluxDB(server);
});

/** InfluxDB down: the server stopped and the proxy refusing connections. */
async function influxDown(): Promise<void> {
  await proxy!.setMode('refuse');
  await server!.stop();
}

/** InfluxDB back, with the database there (so no write is refused for a missing database and sent again after creating it). */
async function influxUp(db: string): Promise<void> {
  await server!.start();
  await server!.query(`CREATE DATABASE "${db}"`);
  await proxy!.setMode('pass');
}

function config(o: { dir: string; db: string; agent?: string; output?: string; extra?: string }): string {
  return `[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true
  metric_batch_size = 100
  buffer_strategy = "disk"
  buffer_directory = "${o.dir}"
${o.agent ?? ''}
[[inputs.internal]]
  collect_memstats = false
[[outputs.influxdb]]
  urls = ["${proxy!.url}"]
  database = "${o.db}"
  content_encoding = "identity"
  timeout = "2s"
${o.output ?? ''}
${o.extra ?? ''}`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function waitUntil(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const outputDirs = (root: string, plugin = 'influxdb'): string[] =>
  fs.existsSync(root) ? fs.readdirSync(root).filter((d) => d.startsWith(`${plugin}-`)).map((d) => path.join(root, d)) : [];

/** Every readable record of a buffer directory, in log order (a torn tail ends the list). */
function logRecords(dir: string): Metric[] {
  const out: Metric[] = [];
  const reader = new RecordReader();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()) {
    const b = fs.readFileSync(path.join(dir, f));
    for (let pos = 16; pos + 8 <= b.length; ) {
      const len = b.readUInt32LE(pos);
      if (pos + 8 + len > b.length) break;
      out.push(reader.decode(b, pos + 8, len));
      pos += 8 + len;
    }
  }
  return out;
}

/** Series key and timestamp of each line-protocol line. */
function lineKeys(text: string, prefix = ''): string[] {
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || (prefix && !line.startsWith(prefix))) continue;
    const m = /^(\S+) .* (-?\d+)$/.exec(line);
    if (m) keys.push(`${m[1]} ${m[2]}`);
  }
  return keys;
}

const keysOf = (ms: Metric[]): string[] => lineKeys(new LineProtocolSerializer().serializeBatch(ms));

function counts(keys: string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const k of keys) c.set(k, (c.get(k) ?? 0) + 1);
  return c;
}

const secondsOf = (ms: Metric[], name = 'internal_agent'): number[] => ms.filter((m) => m.name === name).map((m) => Number(m.time / 1_000_000_000n));

async function storedSeconds(db: string): Promise<number[]> {
  try {
    const rows = await server!.select('SELECT metrics_gathered FROM internal_agent', db);
    return rows.map((r) => Math.round(Date.parse(String(r.time)) / 1000)).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

function assertContiguous(secs: number[], what: string): void {
  for (let i = 1; i < secs.length; i++) assert.equal(secs[i] - secs[i - 1], 1, `${what}: ${secs[i - 1]} is followed by ${secs[i]} (${secs.join(' ')})`);
}

async function stop(p: AgentProcess): Promise<void> {
  p.signal('SIGTERM');
  assert.equal((await p.exit()).code, 0, p.stderr);
}

/**
 * InfluxDB down; the agent gathers every second; after 10 s it is killed
 * with SIGKILL (optionally the last record is then torn); it is started
 * again and InfluxDB comes back. Checks that every gather of both runs is in
 * InfluxDB and went over the wire exactly once (the torn record excepted).
 */
async function killAndRestart(name: string, tear: boolean): Promise<void> {
  const dir = path.join(tmp, name);
  const db = name;
  wire = '';
  await influxDown();
  const conf = path.join(tmp, `${name}.conf`);
  fs.writeFileSync(conf, config({ dir, db }));
  const first = new AgentProcess(['--config', conf]);
  await first.waitFor(/Loaded outputs/);
  await sleep(10_000); // the scenario: ten seconds of gathers while InfluxDB is down
  first.signal('SIGKILL');
  const killed = await first.exit();
  assert.equal(killed.signal, 'SIGKILL');
  const [outDir] = outputDirs(dir);
  assert.ok(outDir, 'the output has its buffer directory');
  let accepted = logRecords(outDir);
  const gathers = secondsOf(accepted);
  assert.ok(gathers.length >= 8, `about ten gathers buffered: ${gathers.join(' ')}`);
  assertContiguous(gathers, 'gathers before the kill');
  let torn: Metric | undefined;
  if (tear) {
    const segs = fs.readdirSync(outDir).filter((n) => n.endsWith('.seg')).sort();
    const last = path.join(outDir, segs[segs.length - 1]);
    fs.truncateSync(last, fs.statSync(last).size - 3);
    torn = accepted[accepted.length - 1];
    accepted = accepted.slice(0, -1);
    assert.deepEqual(logRecords(outDir).length, accepted.length);
  }

  const second = new AgentProcess(['--config', conf]);
  try {
    await second.waitFor(/metrics from an earlier run, delivered first/);
    await influxUp(db);
    const lastBefore = gathers[gathers.length - 1];
    await waitUntil('both runs in InfluxDB', async () => (await storedSeconds(db)).filter((s) => s > lastBefore).length >= 3);
    await stop(second);
  } finally {
    if (second.alive()) second.signal('SIGKILL');
  }
  if (tear) {
    assert.equal(second.stderr.split('\n').filter((l) => /W! .*torn record/.test(l)).length, 1, second.stderr);
  } else assert.doesNotMatch(second.stderr, /torn|corrupt/);

  // On the wire: every accepted metric of the first run exactly once, the torn one never, nothing twice.
  const sent = counts(lineKeys(wire));
  for (const k of keysOf(accepted)) assert.equal(sent.get(k), 1, `${k} sent ${sent.get(k) ?? 0} times`);
  if (torn) assert.equal(sent.get(keysOf([torn])[0]), undefined, 'the torn record is not delivered');
  const twice = [...sent].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no metric sent twice');

  // In InfluxDB: every second of both runs, the restart's few seconds apart.
  const stored = await storedSeconds(db);
  const expectedFirst = tear && torn?.name === 'internal_agent' ? gathers.slice(0, -1) : gathers;
  const run1 = stored.filter((s) => s <= gathers[gathers.length - 1]);
  assert.deepEqual(run1, expectedFirst);
  const run2 = stored.filter((s) => s > gathers[gathers.length - 1]);
  assertContiguous(run2, 'gathers after the restart');
  assert.ok(run2[0] - gathers[gathers.length - 1] <= 5, `restart gap ${run2[0] - gathers[gathers.length - 1]} s`);
}

describe('disk buffer across kill -9 (real InfluxDB)', () => {
  test('InfluxDB down, agent killed with SIGKILL after 10 s and restarted, InfluxDB back: every second in InfluxDB, each sent once', async (t) => {
    if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
    await killAndRestart('kill9', false);
  });

  test('same with the last record torn (a few bytes cut off before the restart): one warning, the good prefix delivered', async (t) => {
    if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
    await killAndRestart('torn', true);
  });
});

describe('disk buffer on a 64 KiB tmpfs (real InfluxDB)', () => {
  const mnt = path.join(tmp, 'tmpfs');
  let mounted = false;
  after(() => {
    if (mounted) spawnSync('umount', ['-l', mnt]);
  });

  test('the buffer directory fills: the agent keeps running, counts drops, recovers by itself once InfluxDB takes the backlog', async (t) => {
    if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
    if (process.getuid?.() !== 0) return skipOrFail(t, 'mounting a tmpfs needs root');
    fs.mkdirSync(mnt, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) return skipOrFail(t, `mount failed: ${m.stderr}`);
    mounted = true;
    wire = '';
    await influxDown();
    const db = 'tmpfs';
    const conf = path.join(tmp, 'tmpfs.conf');
    // ~1.6 KB per metric (a padding tag), 4 gathers a second: 64 KiB fill within seconds.
    fs.writeFileSync(
      conf,
      config({ dir: mnt, db, agent: '  metric_buffer_limit = 150\n  interval = "250ms"\n  precision = "1ms"\n', extra: `[global_tags]\n  pad = "${'p'.repeat(1500)}"\n` }).replace('  interval = "1s"\n', ''),
    );
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/cannot write \(ENOSPC\); holding up to 150 of the newest metrics in memory/, 30_000);
      await p.waitFor(/Metric buffer overflow; \d+ metrics have been dropped/, 30_000);
      assert.ok(p.alive());
      await influxUp(db);
      await p.waitFor(/writable again after \d+s/, 30_000);
      const recoveredAt = Date.now();
      await waitUntil('gathers after the recovery', async () => {
        const rows = await server!.select('SELECT metrics_gathered FROM internal_agent', db).catch(() => []);
        return rows.filter((r) => Date.parse(String(r.time)) > recoveredAt + 1000).length >= 4;
      });
      await stop(p);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
    assert.equal(p.stderr.split('\n').filter((l) => /cannot write/.test(l)).length, 1, 'reported once');
    assert.doesNotMatch(p.stderr, /torn|corrupt|no valid header/);
    const stats = await server!.select('SELECT max(metrics_dropped) AS dropped, max(buffer_disk_errors) AS errors, max(buffer_disk_bytes) AS bytes FROM internal_write', db);
    assert.ok(Number(stats[0].dropped) > 0, `metrics_dropped counted: ${JSON.stringify(stats)}`);
    assert.ok(Number(stats[0].errors) > 0, 'buffer_disk_errors counted');
    assert.ok(Number(stats[0].bytes) > 30_000 && Number(stats[0].bytes) <= 65536, `buffer_disk_bytes reports the size on disk: ${stats[0].bytes}`);
    assert.deepEqual([...counts(lineKeys(wire))].filter(([, n]) => n > 1), [], 'nothing sent twice');
  });
});

describe('disk buffer and SIGHUP reloads (real InfluxDB)', () => {
  test('the same section keeps its backlog across reloads; a changed one gets a new buffer, the old backlog stays, named in the log, undelivered', async (t) => {
    if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
    wire = '';
    await influxDown();
    const dir = path.join(tmp, 'reload');
    const db = 'reload';
    const conf = path.join(tmp, 'reload.conf');
    const a = config({ dir, db });
    const b = config({ dir, db, output: '  user_agent = "changed"' });
    fs.writeFileSync(conf, a);
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Loaded outputs/);
      await sleep(3000);
      p.signal('SIGHUP'); // unchanged: the backlog stays where it is
      await p.waitFor(/Reloading config/);
      await sleep(3000);
      const [dirA] = outputDirs(dir);
      fs.writeFileSync(conf, b);
      p.signal('SIGHUP'); // the output changes: new buffer, A's backlog left in place
      await p.waitFor(/buffered metrics stay in .*influxdb-[0-9a-f]{16}: the new configuration has no output with their section/);
      assert.match(p.stderr, new RegExp(`stay in ${escape(dirA)}`));
      await sleep(3000);
      const dirB = outputDirs(dir).find((d) => d !== dirA)!;
      assert.ok(dirB, 'the changed section has its own directory');
      fs.writeFileSync(conf, a);
      p.signal('SIGHUP'); // back to A: its backlog is delivered, B's is reported and kept
      await p.waitFor(new RegExp(`buffer_directory: ${escape(dirB)} holds \\d+ metrics \\(\\d+ bytes\\) of \\[\\[outputs\\.influxdb\\]\\] .* not delivered`));
      await sleep(2000);
      await influxUp(db);
      const heldByB = secondsOf(logRecords(dirB));
      assert.ok(heldByB.length >= 2, `B buffered some gathers: ${heldByB.join(' ')}`);
      const last = Math.floor(Date.now() / 1000);
      await waitUntil('the backlog and new gathers in InfluxDB', async () => (await storedSeconds(db)).filter((s) => s > last).length >= 2);
      await stop(p);
      assert.doesNotMatch(p.stderr, /belonged to outputs no longer configured/);
      const stored = await storedSeconds(db);
      for (const s of heldByB) assert.ok(!stored.includes(s), `B's gather ${s} is not delivered to A's destination`);
      // Every gather is either delivered or held by B, none is in both: internal_agent's running count of gathered
      // metrics grows by one gather's three metrics from each to the next (reloads may skip a tick, which gathers nothing).
      const rows = await server!.select('SELECT metrics_gathered FROM internal_agent', db);
      const counted = [
        ...rows.map((r) => ({ at: Date.parse(String(r.time)), n: Number(r.metrics_gathered) })),
        ...logRecords(dirB)
          .filter((m) => m.name === 'internal_agent')
          .map((m) => ({ at: Number(m.time / 1_000_000n), n: Number(m.getField('metrics_gathered')!.value) })),
      ].sort((x, y) => x.at - y.at);
      for (let i = 1; i < counted.length; i++) assert.equal(counted[i].n - counted[i - 1].n, 3, `from the gather at ${counted[i - 1].at} to the one at ${counted[i].at}`);
      assert.deepEqual([...counts(lineKeys(wire))].filter(([, n]) => n > 1), [], 'nothing sent twice');
      assert.equal(SegmentLog.inspect(dirA, new CaptureLogger())?.metrics ?? 0, 0, 'A delivered everything');
      assert.equal(SegmentLog.inspect(dirB, new CaptureLogger())?.metrics, logRecords(dirB).length, 'B still holds all it buffered');
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
  });
});

describe('disk buffer with every output', () => {
  test('file, influxdb, influxdb_v2 and http write through their own buffer directories; prometheus_client is exempt, and says so', async (t) => {
    if (!server || !proxy) return skipOrFail(t, unavailable || 'influxd not started');
    await influxUp('every');
    const stub = await startInfluxDB2Stub({ org: 'o', tokens: { tok: 'write' }, buckets: [{ name: 'b' }] });
    const bodies: string[] = [];
    const httpServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const httpPort = (httpServer.address() as { port: number }).port;
    const dir = path.join(tmp, 'every');
    const file = path.join(tmp, 'every.lp');
    const conf = path.join(tmp, 'every.conf');
    fs.writeFileSync(
      conf,
      config({
        dir,
        db: 'every',
        extra: `[[outputs.file]]
  files = ["${file}"]
[[outputs.influxdb_v2]]
  urls = ["${stub.url}"]
  token = "tok"
  organization = "o"
  bucket = "b"
[[outputs.http]]
  url = "http://127.0.0.1:${httpPort}/write"
[[outputs.prometheus_client]]
  listen = "127.0.0.1:0"
`,
      }),
    );
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Loaded outputs/);
      await waitUntil('every output written to', async () => {
        const lp = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
        return /^internal_agent/m.test(lp) && stub.points('b').some((x) => x.measurement === 'internal_agent') && bodies.some((x) => /^internal_agent/m.test(x)) && (await storedSeconds('every')).length > 0;
      });
      await stop(p);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
      await stub.close();
      httpServer.close();
    }
    const made = fs.readdirSync(dir).map((d) => d.replace(/-[0-9a-f]{16}$/, '')).sort();
    assert.deepEqual(made, ['file', 'http', 'influxdb', 'influxdb_v2']);
    assert.match(p.stderr, /\[outputs\.prometheus_client\] buffer_strategy = "disk" does not apply \(a pull endpoint: .*\); buffering in memory/);
    assert.match(fs.readFileSync(file, 'utf8'), /^internal_write,output=file,.* buffer_disk_bytes=\d+i,.*buffer_disk_errors=0i/m);
  });
});

describe('buffer_strategy = "disk" configuration errors', () => {
  test('disk without buffer_directory: exit 1 naming the file, line and key', () => {
    const conf = path.join(tmp, 'nodir.conf');
    fs.writeFileSync(conf, '[agent]\n  interval = "1s"\n  buffer_strategy = "disk"\n[[inputs.internal]]\n[[outputs.file]]\n');
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'core', 'cli', 'main.js'), '--config', conf], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`E! ${escape(conf)}:3: \\[agent\\]: option "buffer_directory" is required with buffer_strategy = "disk"`));
  });

  test('an unusable buffer_directory: exit 1 naming the file and line of the key, the output section and the path; a reload to one keeps the running configuration', async () => {
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, '');
    const conf = path.join(tmp, 'baddir.conf');
    const good = path.join(tmp, 'good-buffers');
    const text = (d: string): string => `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n  buffer_strategy = "disk"\n  buffer_directory = "${d}"\n[[inputs.internal]]\n[[outputs.file]]\n  files = ["${path.join(tmp, 'baddir.lp')}"]\n`;
    fs.writeFileSync(conf, text(path.join(blocker, 'sub')));
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'core', 'cli', 'main.js'), '--config', conf], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^E! .*baddir\.conf:5: \[agent\]: option "buffer_directory": buffer of \[\[outputs\.file\]\] in .*baddir\.conf: cannot use .*a-file\/sub\/file-[0-9a-f]{16}: ENOTDIR/m);

    fs.writeFileSync(conf, text(good));
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Loaded outputs/);
      fs.writeFileSync(conf, text(path.join(blocker, 'sub')));
      p.signal('SIGHUP');
      await p.waitFor(/Reload failed, keeping the running configuration: .*buffer_directory.*ENOTDIR/);
      const lines = (): number => (fs.existsSync(path.join(tmp, 'baddir.lp')) ? fs.readFileSync(path.join(tmp, 'baddir.lp'), 'utf8').split('\n').length : 0);
      const before = lines();
      await waitUntil('the previous configuration still writing', () => lines() > before + 2);
      await stop(p);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
  });
});
