/**
 * The user-mode Linux backend: Debian's `linux.uml` (a 6.1 kernel running as
 * an ordinary process, IPVS and conntrack as modules) on the host's root
 * filesystem through hostfs. One vCPU; boots in about 3 s. UML 6.1 cannot
 * run on CPUs with AMX tiles, so it is never chosen there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runConsole, type BootRequest, type BootResult, type LabAvailability, type LabBackend } from './backend';
import { cpuHasAmx, isExecutable } from './host';

export const UML_BINARY = process.env.LAB_UML || '/usr/bin/linux.uml';
export const UML_MODULES = '/usr/lib/uml/modules';

export class UmlBackend implements LabBackend {
  readonly name = 'uml' as const;
  readonly timeScale = 1;
  readonly cpus = 1;
  readonly powerOff = 'halt -f';

  availability(): LabAvailability {
    const no = (reason: string): LabAvailability => ({ ok: false, reason });
    if (process.arch !== 'x64') return no(`user-mode Linux here is x86-64 only (this is ${process.arch})`);
    if (cpuHasAmx()) return no('user-mode Linux 6.1 cannot boot on this CPU (it has AMX): use LAB_BACKEND=qemu (apt-get install qemu-system-x86 busybox-static)');
    if (!isExecutable(UML_BINARY)) return no(`${UML_BINARY} not found: apt-get install user-mode-linux`);
    let kernels: string[] = [];
    try {
      kernels = fs.readdirSync(UML_MODULES);
    } catch {
      /* reported below */
    }
    if (kernels.length === 0) return no(`${UML_MODULES}/<version> not found: the user-mode-linux package is incomplete`);
    return { ok: true, reason: '' };
  }

  async prepare(): Promise<void> {}

  describe(): string {
    return `uml ${fs.readdirSync(UML_MODULES)[0] ?? ''}`.trim();
  }

  guestPreamble(): string[] {
    return [];
  }

  bindHost(src: string, dst: string): string {
    return `mount -t hostfs -o ${src} none ${dst}`;
  }

  modulesSource(): string {
    return `${UML_MODULES}/"$(uname -r)"`;
  }

  boot(req: BootRequest): Promise<BootResult> {
    return runConsole([
      '--kill-after=5',
      String(req.timeoutSec),
      UML_BINARY,
      `mem=${req.mem}`,
      'root=/dev/root',
      'rootfstype=hostfs',
      'rootflags=/',
      'rw',
      `init=${req.initPath}`,
      'con=null',
      'con0=fd:0,fd:1',
      // UML keeps its pid/mconsole files under ~/.uml by default; keep them in the run directory.
      `uml_dir=${path.join(req.dir, '.uml')}`,
      'quiet',
    ]);
  }
}
