/**
 * What gets probed. A *pair* is one (virtual server, real server) row as the
 * ipvs input reports it; a *target* is one unique address:port that is
 * actually probed. Several pairs share a target when the same real server sits
 * behind several virtual servers (or when `port` maps them onto one port), and
 * each target is probed once per round.
 */
import { isIP } from 'node:net';
import type { RealServerTags } from '../../../core/ipvs/types';

/** The identifying tags of one `ipvs_real_server` row (without `result`). */
export type PairTags = RealServerTags;

export interface Pair {
  tags: PairTags;
  /** Index into the round's target list. */
  target: number;
}

export interface Target {
  /** `address:port` (IPv6 bracketed), the key that makes a target unique. */
  key: string;
  /** IP literal, or a host name (static targets only) resolved before each round. */
  host: string;
  port: number;
  /** 4 or 6 for IP literals; 0 for a host name until resolved. */
  family: number;
}

export function targetKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function familyName(family: number): string {
  return family === 4 ? 'inet' : family === 6 ? 'inet6' : String(family);
}

export class TargetSyntaxError extends Error {}

/**
 * Parses a static target: `10.0.0.2:6443`, `[fd00::2]:443`, `host.example:80`.
 * A bare IPv6 address without brackets is refused because its last group
 * cannot be told from a port.
 */
export function parseStaticTarget(text: string): { host: string; port: number } {
  const s = text.trim();
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw new TargetSyntaxError(`target "${text}": expected [ipv6]:port`);
    host = s.slice(1, end);
    portText = s.slice(end + 2);
    if (isIP(host) !== 6) throw new TargetSyntaxError(`target "${text}": "${host}" is not an IPv6 address`);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon <= 0) throw new TargetSyntaxError(`target "${text}": expected address:port`);
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) throw new TargetSyntaxError(`target "${text}": write IPv6 addresses as [address]:port`);
    if (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) {
      throw new TargetSyntaxError(`target "${text}": "${host}" is neither an IP address nor a host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText)) throw new TargetSyntaxError(`target "${text}": bad port "${portText}"`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new TargetSyntaxError(`target "${text}": port ${port} out of range`);
  return { host: canonicalIp(host), port };
}

/**
 * Go's net.IP text for IP literals (lower-case, compressed IPv6, IPv4-mapped
 * IPv6 as dotted quad) so that tags equal the ipvs input's; other text as is.
 */
export function canonicalIp(host: string): string {
  const fam = isIP(host);
  if (fam === 4) return host.split('.').map((o) => String(Number(o))).join('.');
  if (fam !== 6) return host;
  // URL's IPv6 serializer is the WHATWG one: compressed longest zero run, lower case.
  let text = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (mapped) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    text = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return text;
}

/**
 * Collects pairs and deduplicates their targets. `probePort` (the `port`
 * option) replaces every real server's port for the probe, not in the tags.
 */
export class TargetSet {
  readonly targets: Target[] = [];
  readonly pairs: Pair[] = [];
  private readonly byKey = new Map<string, number>();

  constructor(private readonly probePort: number) {}

  /** Adds a pair; returns false when it has no probe port (port 0 and no override). */
  add(tags: PairTags, host: string, rsPort: number, family: number): boolean {
    const port = this.probePort || rsPort;
    if (!port) return false;
    const key = targetKey(host, port);
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.targets.length;
      this.targets.push({ key, host, port, family });
      this.byKey.set(key, index);
    }
    this.pairs.push({ tags, target: index });
    return true;
  }
}
