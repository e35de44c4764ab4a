/**
 * Running the built binary as an operator, systemd or Telegraf would: spawn
 * it, watch its output, signal it, and look at what it listens on. Set
 * `LVSAGENT_BIN` to test another build (e.g. an older checkout's dist).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './paths';

export const BIN = process.env.LVSAGENT_BIN || path.join(repoRoot, 'dist', 'core', 'cli', 'main.js');

export class AgentProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  stdoutBytes = 0;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  /** `wrap`: a command that runs node, e.g. setpriv with its arguments (the pid is then the wrapper's, which execs). */
  constructor(args: string[], opts: { keepStdout?: boolean; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore'; wrap?: string[] } = {}) {
    const argv = [...(opts.wrap ?? []), process.execPath, BIN, ...args];
    this.child = spawn(argv[0], argv.slice(1), { stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    this.child.stdout!.on('data', (b: Buffer) => {
      this.stdoutBytes += b.length;
      if (opts.keepStdout !== false) this.stdout += b.toString('utf8');
    });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  exit(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          this.child.kill('SIGKILL');
          reject(new Error(`no exit within ${timeoutMs} ms; stderr:\n${this.stderr}`));
        }, timeoutMs).unref(),
      ),
    ]);
  }

  /** Waits until stderr (or stdout) matches. */
  async waitFor(re: RegExp, timeoutMs = 20_000, stream: 'stderr' | 'stdout' = 'stderr'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!re.test(this[stream])) {
      if (Date.now() > end) throw new Error(`${re} not seen on ${stream} within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      if (!this.alive()) throw new Error(`process exited before ${re} on ${stream}; stderr:\n${this.stderr}`);
      await sleep(20);
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True once the process catches `sig` (its bit in SigCgt): Node has installed its own handlers. */
export function catchesSignal(pid: number, signo: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << BigInt(signo - 1))) !== 0n;
  } catch {
    return false;
  }
}

/** Waits until the process catches SIGUSR1 (10), the earliest moment sending it cannot kill the process. */
export async function waitUntilCatching(pid: number, signo = 10, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!catchesSignal(pid, signo)) {
    if (Date.now() > end) throw new Error(`process ${pid} never caught signal ${signo}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** TCP ports the process has in LISTEN state (IPv4 and IPv6). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** A TCP listener on loopback that accepts connections and never answers (a hung server). */
export async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A temporary directory removed at process exit. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
