/**
 * The two things this input needs from the kernel layer, both from core/:
 * reading the IPVS table (core/ipvs) and running code inside a network
 * namespace (core/netlink's withNetns).
 */
import { IpvsClient } from '../../../core/ipvs/client';
import { withNetns } from '../../../core/netlink/netns';
import type { ServiceSource } from './discovery';
import type { NetnsRunner } from './socket';

/** Netlink sockets for the per-service destination dumps. */
const DUMP_SOCKETS = 4;

/**
 * An IPVS table reader for a namespace ('' = the agent's own). The client is
 * opened on first use and, after any error, closed and reopened next time
 * (as Telegraf's ipvs input does with its handle).
 */
export class IpvsTableReader {
  private client: IpvsClient | undefined;

  constructor(
    private readonly namespace: string,
    private readonly loadModule = false,
  ) {}

  readonly read: ServiceSource = async (select) => {
    if (!this.client) this.client = await IpvsClient.open({ namespace: this.namespace || undefined, sockets: DUMP_SOCKETS, loadModule: this.loadModule });
    try {
      return await this.client.listAll(select);
    } catch (err) {
      this.close();
      throw err;
    }
  };

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

/** Runs functions with the main thread inside `namespace` (a name under /var/run/netns or a path). */
export function namespaceRunner(namespace: string): NetnsRunner {
  return <T>(fn: () => T): T => withNetns(namespace, fn);
}
