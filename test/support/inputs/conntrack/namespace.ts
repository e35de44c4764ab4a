/**
 * A throw-away network namespace with conntrack active, for the conntrack
 * input's integration tests, benches and the remote-write test: an nftables
 * rule matching `ct state` makes the kernel track the namespace's traffic;
 * accounting and timestamps are on unless asked otherwise. Traffic comes from
 * traffic.ts run inside the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { loadBinding } from '../../../../core/netlink/binding';
import { kernelTestBlocker, netnsName, TestNetns } from '../../kernel';
import { skipReason } from '../../skip';

/** Why the conntrack integration tests cannot run here (root, ip, nft, conntrack, the native binding), or undefined when they can. */
export function conntrackTestBlocker(): string | undefined {
  const blocker = kernelTestBlocker(['ip', 'nft', 'conntrack']);
  if (blocker) return blocker;
  try {
    loadBinding();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** For `describe(..., { skip })`: a skip reason, or a failure under CI. */
export function conntrackTestSkip(): string | false {
  return skipReason(conntrackTestBlocker());
}

export class ConntrackNamespace extends TestNetns {
  static override create(prefix = 'lvsct', opts: { accounting?: boolean; timestamps?: boolean } = {}): ConntrackNamespace {
    return ConntrackNamespace.setUp(new ConntrackNamespace(netnsName(prefix)), (ns) => {
      ns.exec('nft', ['add', 'table', 'inet', 't']);
      ns.exec('nft', ['add', 'chain', 'inet', 't', 'c', '{ type filter hook output priority 0; }']);
      ns.exec('nft', ['add', 'rule', 'inet', 't', 'c', 'ct', 'state', 'new', 'accept']);
      ns.sysctl('nf_conntrack_acct', opts.accounting === false ? '0' : '1');
      ns.sysctl('nf_conntrack_timestamp', opts.timestamps === false ? '0' : '1');
    });
  }

  /** Sets (with `value`) and reads a net.netfilter sysctl of the namespace. */
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
