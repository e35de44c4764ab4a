/**
 * `virtual_servers` / `virtual_servers_exclude`: which virtual servers' real
 * servers are probed. Same pattern syntax as the ipvs input's options of the
 * same names, so one list can be pasted into both sections:
 *
 *   "tcp:10.96.*:443"    protocol:address:port, each part a glob (*, ?, [ab], {a,b})
 *   "udp:[fd00::1]:53"   IPv6 addresses in brackets (not a glob class)
 *   "10.0.0.1:80"        any protocol
 *   "fwmark:47"          a firewall-mark service ("fwmark:*" = all of them)
 *   "*"                  everything
 *
 * Protocols are the tag values (tcp, udp, sctp, or a number); addresses are
 * compared in their tag text (compressed IPv6). Empty include list: all.
 */
import { compileGlobs, GlobError, type Matcher } from '../../../core/filter/glob';

export interface VsIdentity {
  /** 'tcp' | 'udp' | 'sctp' | decimal protocol number; '' for fwmark services. */
  protocol: string;
  address: string;
  port: number;
  fwmark: number;
}

type Rule =
  | { kind: 'all' }
  | { kind: 'fwmark'; mark: Matcher }
  | { kind: 'addr'; protocol?: Matcher; address: Matcher; port: Matcher };

export class VsFilterError extends Error {}

function compile(part: string, whole: string): Matcher {
  try {
    return compileGlobs([part.toLowerCase()]);
  } catch (err) {
    throw new VsFilterError(`virtual server pattern "${whole}": ${err instanceof GlobError ? err.message : String(err)}`);
  }
}

function parseRule(text: string): Rule {
  const s = text.trim();
  if (s === '*' || s === '**') return { kind: 'all' };
  const fw = /^fwmark:(.+)$/i.exec(s);
  if (fw) return { kind: 'fwmark', mark: compile(fw[1], text) };
  const m = /^(?:([^:[\]]+):)?(\[[^\]]*\]|[^:]+):([^:]+)$/.exec(s);
  if (!m) throw new VsFilterError(`virtual server pattern "${text}": expected proto:address:port, address:port or fwmark:N (IPv6 addresses in brackets)`);
  const address = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  if (!address) throw new VsFilterError(`virtual server pattern "${text}": empty address`);
  return {
    kind: 'addr',
    protocol: m[1] === undefined ? undefined : compile(m[1], text),
    address: compile(address, text),
    port: compile(m[3], text),
  };
}

function matchRule(r: Rule, vs: VsIdentity): boolean {
  switch (r.kind) {
    case 'all':
      return true;
    case 'fwmark':
      return vs.fwmark !== 0 && r.mark.match(String(vs.fwmark));
    default:
      if (vs.fwmark !== 0) return false;
      if (r.protocol && !r.protocol.match(vs.protocol)) return false;
      return r.address.match(vs.address.toLowerCase()) && r.port.match(String(vs.port));
  }
}

export class VirtualServerFilter {
  private readonly include: Rule[];
  private readonly exclude: Rule[];

  constructor(include: readonly string[] = [], exclude: readonly string[] = []) {
    this.include = include.map(parseRule);
    this.exclude = exclude.map(parseRule);
  }

  matches(vs: VsIdentity): boolean {
    if (this.include.length > 0 && !this.include.some((r) => matchRule(r, vs))) return false;
    return !this.exclude.some((r) => matchRule(r, vs));
  }
}
