/**
 * IP address text as Go's `net.IP.String()` prints it — the form Telegraf's
 * tags carry, so every plugin's address tags join: dotted IPv4; IPv6 per
 * RFC 5952 (lower-case hex, no leading zeros, the first longest run of two or
 * more zero groups as "::"); IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain dotted
 * IPv4.
 */

/** IPv4 from a 32-bit word, most significant byte first. */
export function formatIPv4Word(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** IPv6 from its eight 16-bit groups. */
export function formatIPv6Groups(g: ArrayLike<number>): string {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff)
    return `${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && out.charCodeAt(out.length - 1) !== 58) out += ':';
    out += g[i].toString(16);
  }
  return out;
}

const groups = new Array<number>(8);

/** IPv6 from 16 bytes at `off`. */
export function formatIPv6Bytes(b: Uint8Array, off = 0): string {
  for (let i = 0; i < 8; i++) groups[i] = (b[off + 2 * i] << 8) | b[off + 2 * i + 1];
  return formatIPv6Groups(groups);
}

/** IPv6 from four 32-bit words, most significant first. */
export function formatIPv6Words(w: ArrayLike<number>): string {
  for (let i = 0; i < 4; i++) {
    groups[2 * i] = w[i] >>> 16;
    groups[2 * i + 1] = w[i] & 0xffff;
  }
  return formatIPv6Groups(groups);
}
