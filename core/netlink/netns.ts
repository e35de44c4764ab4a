/**
 * Network namespaces: run synchronous code with the calling thread switched
 * into another network namespace.
 *
 *     const count = withNetns('/var/run/netns/blue', () =>
 *       fs.readFileSync('/proc/sys/net/netfilter/nf_conntrack_count', 'utf8'));
 *
 * Inside `fn`, sockets created (`NetlinkSocket.open`) and files opened
 * synchronously (`fs.openSync('/proc/net/ip_vs_conn')`, `/proc/sys/...`) belong
 * to the target namespace, and keep belonging to it afterwards: a socket or fd
 * opened inside may be used later from anywhere. Only the synchronous part of
 * `fn` runs inside: async functions are refused, and anything awaited or
 * scheduled runs back in the original namespace. The thread ALWAYS switches
 * back, also when `fn` throws; if switching back itself fails the error says
 * FATAL, is written to stderr, and every later `withNetns` call fails (the
 * thread's namespace is then undefined: restart the process).
 *
 * `/proc/net/...` is `/proc/self/net`, i.e. the namespace of the process's main
 * thread: correct on Node's main thread; from a worker thread use
 * `/proc/thread-self/net/...`.
 *
 * Needs CAP_SYS_ADMIN (EPERM otherwise; the error says so). A missing path is
 * ENOENT, a file that is not a network namespace EINVAL.
 */
import { loadBinding } from './binding';

/** `/var/run/netns/NAME` for a bare name, `/proc/PID/ns/net` for a pid, any path unchanged. */
export function netnsPath(nameOrPathOrPid: string | number): string {
  if (typeof nameOrPathOrPid === 'number') return `/proc/${nameOrPathOrPid}/ns/net`;
  return nameOrPathOrPid.includes('/') ? nameOrPathOrPid : `/var/run/netns/${nameOrPathOrPid}`;
}

/** Runs `fn` synchronously inside the network namespace at `path` (see netnsPath) and returns its result. */
export function withNetns<T>(path: string, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('withNetns: fn must be a function');
  if (fn.constructor?.name === 'AsyncFunction') {
    throw new TypeError('withNetns: fn must be synchronous (only the synchronous part would run inside the namespace)');
  }
  return loadBinding().withNetns(netnsPath(path), fn);
}
