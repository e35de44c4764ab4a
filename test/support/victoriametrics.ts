/**
 * A private VictoriaMetrics (Debian `victoria-metrics`, single-node) for tests
 * and benchmarks: loopback, free port, own temporary data directory. It takes
 * Prometheus remote write on /api/v1/write and line protocol on /write;
 * `flush()` makes what it took queryable, `exportSeries()` returns raw
 * samples (duplicates included: deduplication is off by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './influxdb';

export class VictoriaMetricsUnavailable extends Error {}

export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface VictoriaMetricsServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  dataDir: string;
  /** Makes recently written samples searchable (`/internal/force_flush`). */
  flush(): Promise<void>;
  /** Raw samples of the series matching a selector (`/api/v1/export`). */
  exportSeries(match: string): Promise<ExportedSeries[]>;
  /** Instant query; resolves the `data.result` array. */
  query(q: string, timeSec?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
  /** Starts it again on the same port and data (after `stop`). */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
  log(): string;
}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

export async function startVictoriaMetrics(): Promise<VictoriaMetricsServer> {
  const bin = which('victoria-metrics');
  if (!bin) throw new VictoriaMetricsUnavailable('victoria-metrics is not installed (Debian package "victoria-metrics")');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-vm-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let logText = '';

  async function start(): Promise<void> {
    if (child) return;
    const c = spawn(
      bin!,
      [
        `-storageDataPath=${dataDir}`,
        `-httpListenAddr=127.0.0.1:${port}`,
        '-search.latencyOffset=0s',
        '-retentionPeriod=100y',
        '-loggerLevel=WARN',
        '-search.disableCache',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => (logText = (logText + d).slice(-20000)));
    exited = new Promise((resolve) => c.on('exit', () => resolve()));
    void exited.then(() => {
      if (child === c) child = undefined;
    });
    const deadline = Date.now() + 30000;
    for (;;) {
      if (!child) throw new Error(`victoria-metrics exited during start: ${logText}`);
      try {
        const r = await fetch(`${url}/health`);
        if (r.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`victoria-metrics not ready within 30 s: ${logText}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(killer);
    child = undefined;
  }

  await start();
  process.once('exit', () => child?.kill('SIGKILL'));

  return {
    url,
    port,
    dataDir,
    async flush() {
      const r = await fetch(`${url}/internal/force_flush`);
      if (r.status !== 200) throw new Error(`force_flush: ${r.status} ${await r.text()}`);
    },
    async exportSeries(match) {
      const r = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
      const text = await r.text();
      if (r.status !== 200) throw new Error(`export ${match}: ${r.status} ${text}`);
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as ExportedSeries);
    },
    async query(q, timeSec) {
      const params = new URLSearchParams({ query: q });
      if (timeSec !== undefined) params.set('time', String(timeSec));
      const r = await fetch(`${url}/api/v1/query?${params}`);
      const j = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
      if (j.status !== 'success') throw new Error(`query ${q}: ${j.error}`);
      return j.data.result;
    },
    stop,
    start,
    async destroy() {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => logText,
  };
}
