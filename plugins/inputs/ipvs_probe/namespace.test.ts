/**
 * Probe sockets created inside another network namespace (needs root and
 * iproute2; skipped otherwise, failed when CI=true). A server listens on
 * 127.0.0.1 inside a fresh namespace, on a port nothing uses on the host's
 * loopback: a probe socket created in the namespace reaches it, one created
 * in the host's namespace is refused. (Loopback rather than a namespace-only
 * routed address: a host whose default route leads to an intercepting proxy
 * "connects" to any routed address.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { CaptureLogger } from '../../../test/support/capture-log';
import { skipOrFail } from '../../../test/support/skip';
import plugin from './index';
import { DEFAULT_OPTIONS, type IpvsProbeOptions } from './options';
import { connectTcp, socketFd } from './socket';
import { fieldValue, TestAccumulator } from '../../../test/support/accumulator';

const NS = `lvsagent-probe-${process.pid}`;
const NS_ADDR = '127.0.0.1';

function prerequisite(): string {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, setns)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) not installed';
  }
  try {
    require('../../../core/netlink/binding').loadBinding();
  } catch (err) {
    return `native netlink binding not built: ${(err as Error).message}`;
  }
  return '';
}

describe('namespace', () => {
  const missing = prerequisite();
  let server: ChildProcess | undefined;
  let port = 0;

  before(async () => {
    if (missing) return;
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    server = spawn(
      'ip',
      ['netns', 'exec', NS, process.execPath, '-e', `const s=require('http').createServer((q,r)=>r.end('ok')).listen(0,'${NS_ADDR}',()=>console.log(s.address().port))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    port = await new Promise<number>((resolve, reject) => {
      server!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      server!.once('exit', (code) => reject(new Error(`namespace server exited (${code})`)));
    });
  });

  after(() => {
    server?.kill();
    if (!missing) {
      try {
        execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  });

  const skipped = (t: { skip(m: string): void }): boolean => {
    if (!missing) return false;
    skipOrFail(t, missing);
    return true;
  };

  test('connectTcp creates the fd inside withNetns; a plain net.connect would not', async (t) => {
    if (skipped(t)) return;
    const { withNetns } = require('../../../core/netlink/netns') as typeof import('../../../core/netlink/netns');
    const outcome = (s: import('node:net').Socket): Promise<string> =>
      new Promise((resolve) => {
        s.once('connect', () => resolve('connected'));
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      }).finally(() => s.destroy()) as Promise<string>;
    const ours = connectTcp(NS_ADDR, port, (fn) => withNetns(NS, fn));
    assert.ok(socketFd(ours) >= 0, 'fd created synchronously');
    assert.equal(await outcome(ours), 'connected');
    // Node creates the fd of an IP-literal connect on a later tick, back in our namespace.
    const net = await import('node:net');
    const plain = withNetns(NS, () => net.connect({ host: NS_ADDR, port }));
    assert.equal(socketFd(plain), -1);
    assert.equal(await outcome(plain), 'ECONNREFUSED');
  });

  test('probes reach an address that exists only inside the namespace', async (t) => {
    if (skipped(t)) return;
    const run = async (namespace: string): Promise<TestAccumulator> => {
      const options: IpvsProbeOptions = { ...DEFAULT_OPTIONS, namespace, probe: 'http', path: '/', timeout: '1s', targets: [`${NS_ADDR}:${port}`] };
      const input = plugin.create(options, { log: new CaptureLogger(), section: 'inputs.ipvs_probe', intervalNs: 5_000_000_000n, oneShot: false });
      const acc = new TestAccumulator();
      await input.gather(acc);
      await input.stop?.();
      return acc;
    };
    const inside = (await run(NS)).find('ipvs_probe')[0];
    assert.equal(inside.getTag('result'), 'success');
    assert.equal(fieldValue(inside, 'http_response_code'), 200);
    assert.equal(inside.getTag('namespace'), NS);
    // From the agent's own namespace the address is not reachable at all.
    const outside = (await run('')).find('ipvs_probe')[0];
    assert.equal(outside.getTag('result'), 'connection_refused');
    assert.equal(outside.getTag('namespace'), undefined);
  });
});
