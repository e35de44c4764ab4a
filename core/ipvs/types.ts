/**
 * Typed IPVS objects, as decoded from GET_SERVICE / GET_DEST / GET_INFO /
 * GET_CONFIG replies (decode.ts) — independent of how they were fetched.
 *
 * 64-bit counters are `Counter`: a `number` while below 2^53 (exact, no BigInt
 * allocation on the hot path) and a `bigint` above, so every value is exact.
 */

export type Counter = number | bigint;

export interface IpvsStats {
  /** Cumulative connections scheduled. */
  connections: Counter;
  packetsIn: Counter;
  packetsOut: Counter;
  bytesIn: Counter;
  bytesOut: Counter;
  /** Rates from the kernel's 2-second estimator (per second; frozen when run_estimation=0). */
  cps: Counter;
  ppsIn: Counter;
  ppsOut: Counter;
  bpsIn: Counter;
  bpsOut: Counter;
  /** True when these came from the 64-bit STATS64 nest, false from the legacy STATS nest. */
  from64: boolean;
}

/** Service identity as the kernel needs it back in GET_DEST requests. */
export interface ServiceKey {
  /** Address family: 2 (inet) or 10 (inet6). */
  af: number;
  /** IP protocol number (6 tcp, 17 udp, 132 sctp); 0 for fwmark services. */
  protocol: number;
  /** Raw 16-byte address (IPv4 in the first 4 bytes); all zero for fwmark services. */
  addr: Buffer;
  port: number;
  /** Firewall mark; 0 for address services. */
  fwmark: number;
}

export interface VirtualService extends ServiceKey {
  /** Address text as Go's net.IP prints it (dotted IPv4, compressed IPv6); '' for fwmark services. */
  address: string;
  /** Scheduler name (rr, wrr, wlc, sh, ...). */
  scheduler: string;
  /** IP_VS_SVC_F_* bits (persistent 0x1, hashed 0x2, one-packet 0x4, sched flags 0x8/0x10/0x20). */
  flags: number;
  /** Persistence timeout in seconds (meaningful when flags & PERSISTENT). */
  timeout: number;
  /** Persistence netmask as a prefix length: bits set in the IPv4 mask, or the IPv6 prefix length. */
  netmaskBits: number;
  /** The netmask attribute as sent: a big-endian IPv4 mask value, or the IPv6 prefix length. */
  netmaskRaw: number;
  /** Persistence engine name (e.g. "sip"), '' when none. */
  peName: string;
  stats: IpvsStats;
}

/** Forwarding method names, ipvsadm-like (`-m` masq, `-g` route, `-i` tunnel). */
export type ForwardMethod = 'masq' | 'local' | 'tunnel' | 'route' | 'bypass' | string;

export interface RealServer {
  /** Destination address family (ADDR_FAMILY attribute; the service's family on kernels that omit it). */
  af: number;
  address: string;
  port: number;
  /** Raw forwarding method number (conn_flags & 7). */
  fwdMethodCode: number;
  fwdMethod: ForwardMethod;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  activeConnections: number;
  inactiveConnections: number;
  persistentConnections: number;
  /** Tunnel type (0 ipip, 1 gue, 2 gre) for tunnel destinations on kernels ≥ 5.2; -1 when absent. */
  tunnelType: number;
  /** Tunnel port (GUE), 0 when absent. */
  tunnelPort: number;
  /** Tunnel flags, 0 when absent. */
  tunnelFlags: number;
  stats: IpvsStats;
}

export interface IpvsInfo {
  /** Version code, e.g. 0x010201. */
  versionCode: number;
  /** "1.2.1". */
  version: string;
  /** Connection hash table size (buckets). */
  connTabSize: number;
}

export interface IpvsTimeouts {
  /** Seconds. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsDaemon {
  /** 1 master, 2 backup. */
  state: number;
  mcastInterface: string;
  syncId: number;
}

/** A virtual service with its real servers, as one gather sees them. */
export interface ServiceWithDestinations {
  service: VirtualService;
  destinations: RealServer[];
}

/**
 * The identifying tags of an `ipvs_real_server` metric, shared by every
 * measurement that must join it (ip_vs_conn states, probe results).
 */
export interface RealServerTags {
  address: string;
  port: string;
  address_family: string;
  /** Real servers of address services. */
  virtual_protocol?: string;
  virtual_address?: string;
  virtual_port?: string;
  /** Real servers of firewall-mark services, instead of the three above. */
  virtual_fwmark?: string;
}
