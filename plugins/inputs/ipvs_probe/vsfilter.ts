/**
 * `virtual_servers` selection. Each entry names virtual servers the way
 * ipvsadm prints them, optionally with the protocol:
 *
 *   "tcp:10.0.0.1:80"   protocol, address and port
 *   "10.0.0.1:80"       any protocol
 *   "[fd00::1]:443"     IPv6 in brackets
 *   "tcp:10.0.0.1:*"    any port ("*" also works for the address)
 *   "fwmark:47"         a firewall-mark service
 *
 * An empty list selects every virtual server.
 */
import { canonicalIp } from './target';

export interface VsIdentity {
  /** 'tcp' | 'udp' | 'sctp' | decimal protocol number; '' for fwmark services. */
  protocol: string;
  address: string;
  port: number;
  fwmark: number;
}

interface Rule {
  fwmark?: number;
  protocol?: string;
  address?: string;
  port?: number;
}

export class VsFilterError extends Error {}

function parseRule(text: string): Rule {
  const s = text.trim().toLowerCase();
  const fw = /^fwmark:(\d+)$/.exec(s);
  if (fw) {
    const mark = Number(fw[1]);
    if (mark < 1 || mark > 0xffffffff) throw new VsFilterError(`virtual_servers "${text}": fwmark out of range`);
    return { fwmark: mark };
  }
  const m = /^(?:(tcp|udp|sctp|\d+):)?(\[[^\]]+\]|[^:[\]]+):(\d+|\*)$/.exec(s);
  if (!m) throw new VsFilterError(`virtual_servers "${text}": expected [tcp|udp|sctp:]address:port or fwmark:N`);
  const rule: Rule = {};
  if (m[1]) rule.protocol = m[1];
  const addr = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  if (addr !== '*') rule.address = canonicalIp(addr);
  if (m[3] !== '*') {
    rule.port = Number(m[3]);
    if (rule.port > 65535) throw new VsFilterError(`virtual_servers "${text}": port out of range`);
  }
  return rule;
}

export class VirtualServerFilter {
  private readonly rules: Rule[];

  constructor(entries: string[]) {
    this.rules = entries.map(parseRule);
  }

  get selectsAll(): boolean {
    return this.rules.length === 0;
  }

  matches(vs: VsIdentity): boolean {
    if (this.rules.length === 0) return true;
    for (const r of this.rules) {
      if (r.fwmark !== undefined) {
        if (vs.fwmark === r.fwmark) return true;
        continue;
      }
      if (vs.fwmark !== 0) continue;
      if (r.protocol !== undefined && r.protocol !== vs.protocol) continue;
      if (r.address !== undefined && r.address !== vs.address) continue;
      if (r.port !== undefined && r.port !== vs.port) continue;
      return true;
    }
    return false;
  }
}
