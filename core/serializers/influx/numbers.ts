/**
 * Numbers as Telegraf's influx serializer prints them: floats in Go's
 * shortest 'f' form, integers exactly (number or bigint), and uint64 values
 * clipped to int64's maximum when the output has no uint support.
 */

export const INT64_MAX = 9223372036854775807n;
export const INT64_MAX_STR = '9223372036854775807';

/** True when an unsigned value does not fit int64 (it is written as INT64_MAX without uint support). */
export function exceedsInt64(v: number | bigint): boolean {
  return typeof v === 'bigint' ? v > INT64_MAX : v >= 9223372036854775807;
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloat(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.charCodeAt(0) === 45;
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const pointPos = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (pointPos <= 0) out = '0.' + '0'.repeat(-pointPos) + digits;
  else if (pointPos >= digits.length) out = digits + '0'.repeat(pointPos - digits.length);
  else out = digits.slice(0, pointPos) + '.' + digits.slice(pointPos);
  return neg ? '-' + out : out;
}

export const ZEROS = '000000000';

/**
 * Decimal text of an integral number. V8 converts numbers beyond the 31-bit
 * small-integer range through its generic double-to-string path (~150 ns);
 * splitting into two small integers is several times faster, and 64-bit
 * counters are mostly that large.
 */
export function formatInteger(v: number): string {
  if (v < 2147483648 && v > -2147483649) return '' + v;
  if (v < 0) return '-' + formatInteger(-v);
  if (v > Number.MAX_SAFE_INTEGER) return BigInt(v).toString();
  const hi = Math.floor(v / 1e9);
  const lo = '' + (v - hi * 1e9);
  return (hi < 2147483648 ? '' + hi : formatInteger(hi)) + ZEROS.slice(lo.length) + lo;
}

/** An integer field's digits (no suffix), exact for numbers and bigints. */
export function integerText(v: number | bigint): string {
  return typeof v === 'number' ? formatInteger(Math.trunc(v)) : v.toString();
}
