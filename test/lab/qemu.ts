/**
 * The QEMU backend: Debian's stock kernel (debian-kernel.ts) with a small
 * initramfs that mounts the host's root over virtio-9p and hands over to the
 * generated init. Two vCPUs, no network device (loopback and the scenario's
 * own dummy/veth links only).
 *
 * Acceleration, `LAB_ACCEL`:
 * - `tcg` (default): software emulation; guest CPU work is several times
 *   slower than native, so run limits scale by `timeScale`.
 * - `kvm`: hardware virtualisation, when the operator knows it works.
 * - `auto`: one short KVM probe boot per process; TCG when it does not reach
 *   the probe's init in time (nested KVM can hang in early boot).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runConsole, type BootRequest, type BootResult, type LabAvailability, type LabBackend } from './backend';
import { debianKernel, labCacheDir, missingKernelTools, type LabKernel } from './debian-kernel';
import { findProgram, isStaticElf } from './host';
import { BUSYBOX, NINEP_TAG } from './initramfs';

export const QEMU_BINARY = process.env.LAB_QEMU || 'qemu-system-x86_64';

type Accel = 'tcg' | 'kvm';

const KVM_PROBE_SEC = 20;
/** Where the guest re-finds the host's root after /tmp and /run are covered by tmpfs. */
const HOST_VIEW = '/dev/.lab-host';

export class QemuBackend implements LabBackend {
  readonly name = 'qemu' as const;
  readonly cpus = 2;
  readonly powerOff = 'echo b > /proc/sysrq-trigger';
  /** A kernel and acceleration may be given (the harness's own tests); otherwise prepare() finds them. */
  constructor(
    private kernel?: LabKernel,
    private accel?: Accel,
  ) {}

  get timeScale(): number {
    return this.accel === 'kvm' ? 1 : 3;
  }

  availability(): LabAvailability {
    const no = (reason: string): LabAvailability => ({ ok: false, reason });
    if (process.arch !== 'x64') return no(`the QEMU lab boots Debian's amd64 kernel; this host is ${process.arch}`);
    if (!findProgram(QEMU_BINARY)) return no(`${QEMU_BINARY} not found: apt-get install qemu-system-x86`);
    if (!isStaticElf(BUSYBOX)) return no(`no static busybox at ${BUSYBOX}: apt-get install busybox-static`);
    const missing = missingKernelTools();
    if (missing.length > 0 && !hasCachedKernel()) return no(`${missing.join(', ')} not found (needed once to fetch Debian's kernel): run on Debian with apt, dpkg and kmod`);
    const accel = process.env.LAB_ACCEL ?? 'tcg';
    if (!['tcg', 'kvm', 'auto'].includes(accel)) return no(`LAB_ACCEL=${accel}: use tcg, kvm or auto`);
    if (accel === 'kvm' && !fs.existsSync('/dev/kvm')) return no('LAB_ACCEL=kvm but /dev/kvm does not exist: unset LAB_ACCEL to use TCG');
    return { ok: true, reason: '' };
  }

  async prepare(log: (line: string) => void): Promise<void> {
    this.kernel ??= await debianKernel(log);
    this.accel ??= await chooseAccel(this.kernel);
  }

  describe(): string {
    return `qemu ${this.accel ?? '?'}, Debian kernel ${this.kernel?.release ?? '?'}`;
  }

  guestPreamble(): string[] {
    return [`mkdir -p ${HOST_VIEW}`, `mount --bind / ${HOST_VIEW}`];
  }

  bindHost(src: string, dst: string): string {
    return `mount --bind ${HOST_VIEW}${src} ${dst}`;
  }

  modulesSource(): string {
    if (!this.kernel) throw new Error('qemu backend: prepare() first');
    return `'${this.kernel.modulesDir.replace(/'/g, `'\\''`)}'`;
  }

  boot(req: BootRequest): Promise<BootResult> {
    if (!this.kernel || !this.accel) throw new Error('qemu backend: prepare() first');
    return qemu(this.kernel, this.accel, req.initPath, req.mem, req.timeoutSec);
  }
}

function hasCachedKernel(): boolean {
  try {
    return fs.readdirSync(labCacheDir()).some((n) => fs.existsSync(path.join(labCacheDir(), n, 'kernel.json')));
  } catch {
    return false;
  }
}

function qemu(kernel: LabKernel, accel: Accel, initPath: string, mem: string, timeoutSec: number): Promise<BootResult> {
  return runConsole([
    '--kill-after=5',
    String(timeoutSec),
    QEMU_BINARY,
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', '2',
    '-m', mem,
    '-nodefaults', '-no-user-config',
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    // A reboot (the guest's power-off, a panic) ends QEMU.
    '-no-reboot',
    '-kernel', kernel.vmlinuz,
    '-initrd', kernel.initrd,
    '-append', `console=ttyS0 quiet panic=-1 lab.init=${initPath}`,
    '-virtfs', `local,path=/,mount_tag=${NINEP_TAG},security_model=passthrough,id=${NINEP_TAG},multidevs=remap`,
  ]);
}

let probed: Promise<Accel> | undefined;

function chooseAccel(kernel: LabKernel): Promise<Accel> {
  const want = process.env.LAB_ACCEL ?? 'tcg';
  if (want === 'kvm' || want === 'tcg') return Promise.resolve(want);
  probed ??= probeKvm(kernel);
  return probed;
}

/** A KVM boot whose init only writes a file: KVM is used when the file appears within the probe's limit. */
async function probeKvm(kernel: LabKernel): Promise<Accel> {
  if (!fs.existsSync('/dev/kvm')) return 'tcg';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-kvm-probe-'));
  try {
    const init = path.join(dir, 'init.sh');
    const mark = path.join(dir, 'up');
    fs.writeFileSync(init, `#!/bin/sh\nmount -t proc proc /proc\necho up > '${mark}'\nsync\necho b > /proc/sysrq-trigger\n`, { mode: 0o755 });
    await qemu(kernel, 'kvm', init, '256M', KVM_PROBE_SEC);
    return fs.existsSync(mark) ? 'kvm' : 'tcg';
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
