/**
 * Generic netlink: family resolution through the controller (`nlctrl`,
 * CTRL_CMD_GETFAMILY by name) and a message-builder shortcut.
 *
 *     const sock = NetlinkSocket.open(NETLINK_GENERIC);
 *     const ipvs = await resolveFamily(sock, 'IPVS');       // cached; ENOENT when absent
 *     const msg = genlMessage(ipvs.id, NLM_F_DUMP, IPVS_CMD_GET_SERVICE, 1).finish();
 *
 * Family ids are global (not per network namespace) but dynamic: a module
 * reload may assign a new id, so call `familyCache.invalidate(name)` when a
 * request fails in a way that suggests it (ENOENT / EOPNOTSUPP on a cached id).
 * Note that looking up a family that is a not-yet-loaded module makes the
 * kernel try to load it (e.g. ip_vs); check /proc or /sys first to avoid that.
 */
import { AttributeDecoder } from './attributes';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_ATTR_HDRSIZE,
  CTRL_ATTR_MAXATTR,
  CTRL_ATTR_MCAST_GROUPS,
  CTRL_ATTR_MCAST_GRP_ID,
  CTRL_ATTR_MCAST_GRP_NAME,
  CTRL_ATTR_VERSION,
  CTRL_CMD_GETFAMILY,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  NLMSG_HDRLEN,
} from './constants';
import { errnoError, isErrno, NetlinkErrnoError } from './errors';
import { MessageBuilder } from './message';
import type { NetlinkSocket } from './socket';

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  /** Size of the family-specific header after genlmsghdr (0 for most). */
  hdrSize: number;
  maxAttr: number;
  /** Multicast group name -> group id (for `subscribe`). */
  groups: ReadonlyMap<string, number>;
}

/** A message to a generic-netlink family: nlmsghdr + genlmsghdr; add attributes, then `finish()`. */
export function genlMessage(familyId: number, flags: number, cmd: number, version: number): MessageBuilder {
  return new MessageBuilder(familyId, flags).genl(cmd, version);
}

/** Parses a CTRL_CMD_NEWFAMILY reply message (buf[offset, offset+length)). */
export function parseFamily(buf: Buffer, offset: number, length: number): GenlFamily {
  const family: GenlFamily = { id: 0, name: '', version: 0, hdrSize: 0, maxAttr: 0, groups: new Map() };
  const groups = family.groups as Map<string, number>;
  const d = new AttributeDecoder(buf, offset + NLMSG_HDRLEN + GENL_HDRLEN, offset + length);
  while (d.next()) {
    switch (d.type) {
      case CTRL_ATTR_FAMILY_ID:
        family.id = d.u16();
        break;
      case CTRL_ATTR_FAMILY_NAME:
        family.name = d.string();
        break;
      case CTRL_ATTR_VERSION:
        family.version = d.u32();
        break;
      case CTRL_ATTR_HDRSIZE:
        family.hdrSize = d.u32();
        break;
      case CTRL_ATTR_MAXATTR:
        family.maxAttr = d.u32();
        break;
      case CTRL_ATTR_MCAST_GROUPS: {
        const list = d.nested();
        while (list.next()) {
          const g = list.nested();
          let name = '';
          let id = -1;
          while (g.next()) {
            if (g.type === CTRL_ATTR_MCAST_GRP_NAME) name = g.string();
            else if (g.type === CTRL_ATTR_MCAST_GRP_ID) id = g.u32();
          }
          if (name && id >= 0) groups.set(name, id);
        }
        break;
      }
    }
  }
  return family;
}

/** Asks the controller for `name` (no cache). Rejects with code ENOENT when the family does not exist. */
export async function getFamily(sock: NetlinkSocket, name: string): Promise<GenlFamily> {
  const msg = genlMessage(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1).string(CTRL_ATTR_FAMILY_NAME, name).finish();
  let replies;
  try {
    replies = await sock.request(msg);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      const e = errnoError(2, 'netlink', `generic netlink family "${name}" not found`);
      (e as NetlinkErrnoError & { cause?: unknown }).cause = err;
      throw e;
    }
    throw err;
  }
  for (const r of replies) {
    if (r.header.type === GENL_ID_CTRL) {
      const family = parseFamily(r.data, 0, r.data.length);
      if (family.id !== 0) return family;
    }
  }
  throw errnoError(2, 'netlink', `generic netlink family "${name}": no family in the controller's reply`);
}

/** Caches family lookups by name; concurrent lookups of one name share the request. */
export class GenlFamilyCache {
  private readonly entries = new Map<string, Promise<GenlFamily>>();

  resolve(sock: NetlinkSocket, name: string): Promise<GenlFamily> {
    let p = this.entries.get(name);
    if (!p) {
      p = getFamily(sock, name);
      this.entries.set(name, p);
      // Failures (absent family, EPERM) are not cached: the module may be loaded later.
      p.catch(() => {
        if (this.entries.get(name) === p) this.entries.delete(name);
      });
    }
    return p;
  }

  /** Forgets one family (or all): the next resolve asks the kernel again. */
  invalidate(name?: string): void {
    if (name === undefined) this.entries.clear();
    else this.entries.delete(name);
  }
}

/** The process-wide cache used by `resolveFamily`. */
export const familyCache = new GenlFamilyCache();

/** Family by name via the process-wide cache. */
export function resolveFamily(sock: NetlinkSocket, name: string): Promise<GenlFamily> {
  return familyCache.resolve(sock, name);
}
