/**
 * A private InfluxDB 1.x server for tests and benchmarks: `influxd` on free
 * loopback ports with its own temporary data directory (test-lab recipe).
 *
 *   const db = await startInfluxDB();
 *   await db.query('SELECT * FROM m', 'telegraf');
 *   await db.stop();
 *
 * `startInfluxDB` rejects with InfluxDBUnavailable when `influxd` is not
 * installed; use `skipOrFail` to turn that into a skip (or a failure in CI).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export class InfluxDBUnavailable extends Error {}

export interface StartInfluxDBOptions {
  /** Also listen for line protocol over UDP (database `udpDatabase`). */
  udp?: boolean;
  udpDatabase?: string;
  /** Also serve HTTP on a unix socket inside the data directory. */
  unixSocket?: boolean;
  /** Largest accepted /write body in bytes (InfluxDB's http.max-body-size). */
  maxBodySize?: number;
  /** Extra `[data]` settings, e.g. `{ 'wal-fsync-delay': '"100ms"' }` (values in TOML syntax). */
  data?: Record<string, string>;
}

export interface InfluxSeriesResult {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface InfluxDBServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  dataDir: string;
  /** unix:///… when started with `unixSocket`. */
  socketUrl?: string;
  /** udp://127.0.0.1:<port> when started with `udp`. */
  udpUrl?: string;
  /** Runs an InfluxQL statement (POST /query); resolves the parsed JSON and throws on statement errors. */
  query(q: string, db?: string): Promise<{ results: { statement_id: number; series?: InfluxSeriesResult[]; error?: string }[] }>;
  /** The rows of the first series of a SELECT, as objects keyed by column. */
  select(q: string, db: string): Promise<Record<string, unknown>[]>;
  /** POSTs line protocol to /write; resolves the HTTP status and body. */
  write(lines: string, db: string, params?: Record<string, string>): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
  /** Starts the server again on the same ports and data (after `stop`). */
  start(): Promise<void>;
  restart(): Promise<void>;
  running(): boolean;
  /** The server's log (stderr), for failure messages. */
  log(): string;
}

export function influxdPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    const p = path.join(dir, 'influxd');
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound and released; racy but adequate for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let baseConfig: string | undefined;

function defaultConfig(bin: string): string {
  if (baseConfig !== undefined) return baseConfig;
  const r = spawnSync(bin, ['config'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.includes('[http]')) throw new InfluxDBUnavailable(`influxd config failed: ${r.stderr}`);
  baseConfig = r.stdout;
  return baseConfig;
}

/** Sets `key = value` inside a TOML `[section]` (first occurrence) of influxd's generated config. */
function setInSection(conf: string, section: string, key: string, value: string): string {
  const lines = conf.split('\n');
  let inSection = section === '';
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t.startsWith('[')) {
      if (inSection && section !== '') break;
      inSection = t === `[${section}]` || t === `[[${section}]]`;
      continue;
    }
    if (inSection && new RegExp(`^${key}\\s*=`).test(t)) {
      lines[i] = `  ${key} = ${value}`;
      return lines.join('\n');
    }
  }
  throw new Error(`influxd config has no ${section}.${key}`);
}

export async function startInfluxDB(opts: StartInfluxDBOptions = {}): Promise<InfluxDBServer> {
  const bin = influxdPath();
  if (!bin) throw new InfluxDBUnavailable('influxd is not installed (Debian package "influxdb")');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-influxdb-'));
  const [httpPort, rpcPort, udpPort] = await Promise.all([freePort(), freePort(), freePort()]);
  let conf = defaultConfig(bin).split('/var/lib/influxdb').join(dataDir);
  conf = setInSection(conf, '', 'bind-address', `"127.0.0.1:${rpcPort}"`);
  conf = setInSection(conf, '', 'reporting-enabled', 'false');
  conf = setInSection(conf, 'http', 'bind-address', `"127.0.0.1:${httpPort}"`);
  conf = setInSection(conf, 'http', 'log-enabled', 'false');
  conf = setInSection(conf, 'http', 'pprof-enabled', 'false');
  if (opts.maxBodySize !== undefined) conf = setInSection(conf, 'http', 'max-body-size', String(opts.maxBodySize));
  conf = setInSection(conf, 'data', 'query-log-enabled', 'false');
  for (const [k, v] of Object.entries(opts.data ?? {})) conf = setInSection(conf, 'data', k, v);
  conf = setInSection(conf, 'monitor', 'store-enabled', 'false');
  conf = setInSection(conf, 'logging', 'level', '"warn"');
  conf = setInSection(conf, 'logging', 'suppress-logo', 'true');
  conf = setInSection(conf, 'continuous_queries', 'log-enabled', 'false');
  let socketUrl: string | undefined;
  if (opts.unixSocket) {
    const sock = path.join(dataDir, 'influxdb.sock');
    conf = setInSection(conf, 'http', 'unix-socket-enabled', 'true');
    conf = setInSection(conf, 'http', 'bind-socket', JSON.stringify(sock));
    socketUrl = `unix://${sock}`;
  }
  let udpUrl: string | undefined;
  if (opts.udp) {
    conf = setInSection(conf, 'udp', 'enabled', 'true');
    conf = setInSection(conf, 'udp', 'bind-address', `"127.0.0.1:${udpPort}"`);
    conf = setInSection(conf, 'udp', 'database', JSON.stringify(opts.udpDatabase ?? 'udp'));
    conf = setInSection(conf, 'udp', 'batch-timeout', '"50ms"');
    udpUrl = `udp://127.0.0.1:${udpPort}`;
  }
  const confPath = path.join(dataDir, 'influxd.toml');
  fs.writeFileSync(confPath, conf);
  const url = `http://127.0.0.1:${httpPort}`;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let logText = '';

  async function start(): Promise<void> {
    if (child) return;
    const c = spawn(bin!, ['-config', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      logText = (logText + d).slice(-20000);
    });
    exited = new Promise((resolve) => c.on('exit', () => resolve()));
    void exited.then(() => {
      if (child === c) child = undefined;
    });
    const deadline = Date.now() + 20000;
    for (;;) {
      if (!child) throw new Error(`influxd exited during start: ${logText}`);
      try {
        const r = await fetch(`${url}/ping`);
        if (r.status === 204) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`influxd did not answer /ping within 20 s: ${logText}`);
      }
      await sleep(50);
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    child = undefined;
  }

  async function query(q: string, db?: string) {
    const body = new URLSearchParams({ q });
    if (db) body.set('db', db);
    const r = await fetch(`${url}/query`, { method: 'POST', body });
    const json = (await r.json()) as { results?: { statement_id: number; series?: InfluxSeriesResult[]; error?: string }[]; error?: string };
    if (json.error) throw new Error(`query ${q}: ${json.error}`);
    for (const res of json.results ?? []) if (res.error) throw new Error(`query ${q}: ${res.error}`);
    return json as { results: { statement_id: number; series?: InfluxSeriesResult[]; error?: string }[] };
  }

  async function select(q: string, db: string): Promise<Record<string, unknown>[]> {
    const json = await query(q, db);
    const rows: Record<string, unknown>[] = [];
    for (const s of json.results[0]?.series ?? []) {
      for (const v of s.values) {
        const row: Record<string, unknown> = { ...(s.tags ?? {}) };
        s.columns.forEach((c, i) => (row[c] = v[i]));
        rows.push(row);
      }
    }
    return rows;
  }

  async function write(lines: string, db: string, params: Record<string, string> = {}) {
    const r = await fetch(`${url}/write?${new URLSearchParams({ db, ...params })}`, { method: 'POST', body: lines });
    return { status: r.status, body: await r.text() };
  }

  await start();
  process.once('exit', () => child?.kill('SIGKILL'));

  return {
    url,
    port: httpPort,
    dataDir,
    socketUrl,
    udpUrl,
    query,
    select,
    write,
    start,
    async stop() {
      await stop();
    },
    async restart() {
      await stop();
      await start();
    },
    running: () => child !== undefined,
    log: () => logText,
  };
}

/** Stops the server and removes its data directory. */
export async function destroyInfluxDB(s: InfluxDBServer): Promise<void> {
  await s.stop();
  fs.rmSync(s.dataDir, { recursive: true, force: true });
}

// The output tests import the skip policy from here.
export { skipOrFail } from './skip';
