/**
 * Guest side of the real-kernel lab test (plugins/inputs/ip_vs_conn/lab.test.ts): runs the plugin
 * inside the lab guest between real connections and prints one JSON document
 * with its metrics, `ipvsadm -Lnc` taken just before and just after each
 * gather, and what the clients saw.
 *
 *   node reuse-scenario.js VIP:PORT CLIENT_ADDR [NAMESPACE]
 *
 * Phase A, conn_reuse_mode=0: a client on a fixed source port connects, the
 * server closes (the IPVS entry goes to TIME_WAIT), gather; the same port
 * connects again within TIME_WAIT (the kernel reuses the entry, same real
 * server), gather. Phase B, conn_reuse_mode=1: the same on another port (the
 * kernel expires the entry and schedules again: another real server with rr).
 * With NAMESPACE (an ip netns name), a second input reads that namespace once at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '../../../../../core/log';
import { IpVsConnInput } from '../../../../../plugins/inputs/ip_vs_conn/input';
import { plainMetric, TestAccumulator, type PlainMetric } from '../../../accumulator';

const TRAFFIC = path.join(__dirname, 'guest-traffic.js');

function fixedGet(target: string, addr: string, port: number): string {
  const r = spawnSync(process.execPath, [TRAFFIC, 'fixed-get', target, addr, String(port)], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`fixed-get ${addr}:${port} failed: ${r.stderr}`);
  return r.stdout.trim();
}

function lnc(ns?: string): string {
  return ns ? execFileSync('ip', ['netns', 'exec', path.basename(ns), 'ipvsadm', '-Lnc'], { encoding: 'utf8' }) : execFileSync('ipvsadm', ['-Lnc'], { encoding: 'utf8' });
}

async function pass(input: IpVsConnInput, label: string, ns?: string): Promise<{ label: string; before: string; after: string; metrics: PlainMetric[]; errors: string[] }> {
  const acc = new TestAccumulator();
  const before = lnc(ns);
  await input.gather(acc);
  const after = lnc(ns);
  return { label, before, after, metrics: acc.metrics.map(plainMetric), errors: acc.errors };
}

const BURST_TARGET = '10.10.0.1:53';
const BURST = 3000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const setMode = (v: number): void => fs.writeFileSync('/proc/sys/net/ipv4/vs/conn_reuse_mode', `${v}\n`);

async function main(): Promise<void> {
  const [vip, client, ns] = process.argv.slice(2);
  if (!vip) {
    process.stdout.write('usage: reuse-scenario.js VIP:PORT CLIENT_ADDR [NAMESPACE]\n');
    return;
  }
  const log = new Logger('inputs.ip_vs_conn');
  const input = new IpVsConnInput({ report_reused_connections: true }, { log });
  const passes = [];
  const bodies: string[] = [];

  setMode(0);
  bodies.push(fixedGet(vip, client, 40000));
  passes.push(await pass(input, 'A1'));
  await sleep(1500);
  bodies.push(fixedGet(vip, client, 40000));
  passes.push(await pass(input, 'A2'));

  setMode(1);
  bodies.push(fixedGet(vip, client, 40001));
  passes.push(await pass(input, 'B1'));
  await sleep(1500);
  bodies.push(fixedGet(vip, client, 40001));
  passes.push(await pass(input, 'B2'));

  // A bigger table: the read spans many chunks and seq_file pages.
  const burst = spawnSync(process.execPath, [TRAFFIC, 'udp-burst', BURST_TARGET, String(BURST)], { encoding: 'utf8', timeout: 60_000 });
  if (burst.status !== 0) throw new Error(`udp-burst failed: ${burst.stderr}`);
  passes.push(await pass(input, 'C'));

  let nsPass;
  if (ns) {
    const nsInput = new IpVsConnInput({ namespace: ns }, { log });
    nsPass = await pass(nsInput, 'NS', ns);
  }
  process.stdout.write(JSON.stringify({ bodies, passes, nsPass }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`reuse-scenario: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
