/**
 * Test support: a throw-away network namespace with conntrack active
 * (test-lab recipe: an nftables rule matching `ct state` makes the kernel
 * track the namespace's traffic), accounting and timestamps on.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { loadBinding } from '../../../core/netlink/binding';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Why root-only tests cannot run here, or undefined when they can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables, ctnetlink)';
  for (const tool of ['ip', 'nft', 'conntrack']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs the ${tool} command`;
    }
  }
  try {
    loadBinding();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** For `test(..., { skip: labSkip() })`: a skip reason, or a failure under CI. */
export function labSkip(): string | false {
  const why = labUnavailable();
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(`conntrack integration test cannot run under CI: ${why}`);
  return `skipped: ${why}`;
}

export class TestNamespace {
  readonly path: string;
  private constructor(readonly name: string) {
    this.path = `/var/run/netns/${name}`;
  }

  static create(prefix = 'lvsct', opts: { accounting?: boolean; timestamps?: boolean } = {}): TestNamespace {
    const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new TestNamespace(name);
    try {
      ns.exec('ip', ['link', 'set', 'lo', 'up']);
      ns.exec('nft', ['add', 'table', 'inet', 't']);
      ns.exec('nft', ['add', 'chain', 'inet', 't', 'c', '{ type filter hook output priority 0; }']);
      ns.exec('nft', ['add', 'rule', 'inet', 't', 'c', 'ct', 'state', 'new', 'accept']);
      ns.sysctl('nf_conntrack_acct', opts.accounting === false ? '0' : '1');
      ns.sysctl('nf_conntrack_timestamp', opts.timestamps === false ? '0' : '1');
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  exec(cmd: string, args: string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  sysctl(name: string, value?: string): string {
    if (value !== undefined) this.exec('sh', ['-c', `echo ${value} > /proc/sys/net/netfilter/${name}`]);
    return this.exec('cat', [`/proc/sys/net/netfilter/${name}`]).trim();
  }

  /** Runs the traffic generator inside the namespace and resolves with its JSON summary. */
  traffic(args: Array<string | number>): Promise<Record<string, unknown>> {
    const child = this.spawnTraffic(args);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      child.on('close', (code) => {
        if (code !== 0) reject(new Error(`traffic ${args.join(' ')} exited ${code}: ${err}`));
        else resolve(JSON.parse(out.trim().split('\n').pop()!));
      });
    });
  }

  spawnTraffic(args: Array<string | number>): ChildProcess {
    const script = path.join(__dirname, 'traffic.js');
    return spawn('ip', ['netns', 'exec', this.name, process.execPath, script, ...args.map(String)], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** `conntrack -L` lines of the namespace. */
  list(extra: string[] = []): string[] {
    return this.exec('conntrack', ['-L', ...extra]).split('\n').filter((l) => l.trim() !== '');
  }

  destroy(): void {
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    if (fs.existsSync(this.path)) fs.rmSync(this.path, { force: true });
  }
}

/** Parses a `conntrack -L` line into its protocol, TCP state, key=value pairs (orig first) and flags. */
export function parseConntrackLine(line: string): { proto: string; state?: string; kv: Array<[string, string]>; flags: string[] } {
  const parts = line.trim().split(/\s+/);
  const proto = parts[0];
  const kv: Array<[string, string]> = [];
  const flags: string[] = [];
  let state: string | undefined;
  for (const p of parts.slice(3)) {
    const eq = p.indexOf('=');
    if (eq > 0) kv.push([p.slice(0, eq), p.slice(eq + 1)]);
    else if (p.startsWith('[')) flags.push(p);
    else if (/^[A-Z_0-9]+$/.test(p)) state = p;
  }
  return { proto, state, kv, flags };
}
