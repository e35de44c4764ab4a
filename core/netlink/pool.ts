/**
 * A small pool of request sockets for concurrent requests, e.g. one real-server
 * dump per IPVS service:
 *
 *     const pool = new SocketPool(() => NetlinkSocket.open(NETLINK_GENERIC), 4);
 *     await Promise.all(services.map((s) => pool.use((sock) => sock.dump(destMsg(s), onDest))));
 *     pool.close();
 *
 * Sockets are opened lazily up to `size`; `use` waits for a free one. A socket
 * that got closed (or whose job failed with EBADF) is dropped and replaced later.
 * Build each job's message inside the job: `request`/`dump` write a sequence
 * number into the message buffer.
 */
import { errnoError } from './errors';
import type { NetlinkSocket } from './socket';

export class SocketPool {
  private readonly idle: NetlinkSocket[] = [];
  private readonly all = new Set<NetlinkSocket>();
  private readonly waiters: Array<{ resolve: (s: NetlinkSocket) => void; reject: (e: Error) => void }> = [];
  private closed = false;

  constructor(
    private readonly openSocket: () => NetlinkSocket,
    readonly size: number,
  ) {
    if (!(size >= 1)) throw new RangeError('SocketPool size must be at least 1');
  }

  /** Sockets currently open. */
  get openCount(): number {
    return this.all.size;
  }

  async use<T>(job: (sock: NetlinkSocket) => Promise<T>): Promise<T> {
    const sock = await this.acquire();
    try {
      return await job(sock);
    } finally {
      this.release(sock);
    }
  }

  /** Closes every socket; pending and later `use` calls reject with EBADF. */
  close(): void {
    this.closed = true;
    for (const s of this.all) s.close();
    this.all.clear();
    this.idle.length = 0;
    for (const w of this.waiters.splice(0)) w.reject(errnoError(9, 'netlink pool', 'pool closed'));
  }

  private acquire(): Promise<NetlinkSocket> {
    if (this.closed) return Promise.reject(errnoError(9, 'netlink pool', 'pool closed'));
    const s = this.idle.pop();
    if (s) return Promise.resolve(s);
    if (this.all.size < this.size) {
      try {
        const fresh = this.openSocket();
        this.all.add(fresh);
        return Promise.resolve(fresh);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(sock: NetlinkSocket): void {
    if (sock.isClosed || this.closed) {
      this.all.delete(sock);
      if (!this.closed && this.waiters.length > 0) {
        // Replace the lost socket for the next waiter.
        const waiter = this.waiters.shift() as { resolve: (s: NetlinkSocket) => void; reject: (e: Error) => void };
        this.acquire().then(waiter.resolve, waiter.reject);
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(sock);
    else this.idle.push(sock);
  }
}
