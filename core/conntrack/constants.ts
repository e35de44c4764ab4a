/**
 * ctnetlink (nfnetlink subsystem 1) numbers from the Linux uapi headers
 * `linux/netfilter/nfnetlink.h`, `nfnetlink_conntrack.h`,
 * `nf_conntrack_common.h` and `nf_conntrack_tcp.h`.
 *
 * Byte order: every ctnetlink integer is big-endian except the u8s and the
 * CTA_FILTER flags (host order).
 */

export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNETLINK_V0 = 0;
/** Size of `struct nfgenmsg` (u8 family, u8 version, be16 res_id). */
export const NFGENMSG_LEN = 4;

/** IPCTNL_MSG_CT_* message numbers; the nlmsg type is `(1 << 8) | msg`. */
export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;
export const IPCTNL_MSG_CT_GET_CTRZERO = 3;
export const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
export const IPCTNL_MSG_CT_GET_STATS = 5;
export const IPCTNL_MSG_CT_GET_DYING = 6;
export const IPCTNL_MSG_CT_GET_UNCONFIRMED = 7;

export function ctMsgType(msg: number): number {
  return (NFNL_SUBSYS_CTNETLINK << 8) | msg;
}
export const CT_TYPE_NEW = ctMsgType(IPCTNL_MSG_CT_NEW); // 0x0100: dump entries, NEW and UPDATE events
export const CT_TYPE_GET = ctMsgType(IPCTNL_MSG_CT_GET);
export const CT_TYPE_DELETE = ctMsgType(IPCTNL_MSG_CT_DELETE); // 0x0102: DESTROY events
export const CT_TYPE_GET_STATS_CPU = ctMsgType(IPCTNL_MSG_CT_GET_STATS_CPU);
export const CT_TYPE_GET_STATS = ctMsgType(IPCTNL_MSG_CT_GET_STATS);

/** Multicast groups (`enum nfnetlink_groups`). */
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_UPDATE = 2;
export const NFNLGRP_CONNTRACK_DESTROY = 3;

/** Address families in nfgenmsg. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** Top-level CTA_* attributes. */
export const CTA_TUPLE_ORIG = 1;
export const CTA_TUPLE_REPLY = 2;
export const CTA_STATUS = 3;
export const CTA_PROTOINFO = 4;
export const CTA_HELP = 5;
export const CTA_NAT_SRC = 6;
export const CTA_TIMEOUT = 7;
export const CTA_MARK = 8;
export const CTA_COUNTERS_ORIG = 9;
export const CTA_COUNTERS_REPLY = 10;
export const CTA_USE = 11;
export const CTA_ID = 12;
export const CTA_NAT_DST = 13;
export const CTA_TUPLE_MASTER = 14;
export const CTA_ZONE = 18;
export const CTA_TIMESTAMP = 20;
export const CTA_MARK_MASK = 21;
export const CTA_LABELS = 22;
export const CTA_FILTER = 25;
export const CTA_STATUS_MASK = 26;
export const CTA_TIMESTAMP_EVENT = 27;

/** CTA_TUPLE_* (inside TUPLE_ORIG / TUPLE_REPLY). */
export const CTA_TUPLE_IP = 1;
export const CTA_TUPLE_PROTO = 2;
export const CTA_TUPLE_ZONE = 3;

/** CTA_IP_* (inside CTA_TUPLE_IP). */
export const CTA_IP_V4_SRC = 1;
export const CTA_IP_V4_DST = 2;
export const CTA_IP_V6_SRC = 3;
export const CTA_IP_V6_DST = 4;

/** CTA_PROTO_* (inside CTA_TUPLE_PROTO). */
export const CTA_PROTO_NUM = 1;
export const CTA_PROTO_SRC_PORT = 2;
export const CTA_PROTO_DST_PORT = 3;
export const CTA_PROTO_ICMP_ID = 4;
export const CTA_PROTO_ICMP_TYPE = 5;
export const CTA_PROTO_ICMP_CODE = 6;
export const CTA_PROTO_ICMPV6_ID = 7;
export const CTA_PROTO_ICMPV6_TYPE = 8;
export const CTA_PROTO_ICMPV6_CODE = 9;

/** CTA_PROTOINFO_* and CTA_PROTOINFO_TCP_*. */
export const CTA_PROTOINFO_TCP = 1;
export const CTA_PROTOINFO_DCCP = 2;
export const CTA_PROTOINFO_SCTP = 3;
export const CTA_PROTOINFO_TCP_STATE = 1;
export const CTA_PROTOINFO_SCTP_STATE = 1;

/** CTA_COUNTERS_* (be64). */
export const CTA_COUNTERS_PACKETS = 1;
export const CTA_COUNTERS_BYTES = 2;

/** CTA_TIMESTAMP_* (be64 ns, CLOCK_REALTIME). */
export const CTA_TIMESTAMP_START = 1;
export const CTA_TIMESTAMP_STOP = 2;

/** CTA_STATS_* (be32, GET_STATS_CPU replies). */
export const CTA_STATS_SEARCHED = 1;
export const CTA_STATS_FOUND = 2;
export const CTA_STATS_NEW = 3;
export const CTA_STATS_INVALID = 4;
export const CTA_STATS_IGNORE = 5;
export const CTA_STATS_DELETE = 6;
export const CTA_STATS_DELETE_LIST = 7;
export const CTA_STATS_INSERT = 8;
export const CTA_STATS_INSERT_FAILED = 9;
export const CTA_STATS_DROP = 10;
export const CTA_STATS_EARLY_DROP = 11;
export const CTA_STATS_ERROR = 12;
export const CTA_STATS_SEARCH_RESTART = 13;
export const CTA_STATS_CLASH_RESOLVE = 14;
export const CTA_STATS_CHAIN_TOOLONG = 15;

/** CTA_STATS_GLOBAL_* (be32, GET_STATS reply). */
export const CTA_STATS_GLOBAL_ENTRIES = 1;
export const CTA_STATS_GLOBAL_MAX_ENTRIES = 2;

/** Status bits (`enum ip_conntrack_status`). */
export const IPS_EXPECTED = 0x1;
export const IPS_SEEN_REPLY = 0x2;
export const IPS_ASSURED = 0x4;
export const IPS_CONFIRMED = 0x8;
export const IPS_SRC_NAT = 0x10;
export const IPS_DST_NAT = 0x20;
export const IPS_DYING = 0x200;

/** TCP conntrack states (`enum tcp_conntrack`). */
export const TCP_CONNTRACK_NONE = 0;
export const TCP_CONNTRACK_SYN_SENT = 1;
export const TCP_CONNTRACK_SYN_RECV = 2;
export const TCP_CONNTRACK_ESTABLISHED = 3;
export const TCP_CONNTRACK_FIN_WAIT = 4;
export const TCP_CONNTRACK_CLOSE_WAIT = 5;
export const TCP_CONNTRACK_LAST_ACK = 6;
export const TCP_CONNTRACK_TIME_WAIT = 7;
export const TCP_CONNTRACK_CLOSE = 8;
export const TCP_CONNTRACK_SYN_SENT2 = 9;

/** State names as `conntrack -L` prints them, indexed by state number. */
export const TCP_STATE_NAMES: readonly string[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

/** IP protocol numbers with the names `conntrack -L` uses. */
export const IPPROTO_NAMES: Readonly<Record<number, string>> = {
  1: 'icmp',
  2: 'igmp',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  47: 'gre',
  58: 'icmpv6',
  132: 'sctp',
  136: 'udplite',
};

export function protocolName(num: number): string {
  return IPPROTO_NAMES[num] ?? String(num);
}

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
