/**
 * IP address text exactly as Go's `net.IP.String()` prints it (what Telegraf's
 * tags contain): dotted IPv4; IPv4-mapped IPv6 (::ffff:a.b.c.d) also dotted;
 * other IPv6 in RFC 5952 form (lowercase hex, no leading zeros, the first
 * longest run of two or more zero groups as "::").
 */
import { formatIPv6Bytes } from '../net/ipaddr';
import { AF_INET, AF_INET6 } from './constants';

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off: number): string {
  return formatIPv6Bytes(b, off);
}

/** Formats a raw address by family; unknown families print as IPv6 when 16 bytes are present. */
export function formatAddress(af: number, b: Uint8Array, off: number, len: number): string {
  if (af === AF_INET && len >= 4) return formatIPv4(b, off);
  if (af === AF_INET6 && len >= 16) return formatIPv6(b, off);
  if (len === 4) return formatIPv4(b, off);
  if (len >= 16) return formatIPv6(b, off);
  return '';
}

/** Parses IPv4 dotted or IPv6 text into a 16-byte buffer (IPv4 in the first 4 bytes) and its family. */
export function parseAddress(text: string): { af: number; addr: Buffer } {
  const addr = Buffer.alloc(16);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) throw new Error(`bad IPv4 address ${text}`);
      addr[i] = n;
    }
    return { af: AF_INET, addr };
  }
  const halves = text.split('::');
  if (halves.length > 2 || text.length === 0) throw new Error(`bad IP address ${text}`);
  const parseGroups = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const m = parseAddress(p);
        if (m.af !== AF_INET) throw new Error(`bad IP address ${text}`);
        out.push((m.addr[0] << 8) | m.addr[1], (m.addr[2] << 8) | m.addr[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw new Error(`bad IP address ${text}`);
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) throw new Error(`bad IP address ${text}`);
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let g = 0; g < 8; g++) addr.writeUInt16BE(groups[g], 2 * g);
  return { af: AF_INET6, addr };
}

/** Number of 1 bits in a 32-bit value. */
export function onesCount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function familyName(af: number): string {
  return af === AF_INET ? 'inet' : af === AF_INET6 ? 'inet6' : String(af);
}
