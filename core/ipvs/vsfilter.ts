/**
 * `virtual_servers` / `virtual_servers_exclude`: the one grammar every plugin
 * that selects IPVS services uses (ipvs, ip_vs_conn, ipvs_probe), so a list
 * can be pasted from one section into another. A pattern that cannot be
 * parsed is a config error naming the key (the `virtual_server` schema
 * keyword, core/config/schema.ts), never a filter that silently matches nothing.
 *
 * Each entry is `[PROTO:]ADDRESS[:PORT]`, `fwmark:MARK` or `*`:
 *
 *   "10.96.0.10"          any protocol and port on this address
 *   "10.96.0.10:53"       any protocol, port 53
 *   "tcp:10.96.*:443"     protocol, address glob, port
 *   "udp:10.96.0.0/12"    CIDR prefix (IPv4 or IPv6)
 *   "[fd00::10]:53"       IPv6 in brackets when a port follows; "fd00::10" without one
 *   "*:*:{80,443}"        any protocol and address, port 80 or 443
 *   "{tcp,udp}:10.0.0.{1,2}:53"
 *   "fwmark:47"           a firewall-mark service ("fwmark:*", "fwmark:{1,2}")
 *   "*"                   everything
 *
 * PROTO: tcp, udp, sctp, a decimal protocol number, or a glob over those (any case).
 * ADDRESS: an IP address in any spelling (compared after normalisation), a
 * CIDR prefix, or a glob (`*`, `?`, `[…]`, `{a,b}`) on the address text as the
 * tags print it (dotted IPv4, compressed lower-case IPv6).
 * PORT: decimal, or a glob over the decimal text; absent = any port.
 */
import * as net from 'node:net';
import { compileGlob, GlobError, type Matcher } from '../filter/glob';

export interface VsIdentity {
  /** 'tcp' | 'udp' | 'sctp' | decimal protocol; '' for fwmark services. */
  protocol: string;
  /** Address text as the tags print it; '' for fwmark services. */
  address: string;
  port: number;
  /** 0 when the service is not a firewall-mark one. */
  fwmark: number;
}

interface Rule {
  all?: boolean;
  fwmark?: Matcher;
  protocol?: Matcher;
  /** Exact address or CIDR (one entry of a block list). */
  block?: net.BlockList;
  address?: Matcher;
  port?: Matcher;
}

export class VsFilterError extends Error {}

const GLOB_CHARS = /[*?[\]{}!]/;
const PROTOCOL_NAMES = /^(tcp|udp|sctp|\d{1,3})$/i;
const GLOB_OVER_WORDS = /^[a-z0-9*?[\]{},!-]+$/i;

function bad(text: string, why: string): never {
  throw new VsFilterError(
    `bad virtual server pattern ${JSON.stringify(text)}: ${why} (expected [PROTO:]ADDRESS[:PORT], [PROTO:][IPV6]:PORT, CIDR, glob, fwmark:MARK or *)`,
  );
}

function glob(part: string, text: string): Matcher {
  try {
    return compileGlob(part.toLowerCase());
  } catch (e) {
    bad(text, e instanceof GlobError ? e.message : String(e));
  }
}

/** Is `head` (the text before the first ':') a protocol pattern rather than the start of an address? */
function isProtocol(head: string, tail: string): boolean {
  if (/^\d{1,3}$/.test(head)) {
    // A protocol number, unless this is an IPv6 address ("2001:db8::1"): brackets tell them apart.
    return Number(head) <= 255 && (tail.startsWith('[') || (tail.match(/:/g) ?? []).length <= 1);
  }
  if (PROTOCOL_NAMES.test(head)) return true;
  if (head === '*') return tail.includes(':') || tail.startsWith('[') || !/^[0-9*?[\]{},!-]+$/.test(tail);
  // A glob such as {tcp,udp} or t*: letters beyond a-f cannot start an IPv6 address.
  return GLOB_OVER_WORDS.test(head) && GLOB_CHARS.test(head) && /[g-z]/i.test(head);
}

function parsePort(port: string, text: string): Matcher {
  if (port === '') bad(text, 'empty port');
  if (/^\d+$/.test(port)) {
    if (port.length > 5 || Number(port) > 65535) bad(text, `bad port ${JSON.stringify(port)}`);
    return compileGlob(String(Number(port)));
  }
  if (!/^[0-9*?[\]{},!-]+$/.test(port)) bad(text, `bad port ${JSON.stringify(port)}`);
  return glob(port, text);
}

function parseAddress(addr: string, text: string, rule: Rule): void {
  if (addr === '') bad(text, 'empty address');
  if (addr === '*' || addr === '**') return;
  const slash = addr.indexOf('/');
  if (slash >= 0) {
    const ip = addr.slice(0, slash);
    const bits = addr.slice(slash + 1);
    const kind = net.isIP(ip);
    if (kind === 0) bad(text, 'bad CIDR address');
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > (kind === 4 ? 32 : 128)) bad(text, 'bad prefix length');
    rule.block = new net.BlockList();
    rule.block.addSubnet(ip, Number(bits), kind === 4 ? 'ipv4' : 'ipv6');
    return;
  }
  if (GLOB_CHARS.test(addr)) {
    if (!/^[0-9a-fA-F:.*?[\]{},!-]+$/.test(addr)) bad(text, 'bad address glob');
    rule.address = glob(addr, text);
    return;
  }
  const kind = net.isIP(addr);
  if (kind === 0) bad(text, `bad address ${JSON.stringify(addr)}`);
  rule.block = new net.BlockList();
  rule.block.addAddress(addr, kind === 4 ? 'ipv4' : 'ipv6');
}

export function parseRule(text: string): Rule {
  const s = text.trim();
  if (s === '') bad(text, 'empty');
  if (s === '*' || s === '**') return { all: true };
  const fw = /^fwmark:(.*)$/i.exec(s);
  if (fw) {
    const mark = fw[1];
    if (/^\d+$/.test(mark)) {
      if (!(Number(mark) > 0 && Number(mark) <= 0xffffffff)) bad(text, 'mark out of range');
      return { fwmark: compileGlob(String(Number(mark))) };
    }
    if (!/^[0-9*?[\]{},!-]+$/.test(mark)) bad(text, `bad mark ${JSON.stringify(mark)}`);
    return { fwmark: glob(mark, text) };
  }
  const rule: Rule = {};
  let rest = s;
  const colon = rest.indexOf(':');
  if (colon > 0 && !rest.startsWith('[') && isProtocol(rest.slice(0, colon), rest.slice(colon + 1))) {
    rule.protocol = glob(rest.slice(0, colon), text);
    rest = rest.slice(colon + 1);
  }
  let addr: string;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
    if (!m) bad(text, 'unbalanced brackets');
    addr = m[1];
    port = m[2];
  } else {
    const colons = (rest.match(/:/g) ?? []).length;
    if (colons >= 2) addr = rest; // bare IPv6, no port
    else if (colons === 1) [addr, port] = rest.split(':');
    else addr = rest;
  }
  parseAddress(addr, text, rule);
  if (port !== undefined) rule.port = parsePort(port, text);
  return rule;
}

/** The reason a pattern is bad, or undefined (for the config schema). */
export function virtualServerPatternError(text: string): string | undefined {
  try {
    parseRule(text);
    return undefined;
  } catch (e) {
    if (e instanceof VsFilterError) return e.message;
    throw e;
  }
}

function ruleMatches(r: Rule, vs: VsIdentity): boolean {
  if (r.all) return true;
  if (r.fwmark) return vs.fwmark !== 0 && r.fwmark.match(String(vs.fwmark));
  if (vs.fwmark !== 0 || vs.address === '') return false;
  if (r.protocol && !r.protocol.match(vs.protocol.toLowerCase())) return false;
  if (r.port && !r.port.match(String(vs.port))) return false;
  if (r.block) return r.block.check(vs.address, vs.address.includes(':') ? 'ipv6' : 'ipv4');
  if (r.address) return r.address.match(vs.address.toLowerCase());
  return true;
}

export class VirtualServerFilter {
  private readonly include: Rule[];
  private readonly exclude: Rule[];

  /** Throws VsFilterError on a bad pattern. Empty `include` selects everything. */
  constructor(include: readonly string[] = [], exclude: readonly string[] = []) {
    this.include = include.map(parseRule);
    this.exclude = exclude.map(parseRule);
  }

  get selectsAll(): boolean {
    return this.include.length === 0 && this.exclude.length === 0;
  }

  matches(vs: VsIdentity): boolean {
    if (this.include.length > 0 && !this.include.some((r) => ruleMatches(r, vs))) return false;
    return !this.exclude.some((r) => ruleMatches(r, vs));
  }
}
