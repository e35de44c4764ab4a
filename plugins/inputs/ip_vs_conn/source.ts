/**
 * Opening the table and the sysctl, in our own network namespace or in
 * another one. Files under /proc/net and /proc/sys/net show the namespace of
 * the thread that OPENS them, so with `namespace` set both are opened
 * synchronously inside the netlink layer's withNetns() (which switches the
 * calling thread and switches it back before returning) and read afterwards.
 * /proc/net is a link to /proc/self/net, which follows the thread-group leader
 * (right on Node's main thread); /proc/thread-self/net is right on any thread,
 * so that is what we open inside the namespace.
 */
import * as fs from 'node:fs';
import { netnsPath, withNetns } from '../../../core/netlink/netns';

export interface OpenedFiles {
  table: number;
  /** conn_reuse_mode file, -1 when absent or not asked for. */
  sysctl: number;
  /** Path opened (after the thread-self mapping). */
  tablePath: string;
}

/** An `ip netns` name means /var/run/netns/NAME; anything with a slash is a path. */
export const namespacePath = (ns: string): string => netnsPath(ns);

export function threadSelfPath(p: string): string {
  return p.startsWith('/proc/net/') ? `/proc/thread-self/net/${p.slice('/proc/net/'.length)}` : p;
}

function openOptional(p: string): number {
  if (p === '') return -1;
  try {
    return fs.openSync(p, 'r');
  } catch {
    return -1;
  }
}

/** Opens the table (throws a descriptive Error) and the sysctl (optional). */
export function openFiles(tablePath: string, sysctlPath: string, namespace: string): OpenedFiles {
  const open = (p: string): OpenedFiles => {
    let table: number;
    try {
      table = fs.openSync(p, 'r');
    } catch (err) {
      throw describeOpenError(p, err, namespace);
    }
    return { table, sysctl: openOptional(sysctlPath), tablePath: p };
  };
  if (namespace === '') return open(tablePath);
  return withNetns(namespacePath(namespace), () => open(threadSelfPath(tablePath)));
}

function describeOpenError(p: string, err: unknown, namespace: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = namespace ? ` in network namespace ${namespace}` : '';
  if (code === 'ENOENT' && p.includes('/net/ip_vs_conn')) {
    return new Error(`cannot open ${p}${where}: no such file (is the ip_vs kernel module loaded?)`);
  }
  return new Error(`cannot open ${p}${where}: ${(err as Error).message}`);
}

/** Reads a small integer file (a sysctl); undefined when unreadable. Closes the fd. */
export function readIntAndClose(fd: number): number | undefined {
  if (fd < 0) return undefined;
  try {
    const buf = Buffer.alloc(64);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const v = Number.parseInt(buf.toString('latin1', 0, n).trim(), 10);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
