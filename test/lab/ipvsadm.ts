/**
 * Parsers for ipvsadm's listings, the oracle of IPVS lab tests:
 *
 *   ipvsadm -Ln --stats --exact   → parseIpvsadmStats
 *   ipvsadm -Ln                   → parseIpvsadmList   (scheduler, persistence, fwd, weight, conns)
 *   ipvsadm -Ln --thresholds      → parseIpvsadmColumns(text, ['uthreshold', 'lthreshold', 'active', 'inactive'])
 *   ipvsadm -Ln --persistent-conn → parseIpvsadmColumns(text, ['weight', 'persistent', 'active', 'inactive'])
 *
 * Keys: services as ipvsadm prints them with a lowercase protocol ("tcp
 * 10.0.0.1:80", "udp [fd00::1]:53", "fwm 47"); real servers as "ADDR:PORT"
 * ("[fd00::11]:8080" for IPv6). Numbers stay strings of digits compared
 * exactly (bigint-safe).
 */

export interface StatsRow {
  conns: string;
  inpkts: string;
  outpkts: string;
  inbytes: string;
  outbytes: string;
}

export interface ServiceStats extends StatsRow {
  key: string;
  dests: Map<string, StatsRow>;
}

const SERVICE_LINE = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s*(.*)$/;
const DEST_LINE = /^\s+->\s+(\S+)\s*(.*)$/;

function serviceKey(proto: string, addr: string): string {
  return `${proto.toLowerCase()} ${addr}`;
}

/** `ipvsadm -Ln --stats --exact`: service key → totals and per-destination totals. */
export function parseIpvsadmStats(text: string): Map<string, ServiceStats> {
  const out = new Map<string, ServiceStats>();
  let cur: ServiceStats | undefined;
  for (const line of text.split('\n')) {
    const s = SERVICE_LINE.exec(line);
    if (s) {
      const [conns, inpkts, outpkts, inbytes, outbytes] = s[3].trim().split(/\s+/);
      cur = { key: serviceKey(s[1], s[2]), conns, inpkts, outpkts, inbytes, outbytes, dests: new Map() };
      out.set(cur.key, cur);
      continue;
    }
    const d = DEST_LINE.exec(line);
    if (d && cur && d[1] !== 'RemoteAddress:Port') {
      const [conns, inpkts, outpkts, inbytes, outbytes] = d[2].trim().split(/\s+/);
      cur.dests.set(d[1], { conns, inpkts, outpkts, inbytes, outbytes });
    }
  }
  return out;
}

export interface ListDest {
  forward: string;
  weight: number;
  active: number;
  inactive: number;
}

export interface ListService {
  key: string;
  scheduler: string;
  /** Persistence timeout (seconds) when persistent. */
  persistent?: number;
  /** Persistence mask as printed: "255.255.255.0" (IPv4) or "64" (IPv6). */
  mask?: string;
  /** Other flags printed after the scheduler (ops, pe NAME, ...). */
  extra: string[];
  dests: Map<string, ListDest>;
}

/** `ipvsadm -Ln`. */
export function parseIpvsadmList(text: string): Map<string, ListService> {
  const out = new Map<string, ListService>();
  let cur: ListService | undefined;
  for (const line of text.split('\n')) {
    const s = SERVICE_LINE.exec(line);
    if (s) {
      const words = s[3].trim().split(/\s+/).filter(Boolean);
      cur = { key: serviceKey(s[1], s[2]), scheduler: words.shift() ?? '', extra: [], dests: new Map() };
      for (let i = 0; i < words.length; i++) {
        if (words[i] === 'persistent') cur.persistent = Number(words[++i]);
        else if (words[i] === 'mask') cur.mask = words[++i];
        else cur.extra.push(words[i]);
      }
      out.set(cur.key, cur);
      continue;
    }
    const d = DEST_LINE.exec(line);
    if (d && cur && d[1] !== 'RemoteAddress:Port') {
      const [forward, weight, active, inactive] = d[2].trim().split(/\s+/);
      cur.dests.set(d[1], { forward, weight: Number(weight), active: Number(active), inactive: Number(inactive) });
    }
  }
  return out;
}

/** Listings with numeric destination columns (`--thresholds`, `--persistent-conn`): key → dest → column → value. */
export function parseIpvsadmColumns(text: string, columns: string[]): Map<string, Map<string, Record<string, number>>> {
  const out = new Map<string, Map<string, Record<string, number>>>();
  let cur: Map<string, Record<string, number>> | undefined;
  for (const line of text.split('\n')) {
    const s = SERVICE_LINE.exec(line);
    if (s) {
      cur = new Map();
      out.set(serviceKey(s[1], s[2]), cur);
      continue;
    }
    const d = DEST_LINE.exec(line);
    if (d && cur && d[1] !== 'RemoteAddress:Port') {
      const values = d[2].trim().split(/\s+/);
      const row: Record<string, number> = {};
      columns.forEach((c, i) => (row[c] = Number(values[i])));
      cur.set(d[1], row);
    }
  }
  return out;
}

/** ipvsadm's key for a service given lvsagent's tag values. */
export function ipvsadmServiceKey(protocol: string, address: string, port: string | number, fwmark?: string | number): string {
  if (fwmark !== undefined && fwmark !== '' && Number(fwmark) > 0) return `fwm ${fwmark}`;
  return `${protocol} ${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** ipvsadm's key for a real server. */
export function ipvsadmDestKey(address: string, port: string | number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** ipvsadm's Forward column for lvsagent's fwd_method value. */
export function ipvsadmForward(fwd: string): string {
  return { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route', bypass: 'Masq' }[fwd] ?? fwd;
}
