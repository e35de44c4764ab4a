/**
 * Interned (virtual service, real server) pairs: the unit a metric is
 * reported for (thousands usually, 100,000 on the largest tables): typed
 * arrays and one open-addressing index; rows find their group without
 * building strings.
 *
 * Key words: [meta, ports, vaddr x4, daddr x4] with
 * meta = proto | af << 8 | daf << 12 | fwmarkTemplate << 16.
 */
import type { RealServerTags } from '../../../core/ipvs/types';
import type { TagSet } from '../../../core/metric';
import { formatAddress } from './addr';
import type { ConnRow } from './parse';
import { PROTO_SCTP, PROTO_TCP, PROTO_UDP, STATE_COUNT } from './states';

const KEY_WORDS = 10;

/** virtual_fwmark appears only for templates of firewall-mark services (rows show the dialled address). */
export type GroupTags = RealServerTags;

export class GroupTable {
  count = 0;
  private keys = new Uint32Array(64 * KEY_WORDS);
  private index = new Int32Array(256);
  /** Per-group state counts of the current snapshot, STATE_COUNT per group. */
  counts = new Int32Array(64 * STATE_COUNT);
  templates = new Int32Array(64);
  reused = new Float64Array(64);
  rescheduled = new Float64Array(64);
  /** Snapshot number in which the group last had a row. */
  lastSeen = new Uint32Array(64);
  /** Filter decision cache: 1 included, 0 excluded. */
  included = new Uint8Array(64);
  /** Protocol (tag source) and tags of each group, built once. */
  proto: number[] = [];
  tags: GroupTags[] = [];
  /** Each group's tags as one frozen set, made on its first metric (see metrics.ts); cleared with the group. */
  tagSets: (TagSet | undefined)[] = [];
  /** The `namespace` tag the sets above carry. */
  tagSetNamespace = '';
  private free: number[] = [];
  private live = 0;
  private readonly scratch = new Uint32Array(KEY_WORDS);

  constructor(private readonly decide: (tags: GroupTags, proto: number, fwmark: boolean) => boolean) {}

  /** Group id of a row (interned on first sight). */
  lookup(r: ConnRow, snapshot: number): number {
    const fwmark = r.proto === 0 && r.template ? 1 : 0;
    const meta = r.proto | (r.af << 8) | (r.daf << 12) | (fwmark << 16);
    const ports = ((r.vport << 16) | r.dport) >>> 0;
    const v = r.vaddr;
    const d = r.daddr;
    const mask = this.index.length - 1;
    let h = groupHash(meta, ports, v[0], v[1], v[2], v[3], d[0], d[1], d[2], d[3]) & mask;
    const keys = this.keys;
    for (;;) {
      const slot = this.index[h];
      if (slot === 0) break;
      const g = slot - 1;
      const o = g * KEY_WORDS;
      if (
        keys[o] === meta &&
        keys[o + 1] === ports &&
        keys[o + 2] === v[0] &&
        keys[o + 6] === d[0] &&
        (r.af === 4 || (keys[o + 3] === v[1] && keys[o + 4] === v[2] && keys[o + 5] === v[3])) &&
        (r.daf === 4 || (keys[o + 7] === d[1] && keys[o + 8] === d[2] && keys[o + 9] === d[3]))
      ) {
        this.lastSeen[g] = snapshot;
        return g;
      }
      h = (h + 1) & mask;
    }
    const k = this.scratch;
    k[0] = meta;
    k[1] = ports;
    k[2] = v[0];
    k[3] = v[1];
    k[4] = v[2];
    k[5] = v[3];
    k[6] = d[0];
    k[7] = d[1];
    k[8] = d[2];
    k[9] = d[3];
    const g = this.add(r, fwmark === 1, snapshot);
    // Into the free slot the probe ended on; the index grows (and is rebuilt) past half full.
    if (this.live * 2 > this.index.length) this.rebuildIndex();
    else this.index[h] = g + 1;
    return g;
  }

  /** Clears the per-snapshot counts. */
  resetCounts(): void {
    this.counts.fill(0);
    this.templates.fill(0);
  }

  /** Forgets groups without rows for `grace` snapshots (their cumulative counters restart if they come back). */
  expire(snapshot: number, grace: number): void {
    let removed = false;
    for (let g = 0; g < this.count; g++) {
      if (this.tags[g] === undefined) continue;
      if (snapshot - this.lastSeen[g] > grace) {
        this.tags[g] = undefined as unknown as GroupTags;
        this.tagSets[g] = undefined;
        this.keys.fill(0xffffffff, g * KEY_WORDS, (g + 1) * KEY_WORDS);
        this.reused[g] = 0;
        this.rescheduled[g] = 0;
        this.free.push(g);
        this.live--;
        removed = true;
      }
    }
    if (removed) this.rebuildIndex();
  }

  /** Number of groups currently interned. */
  get size(): number {
    return this.live;
  }

  isLive(g: number): boolean {
    return this.tags[g] !== undefined;
  }

  private add(r: ConnRow, fwmark: boolean, snapshot: number): number {
    let g: number;
    if (this.free.length > 0) g = this.free.pop()!;
    else {
      g = this.count++;
      if (g >= this.templates.length) this.grow(this.templates.length * 2);
    }
    this.live++;
    this.keys.set(this.scratch, g * KEY_WORDS);
    const tags: GroupTags = {
      address: formatAddress(r.daf, r.daddr),
      port: String(r.dport),
      address_family: r.daf === 4 ? 'inet' : 'inet6',
    };
    if (fwmark) tags.virtual_fwmark = String(r.vaddr[0] >>> 0);
    else {
      tags.virtual_protocol = protocolTag(r.proto);
      tags.virtual_address = formatAddress(r.af, r.vaddr);
      tags.virtual_port = String(r.vport);
    }
    this.tags[g] = tags;
    this.tagSets[g] = undefined;
    this.proto[g] = r.proto;
    this.reused[g] = 0;
    this.rescheduled[g] = 0;
    this.lastSeen[g] = snapshot;
    this.included[g] = this.decide(tags, r.proto, fwmark) ? 1 : 0;
    return g;
  }

  private grow(n: number): void {
    const keys = new Uint32Array(n * KEY_WORDS);
    keys.set(this.keys);
    this.keys = keys;
    const counts = new Int32Array(n * STATE_COUNT);
    counts.set(this.counts);
    this.counts = counts;
    const t = new Int32Array(n);
    t.set(this.templates);
    this.templates = t;
    const a = new Float64Array(n);
    a.set(this.reused);
    this.reused = a;
    const b = new Float64Array(n);
    b.set(this.rescheduled);
    this.rescheduled = b;
    const s = new Uint32Array(n);
    s.set(this.lastSeen);
    this.lastSeen = s;
    const inc = new Uint8Array(n);
    inc.set(this.included);
    this.included = inc;
  }

  private rebuildIndex(): void {
    let size = 256;
    while (size < this.live * 4) size *= 2;
    const index = size === this.index.length ? this.index.fill(0) : new Int32Array(size);
    this.index = index;
    const mask = size - 1;
    const keys = this.keys;
    for (let g = 0; g < this.count; g++) {
      if (this.tags[g] === undefined) continue;
      const o = g * KEY_WORDS;
      let h = groupHash(keys[o], keys[o + 1], keys[o + 2], keys[o + 3], keys[o + 4], keys[o + 5], keys[o + 6], keys[o + 7], keys[o + 8], keys[o + 9]) & mask;
      while (index[h] !== 0) h = (h + 1) & mask;
      index[h] = g + 1;
    }
  }
}

/** Hash of a group key; the IPv6 words only count for IPv6 addresses (they are 0 for IPv4). */
function groupHash(meta: number, ports: number, v0: number, v1: number, v2: number, v3: number, d0: number, d1: number, d2: number, d3: number): number {
  let h = Math.imul(meta ^ 0x9e3779b9, 0x85ebca6b) ^ ports;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ v0;
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ d0;
  if ((meta & 0xf00) === 0x600) {
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ v1;
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ v2;
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ v3;
  }
  if ((meta & 0xf000) === 0x6000) {
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ d1;
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ d2;
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ d3;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Telegraf's ipvs protocol tag: tcp, udp, sctp, otherwise the decimal protocol number. */
export function protocolTag(proto: number): string {
  if (proto === PROTO_TCP) return 'tcp';
  if (proto === PROTO_UDP) return 'udp';
  if (proto === PROTO_SCTP) return 'sctp';
  return String(proto);
}
