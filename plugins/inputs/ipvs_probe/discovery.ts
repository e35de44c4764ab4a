/**
 * Where the round's pairs come from: the IPVS table (every gather) or the
 * static `targets` list. Tags are built here, exactly as the ipvs input builds
 * `ipvs_real_server`'s, so the two measurements join on them.
 */
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { familyName as ipvsFamilyName } from '../../../core/ipvs/address';
import type { ServiceWithDestinations, VirtualService } from '../../../core/ipvs/types';
import { canonicalIp, familyName, parseStaticTarget, TargetSet, type PairTags } from './target';
import type { VirtualServerFilter } from '../../../core/ipvs/vsfilter';

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * Fetches the IPVS table (services with their destinations) in the configured
 * namespace. `select` is applied to the service dump before any destination
 * request, so unselected services cost nothing.
 */
export type ServiceSource = (select: (vs: VirtualService) => boolean) => Promise<ServiceWithDestinations[]>;

export function protocolName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : String(p);
}

/** Which virtual services a round probes; counts the UDP/SCTP ones left out. */
export class ServiceSelector {
  nonTcpSkipped = 0;

  constructor(
    private readonly filter: VirtualServerFilter,
    private readonly includeNonTcp: boolean,
  ) {}

  readonly select = (vs: VirtualService): boolean => {
    const fw = vs.fwmark > 0;
    if (!this.filter.matches({ protocol: fw ? '' : protocolName(vs.protocol), address: fw ? '' : vs.address, port: fw ? 0 : vs.port, fwmark: vs.fwmark })) {
      return false;
    }
    // Connect and HTTP probes say nothing about a UDP or SCTP service.
    if (!fw && vs.protocol !== 6 && !this.includeNonTcp) {
      this.nonTcpSkipped++;
      return false;
    }
    return true;
  };
}

export interface IpvsPairsResult {
  set: TargetSet;
  /** Pairs left out because they have no port to probe (fwmark services with port 0 real servers). */
  portless: string[];
}

/** Builds this round's pairs from the (already selected) IPVS table. */
export function pairsFromIpvs(table: ServiceWithDestinations[], probePort: number): IpvsPairsResult {
  const set = new TargetSet(probePort);
  const portless: string[] = [];
  for (const { service: vs, destinations } of table) {
    const protocol = vs.fwmark > 0 ? '' : protocolName(vs.protocol);
    for (const rs of destinations) {
      const family = rs.af === AF_INET ? 4 : rs.af === AF_INET6 ? 6 : 0;
      const tags: PairTags =
        vs.fwmark > 0
          ? { address: rs.address, port: String(rs.port), address_family: ipvsFamilyName(rs.af), virtual_fwmark: String(vs.fwmark) }
          : {
              address: rs.address,
              port: String(rs.port),
              address_family: ipvsFamilyName(rs.af),
              virtual_protocol: protocol,
              virtual_address: vs.address,
              virtual_port: String(vs.port),
            };
      if (!family || !set.add(tags, rs.address, rs.port, family)) portless.push(`${rs.address}:${rs.port}`);
    }
  }
  return { set, portless };
}

export interface StaticTarget {
  host: string;
  port: number;
  /** 4 or 6 for IP literals, 0 for host names. */
  family: number;
}

export function parseStaticTargets(texts: string[]): StaticTarget[] {
  const seen = new Set<string>();
  const out: StaticTarget[] = [];
  for (const t of texts) {
    const { host, port } = parseStaticTarget(t);
    const key = `${host}|${port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ host, port, family: isIP(host) });
  }
  return out;
}

export interface StaticPairsResult {
  set: TargetSet;
  /** Host names whose lookup failed this round: target key → error code. */
  dnsFailures: Map<number, string>;
}

/**
 * Builds this round's pairs from static targets, resolving host names first
 * (in the agent's own namespace: lookups run on libuv's thread pool, which
 * never enters the probe namespace). A failed lookup still yields a pair, so
 * the round reports it as `dns_error`.
 */
export async function pairsFromStatic(targets: StaticTarget[], probePort: number, lookupTimeoutMs: number): Promise<StaticPairsResult> {
  const resolved = await Promise.all(
    targets.map((t) => (t.family ? Promise.resolve({ address: t.host, family: t.family, error: '' }) : resolveName(t.host, lookupTimeoutMs))),
  );
  const set = new TargetSet(probePort);
  const dnsFailures = new Map<number, string>();
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const r = resolved[i];
    const tags: PairTags = { address: t.host, port: String(t.port), address_family: r.family ? familyName(r.family) : '' };
    if (!r.family) delete (tags as Partial<PairTags>).address_family;
    // A name that did not resolve is keyed by the name, so it stays one target.
    set.add(tags, r.error ? t.host : canonicalIp(r.address), t.port, r.family);
    if (r.error) dnsFailures.set(set.pairs[set.pairs.length - 1].target, r.error);
  }
  return { set, dnsFailures };
}

function resolveName(host: string, timeoutMs: number): Promise<{ address: string; family: number; error: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ address: '', family: 0, error: 'ETIMEOUT' }), timeoutMs);
    dns.lookup(host, { family: 0 }, (err, address, family) => {
      clearTimeout(timer);
      if (err) resolve({ address: '', family: 0, error: err.code ?? 'ENOTFOUND' });
      else resolve({ address, family, error: '' });
    });
  });
}
