/**
 * The series store behind the exposition page (Telegraf's metric_version 2
 * semantics) and a hand-written text-format renderer.
 *
 * Families are keyed by Prometheus name; series by their rendered label set.
 * Each series keeps its rendered `name{labels} ` prefix, so a scrape only
 * appends values: rendering is string concatenation with no per-sample
 * allocation besides the value text.
 */
import { compileGlobs, type Matcher } from '../../../core/filter/glob';
import type { Logger } from '../../../core/log';
import { FieldType, type Field, type Metric, type TagSet, type ValueType } from '../../../core/metric';
import {
  escapeHelp,
  escapeLabelValue,
  formatBound,
  formatSampleValue,
  labelPairs,
  metricName,
  parseBound,
  sampleCount,
  sampleSum,
  sampleValue,
  sanitizeMetricName,
} from '../../../core/prometheus/naming';
import { GENERIC_HELP, type HelpIndex } from './help';

export type FamilyType = 'counter' | 'gauge' | 'untyped' | 'histogram';

interface Histogram {
  /** Upper bound → cumulative count. */
  buckets: Map<number, number | bigint>;
  sum: number;
  count: number | bigint | undefined;
}

interface Series {
  /** `{a="b",c="d"}` or '' — the series identity within its family. */
  labels: string;
  /** `name{labels} ` (scalars) — ready to append a value to. */
  prefix: string;
  value: number | bigint;
  timeNs: bigint;
  /** When the series was last updated (ms, agent clock): expiry counts from here. */
  addedMs: number;
  hist?: Histogram;
}

interface Family {
  name: string;
  type: FamilyType;
  /** `# HELP …\n# TYPE …\n` */
  header: string;
  series: Map<string, Series>;
}

export interface CollectionOptions {
  stringAsLabel: boolean;
  exportTimestamp: boolean;
  /** 0 = never expire. */
  expirationMs: number;
  counterGlobs: string[];
  gaugeGlobs: string[];
  /** Append `_total` to counter family names that lack it (lvsagent addition). */
  counterTotalSuffix: boolean;
  help?: HelpIndex;
  log?: Logger;
  now?: () => number;
}

const SCALAR_TYPES: Record<ValueType, FamilyType> = { counter: 'counter', gauge: 'gauge', untyped: 'untyped', histogram: 'histogram' };

export class Collection {
  private readonly families = new Map<string, Family>();
  private sortedNames: string[] | undefined;
  private readonly counterMatch: Matcher | undefined;
  private readonly gaugeMatch: Matcher | undefined;
  private readonly now: () => number;
  private readonly typeConflicts = new Set<string>();
  private lastExpireMs = -Infinity;
  private readonly nameCache = new Map<string, Map<string, string | null>>();
  private readonly histNameCache = new Map<string, Map<string, string | null>>();
  private readonly frozenLabels = new WeakMap<TagSet, string>();

  constructor(private readonly opts: CollectionOptions) {
    this.counterMatch = opts.counterGlobs.length > 0 ? compileGlobs(opts.counterGlobs) : undefined;
    this.gaugeMatch = opts.gaugeGlobs.length > 0 ? compileGlobs(opts.gaugeGlobs) : undefined;
    this.now = opts.now ?? Date.now;
  }

  /** Number of series currently held (histograms count once per label set). */
  get seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }

  /**
   * Label pairs of a metric, sanitized, deduplicated (first wins) and sorted,
   * rendered as `{…}`. A frozen tag set never changes, so its rendering is
   * kept (unless string fields become labels, which vary per metric).
   */
  private labelsOf(m: Metric): string {
    const tags = m.tagSet;
    if (!tags.frozen || this.opts.stringAsLabel || m.type === 'histogram') return this.renderLabels(m);
    let labels = this.frozenLabels.get(tags);
    if (labels === undefined) {
      labels = this.renderLabels(m);
      this.frozenLabels.set(tags, labels);
    }
    return labels;
  }

  private renderLabels(m: Metric): string {
    const { names, values } = labelPairs(m, this.opts.stringAsLabel, false);
    if (names.length === 0) return '';
    // join() yields a flat string: the series Map hashes it without flattening a rope first.
    const parts = new Array<string>(names.length);
    for (let i = 0; i < names.length; i++) parts[i] = names[i] + '="' + escapeLabelValue(values[i]) + '"';
    return '{' + parts.join(',') + '}';
  }

  private familyType(name: string, m: Metric, field: string): FamilyType {
    if (this.counterMatch?.match(name)) return 'counter';
    if (this.gaugeMatch?.match(name)) return 'gauge';
    if (m.type !== 'untyped') return SCALAR_TYPES[m.type];
    const doc = this.opts.help?.lookup(m.name, field);
    if (doc?.valueType === 'counter' || doc?.valueType === 'gauge') return doc.valueType;
    return 'untyped';
  }

  private family(name: string, m: Metric, field: string, histogram: boolean): Family | undefined {
    let fam = this.families.get(name);
    if (fam) {
      if ((fam.type === 'histogram') !== histogram) {
        if (!this.typeConflicts.has(name)) {
          this.typeConflicts.add(name);
          this.opts.log?.warn(`Metric family ${name} is already a ${fam.type}; samples of another kind are skipped`);
        }
        return undefined;
      }
      return fam;
    }
    let type: FamilyType = histogram ? 'histogram' : this.familyType(name, m, field);
    let famName = name;
    if (type === 'counter' && this.opts.counterTotalSuffix && !famName.endsWith('_total')) {
      famName += '_total';
      fam = this.families.get(famName);
      if (fam) {
        this.families.set(name, fam);
        return fam;
      }
    }
    if (histogram) type = 'histogram';
    const help = this.opts.help ? (histogram ? this.opts.help.histogramHelp(m.name, field) : this.opts.help.help(m.name, field)) : GENERIC_HELP;
    fam = { name: famName, type, header: `# HELP ${famName} ${escapeHelp(help)}\n# TYPE ${famName} ${type}\n`, series: new Map() };
    // The un-suffixed name is an alias of the `_total` family for lookups.
    this.families.set(name, fam);
    if (famName !== name) this.families.set(famName, fam);
    this.sortedNames = undefined;
    return fam;
  }

  /** Prometheus name of a field, cached per measurement (the hot path skips concatenation and regex tests). */
  private nameOf(measurement: string, field: string, histogram: boolean): string | undefined {
    const cache = histogram ? this.histNameCache : this.nameCache;
    let byField = cache.get(measurement);
    if (!byField) {
      if (cache.size > 10_000) cache.clear();
      cache.set(measurement, (byField = new Map()));
    }
    let name = byField.get(field);
    if (name === undefined) {
      name = sanitizeMetricName(metricName(measurement, field, histogram)) ?? null;
      if (byField.size > 10_000) byField.clear();
      byField.set(field, name);
    }
    return name ?? undefined;
  }

  add(metrics: readonly Metric[]): void {
    const now = this.now();
    for (const m of metrics) {
      const isHist = m.type === 'histogram';
      let labels: string | undefined;
      for (const f of m.fields) {
        if (f.type === FieldType.String) continue;
        const name = this.nameOf(m.name, f.key, isHist);
        if (name === undefined) continue;
        if (isHist) {
          this.addHistogramField(name, m, f, (labels ??= this.labelsOf(m)), now);
          continue;
        }
        const value = sampleValue(f);
        if (value === undefined) continue;
        let fam = this.families.get(name);
        if (fam === undefined || fam.type === 'histogram') fam = this.family(name, m, f.key, false);
        if (!fam) continue;
        labels ??= this.labelsOf(m);
        const s = fam.series.get(labels);
        if (s) {
          // Several values for one series in a batch: the newest sample wins.
          if (m.time < s.timeNs) continue;
          s.value = value;
          s.timeNs = m.time;
          s.addedMs = now;
        } else fam.series.set(labels, { labels, prefix: fam.name + labels + ' ', value, timeNs: m.time, addedMs: now });
      }
    }
    // Expiry walks every series: after writes do it at most once a second (scrapes always do it).
    if (now - this.lastExpireMs >= 1000) this.expire(now);
  }

  private addHistogramField(name: string, m: Metric, f: Field, labels: string, now: number): void {
    const key = f.key;
    const isBucket = key.endsWith('_bucket');
    const isSum = !isBucket && key.endsWith('_sum');
    const isCount = !isBucket && !isSum && key.endsWith('_count');
    if (!isBucket && !isSum && !isCount) return;
    const fam = this.family(name, m, key.slice(0, key.lastIndexOf('_')), true);
    if (!fam) return;
    let s = fam.series.get(labels);
    if (s && m.time < s.timeNs) return;
    if (!s) {
      s = { labels, prefix: '', value: 0, timeNs: m.time, addedMs: now, hist: { buckets: new Map(), sum: 0, count: undefined } };
      fam.series.set(labels, s);
    }
    const h = s.hist!;
    if (isBucket) {
      const le = m.getTag('le');
      if (le === undefined) return;
      const bound = parseBound(le);
      if (bound === undefined || Number.isNaN(bound)) return;
      const c = sampleCount(f);
      if (c === undefined) return;
      h.buckets.set(bound, c);
    } else if (isSum) {
      const v = sampleSum(f);
      if (v === undefined) return;
      h.sum = v;
    } else {
      const c = sampleCount(f);
      if (c === undefined) return;
      h.count = c;
    }
    s.timeNs = m.time;
    s.addedMs = now;
  }

  /** Drops series not updated within the expiration interval (Telegraf: on write and on scrape). */
  expire(now = this.now()): void {
    this.lastExpireMs = now;
    const ttl = this.opts.expirationMs;
    if (ttl <= 0) return;
    const cutoff = now - ttl;
    for (const [key, fam] of this.families) {
      if (fam.name !== key) continue; // alias entry of a `_total` family
      for (const [labels, s] of fam.series) if (s.addedMs < cutoff) fam.series.delete(labels);
      if (fam.series.size === 0) {
        for (const [k, f] of this.families) if (f === fam) this.families.delete(k);
        this.sortedNames = undefined;
      }
    }
  }

  /** The exposition page in text format 0.0.4. */
  render(): string {
    this.expire();
    if (!this.sortedNames) {
      const names: string[] = [];
      for (const [key, fam] of this.families) if (fam.name === key) names.push(key);
      this.sortedNames = names.sort();
    }
    const ts = this.opts.exportTimestamp;
    let out = '';
    for (const name of this.sortedNames) {
      const fam = this.families.get(name)!;
      if (fam.series.size === 0) continue;
      out += fam.header;
      if (fam.type === 'histogram') {
        for (const s of fam.series.values()) out += renderHistogram(fam.name, s, ts);
        continue;
      }
      if (ts) {
        for (const s of fam.series.values()) out += s.prefix + formatSampleValue(s.value) + ' ' + (s.timeNs / 1_000_000n).toString() + '\n';
      } else {
        for (const s of fam.series.values()) out += s.prefix + formatSampleValue(s.value) + '\n';
      }
    }
    return out;
  }
}

function withLe(labels: string, le: string): string {
  return labels === '' ? `{le="${le}"}` : labels.slice(0, -1) + `,le="${le}"}`;
}

function renderHistogram(name: string, s: Series, ts: boolean): string {
  const h = s.hist!;
  const suffix = ts ? ' ' + (s.timeNs / 1_000_000n).toString() + '\n' : '\n';
  const bounds = [...h.buckets.keys()].sort((a, b) => a - b);
  let count = h.count;
  if (count === undefined) count = bounds.length > 0 && bounds[bounds.length - 1] === Infinity ? h.buckets.get(Infinity)! : 0;
  let out = '';
  for (const b of bounds) out += name + '_bucket' + withLe(s.labels, formatBound(b)) + ' ' + formatSampleValue(h.buckets.get(b)!) + suffix;
  // A histogram must end with the +Inf bucket, which equals the count.
  if (bounds.length === 0 || bounds[bounds.length - 1] !== Infinity) out += name + '_bucket' + withLe(s.labels, '+Inf') + ' ' + formatSampleValue(count) + suffix;
  out += name + '_sum' + s.labels + ' ' + formatSampleValue(h.sum) + suffix;
  out += name + '_count' + s.labels + ' ' + formatSampleValue(count) + suffix;
  return out;
}
