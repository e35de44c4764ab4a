/**
 * Go-style error texts (`open /path: permission denied`) for Node fs errors,
 * so that messages read like Telegraf's.
 */

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EIO: 'input/output error',
  EINVAL: 'invalid argument',
  ENODEV: 'no such device',
  EMFILE: 'too many open files',
  EOPNOTSUPP: 'operation not supported',
  EPROTONOSUPPORT: 'protocol not supported',
  ENOBUFS: 'no buffer space available',
  EBUSY: 'device or resource busy',
};

/** `<op> <path>: <strerror>` for errno errors; the error's message otherwise. */
export function goErrorText(err: unknown, op: string, file: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    const text = ERRNO_TEXT[e.code];
    if (text) return `${e.syscall === 'read' ? 'read' : op} ${file}: ${text}`;
  }
  return e instanceof Error ? e.message : String(err);
}

