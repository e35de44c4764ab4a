/**
 * Debian's stock kernel for the QEMU lab backend, fetched and prepared once
 * per kernel version into a cache directory outside the repository:
 *
 *   1. the package `linux-image-amd64` currently depends on, resolved with
 *      apt-cache (its exact version is part of the cache key);
 *   2. `apt-get download` (never installed: no boot hooks run on the host),
 *      `dpkg-deb -x`, modules the lab cannot use pruned, `depmod -b`;
 *   3. a small initramfs (see initramfs.ts) that loads virtio and 9p and
 *      switches to the host's root over 9p.
 *
 * The work happens in a private build directory renamed into place at the
 * end, so concurrent test processes never see a half-built kernel.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findProgram } from './host';
import { buildInitramfs } from './initramfs';

export interface LabKernel {
  /** `uname -r` in the guest, e.g. `6.1.0-57-amd64`. */
  release: string;
  /** Debian package and version, e.g. `linux-image-6.1.0-57-amd64` `6.1.192-3`. */
  package: string;
  version: string;
  vmlinuz: string;
  initrd: string;
  /** The guest's `/lib/modules/<release>` (with modules.dep). */
  modulesDir: string;
}

/** Raised with one line that says what failed and what to install or run. */
export class LabSetupError extends Error {}

/** Bump when the prepared layout or the initramfs changes: old caches are rebuilt. */
const RECIPE = 1;
const META = 'kernel.json';
const META_PACKAGE = 'linux-image-amd64';

/** `$LAB_CACHE_DIR`, else `$XDG_CACHE_HOME/lvsagent-lab`, else `~/.cache/lvsagent-lab`. */
export function labCacheDir(): string {
  if (process.env.LAB_CACHE_DIR) return path.resolve(process.env.LAB_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'lvsagent-lab');
}

/** Host programs the preparation runs (checked by the backend's availability). */
export const KERNEL_TOOLS = ['apt-cache', 'apt-get', 'dpkg-deb', 'depmod'];

// Module folders the lab never loads; dropping them keeps the cache near 100 MB instead of 400 MB.
const PRUNE = ['kernel/sound', 'kernel/drivers/gpu', 'kernel/drivers/media', 'kernel/drivers/net/wireless', 'kernel/drivers/net/ethernet', 'kernel/drivers/infiniband', 'kernel/drivers/scsi', 'kernel/drivers/usb', 'kernel/drivers/staging', 'kernel/drivers/iio', 'kernel/drivers/hwmon'];

let pending: Promise<LabKernel> | undefined;

/** The prepared kernel, downloading and building it on first use (once per process). */
export function debianKernel(log: (line: string) => void = () => {}): Promise<LabKernel> {
  pending ??= prepare(log).catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

function run(cmd: string, args: string[], cwd?: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LANG: 'C', LC_ALL: 'C' } });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter((l) => !/^W: /.test(l)).pop() ?? '';
}

/** The kernel package linux-image-amd64 depends on now, and its version (apt's view). */
export function resolveKernelPackage(): { package: string; version: string } {
  const deps = run('apt-cache', ['depends', META_PACKAGE]);
  const pkg = /Depends: (linux-image-\S+)/.exec(deps.out)?.[1];
  if (!deps.ok || !pkg) throw new LabSetupError(`cannot resolve ${META_PACKAGE} with apt-cache (${lastLine(deps.err) || 'no linux-image dependency listed'}): run apt-get update on a Debian host`);
  const show = run('apt-cache', ['show', '--no-all-versions', pkg]);
  const version = /^Version: (\S+)/m.exec(show.out)?.[1];
  if (!show.ok || !version) throw new LabSetupError(`cannot read the version of ${pkg} with apt-cache: run apt-get update`);
  return { package: pkg, version };
}

function readMeta(dir: string): LabKernel | undefined {
  try {
    const k = JSON.parse(fs.readFileSync(path.join(dir, META), 'utf8')) as LabKernel;
    return fs.existsSync(k.vmlinuz) && fs.existsSync(k.initrd) && fs.existsSync(path.join(k.modulesDir, 'modules.dep')) ? k : undefined;
  } catch {
    return undefined;
  }
}

function entryName(pkg: string, version: string): string {
  return `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}-r${RECIPE}`;
}

async function prepare(log: (line: string) => void): Promise<LabKernel> {
  const cache = labCacheDir();
  let want: { package: string; version: string };
  try {
    want = resolveKernelPackage();
  } catch (e) {
    // Offline or not Debian: a kernel prepared earlier still boots.
    const cached = newestCached(cache);
    if (cached) return cached;
    throw e;
  }
  const dir = path.join(cache, entryName(want.package, want.version));
  const ready = readMeta(dir);
  if (ready) return ready;

  fs.mkdirSync(cache, { recursive: true });
  // One process builds; the others (parallel test files) wait for its result.
  const lock = path.join(cache, `.lock-${path.basename(dir)}`);
  if (!takeLock(lock)) {
    const built = await waitForBuild(dir, lock);
    if (built) return built;
    if (!takeLock(lock)) throw new LabSetupError(`another process holds ${lock}: remove it if no test is running`);
  }
  const build = fs.mkdtempSync(path.join(cache, '.build-'));
  try {
    log(`lab: preparing ${want.package} ${want.version} in ${cache} (one-time download, about 70 MB)`);
    const got = run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${want.package}=${want.version}`], build);
    const deb = fs.readdirSync(build).find((f) => f.endsWith('.deb'));
    if (!got.ok || !deb) throw new LabSetupError(`apt-get download ${want.package}=${want.version} failed (${lastLine(got.err) || 'no .deb'}): run apt-get update, and check that Debian's archive is reachable`);
    const root = path.join(build, 'root');
    const x = run('dpkg-deb', ['-x', path.join(build, deb), root]);
    fs.rmSync(path.join(build, deb), { force: true });
    if (!x.ok) throw new LabSetupError(`dpkg-deb -x ${deb} failed (${lastLine(x.err)}): is there room in ${cache}?`);
    const release = fs.readdirSync(path.join(root, 'lib', 'modules'))[0];
    if (!release) throw new LabSetupError(`${deb} holds no lib/modules/<release>`);
    const modulesDir = path.join(root, 'lib', 'modules', release);
    for (const p of PRUNE) fs.rmSync(path.join(modulesDir, p), { recursive: true, force: true });
    fs.rmSync(path.join(root, 'usr'), { recursive: true, force: true });
    const dm = run('depmod', ['-b', root, release]);
    if (!dm.ok) throw new LabSetupError(`depmod -b failed (${lastLine(dm.err)}): apt-get install kmod`);
    const vmlinuz = path.join(root, 'boot', `vmlinuz-${release}`);
    if (!fs.existsSync(vmlinuz)) throw new LabSetupError(`${deb} holds no boot/vmlinuz-${release}`);
    fs.writeFileSync(path.join(build, 'initrd.gz'), buildInitramfs(modulesDir));

    // Paths in the metadata point at the final place.
    const final = (p: string): string => path.join(dir, path.relative(build, p));
    const kernel: LabKernel = { release, package: want.package, version: want.version, vmlinuz: final(vmlinuz), initrd: final(path.join(build, 'initrd.gz')), modulesDir: final(modulesDir) };
    fs.writeFileSync(path.join(build, META), JSON.stringify(kernel, null, 2) + '\n');
    try {
      fs.renameSync(build, dir);
    } catch {
      // Another process finished first (or a stale, incomplete entry is in the way).
      if (!readMeta(dir)) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(build, dir);
      }
    }
    removeOthers(cache, [path.basename(dir), path.basename(lock)]);
    log(`lab: kernel ${release} ready`);
    return readMeta(dir) ?? kernel;
  } finally {
    fs.rmSync(build, { recursive: true, force: true });
    fs.rmSync(lock, { force: true });
  }
}

const LOCK_STALE_MS = 15 * 60_000;

/** Creates the lock file, or false when another live build holds it (a lock older than 15 min is stale). */
function takeLock(lock: string, retry = true): boolean {
  try {
    fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LabSetupError(`cannot write in ${path.dirname(lock)} (${(e as Error).message}): set LAB_CACHE_DIR to a writable folder`);
  }
  let age = 0;
  try {
    age = Date.now() - fs.statSync(lock).mtimeMs;
  } catch {
    age = Infinity; // released meanwhile
  }
  if (age < LOCK_STALE_MS || !retry) return false;
  fs.rmSync(lock, { force: true });
  return takeLock(lock, false);
}

async function waitForBuild(dir: string, lock: string): Promise<LabKernel | undefined> {
  for (;;) {
    const k = readMeta(dir);
    if (k) return k;
    if (!fs.existsSync(lock)) return readMeta(dir);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function newestCached(cache: string): LabKernel | undefined {
  let best: { k: LabKernel; t: number } | undefined;
  let names: string[] = [];
  try {
    names = fs.readdirSync(cache);
  } catch {
    return undefined;
  }
  for (const n of names) {
    if (n.startsWith('.') || !n.endsWith(`-r${RECIPE}`)) continue;
    const k = readMeta(path.join(cache, n));
    if (!k) continue;
    const t = fs.statSync(path.join(cache, n, META)).mtimeMs;
    if (!best || t > best.t) best = { k, t };
  }
  return best?.k;
}

/** Kernels of other versions or recipes (and abandoned builds older than an hour) go. */
function removeOthers(cache: string, keep: string[]): void {
  for (const n of fs.readdirSync(cache)) {
    if (keep.includes(n) || n.startsWith('.lock-')) continue;
    const p = path.join(cache, n);
    if (n.startsWith('.build-') && Date.now() - fs.statSync(p).mtimeMs < 3_600_000) continue;
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/** For availability checks: are the programs the preparation needs present? */
export function missingKernelTools(): string[] {
  return KERNEL_TOOLS.filter((t) => !findProgram(t));
}
