/**
 * Per-CPU conntrack statistics as Telegraf's `conntrack` measurement with a
 * `cpu` tag (`cpu0`, `cpu1`, … and `all`), counter-typed, uint fields.
 *
 * Defect fixed: Telegraf sums every column for `cpu=all`, including `entries`,
 * which every row repeats (it is the table's count, not a per-CPU value), so
 * its `entries` is count × CPUs. Here `cpu=all` carries the count once.
 */
import type { CtCpuStats, CtGlobalStats } from '../../../core/conntrack/types';
import { uint, type FieldInit, type Tags } from '../../../core/metric';
import type { ProcStatTable } from './procstat';

export interface StatsRow {
  tags: Tags;
  fields: Record<string, FieldInit>;
}

export interface CollectModes {
  all: boolean;
  percpu: boolean;
}

/** Kernel CTA_STATS_* names → Telegraf field names; names not listed keep the kernel's name. */
const KERNEL_TO_TELEGRAF: Record<string, string> = {
  error: 'icmp_error',
};

/** Builds the rows from the procfs table. `entries` of `cpu=all` = the first row's (identical in every row). */
export function procStatRows(table: ProcStatTable, modes: CollectModes, baseTags: Tags): StatsRow[] {
  const out: StatsRow[] = [];
  const n = table.fields.length;
  const sums = new Array<number>(n).fill(0);
  for (const row of table.rows) {
    const fields: Record<string, FieldInit> = {};
    for (let c = 0; c < n; c++) {
      const name = table.fields[c];
      const v = row.values[c];
      fields[name] = uint(v);
      if (name === 'entries') sums[c] = v;
      else sums[c] += v;
    }
    if (modes.percpu) out.push({ tags: { ...baseTags, cpu: `cpu${row.cpu}` }, fields });
  }
  if (modes.all && table.rows.length > 0) {
    const fields: Record<string, FieldInit> = {};
    for (let c = 0; c < n; c++) fields[table.fields[c]] = uint(sums[c]);
    out.push({ tags: { ...baseTags, cpu: 'all' }, fields });
  }
  return out;
}

/**
 * Builds the rows from netlink GET_STATS_CPU replies (used when the procfs
 * file is absent): Telegraf's names where they correspond, the kernel's for
 * `clash_resolve` and `chain_toolong`; `entries` from GET_STATS.
 */
export function netlinkStatRows(cpus: CtCpuStats[], global: CtGlobalStats, modes: CollectModes, baseTags: Tags): StatsRow[] {
  const out: StatsRow[] = [];
  const sums = new Map<string, number>();
  for (const cpu of cpus) {
    const fields: Record<string, FieldInit> = {};
    if (global.entries !== undefined) fields.entries = uint(global.entries);
    for (const [kname, v] of cpu.counters) {
      const name = KERNEL_TO_TELEGRAF[kname] ?? kname;
      fields[name] = uint(v);
      sums.set(name, (sums.get(name) ?? 0) + v);
    }
    if (modes.percpu) out.push({ tags: { ...baseTags, cpu: `cpu${cpu.cpu}` }, fields });
  }
  if (modes.all && cpus.length > 0) {
    const fields: Record<string, FieldInit> = {};
    if (global.entries !== undefined) fields.entries = uint(global.entries);
    for (const [name, v] of sums) fields[name] = uint(v);
    out.push({ tags: { ...baseTags, cpu: 'all' }, fields });
  }
  return out;
}
