/**
 * `collect_sysctls`: the IPVS sysctls of /proc/sys/net/ipv4/vs/ as integer
 * fields. /proc/sys shows the READER's network namespace, so with `namespace`
 * set the files are read with the thread inside that namespace (the caller
 * passes a runner).
 *
 * Every file holding exactly one integer becomes a field named after the file
 * (conn_reuse_mode, expire_nodest_conn, conntrack, run_estimation, ...);
 * lists (sync_threshold "3 50", est_cpulist "0-1") and write-only files are
 * left out, so new kernels' sysctls appear without code changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const IPVS_SYSCTL_DIR = '/proc/sys/net/ipv4/vs';

const INTEGER = /^-?\d+$/;

/** Reads the integer sysctls of `dir` synchronously: name → value, sorted by name. */
export function readIpvsSysctls(dir: string = IPVS_SYSCTL_DIR): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  names.sort();
  for (const name of names) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8').trim();
    } catch {
      continue; // write-only or vanished
    }
    if (!INTEGER.test(text)) continue;
    const v = Number(text);
    if (Number.isSafeInteger(v)) out.set(name, v);
  }
  return out;
}
