/**
 * CIDR lists matched against conntrack addresses without building strings:
 * IPv4 as 32-bit numbers, IPv6 as 16 bytes.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Subnet {
  /** The CIDR as configured (used as a tag value). */
  text: string;
  v6: boolean;
  /** IPv4: network and mask as unsigned 32-bit numbers. */
  net4: number;
  mask4: number;
  /** IPv6: network bytes and prefix length. */
  net6: Uint8Array;
  prefix: number;
}

function parseV4(s: string): number {
  const p = s.split('.').map((x) => Number(x));
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function parseV6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = s;
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseV4(v4[1]);
    text = text.slice(0, -v4[1].length) + ((n >>> 16) & 0xffff).toString(16) + ':' + (n & 0xffff).toString(16);
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i] ?? '0', 16);
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 255;
  }
  return out;
}

/** Parses `10.96.0.0/16`, `fd00::/64` or a bare address (host route). Throws on invalid input. */
export function parseSubnet(text: string): Subnet {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash >= 0 ? t.slice(0, slash) : t;
  const prefixText = slash >= 0 ? t.slice(slash + 1) : undefined;
  if (isIPv4(addr)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (!/^\d+$/.test(prefixText ?? '32') || prefix > 32) throw new Error(`invalid CIDR ${JSON.stringify(text)}`);
    const mask4 = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { text: t, v6: false, net4: (parseV4(addr) & mask4) >>> 0, mask4, net6: new Uint8Array(16), prefix };
  }
  if (isIPv6(addr)) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (!/^\d+$/.test(prefixText ?? '128') || prefix > 128) throw new Error(`invalid CIDR ${JSON.stringify(text)}`);
    const net6 = parseV6(addr);
    for (let bit = prefix; bit < 128; bit++) net6[bit >> 3] &= ~(0x80 >> (bit & 7));
    return { text: t, v6: true, net4: 0, mask4: 0, net6, prefix };
  }
  throw new Error(`invalid CIDR ${JSON.stringify(text)}`);
}

export function contains4(s: Subnet, a: number): boolean {
  return !s.v6 && ((a & s.mask4) >>> 0) === s.net4;
}

export function contains6(s: Subnet, a: Uint8Array): boolean {
  if (!s.v6) return false;
  const full = s.prefix >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== s.net6[i]) return false;
  const rest = s.prefix & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (a[full] & m) === s.net6[full];
}

/** A list of subnets; `match*` returns the index of the first containing subnet or -1. */
export class SubnetList {
  readonly subnets: Subnet[];
  constructor(texts: readonly string[]) {
    this.subnets = texts.map(parseSubnet);
  }
  get length(): number {
    return this.subnets.length;
  }
  match4(a: number): number {
    const l = this.subnets;
    for (let i = 0; i < l.length; i++) if (contains4(l[i], a)) return i;
    return -1;
  }
  match4Single(i: number, a: number): boolean {
    return contains4(this.subnets[i], a);
  }
  match6Single(i: number, a: Uint8Array): boolean {
    return contains6(this.subnets[i], a);
  }
  match6(a: Uint8Array): number {
    const l = this.subnets;
    for (let i = 0; i < l.length; i++) if (contains6(l[i], a)) return i;
    return -1;
  }
}
