/**
 * Line-protocol escaping, as Telegraf's influx serializer (escape.go): which
 * characters each element escapes, the byte classes the byte writer checks
 * four characters at a time, and how tag keys and values are written
 * (escaped, trailing backslashes trimmed, empty ones skipped).
 */
import type { TagSet } from '../../metric';

const NEEDS_ESCAPE = /[\t\n\f\r ,=]/;
const NAME_NEEDS_ESCAPE = /[\t\n\f\r ,]/;
const STRING_NEEDS_ESCAPE = /["\\]/;

export function escapeChar(c: string, withEquals: boolean): string {
  switch (c) {
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    case '\f':
      return '\\f';
    case '\r':
      return '\\r';
    case ',':
      return '\\,';
    case ' ':
      return '\\ ';
    case '=':
      return withEquals ? '\\=' : '=';
    default:
      return c;
  }
}

export function escapeKey(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\t\n\f\r ,=]/g, (c) => escapeChar(c, true)) : s;
}

export function escapeName(s: string): string {
  return NAME_NEEDS_ESCAPE.test(s) ? s.replace(/[\t\n\f\r ,]/g, (c) => escapeChar(c, false)) : s;
}

export function escapeStringValue(s: string): string {
  return STRING_NEEDS_ESCAPE.test(s) ? s.replace(/["\\]/g, (c) => '\\' + c) : s;
}

/** True when a tag key/value or field key needs escaping (tab, LF, FF, CR, space, comma, equals). */
export function needsKeyEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 61 && (c === 32 || c === 44 || c === 61 || c === 9 || c === 10 || c === 12 || c === 13)) return true;
  }
  return false;
}

export function trimTrailingBackslashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 92) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Byte classes: KEY = needs escaping in a key or tag value, STRING = in a string field value. */
export const CLASS = new Uint8Array(128);
for (const c of [9, 10, 12, 13, 32, 44, 61]) CLASS[c] |= 2; // \t \n \f \r space , =
CLASS[34] |= 4; // '"'
CLASS[92] |= 4; // '\\'
export const KEY = 2;
export const STRING = 4;

/** The tags as written: `,key=value` for each, escaped; empty ones skipped. */
export function tagsText(tags: TagSet): string {
  let text = '';
  for (let i = 0; i < tags.keys.length; i++) {
    const k = tagText(tags.keys[i]);
    const v = tagText(tags.values[i]);
    if (k !== '' && v !== '') text += ',' + k + '=' + v;
  }
  return text;
}

/** A tag key or value as written: escaped, trailing backslashes trimmed ('' = skip the tag). */
export function tagText(s: string): string {
  let t = needsKeyEscape(s) ? escapeKey(s) : s;
  if (t.charCodeAt(t.length - 1) === 92) t = trimTrailingBackslashes(t);
  return t;
}
