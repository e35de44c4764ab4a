/**
 * Runs inside the lab guest (see plugins/inputs/ipvs_probe/lab.test.ts), with the host's node:
 *
 *   node driver.js serve KIND@ADDR:PORT...
 *       test servers (KIND: status:200, status:500, status:401, silent); prints "ready".
 *   node driver.js scenario
 *       the probe scenario against the guest's real IPVS table; prints JSON.
 *
 * Without arguments it prints its usage and exits 0.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { makeAjv } from '../../../../../core/config/schema';
import type { Metric } from '../../../../../core/metric';
import { loadRegistry } from '../../../../../core/registry';
import plugin from '../../../../../plugins/inputs/ipvs_probe/index';
import { DEFAULT_OPTIONS, type IpvsProbeOptions } from '../../../../../plugins/inputs/ipvs_probe/options';
import { plainMetric, TestAccumulator, type PlainMetric } from '../../../accumulator';
import { CaptureLogger } from '../../../capture-log';
import { startServer, type Behaviour } from '../servers';

const INTERVAL_MS = 2000;

type Row = PlainMetric;

function rows(ms: Metric[]): Row[] {
  return ms.map(plainMetric);
}

/** Starts servers given as KIND@ADDR:PORT (one process for several keeps guest start-up time down). */
async function serve(specs: string[]): Promise<void> {
  for (const spec of specs) {
    const at = spec.indexOf('@');
    const kind = spec.slice(0, at);
    const addr = spec.slice(at + 1);
    const colon = addr.lastIndexOf(':');
    const host = addr.slice(0, colon).replace(/^\[|\]$/g, '');
    const b: Behaviour = kind === 'silent' ? { kind: 'silent' } : { kind: 'status', status: Number(kind.split(':')[1]) };
    await startServer(b, { host, port: Number(addr.slice(colon + 1)) });
  }
  process.stdout.write('ready\n');
}

function spawnServers(specs: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [__filename, 'serve', ...specs], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`servers ${specs.join(' ')} exited (${code})`)));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

async function gather(options: Partial<IpvsProbeOptions>): Promise<{ probes: Row[]; round: Row[]; errors: string[]; log: string[]; ms: number }> {
  const log = new CaptureLogger('inputs.ipvs_probe');
  const input = plugin.create({ ...DEFAULT_OPTIONS, ...options }, { log, section: 'inputs.ipvs_probe', intervalNs: BigInt(INTERVAL_MS) * 1_000_000n, oneShot: false });
  const acc = new TestAccumulator();
  const t0 = performance.now();
  await input.gather(acc);
  const ms = performance.now() - t0;
  await input.stop?.();
  return { probes: rows(acc.find('ipvs_probe')), round: rows(acc.find('ipvs_probe_round')), errors: acc.errors, log: log.lines, ms };
}

/** One gather of inputs.ipvs (found through the registry, as the agent finds it), for the join. */
async function ipvsRealServers(): Promise<Row[]> {
  const p = loadRegistry().inputs.get('ipvs');
  if (!p) throw new Error('inputs.ipvs not found in the registry');
  const options: Record<string, unknown> = {};
  makeAjv().compile(p.schema)(options);
  const input = p.create(options, { log: new CaptureLogger('inputs.ipvs'), section: 'inputs.ipvs', intervalNs: BigInt(INTERVAL_MS) * 1_000_000n, oneShot: false });
  await input.init?.();
  const acc = new TestAccumulator();
  await input.gather(acc);
  await input.stop?.();
  if (acc.errors.length) throw new Error(acc.errors.join('; '));
  return rows(acc.find('ipvs_real_server'));
}

async function scenario(): Promise<void> {
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const mark = (name: string): void => {
    phases[name] = Math.round(performance.now() - t0);
  };
  // The real server that gets stopped runs alone; the others share one process.
  const victimSpec = 'status:200@10.10.1.2:8080';
  let victim: ChildProcess;
  let others: ChildProcess;
  [victim, others] = await Promise.all([
    spawnServers([victimSpec]),
    spawnServers([
      'status:200@10.10.1.1:8080',
      'status:200@10.10.1.3:8080',
      'silent@10.10.2.1:8080',
      'status:500@10.10.2.2:8080',
      'status:401@10.10.2.3:8080',
      'status:200@[fd00::11]:8080',
    ]),
  ]);
  mark('servers');
  // One input kept across rounds, as the agent runs it (consecutive_failures is per input).
  const log = new CaptureLogger('inputs.ipvs_probe');
  const options: IpvsProbeOptions = { ...DEFAULT_OPTIONS, probe: 'http', path: '/healthz', timeout: '1s', healthy_statuses: [401] };
  const input = plugin.create(options, { log, section: 'inputs.ipvs_probe', intervalNs: BigInt(INTERVAL_MS) * 1_000_000n, oneShot: false });
  const rounds: { probes: Row[]; round: Row[]; errors: string[]; ms: number; sinceStopMs?: number }[] = [];
  const round = async (sinceStop?: number): Promise<number> => {
    const started = performance.now();
    const acc = new TestAccumulator();
    await input.gather(acc);
    rounds.push({ probes: rows(acc.find('ipvs_probe')), round: rows(acc.find('ipvs_probe_round')), errors: acc.errors, ms: performance.now() - started, sinceStopMs: sinceStop === undefined ? undefined : performance.now() - sinceStop });
    return started;
  };

  // Round 1: all up except the special servers.
  const t1 = await round();
  // Stop one real server between rounds; the next round (one interval later) must see it down.
  const stoppedAt = performance.now();
  await new Promise<void>((r) => {
    victim.once('exit', () => r());
    victim.kill('SIGKILL');
  });
  await sleep(t1 + INTERVAL_MS - performance.now());
  const t2 = await round(stoppedAt);
  // What LVScare does next: weight 0. inputs.ipvs then shows weight 0 for the pair the probe reports down.
  execFileSync('ipvsadm', ['-e', '-t', '10.10.0.1:80', '-r', '10.10.1.2:8080', '-m', '-w', '0']);
  mark('round2');
  let realServers: Row[] = [];
  let joinError = '';
  try {
    realServers = await ipvsRealServers();
  } catch (err) {
    joinError = (err as Error).message;
  }
  mark('ipvs-input');
  // Restart it: up again at the next round.
  victim = await spawnServers([victimSpec]);
  await sleep(t2 + INTERVAL_MS - performance.now());
  await round();
  await input.stop?.();

  mark('round3');
  // IPVS and real server inside a network namespace of the guest.
  const inNamespace = await gather({ namespace: 'ns1', probe: 'http', path: '/', timeout: '1s' });
  // The same table read from the guest's own namespace has no such virtual server.
  const ownNamespace = await gather({ virtual_servers: ['tcp:10.20.0.1:80'], probe: 'tcp', timeout: '1s' });

  mark('namespace');
  for (const c of [victim, others]) c.kill('SIGKILL');
  process.stdout.write(JSON.stringify({ rounds, warnings: log.lines, inNamespace, ownNamespace, realServers, joinError, phases }) + '\n');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') {
  serve(args).catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
} else if (mode === 'scenario') {
  scenario().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
} else {
  process.stdout.write('usage: driver.js serve KIND@ADDR:PORT... | driver.js scenario\n');
}
