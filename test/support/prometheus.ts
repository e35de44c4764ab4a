/**
 * A private Prometheus server scraping given targets every second (temp config
 * and storage, free loopback port), plus `promtool check metrics`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './influxdb';

export class PrometheusUnavailable extends Error {}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

export interface ScrapeTarget {
  /** host:port */
  address: string;
  metricsPath?: string;
  basicAuth?: { username: string; password: string };
}

export interface PrometheusOptions {
  /** Accept remote write on /api/v1/write (`--web.enable-remote-write-receiver`). */
  remoteWriteReceiver?: boolean;
}

export interface PrometheusServer {
  url: string;
  /** Instant query (at `timeSec`, default now); resolves the `data.result` array. */
  query(q: string, timeSec?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  targets(): Promise<{ health: string; lastError: string; scrapeUrl: string }[]>;
  /** Polls until every target is up (or throws with the last errors). */
  waitUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export async function startPrometheus(targets: ScrapeTarget[], opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  const bin = which('prometheus');
  if (!bin) throw new PrometheusUnavailable('prometheus is not installed (Debian package "prometheus")');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-prometheus-'));
  const port = await freePort();
  const jobs = targets
    .map((t, i) => {
      let job = `  - job_name: target${i}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    metrics_path: ${JSON.stringify(t.metricsPath ?? '/metrics')}\n`;
      if (t.basicAuth) job += `    basic_auth:\n      username: ${JSON.stringify(t.basicAuth.username)}\n      password: ${JSON.stringify(t.basicAuth.password)}\n`;
      job += `    static_configs:\n      - targets: [${JSON.stringify(t.address)}]\n`;
      return job;
    })
    .join('');
  const config = `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${jobs ? `scrape_configs:\n${jobs}` : ''}`;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  let logText = '';
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      '--storage.tsdb.retention.time=1h',
      ...(opts.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (logText = (logText + d).slice(-20000)));
  let exited = false;
  const exitPromise = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`prometheus exited: ${logText}`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus not ready within 30 s: ${logText}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  async function api<T>(p: string): Promise<T> {
    const r = await fetch(`${url}${p}`);
    const j = (await r.json()) as { status: string; data: T; error?: string };
    if (j.status !== 'success') throw new Error(`prometheus ${p}: ${j.error}`);
    return j.data;
  }

  const server: PrometheusServer = {
    url,
    query: async (q, timeSec) =>
      (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(q)}${timeSec === undefined ? '' : `&time=${timeSec}`}`)).result,
    targets: async () => (await api<{ activeTargets: { health: string; lastError: string; scrapeUrl: string }[] }>('/api/v1/targets')).activeTargets,
    async waitUp(timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      let last: { health: string; lastError: string; scrapeUrl: string }[] = [];
      while (Date.now() < end) {
        last = await server.targets();
        if (last.length === targets.length && last.every((t) => t.health === 'up')) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`targets not up: ${JSON.stringify(last)}`);
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const k = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(k);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    log: () => logText,
  };
  return server;
}

/** `promtool check metrics` on a page: resolves the exit status and the problems it printed. */
export function promtoolCheckMetrics(page: string): { available: boolean; status: number; problems: string[] } {
  const bin = which('promtool');
  if (!bin) return { available: false, status: -1, problems: [] };
  const r = spawnSync(bin, ['check', 'metrics'], { input: page, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const problems = (r.stdout + r.stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return { available: true, status: r.status ?? -1, problems };
}
