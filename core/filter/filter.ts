/**
 * Telegraf's metric filters (models/filter.go): selectors decide whether a
 * metric passes (namepass/namedrop, tagpass/tagdrop); modifiers remove fields
 * and tags (fieldinclude/fieldexclude, taginclude/tagexclude).
 */
import type { Metric, TagSet } from '../metric';
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
function tagsMatch(filters: TagFilter[], tags: TagSet): boolean {
  for (const f of filters) {
    const v = tags.get(f.key);
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
    // An empty list is no filter, as in Telegraf (models/filter.go 72-73, filter/filter.go 31-34).
    if (cfg.fieldinclude?.length) this.fieldInclude = compileGlobs(cfg.fieldinclude);
    if (cfg.fieldexclude?.length) this.fieldExclude = compileGlobs(cfg.fieldexclude);
    this.tagPass = compileTagFilters(cfg.tagpass);
    this.tagDrop = compileTagFilters(cfg.tagdrop);
    if (cfg.taginclude?.length) this.tagInclude = compileGlobs(cfg.taginclude);
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

  /** True when the selectors look at tags (tagpass, tagdrop). */
  get selectsTags(): boolean {
    return this.tagPass !== undefined || this.tagDrop !== undefined;
  }

  /** True when the modifiers remove tags (taginclude, tagexclude). */
  get modifiesTags(): boolean {
    return this.tagInclude !== undefined || this.tagExclude !== undefined;
  }

  /** Selectors: true when the metric is kept. */
  select(m: Metric): boolean {
    return this.selectName(m.name) && this.selectTags(m.tagSet);
  }

  /** The name selectors (namepass, namedrop). */
  selectName(name: string): boolean {
    if (this.namePass && !this.namePass.match(name)) return false;
    if (this.nameDrop && this.nameDrop.match(name)) return false;
    return true;
  }

  /** The tag selectors (tagpass, tagdrop). */
  selectTags(tags: TagSet): boolean {
    if (this.tagPass && !tagsMatch(this.tagPass, tags)) return false;
    if (this.tagDrop && tagsMatch(this.tagDrop, tags)) return false;
    return true;
  }

  /** Modifiers: removes filtered fields and tags in place. */
  modify(m: Metric): void {
    this.modifyFields(m);
    if (this.modifiesTags) this.modifyTags(m.ownTags());
  }

  /** The field modifiers (fieldinclude, fieldexclude). */
  modifyFields(m: Metric): void {
    if (!this.fieldInclude && !this.fieldExclude) return;
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

  /** The tag modifiers (taginclude, tagexclude), on an unfrozen set. */
  modifyTags(tags: TagSet): void {
    const include = this.tagInclude;
    const exclude = this.tagExclude;
    if (!include && !exclude) return;
    tags.retain((k) => (!include || include.match(k)) && !(exclude && exclude.match(k)));
  }
}
