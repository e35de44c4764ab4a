/**
 * `# HELP` text and per-field value types from the input plugins' field
 * documentation (`measurements` of each plugin descriptor). A documented
 * field name may be a pattern such as `<state>` or `<state>_count`: each
 * `<...>` part matches any non-empty text.
 */
import type { FieldDoc, MeasurementDoc } from '../../../core/plugin';
import type { ValueType } from '../../../core/metric';

export const GENERIC_HELP = 'Telegraf collected metric';

export interface FieldInfo {
  help: string;
  valueType?: ValueType;
}

interface PatternDoc {
  measurement: string;
  re: RegExp;
  info: FieldInfo;
}

export class HelpIndex {
  private readonly exact = new Map<string, FieldInfo>();
  private readonly patterns: PatternDoc[] = [];
  private readonly measurementHelp = new Map<string, string>();

  constructor(docs: readonly MeasurementDoc[]) {
    for (const m of docs) {
      if (m.help) this.measurementHelp.set(m.name, m.help);
      for (const f of m.fields) this.add(m.name, f);
    }
  }

  private add(measurement: string, f: FieldDoc): void {
    const info: FieldInfo = { help: f.help, valueType: f.valueType };
    if (!f.name.includes('<')) {
      if (!this.exact.has(measurement + '\u0000' + f.name)) this.exact.set(measurement + '\u0000' + f.name, info);
      return;
    }
    const re = new RegExp(
      '^' +
        f.name
          .split(/<[^>]*>/)
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.+') +
        '$',
    );
    this.patterns.push({ measurement, re, info });
  }

  lookup(measurement: string, field: string): FieldInfo | undefined {
    const e = this.exact.get(measurement + '\u0000' + field);
    if (e) return e;
    for (const p of this.patterns) if (p.measurement === measurement && p.re.test(field)) return p.info;
    return undefined;
  }

  /**
   * Help for a histogram family `<base>`: the base's own documentation, else
   * what the documentation of `<base>_bucket`, `_sum` and `_count` has in
   * common (their texts usually share the description and differ in a
   * trailing note such as "sum of observations").
   */
  histogramHelp(measurement: string, base: string): string {
    const own = this.lookup(measurement, base);
    if (own && own.help) return own.help;
    const texts: string[] = [];
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const d = this.lookup(measurement, base + suffix);
      if (d && d.help) texts.push(d.help);
    }
    if (texts.length === 0) return GENERIC_HELP;
    if (texts.length === 1) return texts[0];
    let prefix = texts[0];
    for (const t of texts.slice(1)) {
      let i = 0;
      while (i < prefix.length && i < t.length && prefix[i] === t[i]) i++;
      prefix = prefix.slice(0, i);
    }
    prefix = prefix.replace(/[\s:;,(-]+$/, '');
    return prefix.length >= 8 ? prefix : texts[0];
  }

  /** Help for a family: the field's documentation, else a generic text naming the source. */
  help(measurement: string, field: string): string {
    const info = this.lookup(measurement, field);
    if (info && info.help) return info.help;
    return GENERIC_HELP;
  }
}
