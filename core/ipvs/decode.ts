/**
 * Decoders from IPVS generic-netlink replies to the typed objects of types.ts,
 * on top of the netlink layer's AttributeDecoder. Pure functions of bytes:
 * unit-tested on replies captured from a real kernel (testdata/).
 *
 * Each `decode*Message(buf, offset, length)` takes one whole netlink message
 * (nlmsghdr + genlmsghdr + attributes) as handed out by the socket layer.
 * Unknown attributes are skipped, so newer kernels do not break decoding.
 */
import { AttributeDecoder, HOST_LE } from '../netlink/attributes';
import { GENL_HDRLEN, NLMSG_HDRLEN } from '../netlink/constants';
import { NetlinkDecodeError } from '../netlink/errors';
import { formatAddress, onesCount32 } from './address';
import * as C from './constants';
import type { Counter, IpvsDaemon, IpvsInfo, IpvsStats, IpvsTimeouts, RealServer, VirtualService } from './types';

const ATTRS_OFFSET = NLMSG_HDRLEN + GENL_HDRLEN;
const TWO32 = 0x100000000;
const EMPTY_ADDR = Buffer.alloc(16);

// Decoders reused across calls: decoding allocates only the result objects.
const outer = new AttributeDecoder(EMPTY_ADDR, 0, 0);
const inner = new AttributeDecoder(EMPTY_ADDR, 0, 0);
const statsDec = new AttributeDecoder(EMPTY_ADDR, 0, 0);

/** A host-order u64 as a number when below 2^53, else a bigint: always exact. */
function counter64(d: AttributeDecoder): Counter {
  if (d.length < 8) return d.length >= 4 ? d.u32() : 0;
  const b = d.buf;
  const o = d.offset;
  const hi = HOST_LE ? b.readUInt32LE(o + 4) : b.readUInt32BE(o);
  const lo = HOST_LE ? b.readUInt32LE(o) : b.readUInt32BE(o + 4);
  return hi < 0x200000 ? hi * TWO32 + lo : d.u64();
}

export function emptyStats(): IpvsStats {
  return { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0, from64: false };
}

/**
 * Fills `into` from a STATS or STATS64 nest payload. In the legacy nest,
 * connections, packets and rates are u32 and bytes u64; STATS64 is all u64.
 * Reading by attribute length handles both.
 */
export function decodeStats(d: AttributeDecoder, into: IpvsStats, from64: boolean): IpvsStats {
  into.from64 = from64;
  while (d.next()) {
    switch (d.type) {
      case C.IPVS_STATS_ATTR_CONNS:
        into.connections = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_INPKTS:
        into.packetsIn = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_OUTPKTS:
        into.packetsOut = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_INBYTES:
        into.bytesIn = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_OUTBYTES:
        into.bytesOut = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_CPS:
        into.cps = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_INPPS:
        into.ppsIn = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_OUTPPS:
        into.ppsOut = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_INBPS:
        into.bpsIn = counter64(d);
        break;
      case C.IPVS_STATS_ATTR_OUTBPS:
        into.bpsOut = counter64(d);
        break;
      default:
        break; // IPVS_STATS_ATTR_PAD and future attributes
    }
  }
  return into;
}

/** Positions `outer` on the top-level attributes of a genl message and finds attribute `type`. */
function findTop(buf: Buffer, offset: number, length: number, type: number): boolean {
  if (length < ATTRS_OFFSET) throw new NetlinkDecodeError(`IPVS message too short (${length} bytes)`);
  outer.reset(buf, offset + ATTRS_OFFSET, offset + length);
  while (outer.next()) if (outer.type === type) return true;
  return false;
}

/** Decodes one NEW_SERVICE message (a GET_SERVICE dump entry). */
export function decodeServiceMessage(buf: Buffer, offset: number, length: number): VirtualService {
  if (!findTop(buf, offset, length, C.IPVS_CMD_ATTR_SERVICE)) throw new NetlinkDecodeError('IPVS service message without a SERVICE attribute');
  return decodeService(outer.nested(inner));
}

/** Decodes a SERVICE nest payload. */
export function decodeService(d: AttributeDecoder): VirtualService {
  const svc: VirtualService = {
    af: 0,
    protocol: 0,
    addr: EMPTY_ADDR,
    port: 0,
    fwmark: 0,
    address: '',
    scheduler: '',
    flags: 0,
    timeout: 0,
    netmaskBits: 0,
    netmaskRaw: 0,
    peName: '',
    stats: emptyStats(),
  };
  let addrOff = -1;
  let addrLen = 0;
  let addrBuf: Buffer = EMPTY_ADDR;
  let have64 = false;
  let legacyStart = -1;
  let legacyEnd = -1;
  while (d.next()) {
    switch (d.type) {
      case C.IPVS_SVC_ATTR_AF:
        svc.af = d.u16();
        break;
      case C.IPVS_SVC_ATTR_PROTOCOL:
        svc.protocol = d.u16();
        break;
      case C.IPVS_SVC_ATTR_ADDR:
        addrBuf = d.buf;
        addrOff = d.offset;
        addrLen = d.length;
        break;
      case C.IPVS_SVC_ATTR_PORT:
        svc.port = d.be16();
        break;
      case C.IPVS_SVC_ATTR_FWMARK:
        svc.fwmark = d.u32();
        break;
      case C.IPVS_SVC_ATTR_SCHED_NAME:
        svc.scheduler = d.string();
        break;
      case C.IPVS_SVC_ATTR_FLAGS:
        svc.flags = d.u32(); // {flags, mask}: the first u32 is the flags
        break;
      case C.IPVS_SVC_ATTR_TIMEOUT:
        svc.timeout = d.u32();
        break;
      case C.IPVS_SVC_ATTR_NETMASK:
        svc.netmaskRaw = d.length >= 4 ? d.u32() : 0;
        break;
      case C.IPVS_SVC_ATTR_PE_NAME:
        svc.peName = d.string();
        break;
      case C.IPVS_SVC_ATTR_STATS64:
        have64 = true;
        decodeStats(d.nested(statsDec), svc.stats, true);
        break;
      case C.IPVS_SVC_ATTR_STATS:
        legacyStart = d.offset;
        legacyEnd = d.offset + d.length;
        break;
      default:
        break;
    }
  }
  if (!have64 && legacyStart >= 0) decodeStats(statsDec.reset(d.buf, legacyStart, legacyEnd), svc.stats, false);
  if (addrOff >= 0) {
    const key = Buffer.alloc(16);
    addrBuf.copy(key, 0, addrOff, addrOff + Math.min(16, addrLen));
    svc.addr = key;
    if (svc.fwmark === 0) svc.address = formatAddress(svc.af, key, 0, Math.min(16, addrLen));
  }
  if (svc.af === C.AF_INET6) {
    // IPv6 services carry the prefix length itself (host order).
    svc.netmaskBits = svc.netmaskRaw;
  } else {
    // IPv4: a big-endian mask; the number of 1 bits is the same in either byte order.
    svc.netmaskBits = onesCount32(svc.netmaskRaw);
  }
  return svc;
}

const FWD_NAMES = ['masq', 'local', 'tunnel', 'route', 'bypass'];

export function forwardMethodName(code: number): string {
  return FWD_NAMES[code] ?? String(code);
}

/** Decodes one NEW_DEST message (a GET_DEST dump entry). `serviceAf` is the parent's family (for kernels without ADDR_FAMILY). */
export function decodeDestMessage(buf: Buffer, offset: number, length: number, serviceAf: number): RealServer {
  if (!findTop(buf, offset, length, C.IPVS_CMD_ATTR_DEST)) throw new NetlinkDecodeError('IPVS destination message without a DEST attribute');
  return decodeDest(outer.nested(inner), serviceAf);
}

export function decodeDest(d: AttributeDecoder, serviceAf: number): RealServer {
  const rs: RealServer = {
    af: 0,
    address: '',
    port: 0,
    fwdMethodCode: 0,
    fwdMethod: 'masq',
    weight: 0,
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConnections: 0,
    inactiveConnections: 0,
    persistentConnections: 0,
    tunnelType: -1,
    tunnelPort: 0,
    tunnelFlags: 0,
    stats: emptyStats(),
  };
  let addrOff = -1;
  let addrLen = 0;
  let have64 = false;
  let legacyStart = -1;
  let legacyEnd = -1;
  while (d.next()) {
    switch (d.type) {
      case C.IPVS_DEST_ATTR_ADDR:
        addrOff = d.offset;
        addrLen = d.length;
        break;
      case C.IPVS_DEST_ATTR_PORT:
        rs.port = d.be16();
        break;
      case C.IPVS_DEST_ATTR_FWD_METHOD:
        rs.fwdMethodCode = d.u32() & 7;
        rs.fwdMethod = forwardMethodName(rs.fwdMethodCode);
        break;
      case C.IPVS_DEST_ATTR_WEIGHT:
        rs.weight = d.u32() | 0; // the kernel keeps weight as an int
        break;
      case C.IPVS_DEST_ATTR_U_THRESH:
        rs.upperThreshold = d.u32();
        break;
      case C.IPVS_DEST_ATTR_L_THRESH:
        rs.lowerThreshold = d.u32();
        break;
      case C.IPVS_DEST_ATTR_ACTIVE_CONNS:
        rs.activeConnections = d.u32() | 0;
        break;
      case C.IPVS_DEST_ATTR_INACT_CONNS:
        rs.inactiveConnections = d.u32() | 0;
        break;
      case C.IPVS_DEST_ATTR_PERSIST_CONNS:
        rs.persistentConnections = d.u32() | 0;
        break;
      case C.IPVS_DEST_ATTR_ADDR_FAMILY:
        rs.af = d.u16();
        break;
      case C.IPVS_DEST_ATTR_TUN_TYPE:
        rs.tunnelType = d.u8();
        break;
      case C.IPVS_DEST_ATTR_TUN_PORT:
        rs.tunnelPort = d.be16();
        break;
      case C.IPVS_DEST_ATTR_TUN_FLAGS:
        rs.tunnelFlags = d.u16();
        break;
      case C.IPVS_DEST_ATTR_STATS64:
        have64 = true;
        decodeStats(d.nested(statsDec), rs.stats, true);
        break;
      case C.IPVS_DEST_ATTR_STATS:
        legacyStart = d.offset;
        legacyEnd = d.offset + d.length;
        break;
      default:
        break;
    }
  }
  if (!have64 && legacyStart >= 0) decodeStats(statsDec.reset(d.buf, legacyStart, legacyEnd), rs.stats, false);
  if (rs.af === 0) rs.af = serviceAf;
  if (addrOff >= 0) rs.address = formatAddress(rs.af, d.buf, addrOff, Math.min(16, addrLen));
  return rs;
}

/** Decodes the SET_INFO reply to GET_INFO. */
export function decodeInfoMessage(buf: Buffer, offset: number, length: number): IpvsInfo {
  const info: IpvsInfo = { versionCode: 0, version: '', connTabSize: 0 };
  if (length < ATTRS_OFFSET) throw new NetlinkDecodeError(`IPVS message too short (${length} bytes)`);
  outer.reset(buf, offset + ATTRS_OFFSET, offset + length);
  while (outer.next()) {
    if (outer.type === C.IPVS_INFO_ATTR_VERSION) info.versionCode = outer.u32();
    else if (outer.type === C.IPVS_INFO_ATTR_CONN_TAB_SIZE) info.connTabSize = outer.u32();
  }
  const v = info.versionCode;
  info.version = `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
  return info;
}

/** Decodes the SET_CONFIG reply to GET_CONFIG (timeouts in seconds). */
export function decodeConfigMessage(buf: Buffer, offset: number, length: number): IpvsTimeouts {
  const t: IpvsTimeouts = { tcp: 0, tcpFin: 0, udp: 0 };
  if (length < ATTRS_OFFSET) throw new NetlinkDecodeError(`IPVS message too short (${length} bytes)`);
  outer.reset(buf, offset + ATTRS_OFFSET, offset + length);
  while (outer.next()) {
    if (outer.type === C.IPVS_CMD_ATTR_TIMEOUT_TCP) t.tcp = outer.u32();
    else if (outer.type === C.IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) t.tcpFin = outer.u32();
    else if (outer.type === C.IPVS_CMD_ATTR_TIMEOUT_UDP) t.udp = outer.u32();
  }
  return t;
}

/** Decodes one NEW_DAEMON message (GET_DAEMON dump entry). */
export function decodeDaemonMessage(buf: Buffer, offset: number, length: number): IpvsDaemon | undefined {
  if (!findTop(buf, offset, length, C.IPVS_CMD_ATTR_DAEMON)) return undefined;
  const d = outer.nested(inner);
  const out: IpvsDaemon = { state: 0, mcastInterface: '', syncId: 0 };
  while (d.next()) {
    if (d.type === C.IPVS_DAEMON_ATTR_STATE) out.state = d.u32();
    else if (d.type === C.IPVS_DAEMON_ATTR_MCAST_IFN) out.mcastInterface = d.string();
    else if (d.type === C.IPVS_DAEMON_ATTR_SYNC_ID) out.syncId = d.u32();
  }
  return out;
}
