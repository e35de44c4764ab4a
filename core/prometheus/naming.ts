/**
 * Prometheus names, labels and sample values of Telegraf metrics, shared by
 * the outputs that speak Prometheus (`prometheus_client`'s exposition page,
 * the `prometheusremotewrite` data format), so that a series gets the same
 * name and labels whichever way it leaves the agent.
 *
 * Follows Telegraf's prometheus serializer (metric_version 2,
 * plugins/serializers/prometheus/convert.go): valid names pass unchanged;
 * otherwise an invalid first character is dropped, other invalid characters
 * become `_`, and `_` is trimmed from both ends (an empty result is invalid).
 */
import { FieldType, type Field, type Metric } from '../metric';

const VALID_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const VALID_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function sanitize(name: string, first: RegExp, rest: RegExp): string | undefined {
  let out = '';
  let i = 0;
  for (const ch of name) {
    if (i++ === 0) {
      if (first.test(ch)) out += ch;
    } else out += rest.test(ch) ? ch : '_';
  }
  let a = 0;
  let b = out.length;
  while (a < b && out.charCodeAt(a) === 95) a++;
  while (b > a && out.charCodeAt(b - 1) === 95) b--;
  const r = out.slice(a, b);
  return r === '' ? undefined : r;
}

const metricCache = new Map<string, string | undefined>();

export function sanitizeMetricName(name: string): string | undefined {
  if (VALID_METRIC.test(name)) return name;
  let r = metricCache.get(name);
  if (r === undefined && !metricCache.has(name)) {
    r = sanitize(name, /^[a-zA-Z_:]$/, /^[a-zA-Z0-9_:]$/);
    if (metricCache.size > 10000) metricCache.clear();
    metricCache.set(name, r);
  }
  return r;
}

export function sanitizeLabelName(name: string): string | undefined {
  if (VALID_LABEL.test(name)) return name;
  return sanitize(name, /^[a-zA-Z_]$/, /^[a-zA-Z0-9_]$/);
}

/** `<measurement>_<field>`, or the field alone for measurement `prometheus`; histogram suffixes removed. */
export function metricName(measurement: string, field: string, histogram: boolean): string {
  if (histogram) {
    if (field.endsWith('_bucket')) field = field.slice(0, -7);
    else if (field.endsWith('_sum')) field = field.slice(0, -4);
    else if (field.endsWith('_count')) field = field.slice(0, -6);
  }
  return measurement === 'prometheus' ? field : measurement + '_' + field;
}

/** A metric's labels: sanitized names sorted by code unit, `values[i]` beside `names[i]`. */
export interface LabelPairs {
  names: string[];
  values: string[];
}

/**
 * The labels of a metric's series: its tags (without `le` on histograms),
 * names sanitized, a name seen twice kept once (the first, in tag order),
 * then string fields when `stringAsLabel` (a tag of the same name wins),
 * sorted by name. `skipEmpty` leaves out labels with empty values (remote
 * write forbids them; on an exposition page they mean the same as no label).
 */
export function labelPairs(m: Metric, stringAsLabel: boolean, skipEmpty: boolean): LabelPairs {
  const names: string[] = [];
  const values: string[] = [];
  const skip = m.type === 'histogram' ? 'le' : '';
  let sorted = true;
  const keys = m.tagKeys;
  const tagValues = m.tagValues;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === skip || (skipEmpty && tagValues[i] === '')) continue;
    const name = sanitizeLabelName(k);
    if (name === undefined || names.includes(name)) continue;
    if (names.length > 0 && names[names.length - 1] > name) sorted = false;
    names.push(name);
    values.push(tagValues[i]);
  }
  if (stringAsLabel) {
    for (const f of m.fields) {
      if (f.type !== FieldType.String || (skipEmpty && f.value === '')) continue;
      const name = sanitizeLabelName(f.key);
      if (name === undefined || names.includes(name)) continue;
      if (names.length > 0 && names[names.length - 1] > name) sorted = false;
      names.push(name);
      values.push(f.value as string);
    }
  }
  if (sorted) return { names, values };
  const order = names.map((_, i) => i);
  order.sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  return { names: order.map((i) => names[i]), values: order.map((i) => values[i]) };
}

/** Numeric value of a field for a scalar sample; undefined for strings. Bools are 1/0 (Telegraf's SampleValue). */
export function sampleValue(f: Field): number | bigint | undefined {
  switch (f.type) {
    case FieldType.Float:
      return f.value as number;
    case FieldType.Int:
    case FieldType.Uint:
      return f.value as number | bigint;
    case FieldType.Bool:
      return f.value ? 1 : 0;
    default:
      return undefined;
  }
}

/** Histogram counts must be non-negative integers (Telegraf's SampleCount). */
export function sampleCount(f: Field): number | bigint | undefined {
  switch (f.type) {
    case FieldType.Float: {
      const v = f.value as number;
      return v >= 0 ? Math.trunc(v) : undefined;
    }
    case FieldType.Int:
    case FieldType.Uint: {
      const v = f.value as number | bigint;
      return v >= 0 ? v : undefined;
    }
    default:
      return undefined;
  }
}

/** Histogram sums (Telegraf's SampleSum): any number, not bools or strings. */
export function sampleSum(f: Field): number | undefined {
  if (f.type === FieldType.Float || f.type === FieldType.Int || f.type === FieldType.Uint) return Number(f.value);
  return undefined;
}

const LABEL_ESCAPE = /[\\"\n]/;

/** Label value escaping of the text format: backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  if (!LABEL_ESCAPE.test(v)) return v;
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

/** HELP text escaping: backslash and newline. */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as the text format writes it (`+Inf`, `-Inf`, `NaN`, exact integers for bigint). */
export function formatSampleValue(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * A bucket bound as the `le` label value: Go's strconv.FormatFloat(v, 'g',
 * -1, 64), which both Telegraf paths use (client_golang's text writer and
 * the remote write serializer's fmt.Sprint): shortest digits, in exponent
 * form below 1e-4 and from 1e6 on (`1e-05`, `1e+06`, at least two exponent
 * digits), `+Inf` for infinity.
 */
export function formatBound(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v !== v) return 'NaN';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // Shortest round-trip digits and the decimal exponent, from JS's own shortest form.
  const [mantissa, e] = v.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${Math.abs(exp) < 10 ? '0' : ''}${Math.abs(exp)}`;
  return String(v);
}

/** Go's strconv.ParseFloat for `le` values: decimal, exponent, and the infinity/NaN spellings. */
export function parseBound(s: string): number | undefined {
  const t = s.trim();
  if (/^[+]?(inf|infinity)$/i.test(t)) return Infinity;
  if (/^-(inf|infinity)$/i.test(t)) return -Infinity;
  if (/^nan$/i.test(t)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) && !/^[-+]?0[xX][0-9a-fA-F]+$/.test(t)) return undefined;
  return Number(t);
}
