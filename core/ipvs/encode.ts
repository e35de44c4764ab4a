/**
 * IPVS request builders on the netlink layer's MessageBuilder. Nests are sent
 * without NLA_F_NESTED, as ipvsadm (libnl) does, which every kernel accepts.
 * Initial capacities fit each message, so builders never grow.
 */
import { HOST_LE } from '../netlink/attributes';
import { MessageBuilder } from '../netlink/message';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/constants';
import * as C from './constants';
import type { ServiceKey } from './types';

/** GET_SERVICE dump: every service of the socket's network namespace. */
export function buildServiceDump(familyId: number): Buffer {
  return new MessageBuilder(familyId, NLM_F_REQUEST | NLM_F_DUMP, 32).genl(C.IPVS_CMD_GET_SERVICE, C.IPVS_GENL_VERSION).finish();
}

function serviceIdentity(m: MessageBuilder, key: ServiceKey): void {
  m.u16(C.IPVS_SVC_ATTR_AF, key.af);
  if (key.fwmark !== 0) {
    m.u32(C.IPVS_SVC_ATTR_FWMARK, key.fwmark);
  } else {
    m.u16(C.IPVS_SVC_ATTR_PROTOCOL, key.protocol);
    m.bytesFrom(C.IPVS_SVC_ATTR_ADDR, key.addr, 0, key.af === C.AF_INET ? 4 : 16);
    m.be16(C.IPVS_SVC_ATTR_PORT, key.port);
  }
}

/** GET_DEST dump for one service (the kernel answers an unknown service with an empty dump). */
export function buildDestDump(familyId: number, key: ServiceKey): Buffer {
  const m = new MessageBuilder(familyId, NLM_F_REQUEST | NLM_F_DUMP, 128);
  const t = m.genl(C.IPVS_CMD_GET_DEST, C.IPVS_GENL_VERSION).beginNested(C.IPVS_CMD_ATTR_SERVICE, false);
  serviceIdentity(m, key);
  m.endNested(t);
  return m.finish();
}

export function buildSimpleRequest(familyId: number, cmd: number, dump = false): Buffer {
  return new MessageBuilder(familyId, NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0), 32).genl(cmd, C.IPVS_GENL_VERSION).finish();
}

/** What NEW_SERVICE needs (every field is mandatory for the kernel). */
export interface NewServiceSpec extends ServiceKey {
  scheduler: string;
  flags?: number;
  /** Persistence timeout, seconds. */
  timeout?: number;
  /** IPv4: mask value (0xffffffff = /32); IPv6: prefix length. */
  netmask?: number;
  peName?: string;
}

export function buildNewService(familyId: number, s: NewServiceSpec, ack = true): Buffer {
  const m = new MessageBuilder(familyId, NLM_F_REQUEST | (ack ? NLM_F_ACK : 0), 256).genl(C.IPVS_CMD_NEW_SERVICE, C.IPVS_GENL_VERSION);
  const t = m.beginNested(C.IPVS_CMD_ATTR_SERVICE, false);
  serviceIdentity(m, s);
  m.string(C.IPVS_SVC_ATTR_SCHED_NAME, s.scheduler);
  if (s.peName) m.string(C.IPVS_SVC_ATTR_PE_NAME, s.peName);
  // struct ip_vs_flags {u32 flags; u32 mask;}, host order.
  const flags = Buffer.alloc(8);
  if (HOST_LE) {
    flags.writeUInt32LE(s.flags ?? 0, 0);
    flags.writeUInt32LE(0xffffffff, 4);
  } else {
    flags.writeUInt32BE(s.flags ?? 0, 0);
    flags.writeUInt32BE(0xffffffff, 4);
  }
  m.bytes(C.IPVS_SVC_ATTR_FLAGS, flags);
  m.u32(C.IPVS_SVC_ATTR_TIMEOUT, s.timeout ?? 0);
  if (s.af === C.AF_INET6) m.u32(C.IPVS_SVC_ATTR_NETMASK, s.netmask ?? 128);
  else m.be32(C.IPVS_SVC_ATTR_NETMASK, s.netmask ?? 0xffffffff);
  m.endNested(t);
  return m.finish();
}

export interface NewDestSpec {
  af?: number;
  addr: Buffer;
  port: number;
  fwdMethod?: number;
  weight?: number;
  upperThreshold?: number;
  lowerThreshold?: number;
}

export function buildNewDest(familyId: number, svc: ServiceKey, d: NewDestSpec, ack = true): Buffer {
  const m = new MessageBuilder(familyId, NLM_F_REQUEST | (ack ? NLM_F_ACK : 0), 256).genl(C.IPVS_CMD_NEW_DEST, C.IPVS_GENL_VERSION);
  const t = m.beginNested(C.IPVS_CMD_ATTR_SERVICE, false);
  serviceIdentity(m, svc);
  m.endNested(t);
  const af = d.af ?? svc.af;
  const t2 = m.beginNested(C.IPVS_CMD_ATTR_DEST, false);
  m.bytes(C.IPVS_DEST_ATTR_ADDR, af === C.AF_INET ? d.addr.subarray(0, 4) : d.addr.subarray(0, 16));
  m.be16(C.IPVS_DEST_ATTR_PORT, d.port);
  m.u32(C.IPVS_DEST_ATTR_FWD_METHOD, d.fwdMethod ?? C.IP_VS_CONN_F_MASQ);
  m.u32(C.IPVS_DEST_ATTR_WEIGHT, d.weight ?? 1);
  m.u32(C.IPVS_DEST_ATTR_U_THRESH, d.upperThreshold ?? 0);
  m.u32(C.IPVS_DEST_ATTR_L_THRESH, d.lowerThreshold ?? 0);
  m.u16(C.IPVS_DEST_ATTR_ADDR_FAMILY, af);
  m.endNested(t2);
  return m.finish();
}
