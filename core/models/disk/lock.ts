/**
 * One writer per buffer directory: a `lock` file holding the owner's pid, its
 * start time (field 22 of /proc/<pid>/stat) and its PID namespace, refreshed
 * (mtime) every few seconds while held.
 *
 * A lock whose owner is in our PID namespace is stale when that process is
 * gone, or when its pid now belongs to another process. An owner in another
 * PID namespace (another container on a shared hostPath) cannot be looked
 * up: its lock is stale once it has not been refreshed for STALE_MS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const REFRESH_MS = 1000;
const STALE_MS = 5000;

function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/pid').replace(/\s/g, '');
  } catch {
    return '-';
  }
}

const ownStart = startTime(process.pid) ?? '0';
const ownNamespace = pidNamespace();
/** Directories this process holds (a second open in the same process is a bug, not a stale lock). */
const heldHere = new Set<string>();

export class DirectoryInUseError extends Error {}

export class DirectoryLock {
  private readonly refresh: NodeJS.Timeout;

  private constructor(
    readonly file: string,
    private readonly dir: string,
  ) {
    this.refresh = setInterval(() => {
      const now = new Date();
      fs.utimes(this.file, now, now, () => {});
    }, REFRESH_MS);
    this.refresh.unref();
  }

  /** Takes the directory's lock; throws DirectoryInUseError when a live process holds it. Returns the pid of a stale owner taken over. */
  static acquire(dir: string): { lock: DirectoryLock; staleOwner?: number } {
    const file = path.join(dir, 'lock');
    const key = path.resolve(dir);
    if (heldHere.has(key)) throw new DirectoryInUseError(`${dir} is already open in this process`);
    const content = `${process.pid} ${ownStart} ${ownNamespace}\n`;
    let staleOwner: number | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx', 0o644);
        try {
          fs.writeSync(fd, content);
        } finally {
          fs.closeSync(fd);
        }
        heldHere.add(key);
        return { lock: new DirectoryLock(file, key), staleOwner };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text = '';
      let ageMs = Infinity;
      try {
        text = fs.readFileSync(file, 'utf8');
        ageMs = Date.now() - fs.statSync(file).mtimeMs;
      } catch {
        /* removed meanwhile: try again */
      }
      const [pidText, start, namespace] = text.trim().split(' ');
      const pid = Number(pidText);
      const valid = Number.isInteger(pid) && pid > 0;
      if (valid && namespace !== undefined && namespace !== ownNamespace) {
        if (ageMs < STALE_MS)
          throw new DirectoryInUseError(`${dir} is in use by process ${pid} of another PID namespace (another container with the same buffer_directory?); its lock was refreshed ${Math.round(ageMs / 1000)}s ago`);
      } else if (valid && (pid !== process.pid || start !== ownStart) && startTime(pid) === start) {
        throw new DirectoryInUseError(`${dir} is in use by process ${pid} (another lvsagent with the same buffer_directory?)`);
      }
      staleOwner = valid ? pid : undefined;
      fs.rmSync(file, { force: true });
    }
    throw new DirectoryInUseError(`${dir}: could not take its lock file`);
  }

  release(): void {
    clearInterval(this.refresh);
    heldHere.delete(this.dir);
    try {
      fs.rmSync(this.file, { force: true });
    } catch {
      /* the directory went away: nothing to release */
    }
  }
}
