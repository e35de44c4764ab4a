/**
 * Errors raised by the netlink layer. Every kernel or system-call failure is a
 * plain `Error` carrying `code` ('ENOENT', 'EPERM', 'ENOBUFS', ...), `errno`
 * (the POSITIVE errno number) and `syscall` (or the netlink operation), so
 * callers can branch on `err.code` exactly as with Node's own fs errors.
 *
 * `NetlinkDecodeError` (code 'EBADMSG') reports malformed wire data: a length
 * field pointing outside its buffer, an attribute too short for the value
 * asked for, a truncated header.
 */
import { constants as osConstants } from 'node:os';

export interface NetlinkErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  // Several names share a number (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first, canonical one.
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** 'ENOENT' for 2, or `E<number>` for numbers Node does not name. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

const errnoMessages: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EFAULT: 'bad address',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  ERANGE: 'numerical result out of range',
  EMSGSIZE: 'message too long',
  EPROTONOSUPPORT: 'protocol not supported',
  EOPNOTSUPP: 'operation not supported',
  EAFNOSUPPORT: 'address family not supported by protocol',
  ENOBUFS: 'no buffer space available',
  ETIMEDOUT: 'connection timed out',
  EBADMSG: 'bad message',
  ENOTSUP: 'operation not supported',
};

/**
 * Builds an Error for a positive errno. `detail` (e.g. the kernel's extended-ack
 * message) is appended to the text.
 */
export function errnoError(errno: number, syscall: string, detail?: string): NetlinkErrnoError {
  const code = errnoName(errno);
  const text = errnoMessages[code] ?? `errno ${errno}`;
  const err = new Error(`${code}: ${text}, ${syscall}${detail ? `: ${detail}` : ''}`) as NetlinkErrnoError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  return err;
}

/** Malformed netlink data. Thrown by the decoders; never a crash. */
export class NetlinkDecodeError extends Error {
  readonly code = 'EBADMSG';
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkDecodeError';
  }
}

/**
 * `err` with the missing privilege named: the kernel says "operation not
 * permitted", an operator needs to know what to grant. `what` is the
 * operation ("listening to conntrack events"); the logger adds the plugin.
 */
export function withCapabilityHint(err: unknown, what: string, capability: 'CAP_NET_ADMIN' | 'CAP_SYS_ADMIN' = 'CAP_NET_ADMIN'): Error {
  if (isErrno(err, 'EPERM') || isErrno(err, 'EACCES')) {
    const e = new Error(`${what}: operation not permitted: missing ${capability} (run as root, or grant it, e.g. AmbientCapabilities=${capability} in the systemd unit)`) as NetlinkErrnoError;
    e.code = 'EPERM';
    e.errno = 1;
    e.syscall = (err as NetlinkErrnoError).syscall;
    return e;
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** True for an Error carrying the given errno code (`isErrno(err, 'ENOENT')`). */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as Partial<NetlinkErrnoError>).code === code;
}
