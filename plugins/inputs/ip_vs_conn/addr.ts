/**
 * Address text exactly as Go's net.IP.String() prints it, so that tags match
 * Telegraf's ipvs_real_server: dotted IPv4; IPv6 per RFC 5952 (lower-case hex,
 * the longest run of two or more zero groups, the first on a tie, as "::");
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain dotted IPv4, as Go does
 * (core/net/ipaddr.ts, shared with the ipvs and conntrack code).
 */
import { formatIPv4Word, formatIPv6Words } from '../../../core/net/ipaddr';

export const formatIPv4 = formatIPv4Word;

/** `words` = four 32-bit words, most significant first. */
export const formatIPv6 = formatIPv6Words;

export function formatAddress(af: number, words: ArrayLike<number>): string {
  return af === 4 ? formatIPv4(words[0] >>> 0) : formatIPv6(words);
}

/** Parses IPv4 or IPv6 text into four words (IPv4 in word 0); returns the family or 0. */
export function parseAddress(text: string, out: Uint32Array): number {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return 0;
    out[0] = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    out[1] = out[2] = out[3] = 0;
    return 4;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return 0;
  let head = text;
  let tail4: number[] | undefined;
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (dotted) {
    const tmp = new Uint32Array(4);
    if (parseAddress(dotted[2], tmp) !== 4) return 0;
    head = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
    tail4 = [tmp[0] >>> 16, tmp[0] & 0xffff];
  }
  const halves = head.split('::');
  if (halves.length > 2) return 0;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const parts = s.split(':');
    const res: number[] = [];
    for (const p of parts) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      res.push(parseInt(p, 16));
    }
    return res;
  };
  const left = parseGroups(halves[0]);
  const right = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!left || !right) return 0;
  const tail = tail4 ?? [];
  const have = left.length + right.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (have > 7) return 0;
    groups = [...left, ...new Array<number>(8 - have).fill(0), ...right, ...tail];
  } else {
    if (have !== 8) return 0;
    groups = [...left, ...tail];
  }
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return 6;
}
