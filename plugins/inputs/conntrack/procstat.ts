/**
 * Parser for `/proc/net/stat/nf_conntrack`: a header line, then one row of
 * hex columns per possible CPU (no CPU column; row i is CPU i).
 *
 * Telegraf (through gopsutil) maps the columns by position and only accepts
 * rows with exactly 17 values, so a kernel that renamed or moved a column
 * would be misread silently. Here columns are mapped by the header's names to
 * Telegraf's field names, and a header with a name we do not know is
 * reported as one error instead of producing wrong fields.
 */

/** Telegraf's field names, in the column order of the file. */
export const TELEGRAF_STAT_FIELDS = [
  'entries',
  'searched',
  'found',
  'new',
  'invalid',
  'ignore',
  'delete',
  'delete_list',
  'insert',
  'insert_failed',
  'drop',
  'early_drop',
  'icmp_error',
  'expect_new',
  'expect_create',
  'expect_delete',
  'search_restart',
] as const;

/**
 * Header names the kernel has used → Telegraf's field names. Newer kernels
 * renamed column 2 (`searched` → `clashres`) and column 8 (`delete_list` →
 * `chainlength`); Telegraf keeps the old names, and so do we.
 */
const HEADER_TO_FIELD: Record<string, string> = {
  entries: 'entries',
  searched: 'searched',
  clashres: 'searched',
  found: 'found',
  new: 'new',
  invalid: 'invalid',
  ignore: 'ignore',
  delete: 'delete',
  delete_list: 'delete_list',
  chainlength: 'delete_list',
  insert: 'insert',
  insert_failed: 'insert_failed',
  drop: 'drop',
  early_drop: 'early_drop',
  icmp_error: 'icmp_error',
  expect_new: 'expect_new',
  expect_create: 'expect_create',
  expect_delete: 'expect_delete',
  search_restart: 'search_restart',
};

export interface ProcStatTable {
  /** Telegraf field name of each column, in file order. */
  fields: string[];
  /** One entry per CPU row that parsed; `cpu` is the row's index among the data rows. */
  rows: ProcStatRow[];
  /** Problems met (bad rows); the rows that parsed are still returned. */
  warnings: string[];
}

export interface ProcStatRow {
  cpu: number;
  values: number[];
}

export class StatLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatLayoutError';
  }
}

/**
 * Parses the file's text. Never throws for malformed content: an unknown or
 * missing header yields a StatLayoutError value (returned, not thrown), bad
 * rows are skipped with a warning.
 */
export function parseProcStat(text: string, source = '/proc/net/stat/nf_conntrack'): ProcStatTable | StatLayoutError {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  if (i >= lines.length) return new StatLayoutError(`${source} is empty`);
  const header = lines[i].trim().split(/\s+/);
  if (header[0] !== 'entries') {
    return new StatLayoutError(`unknown column layout in ${source}: header ${JSON.stringify(lines[i].trim())} does not start with "entries"`);
  }
  const fields: string[] = [];
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const name of header) {
    const f = HEADER_TO_FIELD[name];
    if (f === undefined || seen.has(f)) unknown.push(name);
    else {
      seen.add(f);
      fields.push(f);
    }
  }
  if (unknown.length > 0) {
    return new StatLayoutError(
      `unknown column layout in ${source}: column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')} not understood; stats not collected`,
    );
  }
  const rows: ProcStatRow[] = [];
  const warnings: string[] = [];
  let cpu = -1;
  for (i++; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    cpu++;
    const cols = line.split(/\s+/);
    if (cols.length !== fields.length) {
      warnings.push(`${source} line ${i + 1}: ${cols.length} values for ${fields.length} columns; row skipped`);
      continue;
    }
    const row = new Array<number>(cols.length);
    let ok = true;
    for (let c = 0; c < cols.length; c++) {
      const s = cols[c];
      if (!/^[0-9a-fA-F]{1,16}$/.test(s)) {
        ok = false;
        break;
      }
      row[c] = parseInt(s, 16);
    }
    if (!ok) {
      warnings.push(`${source} line ${i + 1}: value is not hexadecimal; row skipped`);
      continue;
    }
    rows.push({ cpu, values: row });
  }
  return { fields, rows, warnings };
}
