/**
 * Which output section is which, across a reload or a restart.
 *
 * - `exact` / `loose`: a memory buffer handed on at a SIGHUP reload goes to the
 *   section with the same plugin, alias and settings, else to the one with the
 *   same plugin and alias in the same position.
 * - `bufferId`: the name of a disk buffer's directory. Like Telegraf's plugin
 *   ID it is a hash of the section as written, so the same configuration finds
 *   its backlog after a restart and a changed destination never receives
 *   another section's metrics — except that the options which only tune the
 *   buffer and its delivery (flush_interval, flush_jitter, metric_batch_size,
 *   metric_buffer_limit, log_level, startup_error_behavior) are left out:
 *   raising metric_buffer_limit during an outage must not orphan the backlog.
 */
import { createHash } from 'node:crypto';
import type { OutputSection } from '../config/load';

export interface OutputIdentity {
  /** Plugin, alias, options and ordinal among equal sections. */
  exact: string;
  /** Plugin, alias and ordinal among sections of that plugin and alias. */
  loose: string;
  /** `<plugin>-<16 hex digits>`: directory of the section's disk buffer. */
  bufferId: string;
}

const TUNING_KEYS = new Set(['flush_interval', 'flush_jitter', 'metric_batch_size', 'metric_buffer_limit', 'log_level', 'startup_error_behavior']);

/** Identities of a config's output sections, in order; repeated equal sections are told apart by position. */
export function outputIdentities(sections: readonly OutputSection[]): OutputIdentity[] {
  const counts = new Map<string, number>();
  const nth = (key: string): string => {
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    return `${key}\0#${n}`;
  };
  return sections.map((s) => {
    const base = `${s.name}\0${s.alias ?? ''}`;
    const settings = { options: s.options, flush: s.flushIntervalNs, batch: s.metricBatchSize, limit: s.metricBufferLimit, filter: s.filter, rename: [s.nameOverride, s.namePrefix, s.nameSuffix] };
    const written: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.written ?? { ...s.options, alias: s.alias })) if (!TUNING_KEYS.has(k)) written[k] = v;
    const disk = nth(`outputs.${s.name}\0${stableJson(written)}`);
    const hash = createHash('sha256').update(disk).digest('hex').slice(0, 16);
    return { exact: nth(`${base}\0${stableJson(settings)}`), loose: nth(base), bufferId: `${s.name}-${hash}` };
  });
}

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v) ?? 'null';
}
