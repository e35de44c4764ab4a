/**
 * The `virtual_servers` option: which virtual services to count and track.
 *
 * Each entry is `[PROTO:]ADDRESS[:PORT]` or `fwmark:MARK`:
 * - PROTO: tcp, udp, sctp (case-insensitive) or `*`; absent = any.
 * - ADDRESS: an IPv4 or IPv6 address (any spelling: compared after
 *   normalisation), a CIDR prefix (`10.96.0.0/12`, `fd00::/64`), or a glob on
 *   the address text as the tags print it (`*` any run of characters, `?` one
 *   character: `10.96.*`). IPv6 with a port goes in brackets: `[fd00::1]:53`.
 * - PORT: decimal, or `*`; absent = any.
 * - `fwmark:MARK` selects persistence templates of a firewall-mark service
 *   (their only trace in the table). Connections of fwmark services show the
 *   address and port the client dialled and are matched by those.
 * An empty list keeps everything.
 */
import { formatAddress, parseAddress } from './addr';
import type { GroupTags } from './groups';

interface Rule {
  proto?: string;
  port?: number;
  fwmark?: number;
  /** Exact address (normalised text), CIDR, or glob. */
  exact?: string;
  cidr?: { af: number; words: Uint32Array; bits: number };
  glob?: RegExp;
}

export class VirtualServerFilter {
  private readonly rules: Rule[];

  constructor(entries: string[]) {
    this.rules = entries.map(parseRule);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  matches(tags: GroupTags): boolean {
    if (this.rules.length === 0) return true;
    for (const r of this.rules) if (ruleMatches(r, tags)) return true;
    return false;
  }
}

function ruleMatches(r: Rule, t: GroupTags): boolean {
  if (r.fwmark !== undefined) return t.virtual_fwmark === String(r.fwmark);
  if (t.virtual_address === undefined) return false;
  if (r.proto !== undefined && r.proto !== t.virtual_protocol) return false;
  if (r.port !== undefined && String(r.port) !== t.virtual_port) return false;
  if (r.exact !== undefined) return r.exact === t.virtual_address;
  if (r.glob) return r.glob.test(t.virtual_address);
  if (r.cidr) {
    const w = new Uint32Array(4);
    const af = parseAddress(t.virtual_address, w);
    if (af !== r.cidr.af) return false;
    return prefixEqual(w, r.cidr.words, r.cidr.bits);
  }
  return true;
}

function prefixEqual(a: Uint32Array, b: Uint32Array, bits: number): boolean {
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((a[i] & mask) >>> 0) !== ((b[i] & mask) >>> 0)) return false;
  }
  return true;
}

function fail(entry: string, why: string): never {
  throw new Error(`virtual_servers: bad entry ${JSON.stringify(entry)}: ${why} (expected [tcp|udp|sctp:]ADDRESS[:PORT], [PROTO:][IPV6]:PORT, CIDR, glob, or fwmark:MARK)`);
}

function parseRule(entry: string): Rule {
  let rest = entry.trim();
  if (rest === '') fail(entry, 'empty');
  const rule: Rule = {};
  const fw = /^fwmark:(\d+)$/i.exec(rest);
  if (fw) {
    rule.fwmark = Number(fw[1]);
    if (!(rule.fwmark > 0 && rule.fwmark <= 0xffffffff)) fail(entry, 'mark out of range');
    return rule;
  }
  const pm = /^(tcp|udp|sctp|\*):(.*)$/i.exec(rest);
  if (pm) {
    if (pm[1] !== '*') rule.proto = pm[1].toLowerCase();
    rest = pm[2];
  }
  let addr: string;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.+))?$/.exec(rest);
    if (!m) fail(entry, 'unbalanced brackets');
    addr = m[1];
    port = m[2];
  } else if ((rest.match(/:/g) ?? []).length >= 2) {
    addr = rest; // bare IPv6, no port
  } else {
    const i = rest.indexOf(':');
    addr = i < 0 ? rest : rest.slice(0, i);
    port = i < 0 ? undefined : rest.slice(i + 1);
  }
  if (port !== undefined && port !== '*') {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) fail(entry, `bad port ${JSON.stringify(port)}`);
    rule.port = Number(port);
  }
  if (addr === '') fail(entry, 'no address');
  if (addr === '*') return rule;
  const words = new Uint32Array(4);
  const slash = addr.indexOf('/');
  if (slash >= 0) {
    const af = parseAddress(addr.slice(0, slash), words);
    const bits = Number(addr.slice(slash + 1));
    if (af === 0) fail(entry, 'bad CIDR address');
    if (!/^\d{1,3}$/.test(addr.slice(slash + 1)) || bits > (af === 4 ? 32 : 128)) fail(entry, 'bad prefix length');
    rule.cidr = { af, words, bits };
    return rule;
  }
  if (/[*?]/.test(addr)) {
    if (!/^[0-9a-fA-F:.*?]+$/.test(addr)) fail(entry, 'bad glob');
    const re = addr
      .toLowerCase()
      .replace(/[.]/g, '\\.')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    rule.glob = new RegExp(`^${re}$`);
    return rule;
  }
  const af = parseAddress(addr, words);
  if (af === 0) fail(entry, `bad address ${JSON.stringify(addr)}`);
  // Normalise to the tag text (Go formatting).
  rule.exact = formatAddress(af, words);
  return rule;
}
