/**
 * The connection state kept between two reads of the table: a compact hash
 * table over typed arrays (no strings, no objects per connection).
 *
 * Key: four 32-bit words.
 * - IPv4: client address, virtual address, client port << 16 | virtual port,
 *   protocol: the exact key, compared in full.
 * - IPv6: a 119-bit digest of (protocol, ports, client and virtual addresses)
 *   with bit 8 of word 3 set (IPv4 keys never set it) and the protocol in the
 *   low byte. Two different IPv6 connections are confused only if their
 *   digests collide: with n tracked IPv6 connections the probability is about
 *   n^2 / 2^120 (below 10^-24 for a million), which we accept.
 *
 * Layout: an index of 2^k Int32 slots (linear probing, load <= 1/2) holding
 * entry numbers + 1, and dense entry columns. Per entry: key 16 B, generation
 * 4 B, and for the current and the previous snapshot real-server id 4 B,
 * expiry 4 B and state 1 B; about 39 B per entry plus 8-16 B of index.
 * Entries not seen in a snapshot are dropped when it ends (compaction +
 * index rebuild), so memory follows the live table.
 */

export const NEW = 0;
/** First row with this key in the current snapshot; the entry existed in the previous one. */
export const FIRST = 1;
/** Another row with a key already seen in this snapshot (an expiring entry beside its successor). */
export const DUPLICATE = 2;
/** prevState of an entry inserted in the current snapshot: it has no previous values. */
export const NO_PREVIOUS = 255;

const MIN_INDEX = 1 << 10;
const MIN_ENTRIES = 1 << 9;

export class ConnTracker {
  /** Live entries (after endSnapshot: the connections of the last snapshot). */
  size = 0;
  /** Outcome of the last upsert: NEW, FIRST or DUPLICATE. */
  status = NEW;

  private index = new Int32Array(MIN_INDEX);
  private mask = MIN_INDEX - 1;
  private cap = MIN_ENTRIES;
  private gen = 0;

  keys = new Uint32Array(MIN_ENTRIES * 4);
  seen = new Uint32Array(MIN_ENTRIES);
  rs = new Uint32Array(MIN_ENTRIES);
  expires = new Uint32Array(MIN_ENTRIES);
  state = new Uint8Array(MIN_ENTRIES);
  prevRs = new Uint32Array(MIN_ENTRIES);
  prevExpires = new Uint32Array(MIN_ENTRIES);
  prevState = new Uint8Array(MIN_ENTRIES);

  beginSnapshot(): void {
    this.gen = (this.gen + 1) >>> 0 || 1;
  }

  /**
   * Finds or inserts the entry of a key in the current snapshot and returns
   * its number. `status` tells NEW (inserted; set its current values), FIRST
   * (existing: its current values were moved to prev*) or DUPLICATE.
   */
  upsert(k0: number, k1: number, k2: number, k3: number): number {
    const keys = this.keys;
    const index = this.index;
    const mask = this.mask;
    let h = hashKey(k0, k1, k2, k3) & mask;
    for (;;) {
      const slot = index[h];
      if (slot === 0) break;
      const e = slot - 1;
      const o = e << 2;
      if (keys[o] === k0 && keys[o + 1] === k1 && keys[o + 2] === k2 && keys[o + 3] === k3) {
        if (this.seen[e] === this.gen) {
          this.status = DUPLICATE;
        } else {
          this.seen[e] = this.gen;
          this.prevRs[e] = this.rs[e];
          this.prevExpires[e] = this.expires[e];
          this.prevState[e] = this.state[e];
          this.status = FIRST;
        }
        return e;
      }
      h = (h + 1) & mask;
    }
    // Insert.
    if (this.size >= this.cap) {
      this.growEntries();
      return this.upsert(k0, k1, k2, k3);
    }
    if ((this.size + 1) * 2 > index.length) {
      this.rebuildIndex(index.length * 2);
      return this.upsert(k0, k1, k2, k3);
    }
    const e = this.size++;
    const o = e << 2;
    keys[o] = k0;
    keys[o + 1] = k1;
    keys[o + 2] = k2;
    keys[o + 3] = k3;
    this.seen[e] = this.gen;
    this.prevState[e] = NO_PREVIOUS;
    index[h] = e + 1;
    this.status = NEW;
    return e;
  }

  set(e: number, rs: number, state: number, expires: number): void {
    this.rs[e] = rs;
    this.state[e] = state;
    this.expires[e] = expires > 0xffffffff ? 0xffffffff : expires;
  }

  /** Drops the entries the current snapshot did not contain; returns how many. */
  endSnapshot(): number {
    const gen = this.gen;
    const seen = this.seen;
    const n = this.size;
    let w = 0;
    for (let e = 0; e < n; e++) {
      if (seen[e] !== gen) continue;
      if (w !== e) this.move(e, w);
      w++;
    }
    const dropped = n - w;
    this.size = w;
    if (w < this.cap >> 2 && this.cap > MIN_ENTRIES) this.resizeEntries(Math.max(MIN_ENTRIES, pow2AtLeast(w * 2)));
    if (dropped > 0 || this.index.length > MIN_INDEX) {
      let want = Math.max(MIN_INDEX, pow2AtLeast(w * 2));
      // Keep a bigger index while it is not more than 8x too big: avoids flapping.
      if (this.index.length >= want && this.index.length <= want * 8) want = this.index.length;
      if (dropped > 0 || want !== this.index.length) this.rebuildIndex(want);
    }
    return dropped;
  }

  /** Bytes held by the typed arrays (for the self-metric and the benchmark). */
  bytes(): number {
    return (
      this.index.byteLength +
      this.keys.byteLength +
      this.seen.byteLength +
      this.rs.byteLength +
      this.expires.byteLength +
      this.state.byteLength +
      this.prevRs.byteLength +
      this.prevExpires.byteLength +
      this.prevState.byteLength
    );
  }

  private move(from: number, to: number): void {
    const keys = this.keys;
    const a = from << 2;
    const b = to << 2;
    keys[b] = keys[a];
    keys[b + 1] = keys[a + 1];
    keys[b + 2] = keys[a + 2];
    keys[b + 3] = keys[a + 3];
    this.seen[to] = this.seen[from];
    this.rs[to] = this.rs[from];
    this.expires[to] = this.expires[from];
    this.state[to] = this.state[from];
    // prev* are only meaningful during a snapshot; no need to move them.
  }

  private rebuildIndex(slots: number): void {
    if (slots === this.index.length) this.index.fill(0);
    else this.index = new Int32Array(slots);
    const index = this.index;
    const mask = (this.mask = slots - 1);
    const keys = this.keys;
    for (let e = 0; e < this.size; e++) {
      const o = e << 2;
      let h = hashKey(keys[o], keys[o + 1], keys[o + 2], keys[o + 3]) & mask;
      while (index[h] !== 0) h = (h + 1) & mask;
      index[h] = e + 1;
    }
  }

  private growEntries(): void {
    this.resizeEntries(this.cap * 2);
  }

  private resizeEntries(cap: number): void {
    const n = this.size;
    const grow = <T extends Uint32Array | Uint8Array>(old: T, make: (len: number) => T, width = 1): T => {
      const a = make(cap * width);
      a.set(old.subarray(0, n * width));
      return a;
    };
    this.keys = grow(this.keys, (l) => new Uint32Array(l), 4);
    this.seen = grow(this.seen, (l) => new Uint32Array(l));
    this.rs = grow(this.rs, (l) => new Uint32Array(l));
    this.expires = grow(this.expires, (l) => new Uint32Array(l));
    this.state = grow(this.state, (l) => new Uint8Array(l));
    this.prevRs = grow(this.prevRs, (l) => new Uint32Array(l));
    this.prevExpires = grow(this.prevExpires, (l) => new Uint32Array(l));
    this.prevState = grow(this.prevState, (l) => new Uint8Array(l));
    this.cap = cap;
  }
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Slot hash of a four-word key. */
export function hashKey(k0: number, k1: number, k2: number, k3: number): number {
  let h = fmix(k0 ^ 0x9e3779b9);
  h = fmix(h ^ k1);
  h = fmix(h ^ k2);
  return fmix(h ^ k3);
}

function mixLane(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Scratch output of ipv6Key. */
export const v6Key = new Uint32Array(4);

/** The 4-word key of an IPv6 connection (see the file comment). */
export function ipv6Key(proto: number, ports: number, c: Uint32Array, v: Uint32Array): void {
  for (let lane = 0; lane < 4; lane++) {
    let h = 0x2545f491 + Math.imul(lane, 0x6c8e9cf5);
    h = mixLane(h, proto);
    h = mixLane(h, ports);
    h = mixLane(h, c[0]);
    h = mixLane(h, c[1]);
    h = mixLane(h, c[2]);
    h = mixLane(h, c[3]);
    h = mixLane(h, v[0]);
    h = mixLane(h, v[1]);
    h = mixLane(h, v[2]);
    h = mixLane(h, v[3]);
    v6Key[lane] = fmix(h ^ 40);
  }
  v6Key[3] = ((v6Key[3] & 0xfffffe00) | 0x100 | (proto & 0xff)) >>> 0;
}
