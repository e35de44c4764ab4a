/**
 * Facts about the host the lab runs on: where programs are, what the CPU can
 * do, whether a binary can run without a dynamic loader. Shared by the
 * backends and the availability checks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

const PROGRAM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a program (a path is checked as given), or undefined. */
export function findProgram(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of PROGRAM_DIRS) {
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

/**
 * True when the CPU has AMX tiles (Intel Sapphire Rapids and later). UML 6.1
 * cannot boot there: its FP-state buffer is smaller than the host's XSAVE
 * area and the host refuses it (`ptrace set fp regs failed, errno = 14`).
 */
export function cpuHasAmx(cpuinfo = readCpuinfo()): boolean {
  return /^flags\s*:.*\bamx_tile\b/m.test(cpuinfo);
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

const PT_INTERP = 3;

/**
 * True for an x86-64 ELF executable with no program interpreter (statically
 * linked): the only kind that runs in an initramfs with no libc.
 */
export function isStaticElf(file: string): boolean {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      head = Buffer.alloc(4096);
      fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  // ELF magic, 64-bit class, little-endian.
  if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false;
  const phoff = Number(head.readBigUInt64LE(0x20));
  const phentsize = head.readUInt16LE(0x36);
  const phnum = head.readUInt16LE(0x38);
  if (phoff + phentsize * phnum > head.length) return false;
  for (let i = 0; i < phnum; i++) {
    if (head.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return false;
  }
  return true;
}
