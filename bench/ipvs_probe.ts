/**
 * inputs.ipvs_probe: one probe round over N loopback HTTP servers (distinct
 * ports on 127.0.0.1, served by a child process so its CPU is not counted),
 * beside reference runs issuing the same N requests:
 *   - fetch() with Promise.all (every request at once, undici),
 *   - node:http get() with agent:false, at most 128 in flight (same bound),
 *   - curl --parallel --parallel-max 128 (one process, config file).
 * Figures per run: wall time, CPU time of the prober (user+sys), peak open
 * TCP sockets of the prober (sampled every 2 ms), peak simultaneous
 * connections seen by the servers (higher than the client's when the server
 * process lags behind the clients' FINs), and RSS (baseline and peak) of a
 * fresh process doing one round (in the shared bench process the variants'
 * heaps would mix).
 * Runs of all kinds are interleaved round by round (the machine may be shared
 * and its load vary); median of ROUNDS rounds after one warm-up round. CPU
 * time is the steadier figure.
 *
 *   IPVS_PROBE_BENCH_TARGETS=1000,10000 (default) picks the sizes; the
 *   references run at the first size only.
 */
import { execFileSync, spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '../core/log';
import { withNetns } from '../core/netlink/netns';
import { IpvsProbeInput } from '../plugins/inputs/ipvs_probe/input';
import { buildProbeSpec, DEFAULT_OPTIONS, type IpvsProbeOptions } from '../plugins/inputs/ipvs_probe/options';
import { TestAccumulator } from '../test/support/accumulator';
import { ConnCounter, startServer } from '../test/support/inputs/ipvs_probe/servers';

const SIZES = (process.env.IPVS_PROBE_BENCH_TARGETS ?? '1000,10000').split(',').map(Number);
const ROUNDS = 5;
const BOUND = 128;

interface Figures {
  wallMs: number;
  cpuMs: number;
  peakSockets: number;
  peakConns: number;
  peakRssMb: number;
  ok: number;
}

// ---------------------------------------------------------------- server child

async function serve(n: number): Promise<void> {
  const counter = new ConnCounter();
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push((await startServer({ kind: 'status', status: 200 }, { counter })).port);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'reset') {
      counter.maxOpen = 0;
      counter.accepted = 0;
      process.send!({ cmd: 'reset' });
    } else if (m.cmd === 'stats') {
      process.send!({ cmd: 'stats', maxOpen: counter.maxOpen, accepted: counter.accepted });
    }
  });
  process.send!({ cmd: 'ready', ports });
}

class ServerChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly ports: number[],
  ) {}

  /** Starts the servers, inside network namespace `netns` when given (via `ip netns exec`). */
  static start(n: number, netns = ''): Promise<ServerChild> {
    const child = netns
      ? spawn('ip', ['netns', 'exec', netns, process.execPath, __filename, 'serve', String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(__filename, ['serve', String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      child.once('message', (m: { ports: number[] }) => resolve(new ServerChild(child, m.ports)));
      child.once('exit', (code) => reject(new Error(`server child exited (${code})`)));
    });
  }

  private ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      const on = (m: { cmd: string }): void => {
        if (m.cmd !== cmd) return;
        this.child.off('message', on);
        resolve(m as T);
      };
      this.child.on('message', on);
      this.child.send({ cmd });
    });
  }

  reset(): Promise<unknown> {
    return this.ask('reset');
  }

  stats(): Promise<{ maxOpen: number; accepted: number }> {
    return this.ask('stats');
  }

  stop(): void {
    this.child.kill();
  }
}

// ---------------------------------------------------------------- runners

async function measure(srv: ServerChild, run: () => Promise<number>): Promise<Figures> {
  (globalThis as { gc?: () => void }).gc?.();
  await srv.reset();
  let peakRss = process.memoryUsage.rss();
  let peakSockets = 0;
  const sampler = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peakRss) peakRss = r;
    let socks = 0;
    for (const k of process.getActiveResourcesInfo()) if (k === 'TCPSocketWrap') socks++;
    if (socks > peakSockets) peakSockets = socks;
  }, 2);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const ok = await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const s = await srv.stats();
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, peakSockets, peakConns: s.maxOpen, peakRssMb: peakRss / 2 ** 20, ok };
}

function probeInput(ports: number[], kind: 'http' | 'tcp', netns?: { name: string; batched: boolean }): IpvsProbeInput {
  const options: IpvsProbeOptions = { ...DEFAULT_OPTIONS, probe: kind, path: '/healthz', timeout: '5s', max_concurrency: BOUND, targets: ports.map((p) => `127.0.0.1:${p}`) };
  const spec = buildProbeSpec(options);
  const ctx = { log: new Logger('bench'), section: 'inputs.ipvs_probe', intervalNs: 10_000_000_000n, oneShot: false };
  if (!netns) return new IpvsProbeInput(options, spec, ctx, {});
  const runner = <T>(fn: () => T): T => withNetns(netns.name, fn);
  // Batched: the input's own mode (one switch per batch of starts). Unbatched: one switch per probe.
  if (netns.batched) return new IpvsProbeInput({ ...options, namespace: netns.name }, spec, ctx, { inNetns: runner });
  spec.inNetns = runner;
  return new IpvsProbeInput({ ...options, namespace: netns.name }, spec, ctx, {});
}

/** Probing inside a network namespace: the cost of the namespace switches. Root only. */
async function namespaceRun(n: number): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('namespace run skipped (needs root)');
    return;
  }
  const ns = `ipvs-probe-bench-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  let srv: ServerChild | undefined;
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    srv = await ServerChild.start(n, ns);
    console.log(`-- ${n} targets inside network namespace ${ns} (servers and probe sockets in there)`);
    const ports = srv.ports;
    const server = srv;
    const batched = probeInput(ports, 'http', { name: ns, batched: true });
    const single = probeInput(ports, 'http', { name: ns, batched: false });
    const variants: Variant[] = [
      { label: 'same, one switch per probe', run: () => measure(server, ourRound(single)), results: [] },
      { label: 'ipvs_probe http, namespace (batched switch)', run: () => measure(server, ourRound(batched)), results: [] },
    ];
    const figures = await interleaved(variants);
    for (let i = 0; i < variants.length; i++) console.log(row(variants[i].label, figures[i], n));
    console.log(`  ratio batched/per-probe: CPU ${(figures[1].cpuMs / figures[0].cpuMs).toFixed(2)}×, wall ${(figures[1].wallMs / figures[0].wallMs).toFixed(2)}×`);
  } finally {
    srv?.stop();
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

function ourRound(input: IpvsProbeInput): () => Promise<number> {
  return async () => {
    const acc = new TestAccumulator();
    await input.gather(acc);
    let ok = 0;
    for (const m of acc.find('ipvs_probe')) if (m.getTag('result') === 'success') ok++;
    return ok;
  };
}

function fetchAll(ports: number[]): () => Promise<number> {
  return async () => {
    const res = await Promise.all(
      ports.map((p) =>
        fetch(`http://127.0.0.1:${p}/healthz`).then(
          async (r) => {
            await r.arrayBuffer();
            return r.status < 400 ? 1 : 0;
          },
          () => 0,
        ),
      ),
    );
    return res.reduce((a: number, b: number) => a + b, 0);
  };
}

function httpGetBounded(ports: number[]): () => Promise<number> {
  return () =>
    new Promise((resolve) => {
      let next = 0;
      let inFlight = 0;
      let ok = 0;
      let done = 0;
      const pump = (): void => {
        while (inFlight < BOUND && next < ports.length) {
          const port = ports[next++];
          inFlight++;
          const finish = (good: boolean): void => {
            inFlight--;
            done++;
            if (good) ok++;
            if (done === ports.length) resolve(ok);
            else pump();
          };
          http
            .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
              res.resume();
              res.on('end', () => finish((res.statusCode ?? 500) < 400));
            })
            .on('error', () => finish(false));
        }
      };
      pump();
    });
}

function curlAvailable(): boolean {
  const probe = spawnSync('curl', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 && /^curl (7\.(6[6-9]|[7-9]\d)|[89]\.)/.test(probe.stdout);
}

function curlParallel(ports: number[], srv: ServerChild): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipvs-probe-bench-'));
  const cfg = path.join(dir, 'urls.cfg');
  fs.writeFileSync(cfg, ports.map((p) => `url = "http://127.0.0.1:${p}/healthz"\noutput = "/dev/null"\n`).join(''));
  return (async () => {
    await srv.reset();
    const t0 = performance.now();
    // bash's `times` prints the children's user and system CPU on its second line.
    const r = spawnSync('bash', ['-c', `curl -s --parallel --parallel-max ${BOUND} -K ${cfg} -w '%{http_code}\\n'; times`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const wallMs = performance.now() - t0;
    fs.rmSync(dir, { recursive: true, force: true });
    const lines = r.stdout.trim().split('\n');
    const times = lines.pop()!;
    lines.pop();
    const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(times);
    const cpuMs = m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : NaN;
    const s = await srv.stats();
    return { wallMs, cpuMs, peakSockets: NaN, peakConns: s.maxOpen, peakRssMb: NaN, ok: lines.filter((l) => l === '200').length };
  })();
}

// ---------------------------------------------------------------- reporting

function median(xs: Figures[]): Figures {
  const pick = (k: keyof Figures): number => {
    const v = xs.map((x) => x[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  return { wallMs: pick('wallMs'), cpuMs: pick('cpuMs'), peakSockets: pick('peakSockets'), peakConns: pick('peakConns'), peakRssMb: pick('peakRssMb'), ok: pick('ok') };
}

interface Variant {
  label: string;
  run: () => Promise<Figures>;
  results: Figures[];
}

/** One warm-up round, then ROUNDS rounds; every round runs each variant once, in turn. */
async function interleaved(variants: Variant[]): Promise<Figures[]> {
  for (const v of variants) await v.run();
  for (let r = 0; r < ROUNDS; r++) for (const v of variants) v.results.push(await v.run());
  return variants.map((v) => median(v.results));
}

const num = (x: number, digits = 1, width = 8): string => (Number.isNaN(x) ? '-' : x.toFixed(digits)).padStart(width);

function row(label: string, f: Figures, n: number): string {
  return `${label.padEnd(42)} ${num(f.wallMs)} ms ${num(f.cpuMs)} ms ${num(f.peakSockets, 0, 7)} ${num(f.peakConns, 0, 8)}  ${f.ok}/${n} ok`;
}

function ratio(label: string, ours: Figures, ref: Figures): string {
  const sock = Number.isNaN(ref.peakSockets) ? `server-seen connections ${(ours.peakConns / ref.peakConns).toFixed(2)}×` : `peak sockets ${(ours.peakSockets / ref.peakSockets).toFixed(2)}×`;
  return `  ratio ours/${label}: wall ${(ours.wallMs / ref.wallMs).toFixed(2)}×, CPU ${(ours.cpuMs / ref.cpuMs).toFixed(2)}×, ${sock}`;
}

async function main(): Promise<void> {
  console.log(`ipvs_probe bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}; median of ${ROUNDS} interleaved rounds after one warm-up`);
  console.log(`${'run'.padEnd(42)} ${'wall'.padStart(11)} ${'CPU'.padStart(11)} ${'socks'.padStart(7)} ${'srv-seen'.padStart(8)}`);
  for (let si = 0; si < SIZES.length; si++) {
    const n = SIZES[si];
    const srv = await ServerChild.start(n);
    try {
      console.log(`-- ${n} targets (HTTP servers on 127.0.0.1, distinct ports; served by a child process)`);
      const httpInput = probeInput(srv.ports, 'http');
      const tcpInput = probeInput(srv.ports, 'tcp');
      const variants: Variant[] = [
        { label: `ipvs_probe http (max_concurrency ${BOUND})`, run: () => measure(srv, ourRound(httpInput)), results: [] },
        { label: `ipvs_probe tcp (max_concurrency ${BOUND})`, run: () => measure(srv, ourRound(tcpInput)), results: [] },
      ];
      const withRefs = si === 0;
      if (withRefs) {
        variants.push({ label: `ref: http.get agent:false, ${BOUND} at once`, run: () => measure(srv, httpGetBounded(srv.ports)), results: [] });
        variants.push({ label: 'ref: fetch() Promise.all', run: () => measure(srv, fetchAll(srv.ports)), results: [] });
        if (curlAvailable()) variants.push({ label: `ref: curl --parallel-max ${BOUND}`, run: () => curlParallel(srv.ports, srv), results: [] });
        else console.log('ref: curl skipped (no curl with --parallel)');
      }
      const figures = await interleaved(variants);
      for (let i = 0; i < variants.length; i++) console.log(row(variants[i].label, figures[i], n));
      if (withRefs) for (let i = 2; i < variants.length; i++) console.log(ratio(variants[i].label.replace(/^ref: /, '').split(/[ (,]/)[0], figures[0], figures[i]));
      if (withRefs) {
        console.log('  RSS of a fresh process doing one round (baseline after loading → peak during the round):');
        for (const kind of ['ours-http', 'http.get', 'fetch']) {
          const r = await freshRss(kind, srv.ports);
          console.log(`    ${kind.padEnd(10)} ${r.baseMb.toFixed(1)} MB → ${r.peakMb.toFixed(1)} MB (+${(r.peakMb - r.baseMb).toFixed(1)} MB)`);
        }
      }
      console.log(`  ${n} targets: one http round takes ${(figures[0].wallMs / 1000).toFixed(2)} s of a 10 s interval, ${(figures[0].cpuMs / n).toFixed(3)} ms CPU per probe`);
    } finally {
      srv.stop();
    }
  }
  await namespaceRun(SIZES[0]);
}

/** Forks a fresh process that runs one round of `kind` and reports its RSS before and at peak. */
function freshRss(kind: string, ports: number[]): Promise<{ baseMb: number; peakMb: number }> {
  const child = fork(__filename, ['rss', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { baseMb: number; peakMb: number }) => {
      child.kill();
      resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`rss child exited (${code})`)));
    child.send({ ports });
  });
}

async function rssChild(kind: string, ports: number[]): Promise<void> {
  const run = kind === 'ours-http' ? ourRound(probeInput(ports, 'http')) : kind === 'fetch' ? fetchAll(ports) : httpGetBounded(ports);
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  await run();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  process.send!({ baseMb: base / 2 ** 20, peakMb: peak / 2 ** 20 });
}

if (process.argv[2] === 'serve') {
  void serve(Number(process.argv[3]));
} else if (process.argv[2] === 'rss') {
  process.once('message', (m: { ports: number[] }) => void rssChild(process.argv[3], m.ports));
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
