/**
 * Telegraf's metric filters (models/filter.go): selectors decide whether a
 * metric passes (namepass/namedrop, tagpass/tagdrop); modifiers remove fields
 * and tags (fieldinclude/fieldexclude, taginclude/tagexclude).
 */
import type { Metric } from '../metric';
import { compileGlobs, type Matcher } from './glob';

export interface FilterConfig {
  namepass?: string[];
  namepass_separator?: string;
  namedrop?: string[];
  namedrop_separator?: string;
  fieldinclude?: string[];
  fieldexclude?: string[];
  tagpass?: Record<string, string[]>;
  tagdrop?: Record<string, string[]>;
  taginclude?: string[];
  tagexclude?: string[];
}

interface TagFilter {
  key: string;
  values: Matcher;
}

function compileTagFilters(t: Record<string, string[]> | undefined): TagFilter[] | undefined {
  if (!t) return undefined;
  const keys = Object.keys(t).sort();
  if (keys.length === 0) return undefined;
  return keys.map((key) => ({ key, values: compileGlobs(t[key]) }));
}

/** Telegraf's tag-filter rule: passes when ANY filter key is present with a value matching ANY of its globs. */
function tagsMatch(filters: TagFilter[], m: Metric): boolean {
  for (const f of filters) {
    const v = m.getTag(f.key);
    if (v !== undefined && f.values.match(v)) return true;
  }
  return false;
}

export class MetricFilter {
  private readonly namePass?: Matcher;
  private readonly nameDrop?: Matcher;
  private readonly fieldInclude?: Matcher;
  private readonly fieldExclude?: Matcher;
  private readonly tagPass?: TagFilter[];
  private readonly tagDrop?: TagFilter[];
  private readonly tagInclude?: Matcher;
  private readonly tagExclude?: Matcher;
  readonly isActive: boolean;

  constructor(cfg: FilterConfig) {
    if (cfg.namepass?.length) this.namePass = compileGlobs(cfg.namepass, cfg.namepass_separator ?? '');
    if (cfg.namedrop?.length) this.nameDrop = compileGlobs(cfg.namedrop, cfg.namedrop_separator ?? '');
    if (cfg.fieldinclude) this.fieldInclude = compileGlobs(cfg.fieldinclude);
    if (cfg.fieldexclude?.length) this.fieldExclude = compileGlobs(cfg.fieldexclude);
    this.tagPass = compileTagFilters(cfg.tagpass);
    this.tagDrop = compileTagFilters(cfg.tagdrop);
    if (cfg.taginclude) this.tagInclude = compileGlobs(cfg.taginclude);
    if (cfg.tagexclude?.length) this.tagExclude = compileGlobs(cfg.tagexclude);
    this.isActive = !!(
      this.namePass ||
      this.nameDrop ||
      this.fieldInclude ||
      this.fieldExclude ||
      this.tagPass ||
      this.tagDrop ||
      this.tagInclude ||
      this.tagExclude
    );
  }

  /** Selectors: true when the metric is kept. */
  select(m: Metric): boolean {
    if (this.namePass && !this.namePass.match(m.name)) return false;
    if (this.nameDrop && this.nameDrop.match(m.name)) return false;
    if (this.tagPass && !tagsMatch(this.tagPass, m)) return false;
    if (this.tagDrop && tagsMatch(this.tagDrop, m)) return false;
    return true;
  }

  /** Modifiers: removes filtered fields and tags in place. */
  modify(m: Metric): void {
    if (this.fieldInclude || this.fieldExclude) {
      const fields = m.fields;
      let w = 0;
      for (let r = 0; r < fields.length; r++) {
        const k = fields[r].key;
        if (this.fieldInclude && !this.fieldInclude.match(k)) continue;
        if (this.fieldExclude && this.fieldExclude.match(k)) continue;
        fields[w++] = fields[r];
      }
      fields.length = w;
    }
    if (this.tagInclude || this.tagExclude) {
      const keys = m.tagKeys;
      const values = m.tagValues;
      let w = 0;
      for (let r = 0; r < keys.length; r++) {
        const k = keys[r];
        if (this.tagInclude && !this.tagInclude.match(k)) continue;
        if (this.tagExclude && this.tagExclude.match(k)) continue;
        keys[w] = k;
        values[w] = values[r];
        w++;
      }
      keys.length = w;
      values.length = w;
    }
  }
}
