/**
 * Runs inside the UML guest (see ../lab.test.ts), with the host's node:
 *
 *   node driver.js serve status:200|status:500|status:401|silent ADDR:PORT
 *       one loopback-style test server on ADDR:PORT; prints "ready".
 *   node driver.js scenario
 *       the probe scenario against the guest's real IPVS table; prints JSON.
 *
 * Without arguments it prints its usage and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CaptureLogger } from '../../../../test/support/capture-log';
import type { Metric } from '../../../../core/metric';
import plugin from '../index';
import { DEFAULT_OPTIONS, type IpvsProbeOptions } from '../options';
import { CollectingAccumulator, startServer, type Behaviour } from '../testservers';

const INTERVAL_MS = 2000;

interface Row {
  tags: Record<string, string>;
  fields: Record<string, unknown>;
}

function rows(ms: Metric[]): Row[] {
  return ms.map((m) => ({ tags: m.tags(), fields: Object.fromEntries(m.fields.map((f) => [f.key, typeof f.value === 'bigint' ? Number(f.value) : f.value])) }));
}

async function serve(kind: string, addr: string): Promise<void> {
  const [host, portText] = [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)];
  const b: Behaviour = kind === 'silent' ? { kind: 'silent' } : { kind: 'status', status: Number(kind.split(':')[1]) };
  await startServer(b, { host, port: Number(portText) });
  process.stdout.write('ready\n');
}

function spawnServer(kind: string, addr: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [__filename, 'serve', kind, addr], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`server ${addr} exited (${code})`)));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

async function gather(options: Partial<IpvsProbeOptions>): Promise<{ probes: Row[]; round: Row[]; errors: string[]; log: string[]; ms: number }> {
  const log = new CaptureLogger('inputs.ipvs_probe');
  const input = plugin.create({ ...DEFAULT_OPTIONS, ...options }, { log, section: 'inputs.ipvs_probe', intervalNs: BigInt(INTERVAL_MS) * 1_000_000n, oneShot: false });
  const acc = new CollectingAccumulator();
  const t0 = performance.now();
  await input.gather(acc);
  const ms = performance.now() - t0;
  await input.stop?.();
  return { probes: rows(acc.named('ipvs_probe')), round: rows(acc.named('ipvs_probe_round')), errors: acc.errors, log: log.lines, ms };
}

async function scenario(): Promise<void> {
  const healthy = ['10.10.1.1:8080', '10.10.1.2:8080', '10.10.1.3:8080'];
  const servers = new Map<string, ChildProcess>();
  for (const a of healthy) servers.set(a, await spawnServer('status:200', a));
  servers.set('10.10.2.1:8080', await spawnServer('silent', '10.10.2.1:8080'));
  servers.set('10.10.2.2:8080', await spawnServer('status:500', '10.10.2.2:8080'));
  servers.set('10.10.2.3:8080', await spawnServer('status:401', '10.10.2.3:8080'));

  // One input kept across rounds, as the agent runs it (consecutive_failures is per input).
  const log = new CaptureLogger('inputs.ipvs_probe');
  const options: IpvsProbeOptions = { ...DEFAULT_OPTIONS, probe: 'http', path: '/healthz', timeout: '1s', healthy_statuses: [401] };
  const input = plugin.create(options, { log, section: 'inputs.ipvs_probe', intervalNs: BigInt(INTERVAL_MS) * 1_000_000n, oneShot: false });
  const rounds: { probes: Row[]; round: Row[]; errors: string[]; ms: number; sinceStopMs?: number }[] = [];
  const round = async (sinceStop?: number): Promise<number> => {
    const started = performance.now();
    const acc = new CollectingAccumulator();
    await input.gather(acc);
    rounds.push({ probes: rows(acc.named('ipvs_probe')), round: rows(acc.named('ipvs_probe_round')), errors: acc.errors, ms: performance.now() - started, sinceStopMs: sinceStop === undefined ? undefined : performance.now() - sinceStop });
    return started;
  };

  // Round 1: all up except the special servers.
  const t1 = await round();
  // Stop one real server between rounds; the next round (one interval later) must see it down.
  const victim = servers.get('10.10.1.2:8080')!;
  const stoppedAt = performance.now();
  await new Promise<void>((r) => {
    victim.once('exit', () => r());
    victim.kill('SIGKILL');
  });
  await sleep(t1 + INTERVAL_MS - performance.now());
  const t2 = await round(stoppedAt);
  // Restart it: up again at the next round.
  servers.set('10.10.1.2:8080', await spawnServer('status:200', '10.10.1.2:8080'));
  await sleep(t2 + INTERVAL_MS - performance.now());
  await round();
  await input.stop?.();

  // IPVS and real server inside a network namespace of the guest.
  const inNamespace = await gather({ namespace: 'ns1', probe: 'http', path: '/', timeout: '1s' });
  // The same table read from the guest's own namespace has no such virtual server.
  const ownNamespace = await gather({ virtual_servers: ['tcp:10.20.0.1:80'], probe: 'tcp', timeout: '1s' });

  for (const s of servers.values()) s.kill('SIGKILL');
  process.stdout.write(JSON.stringify({ rounds, warnings: log.lines, inNamespace, ownNamespace }) + '\n');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') {
  serve(args[0], args[1]).catch((err) => {
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
  process.stdout.write('usage: driver.js serve KIND ADDR:PORT | driver.js scenario\n');
}
