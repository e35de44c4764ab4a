/**
 * Durations as Telegraf's config accepts them: Go duration strings ("10s",
 * "1m30s", "500ms", "1.5h", "2us"/"2µs", "100ns"), Telegraf's days ("1d",
 * "1.5d12h"), an integer or float of seconds (TOML number or numeric string),
 * and "" meaning zero.
 */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export class DurationError extends Error {}

/** The longest duration there is: Go's time.Duration (2^63-1 ns, about 292 years). */
export const MAX_DURATION_NS = 2n ** 63n - 1n;

/** Parses a duration to nanoseconds (bigint). Throws DurationError, also beyond ±MAX_DURATION_NS. */
export function parseDuration(v: unknown): bigint {
  const ns = parseUnbounded(v);
  if (ns > MAX_DURATION_NS || ns < -MAX_DURATION_NS) throw new DurationError(`duration ${typeof v === 'string' ? JSON.stringify(v) : String(v)} out of range (at most about 292 years)`);
  return ns;
}

function parseUnbounded(v: unknown): bigint {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new DurationError(`invalid duration ${v}`);
    // Beyond the range in any unit: reported as such rather than computed.
    if (Math.abs(v) > 1e12) return v < 0 ? -MAX_DURATION_NS - 1n : MAX_DURATION_NS + 1n;
    return BigInt(Math.round(v * 1e9));
  }
  if (typeof v === 'bigint') return v * 1_000_000_000n;
  if (typeof v !== 'string') throw new DurationError(`invalid duration ${JSON.stringify(v)}`);
  // Days become hours before parsing, as Telegraf's config.Duration does (config/types.go 14, 49-57).
  const s = v.trim().replace(/(\d+(?:\.\d+)?)d/g, (_, days: string) => `${Number(days) * 24}h`);
  if (s === '' || s === '0') return 0n;
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) return BigInt(Math.round(Number(s) * 1e9));
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new DurationError(`invalid duration "${v}"`);
  const sign = m[1] === '-' ? -1n : 1n;
  let total = 0n;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
  let part: RegExpExecArray | null;
  while ((part = re.exec(s)) !== null) {
    const [whole, frac = ''] = part[1].split('.');
    const unit = BigInt(UNIT_NS[part[2]]);
    total += BigInt(whole || '0') * unit;
    if (frac) total += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
  }
  return sign * total;
}

/** Milliseconds as a JS number, for timers. */
export function durationMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

/** Formats nanoseconds the way Go's time.Duration.String() does ("10s", "1m30s", "500ms"). */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    const [div, unit] = u < 1000n ? [1n, 'ns'] : u < 1_000_000n ? [1000n, 'µs'] : [1_000_000n, 'ms'];
    out = trimFraction(u, div) + unit;
  } else {
    const h = u / 3_600_000_000_000n;
    u -= h * 3_600_000_000_000n;
    const m = u / 60_000_000_000n;
    u -= m * 60_000_000_000n;
    out = (h > 0n ? `${h}h` : '') + (h > 0n || m > 0n ? `${m}m` : '') + trimFraction(u, 1_000_000_000n) + 's';
  }
  return neg ? '-' + out : out;
}

function trimFraction(v: bigint, div: bigint): string {
  const whole = v / div;
  const frac = v % div;
  if (frac === 0n) return whole.toString();
  const digits = div.toString().length - 1;
  return `${whole}.${frac.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}
