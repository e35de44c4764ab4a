/**
 * Telegraf's first collection method: read every `dirs` × `files` sysctl
 * file, name the field `ip_` + the file name after its first `_`, and parse
 * the value as a float. Missing files are skipped silently; a later dir
 * overwrites an earlier one for the same field. Error texts are Telegraf's.
 */
import * as path from 'node:path';
import { goErrorText } from './goerror';

export interface SysctlResult {
  /** Field name → value, in first-seen order. */
  fields: Map<string, number>;
  errors: string[];
}

/** Reads a file synchronously (so that it can run inside a namespace switch). Throws Node fs errors. */
export type ReadFileSync = (file: string) => string;

/** `nf_conntrack_count` → `ip_conntrack_count`; undefined when the name has no `_`. */
export function sysctlFieldName(file: string): string | undefined {
  const i = file.indexOf('_');
  if (i < 0) return undefined;
  return 'ip_' + file.slice(i + 1);
}

const GO_DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const GO_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/** strconv.ParseFloat for the forms the kernel can print; undefined on a syntax error. */
export function parseGoFloat(s: string): number | undefined {
  if (GO_DECIMAL.test(s)) return Number(s);
  const m = GO_SPECIAL.exec(s);
  if (!m) return undefined;
  if (m[2].toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

export function readSysctlFields(dirs: readonly string[], files: readonly string[], read: ReadFileSync): SysctlResult {
  const fields = new Map<string, number>();
  const errors: string[] = [];
  for (const dir of dirs) {
    for (const file of files) {
      const key = sysctlFieldName(file);
      if (key === undefined) continue;
      const full = path.join(dir, file);
      let text: string;
      try {
        text = read(full);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // Telegraf skips files it cannot stat
        errors.push(`failed to read file "${full}": ${goErrorText(err, 'open', full)}`);
        continue;
      }
      const v = text.trim();
      const n = parseGoFloat(v);
      if (n === undefined) {
        errors.push(`failed to parse metric, expected number but  found ${JSON.stringify(v)}: strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
        continue;
      }
      fields.set(key, n);
    }
  }
  return { fields, errors };
}
