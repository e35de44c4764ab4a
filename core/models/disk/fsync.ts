/**
 * Coalesced asynchronous fdatasync/fsync of one file descriptor: requests
 * made while a sync runs are served by one more sync after it, so a burst of
 * appends costs at most two syncs and the event loop never waits for the disk.
 */
import * as fs from 'node:fs';

export class CoalescedSync {
  private running = false;
  private again = false;
  private idleWaiters: (() => void)[] = [];
  /** Errors of background syncs (EIO on a dying disk), reported by the owner. */
  onError?: (err: NodeJS.ErrnoException) => void;

  constructor(
    private readonly fd: number,
    /** Directories need fsync; data files fdatasync. */
    private readonly full = false,
  ) {}

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    const done = (err: NodeJS.ErrnoException | null): void => {
      if (err) this.onError?.(err);
      if (this.again) {
        this.again = false;
        this.start(done);
        return;
      }
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    };
    this.start(done);
  }

  private start(done: (err: NodeJS.ErrnoException | null) => void): void {
    if (this.full) fs.fsync(this.fd, done);
    else fs.fdatasync(this.fd, done);
  }

  get busy(): boolean {
    return this.running;
  }

  /** Resolves when no sync runs on the descriptor (before it is closed). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Synchronously syncs (at close); errors are reported, not thrown. */
  syncNow(): void {
    try {
      if (this.full) fs.fsyncSync(this.fd);
      else fs.fdatasyncSync(this.fd);
    } catch (err) {
      this.onError?.(err as NodeJS.ErrnoException);
    }
  }
}
