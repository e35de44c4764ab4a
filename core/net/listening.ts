/**
 * Whether this process itself holds a TCP listener on a port: a socket in
 * LISTEN state in /proc/self/net/tcp{,6} whose inode is one of our open file
 * descriptors. Used to tell "the address is taken by the agent being
 * replaced" from "taken by someone else" when a reload fails with EADDRINUSE.
 */
import * as fs from 'node:fs';

const TCP_LISTEN = '0A';

function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync('/proc/self/fd');
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

export function processListensOn(port: number): boolean {
  const inodes = ownSocketInodes();
  if (!inodes.size) return false;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN || !inodes.has(f[9])) continue;
      const local = f[1];
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) return true;
    }
  }
  return false;
}
