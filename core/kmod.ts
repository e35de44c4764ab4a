/**
 * Whether a kernel module is present, without loading it. Some netlink
 * requests make the kernel load a module on demand (a ctnetlink socket loads
 * nf_conntrack_netlink); lvsagent loads none behind the operator's back, so
 * it asks first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export type ModuleState =
  /** Loaded, or built into the kernel. */
  | 'present'
  /** A loadable module that is not loaded: using it would make the kernel load it. */
  | 'absent'
  /** The kernel cannot load modules at all, or nothing on this system says (e.g. a container without /lib/modules). */
  | 'unknown';

export interface ModuleSources {
  procModules?: string;
  sysModule?: string;
  libModules?: string;
}

/** Module names match with `-` and `_` alike, as the kernel does. */
function norm(name: string): string {
  return name.replace(/-/g, '_');
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Module names listed in a modules.dep / modules.builtin file (paths like `kernel/net/x/name.ko[.xz]`). */
function listsModule(text: string | undefined, name: string): boolean {
  if (text === undefined) return false;
  const want = norm(name);
  for (const line of text.split('\n')) {
    const file = line.split(':', 1)[0];
    const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.ko(\.\w+)?$/, '');
    if (base !== '' && norm(base) === want) return true;
  }
  return false;
}

export function moduleState(name: string, src: ModuleSources = {}): ModuleState {
  const procModules = read(src.procModules ?? '/proc/modules');
  // No /proc/modules: a kernel without loadable modules loads nothing on demand.
  if (procModules === undefined) return 'unknown';
  const want = norm(name);
  if (procModules.split('\n').some((l) => norm(l.split(' ', 1)[0]) === want)) return 'present';
  if (fs.existsSync(`${src.sysModule ?? '/sys/module'}/${want}`)) return 'present';
  const dir = src.libModules ?? `/lib/modules/${os.release()}`;
  if (listsModule(read(`${dir}/modules.builtin`), name)) return 'present';
  if (listsModule(read(`${dir}/modules.dep`), name)) return 'absent';
  return 'unknown';
}
