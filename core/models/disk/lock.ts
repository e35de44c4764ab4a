/**
 * One writer per buffer directory: a `lock` file holding the owner's pid and
 * its start time (field 22 of /proc/<pid>/stat). A lock whose process is gone
 * — or whose pid now belongs to another process, as after a container restart
 * where the agent is pid 1 again — is stale and taken over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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

const ownStart = startTime(process.pid) ?? '0';
/** Directories this process holds (a second open in the same process is a bug, not a stale lock). */
const heldHere = new Set<string>();

export class DirectoryInUseError extends Error {}

export class DirectoryLock {
  private constructor(
    readonly file: string,
    private readonly dir: string,
  ) {}

  /** Takes the directory's lock; throws DirectoryInUseError when a live process holds it. Returns whether a stale lock was taken over. */
  static acquire(dir: string): { lock: DirectoryLock; staleOwner?: number } {
    const file = path.join(dir, 'lock');
    const key = path.resolve(dir);
    if (heldHere.has(key)) throw new DirectoryInUseError(`${dir} is already open in this process`);
    const content = `${process.pid} ${ownStart}\n`;
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
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        /* removed meanwhile: try again */
      }
      const [pidText, start] = text.trim().split(' ');
      const pid = Number(pidText);
      const alive = Number.isInteger(pid) && pid > 0 && (pid !== process.pid || start !== ownStart) && startTime(pid) === start;
      if (alive) throw new DirectoryInUseError(`${dir} is in use by process ${pid} (another lvsagent with the same buffer_directory?)`);
      staleOwner = Number.isInteger(pid) ? pid : undefined;
      fs.rmSync(file, { force: true });
    }
    throw new DirectoryInUseError(`${dir}: could not take its lock file`);
  }

  release(): void {
    heldHere.delete(this.dir);
    try {
      fs.rmSync(this.file, { force: true });
    } catch {
      /* the directory went away: nothing to release */
    }
  }
}
