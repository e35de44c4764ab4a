/**
 * Prometheus naming and text-format escaping, following Telegraf's
 * prometheus serializer (metric_version 2): valid names pass unchanged;
 * otherwise an invalid first character is dropped, other invalid characters
 * become `_`, and `_` is trimmed from both ends (an empty result is invalid).
 */

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

/** Go's strconv.ParseFloat for `le` values: decimal, exponent, and the infinity/NaN spellings. */
export function parseBound(s: string): number | undefined {
  const t = s.trim();
  if (/^[+]?(inf|infinity)$/i.test(t)) return Infinity;
  if (/^-(inf|infinity)$/i.test(t)) return -Infinity;
  if (/^nan$/i.test(t)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) && !/^[-+]?0[xX][0-9a-fA-F]+$/.test(t)) return undefined;
  return Number(t);
}
