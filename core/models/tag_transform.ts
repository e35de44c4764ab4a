/**
 * A change to a metric's tags that depends on nothing but those tags (tag
 * selectors, added plugin and global tags, tag modifiers). On a frozen TagSet
 * it runs once and its result is remembered, so every later metric sharing
 * that set costs one WeakMap lookup and keeps a frozen (cacheable) set; an
 * unfrozen set is changed in place.
 */
import type { MetricFilter } from '../filter/filter';
import type { Metric, TagSet } from '../metric';

export class TagTransform {
  /** Result per frozen input set: the frozen output set, or null when the metric is dropped. */
  private readonly memo = new WeakMap<TagSet, TagSet | null>();

  /** `change` edits an unfrozen set in place and returns false to drop the metric. */
  constructor(private readonly change: (tags: TagSet) => boolean) {}

  /** Applies the change to `m`; false when the metric is to be dropped. */
  apply(m: Metric): boolean {
    const tags = m.tagSet;
    if (!tags.frozen) return this.change(tags);
    let out = this.memo.get(tags);
    if (out === undefined) {
      const copy = tags.clone();
      out = this.change(copy) ? copy.freeze() : null;
      this.memo.set(tags, out);
    }
    if (out === null) return false;
    m.tagSet = out;
    return true;
  }
}

/**
 * The tag steps of a plugin's filter, with `added` tags (plugin, then global)
 * set where absent between selection and trimming, in Telegraf's order:
 * undefined when there is nothing to do.
 */
export function filterTagTransform(f: MetricFilter, added: readonly (readonly [string, string])[] = []): TagTransform | undefined {
  if (!f.selectsTags && !f.modifiesTags && added.length === 0) return undefined;
  return new TagTransform((t) => {
    if (!f.selectTags(t)) return false;
    for (const [k, v] of added) t.setIfAbsent(k, v);
    f.modifyTags(t);
    return true;
  });
}
