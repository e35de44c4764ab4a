/**
 * `virtual_servers` / `virtual_servers_exclude`: glob patterns over virtual
 * server identities, shared by every plugin that selects IPVS services (the
 * ipvs input applies them to the service dump BEFORE any per-service
 * destination request, so excluded services cost no netlink round trip; the
 * probe input selects which real servers to probe), so one list can be pasted
 * into both sections.
 *
 * Pattern forms (each part is a glob: `*`, `?`, `[abc]`, `{a,b}`):
 *
 *   "tcp:10.96.*:443"     protocol:address:port
 *   "udp:[fd00::1]:53"    IPv6 addresses in brackets (the brackets are not a glob class)
 *   "10.0.0.1:80"         address:port, any protocol
 *   "*:*:53"              any protocol and address, port 53
 *   "fwmark:47"           a firewall-mark service ("fwmark:*" = all of them)
 *   "*"                   everything
 *
 * Protocols are the tag values: tcp, udp, sctp (or a number for others);
 * addresses are compared in the tag's text form (compressed IPv6).
 */
import { compileGlobs, GlobError, type Matcher } from '../filter/glob';

export interface VsIdentity {
  /** 'tcp' | 'udp' | 'sctp' | decimal protocol; '' for fwmark services. */
  protocol: string;
  address: string;
  port: number;
  fwmark: number;
}

interface Rule {
  all?: boolean;
  fwmark?: Matcher;
  protocol?: Matcher;
  address?: Matcher;
  port?: Matcher;
}

export class VsFilterError extends Error {}

function glob(part: string, text: string): Matcher {
  try {
    return compileGlobs([part.toLowerCase()]);
  } catch (e) {
    throw new VsFilterError(`virtual server pattern "${text}": ${e instanceof GlobError ? e.message : String(e)}`);
  }
}

export function parseRule(text: string): Rule {
  const s = text.trim();
  if (s === '*' || s === '**') return { all: true };
  const fw = /^fwmark:(.+)$/i.exec(s);
  if (fw) return { fwmark: glob(fw[1], text) };
  // [proto:]address:port, address either bracketed (IPv6) or without ':'.
  const m = /^(?:([^:[\]]+):)?(\[[^\]]*\]|[^:]+):([^:]+)$/.exec(s);
  if (!m) throw new VsFilterError(`virtual server pattern "${text}": expected proto:address:port, address:port or fwmark:N (IPv6 addresses in brackets)`);
  const addr = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  if (addr === '') throw new VsFilterError(`virtual server pattern "${text}": empty address`);
  return {
    protocol: m[1] !== undefined ? glob(m[1], text) : undefined,
    address: glob(addr, text),
    port: glob(m[3], text),
  };
}

function ruleMatches(r: Rule, vs: VsIdentity): boolean {
  if (r.all) return true;
  if (r.fwmark) return vs.fwmark !== 0 && r.fwmark.match(String(vs.fwmark));
  if (vs.fwmark !== 0) return false;
  if (r.protocol && !r.protocol.match(vs.protocol)) return false;
  return r.address!.match(vs.address.toLowerCase()) && r.port!.match(String(vs.port));
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
