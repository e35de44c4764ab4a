/**
 * A writer for the "newc" cpio format the kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): each entry is
 * a 110-byte ASCII header of 13 eight-digit hex numbers, the NUL-terminated
 * name and the data, both padded to 4 bytes; a `TRAILER!!!` entry ends it.
 */

export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Buffer; mode?: number }
  | { kind: 'chardev'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, nameSize: number, rdevMajor: number, rdevMinor: number, nlink: number): string {
  const hex = (v: number): string => v.toString(16).padStart(8, '0');
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return '070701' + [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, nameSize, 0].map(hex).join('');
}

/** The archive of `entries` in order (parents before children; names without a leading slash). */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const push = (ino: number, mode: number, name: string, data: Buffer, major = 0, minor = 0, nlink = 1): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(header(ino, mode, data.length, nameBytes.length, major, minor, nlink), 'ascii');
    parts.push(head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  let ino = 1;
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name === '') throw new Error(`cpio: bad entry name ${JSON.stringify(e.name)}`);
    if (e.kind === 'dir') push(ino++, S_IFDIR | (e.mode ?? 0o755), e.name, Buffer.alloc(0), 0, 0, 2);
    else if (e.kind === 'file') push(ino++, S_IFREG | (e.mode ?? 0o644), e.name, e.data);
    else push(ino++, S_IFCHR | (e.mode ?? 0o600), e.name, Buffer.alloc(0), e.major, e.minor);
  }
  push(0, 0, 'TRAILER!!!', Buffer.alloc(0), 0, 0, 1);
  return Buffer.concat(parts);
}
