/**
 * How a lab guest boots. Two backends run the same generated init script on
 * the host's root filesystem:
 *
 * - `qemu`: Debian's stock kernel under QEMU (TCG by default), the host's root
 *   over virtio-9p; runs on every x86-64 host. See qemu.ts.
 * - `uml`: Debian's user-mode Linux, the host's root over hostfs; faster to
 *   boot, but UML 6.1 dies on CPUs with AMX. See uml.ts.
 *
 * `LAB_BACKEND=qemu|uml|auto` (default auto) chooses. auto takes QEMU when it
 * can run here, so every host runs the same kernel, and falls back to UML
 * only where QEMU is missing and UML can boot.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';

export interface LabAvailability {
  ok: boolean;
  /** Why the lab cannot run here (empty when ok): one line naming what to install. */
  reason: string;
}

export interface BootRequest {
  /** The generated init script (PID 1), a host path the guest sees at the same place. */
  initPath: string;
  /** Host run directory. */
  dir: string;
  /** Guest memory: `512M`, `1G`, `2G`. */
  mem: string;
  /** Host-side limit for the whole boot, already scaled. */
  timeoutSec: number;
}

export interface BootResult {
  console: string;
  exitCode: number | null;
}

export interface LabBackend {
  readonly name: 'qemu' | 'uml';
  /** Can it boot here? Synchronous and cheap: programs, CPU, cached files. */
  availability(): LabAvailability;
  /** One-time work before the first boot (the QEMU kernel download). Rejects with a one-line reason. */
  prepare(log: (line: string) => void): Promise<void>;
  /** E.g. `qemu tcg, Debian kernel 6.1.0-57-amd64` (after prepare). */
  describe(): string;
  /** Guest CPU work runs this many times slower than on UML: limits scale by it. */
  readonly timeScale: number;
  /** Guest vCPUs. */
  readonly cpus: number;
  /** Shell lines run by the guest init right after /proc and /sys, before /tmp and /run are replaced by tmpfs. */
  guestPreamble(): string[];
  /** A shell line mounting host path `src` (a shell word) at guest path `dst` (a shell word, existing). */
  bindHost(src: string, dst: string): string;
  /** Shell word for the host folder holding the guest kernel's modules (`/lib/modules/<release>` content). */
  modulesSource(): string;
  /** Shell line that ends the guest at once (after sync). */
  readonly powerOff: string;
  boot(req: BootRequest): Promise<BootResult>;
}

/** Runs a boot command under coreutils `timeout`, collecting up to 1 MiB of console. */
export function runConsole(args: string[], env: NodeJS.ProcessEnv = {}): Promise<BootResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('timeout', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', TMPDIR: os.tmpdir(), ...env },
    });
    const LIMIT = 1 << 20;
    let text = '';
    const take = (b: Buffer): void => {
      if (text.length < LIMIT) text += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ console: text.slice(0, LIMIT), exitCode: code }));
  });
}
