/**
 * IPVS client over generic netlink: lists virtual services (one GET_SERVICE
 * dump) and their real servers (one GET_DEST dump per service, spread over a
 * small pool of sockets so several dumps are in flight), reads GET_INFO and
 * GET_CONFIG, optionally inside another network namespace.
 *
 *     const c = await IpvsClient.open({ namespace: 'blue', sockets: 4 });
 *     const table = await c.listAll((vs) => vs.port === 443);
 *     c.close();
 *
 * Module loading: resolving the generic-netlink family `IPVS` makes the kernel
 * auto-load ip_vs (the module carries that alias), so unless `loadModule` is
 * set, `open()` first checks `/proc/net/ip_vs` and fails with
 * `IpvsUnavailableError` ("IPVS is not loaded") without touching the family.
 */
import * as fs from 'node:fs';
import { MessageBuilder } from '../netlink/message';
import { NetlinkSocket } from '../netlink/socket';
import { withNetns } from '../netlink/netns';
import { NETLINK_GENERIC } from '../netlink/constants';
import { getFamily } from '../netlink/genl';
import { isErrno } from '../netlink/errors';
import * as C from './constants';
import { decodeConfigMessage, decodeDaemonMessage, decodeDestMessage, decodeInfoMessage, decodeServiceMessage } from './decode';
import { buildDestDump, buildServiceDump, buildSimpleRequest } from './encode';
import type { IpvsDaemon, IpvsInfo, IpvsTimeouts, RealServer, ServiceKey, ServiceWithDestinations, VirtualService } from './types';

export interface IpvsClientOptions {
  /** Network namespace: a name under /var/run/netns, or a path (/proc/PID/ns/net). Empty: our own. */
  namespace?: string;
  /** Allow the kernel to auto-load ip_vs when resolving the family (Telegraf's behaviour). Default false. */
  loadModule?: boolean;
  /** Sockets used concurrently for destination dumps (default 4, at least 1). */
  sockets?: number;
  /** Per-request timeout (ms, default 30000). */
  timeoutMs?: number;
  /** Where to look for ip_vs (tests). Default /proc/net/ip_vs. */
  procIpvsPath?: string;
}

/** IPVS is absent (module not loaded and loading not allowed, or no kernel support). `code` 'IPVS_UNAVAILABLE'. */
export class IpvsUnavailableError extends Error {
  readonly code = 'IPVS_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'IpvsUnavailableError';
  }
}

/** The kernel refused an IPVS request: CAP_NET_ADMIN is missing. `code` 'EPERM'. */
export class IpvsPermissionError extends Error {
  readonly code = 'EPERM';
  constructor(message: string) {
    super(message);
    this.name = 'IpvsPermissionError';
  }
}

function permissionError(err: unknown, what: string): Error {
  if (isErrno(err, 'EPERM')) {
    return new IpvsPermissionError(`${what}: operation not permitted (IPVS netlink requests need CAP_NET_ADMIN)`);
  }
  return err as Error;
}

/** One TCP/UDP/SCTP or fwmark service identity as text (for messages). */
export function serviceLabel(k: ServiceKey & { address?: string }): string {
  if (k.fwmark) return `fwmark ${k.fwmark}`;
  const proto = k.protocol === 6 ? 'tcp' : k.protocol === 17 ? 'udp' : k.protocol === 132 ? 'sctp' : String(k.protocol);
  const a = k.address ?? '';
  return `${proto} ${a.includes(':') ? `[${a}]` : a}:${k.port}`;
}

export class IpvsClient {
  readonly familyId: number;
  private readonly sockets: NetlinkSocket[];
  private readonly timeoutMs: number;
  private closed = false;

  private constructor(familyId: number, sockets: NetlinkSocket[], timeoutMs: number) {
    this.familyId = familyId;
    this.sockets = sockets;
    this.timeoutMs = timeoutMs;
  }

  /** Checks IPVS presence, opens the socket pool (inside the namespace when given), resolves the family. */
  static async open(opts: IpvsClientOptions = {}): Promise<IpvsClient> {
    const count = Math.max(1, Math.min(64, opts.sockets ?? 4));
    const timeoutMs = opts.timeoutMs ?? 30000;
    const procPath = opts.procIpvsPath ?? '/proc/net/ip_vs';
    const create = (): { sockets: NetlinkSocket[]; loaded: boolean } => {
      // /proc/net is the main thread's namespace: inside withNetns it is the target's.
      const loaded = fs.existsSync(procPath);
      const sockets: NetlinkSocket[] = [];
      if (!loaded && !opts.loadModule) return { sockets, loaded };
      try {
        for (let i = 0; i < count; i++) sockets.push(NetlinkSocket.open(NETLINK_GENERIC));
      } catch (err) {
        for (const s of sockets) s.close();
        throw err;
      }
      return { sockets, loaded };
    };
    let made: { sockets: NetlinkSocket[]; loaded: boolean };
    try {
      made = opts.namespace ? withNetns(opts.namespace, create) : create();
    } catch (err) {
      if (opts.namespace && isErrno(err, 'EPERM')) {
        throw new IpvsPermissionError(`entering network namespace ${opts.namespace}: operation not permitted (needs CAP_SYS_ADMIN)`);
      }
      throw err;
    }
    if (made.sockets.length === 0) {
      throw new IpvsUnavailableError(
        `IPVS is not loaded (${procPath} does not exist${opts.namespace ? ` in namespace ${opts.namespace}` : ''}); load the ip_vs module or set load_module = true`,
      );
    }
    try {
      let familyId: number;
      try {
        // Uncached: a reloaded ip_vs module gets a new id, and clients are reopened after errors.
        familyId = (await getFamily(made.sockets[0], C.IPVS_GENL_NAME)).id;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) throw new IpvsUnavailableError('IPVS is not available: the kernel has no IPVS generic netlink family (module ip_vs missing or not loadable)');
        throw permissionError(err, 'resolving the IPVS netlink family');
      }
      return new IpvsClient(familyId, made.sockets, timeoutMs);
    } catch (err) {
      for (const s of made.sockets) s.close();
      throw err;
    }
  }

  get socketCount(): number {
    return this.sockets.length;
  }

  /** Every virtual service of the namespace (one dump). */
  async listServices(): Promise<VirtualService[]> {
    const out: VirtualService[] = [];
    try {
      await this.sockets[0].dump(buildServiceDump(this.familyId), (buf, off, len) => out.push(decodeServiceMessage(buf, off, len)), {
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw permissionError(err, 'listing IPVS services');
    }
    return out;
  }

  /**
   * The real servers of one service. An unknown service yields an empty list
   * (the kernel answers an empty dump), so does a service without real servers.
   */
  listDestinations(svc: ServiceKey, socketIndex = 0): Promise<RealServer[]> {
    return this.destDump(this.sockets[socketIndex % this.sockets.length], svc);
  }

  private async destDump(sock: NetlinkSocket, svc: ServiceKey): Promise<RealServer[]> {
    const out: RealServer[] = [];
    const af = svc.af;
    try {
      await sock.dump(buildDestDump(this.familyId, svc), (buf, off, len) => out.push(decodeDestMessage(buf, off, len, af)), {
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw permissionError(err, `listing IPVS destinations of ${serviceLabel(svc)}`);
    }
    return out;
  }

  /** True when the service still exists (single GET_SERVICE; ESRCH = gone). */
  async serviceExists(svc: ServiceKey): Promise<boolean> {
    const m = new MessageBuilder(this.familyId, 0, 128).genl(C.IPVS_CMD_GET_SERVICE, C.IPVS_GENL_VERSION);
    const t = m.beginNested(C.IPVS_CMD_ATTR_SERVICE, false);
    m.u16(C.IPVS_SVC_ATTR_AF, svc.af);
    if (svc.fwmark) m.u32(C.IPVS_SVC_ATTR_FWMARK, svc.fwmark);
    else m.u16(C.IPVS_SVC_ATTR_PROTOCOL, svc.protocol).bytes(C.IPVS_SVC_ATTR_ADDR, svc.af === C.AF_INET ? svc.addr.subarray(0, 4) : svc.addr).be16(C.IPVS_SVC_ATTR_PORT, svc.port);
    m.endNested(t);
    try {
      await this.sockets[0].request(Buffer.from(m.finish()), { timeoutMs: this.timeoutMs });
      return true;
    } catch (err) {
      if (isErrno(err, 'ESRCH') || isErrno(err, 'ENOENT')) return false;
      throw permissionError(err, `looking up IPVS service ${serviceLabel(svc)}`);
    }
  }

  /**
   * Services (optionally filtered BEFORE any destination request) with their
   * real servers, destination dumps spread over the socket pool. A service
   * whose destination dump comes back empty is checked once more and skipped
   * when it disappeared meanwhile.
   */
  async listAll(filter?: (vs: VirtualService) => boolean, withDestinations = true): Promise<ServiceWithDestinations[]> {
    const out: ServiceWithDestinations[] = [];
    await this.streamAll((service, destinations) => out.push({ service, destinations }), filter, withDestinations);
    return out;
  }

  /**
   * Like listAll, but hands each service with its real servers to `onEntry`
   * as soon as it is complete, in table order, without keeping the table:
   * decoded objects die young (cheap for the GC on tables of 100k real
   * servers). Resolves with the number of services handed over.
   */
  async streamAll(
    onEntry: (service: VirtualService, destinations: RealServer[]) => void,
    filter?: (vs: VirtualService) => boolean,
    withDestinations = true,
  ): Promise<number> {
    const all = await this.listServices();
    const services = filter ? all.filter(filter) : all;
    if (!withDestinations) {
      for (const s of services) onEntry(s, []);
      return services.length;
    }
    // Completed entries waiting for earlier ones (only with several sockets).
    const done = new Map<number, RealServer[] | null>();
    let emitted = 0;
    let count = 0;
    const flush = (): void => {
      while (done.has(emitted)) {
        const d = done.get(emitted)!;
        done.delete(emitted);
        if (d) {
          onEntry(services[emitted], d);
          count++;
        }
        emitted++;
      }
    };
    let next = 0;
    const worker = async (sock: NetlinkSocket): Promise<void> => {
      while (next < services.length) {
        const i = next++;
        const service = services[i];
        let destinations: RealServer[] | null = await this.destDump(sock, service);
        if (destinations.length === 0 && !(await this.serviceExists(service))) destinations = null;
        done.set(i, destinations);
        if (i === emitted) flush();
      }
    };
    const n = Math.min(this.sockets.length, Math.max(1, services.length));
    await Promise.all(this.sockets.slice(0, n).map(worker));
    flush();
    return count;
  }

  /** Version and connection-table size (GET_INFO). */
  async getInfo(): Promise<IpvsInfo> {
    const r = await this.single(C.IPVS_CMD_GET_INFO, 'reading IPVS info');
    return decodeInfoMessage(r, 0, r.length);
  }

  /** TCP, TCP FIN and UDP timeouts (GET_CONFIG). */
  async getConfig(): Promise<IpvsTimeouts> {
    const r = await this.single(C.IPVS_CMD_GET_CONFIG, 'reading IPVS timeouts');
    return decodeConfigMessage(r, 0, r.length);
  }

  /** Sync daemons (GET_DAEMON dump); empty when none runs. */
  async getDaemons(): Promise<IpvsDaemon[]> {
    const out: IpvsDaemon[] = [];
    try {
      await this.sockets[0].dump(buildSimpleRequest(this.familyId, C.IPVS_CMD_GET_DAEMON, true), (buf, off, len) => {
        const d = decodeDaemonMessage(buf, off, len);
        if (d) out.push(d);
      });
    } catch (err) {
      throw permissionError(err, 'reading IPVS sync daemons');
    }
    return out;
  }

  private async single(cmd: number, what: string): Promise<Buffer> {
    try {
      const replies = await this.sockets[0].request(buildSimpleRequest(this.familyId, cmd), { timeoutMs: this.timeoutMs });
      if (replies.length === 0) throw new Error(`${what}: no reply`);
      return replies[0].data;
    } catch (err) {
      throw permissionError(err, what);
    }
  }

  /** Sends a raw request (e.g. NEW_SERVICE built with encode.ts) and waits for the ACK. */
  async send(msg: Buffer, socketIndex = 0): Promise<void> {
    try {
      await this.sockets[socketIndex % this.sockets.length].request(msg, { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw permissionError(err, 'IPVS request');
    }
  }

  /**
   * Sends messages without waiting (several may be packed in one buffer; the
   * kernel runs them in order and answers only failures, which the next
   * request on that socket skips). Fence with any acknowledged request.
   */
  sendUnacknowledged(buf: Buffer, socketIndex = 0): void {
    this.sockets[socketIndex % this.sockets.length].send(buf);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.close();
  }
}
