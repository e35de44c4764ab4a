/**
 * The `virtual_servers` option: which virtual services to count and track,
 * in the grammar shared with inputs.ipvs and inputs.ipvs_probe
 * (core/ipvs/vsfilter.ts). Connections of fwmark services show the address
 * and port the client dialled and are matched by those; `fwmark:MARK`
 * selects persistence templates of a firewall-mark service (their only trace
 * in the table). An empty list keeps everything.
 */
import { VirtualServerFilter as CoreFilter, type VsIdentity } from '../../../core/ipvs/vsfilter';
import type { GroupTags } from './groups';

export class VirtualServerFilter {
  private readonly filter: CoreFilter;
  readonly empty: boolean;

  /** Throws on a bad entry (the config schema reports it first, naming the key). */
  constructor(entries: readonly string[]) {
    try {
      this.filter = new CoreFilter(entries);
    } catch (e) {
      throw new Error(`virtual_servers: ${(e as Error).message}`);
    }
    this.empty = entries.length === 0;
  }

  matches(tags: GroupTags): boolean {
    if (this.empty) return true;
    const vs: VsIdentity = {
      protocol: tags.virtual_protocol ?? '',
      address: tags.virtual_address ?? '',
      port: tags.virtual_port === undefined ? 0 : Number(tags.virtual_port),
      fwmark: tags.virtual_fwmark === undefined ? 0 : Number(tags.virtual_fwmark),
    };
    return this.filter.matches(vs);
  }
}
