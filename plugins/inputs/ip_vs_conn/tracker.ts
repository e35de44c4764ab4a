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
 * Layout, chosen for few cache misses per lookup (a 1 M-entry table does not
 * fit in any cache): an index of 2^k Int32 slots (linear probing, load <= 0.7)
 * holding `tag << 24 | entry + 1` (tag = 8 more hash bits, so probing past
 * other keys rarely touches their entries), and one Uint32Array of 8-word
 * entries (32 bytes, two per cache line):
 *
 *   0-3 key | 4 snapshot last seen (0 = free) | 5 real server << 8 | state
 *   6 expires (low 16) | previous expires (high 16) | 7 previous real server << 8 | previous state
 *
 * Expiry values are clamped to 65535 s (18 h): reuse detection only compares
 * timers of closing states (minutes). Real-server ids must be < 2^24 and at
 * most 2^24 - 1 connections are tracked (upsert returns -1 beyond).
 *
 * Entries missing from a snapshot are deleted when it ends (backward-shift
 * deletion in the index, entry on a free list), so the work at the end of a
 * pass is proportional to the churn, not to the table.
 */

export const NEW = 0;
/** First row with this key in the current snapshot; the entry existed in the previous one. */
export const FIRST = 1;
/** Another row with a key already seen in this snapshot (an expiring entry beside its successor). */
export const DUPLICATE = 2;
/** prevState of an entry inserted in the current snapshot: it has no previous values. */
export const NO_PREVIOUS = 255;

const STRIDE = 8;
const MIN_INDEX = 1 << 10;
const MIN_ENTRIES = 1 << 9;
export const MAX_ENTRIES = (1 << 24) - 1;
const ENTRY_MASK = 0xffffff;
const MAX_EXPIRES = 0xffff;

export class ConnTracker {
  /** Live entries (after endSnapshot: the connections of the last snapshot). */
  size = 0;
  /** Outcome of the last upsert: NEW, FIRST or DUPLICATE. */
  status = NEW;
  /** Most connections to track; inserts beyond fail (upsert returns -1). */
  limit = MAX_ENTRIES;

  private index = new Int32Array(MIN_INDEX);
  private mask = MIN_INDEX - 1;
  private d = new Uint32Array(MIN_ENTRIES * STRIDE);
  private cap = MIN_ENTRIES;
  /** Entries ever handed out (free ones included). */
  private high = 0;
  private freeHead = -1;
  private gen = 0;
  /** Entry expected for the next key (see upsert). */
  private next = 0;

  beginSnapshot(): void {
    this.gen = (this.gen + 1) >>> 0 || 1;
  }

  /**
   * Finds or inserts the entry of a key in the current snapshot and returns
   * its number (-1 when the table is full). `status` tells NEW (inserted; set
   * its values), FIRST (existing: its values became the previous ones) or
   * DUPLICATE.
   */
  upsert(k0: number, k1: number, k2: number, k3: number): number {
    const d = this.d;
    // The kernel lists connections in its hash-bucket order, which changes
    // little between reads, and entries are numbered in first-seen order: the
    // entry after the last one found is usually the next row's. Checking it
    // first turns most lookups into a sequential read.
    const guess = this.next;
    if (guess < this.high) {
      const o = guess * STRIDE;
      if (d[o] === k0 && d[o + 1] === k1 && d[o + 2] === k2 && d[o + 3] === k3 && d[o + 4] !== 0) return this.found(guess);
    }
    const index = this.index;
    const mask = this.mask;
    const hash = hashKey(k0, k1, k2, k3);
    const tag = hash >>> 24;
    let h = hash & mask;
    for (;;) {
      const slot = index[h];
      if (slot === 0) break;
      if (slot >>> 24 === tag) {
        const e = (slot & ENTRY_MASK) - 1;
        const o = e * STRIDE;
        if (d[o] === k0 && d[o + 1] === k1 && d[o + 2] === k2 && d[o + 3] === k3) return this.found(e);
      }
      h = (h + 1) & mask;
    }
    if ((this.size + 1) * 10 > index.length * 7) {
      this.rebuildIndex(index.length * 2);
      return this.upsert(k0, k1, k2, k3);
    }
    if (this.size >= this.limit) return -1;
    let e: number;
    if (this.freeHead >= 0) {
      e = this.freeHead;
      this.freeHead = d[e * STRIDE] === 0xffffffff ? -1 : d[e * STRIDE];
    } else {
      if (this.high >= MAX_ENTRIES) return -1;
      if (this.high >= this.cap) {
        this.resize(Math.min(Math.ceil(this.cap * 1.5), MAX_ENTRIES));
        return this.upsert(k0, k1, k2, k3);
      }
      e = this.high++;
    }
    const dd = this.d;
    const o = e * STRIDE;
    dd[o] = k0;
    dd[o + 1] = k1;
    dd[o + 2] = k2;
    dd[o + 3] = k3;
    dd[o + 4] = this.gen;
    dd[o + 5] = 0;
    dd[o + 6] = 0;
    dd[o + 7] = NO_PREVIOUS;
    index[h] = ((tag << 24) | (e + 1)) | 0;
    this.size++;
    this.status = NEW;
    this.next = e + 1;
    return e;
  }

  private found(e: number): number {
    const d = this.d;
    const o = e * STRIDE;
    if (d[o + 4] === this.gen) {
      this.status = DUPLICATE;
    } else {
      d[o + 4] = this.gen;
      d[o + 7] = d[o + 5];
      d[o + 6] = ((d[o + 6] & 0xffff) << 16) >>> 0;
      this.status = FIRST;
    }
    this.next = e + 1;
    return e;
  }

  set(e: number, rs: number, state: number, expires: number): void {
    const o = e * STRIDE;
    const d = this.d;
    d[o + 5] = ((rs << 8) | state) >>> 0;
    d[o + 6] = ((d[o + 6] & 0xffff0000) | (expires > MAX_EXPIRES ? MAX_EXPIRES : expires)) >>> 0;
  }

  rs(e: number): number {
    return this.d[e * STRIDE + 5] >>> 8;
  }
  state(e: number): number {
    return this.d[e * STRIDE + 5] & 0xff;
  }
  expires(e: number): number {
    return this.d[e * STRIDE + 6] & 0xffff;
  }
  prevRs(e: number): number {
    return this.d[e * STRIDE + 7] >>> 8;
  }
  prevState(e: number): number {
    return this.d[e * STRIDE + 7] & 0xff;
  }
  prevExpires(e: number): number {
    return this.d[e * STRIDE + 6] >>> 16;
  }

  /** Drops the entries the current snapshot did not contain; returns how many. */
  endSnapshot(): number {
    const gen = this.gen;
    const d = this.d;
    let dropped = 0;
    for (let e = 0, o = 4; e < this.high; e++, o += STRIDE) {
      const seen = d[o];
      if (seen === 0 || seen === gen) continue;
      this.unindex(e);
      d[o] = 0;
      d[o - 4] = this.freeHead < 0 ? 0xffffffff : this.freeHead;
      this.freeHead = e;
      dropped++;
    }
    this.size -= dropped;
    // Give memory back after a big drop.
    if (this.size < this.cap >> 3 && this.cap > MIN_ENTRIES) this.compact();
    else if (this.size * 8 < this.index.length && this.index.length > MIN_INDEX) this.rebuildIndex(Math.max(MIN_INDEX, pow2AtLeast(this.size * 2)));
    this.next = 0;
    return dropped;
  }

  /** Bytes held by the typed arrays (for the self-metric and the benchmark). */
  bytes(): number {
    return this.index.byteLength + this.d.byteLength;
  }

  /** Removes entry e from the index (backward-shift deletion keeps probe chains intact). */
  private unindex(e: number): void {
    const d = this.d;
    const index = this.index;
    const mask = this.mask;
    const o = e * STRIDE;
    let i = hashKey(d[o], d[o + 1], d[o + 2], d[o + 3]) & mask;
    while ((index[i] & ENTRY_MASK) !== e + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const slot = index[j];
      if (slot === 0) break;
      const q = ((slot & ENTRY_MASK) - 1) * STRIDE;
      const home = hashKey(d[q], d[q + 1], d[q + 2], d[q + 3]) & mask;
      // Leave it if its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      index[i] = slot;
      i = j;
    }
    index[i] = 0;
  }

  /** Moves live entries to the front, shrinks, rebuilds the index. */
  private compact(): void {
    const d = this.d;
    let w = 0;
    for (let e = 0; e < this.high; e++) {
      const o = e * STRIDE;
      if (d[o + 4] === 0) continue;
      if (w !== e) d.copyWithin(w * STRIDE, o, o + STRIDE);
      w++;
    }
    this.high = w;
    this.freeHead = -1;
    this.resize(Math.max(MIN_ENTRIES, Math.ceil(w * 1.5)));
    this.rebuildIndex(Math.max(MIN_INDEX, pow2AtLeast(w * 2)));
  }

  private rebuildIndex(slots: number): void {
    this.index = new Int32Array(slots);
    const index = this.index;
    const mask = (this.mask = slots - 1);
    const d = this.d;
    for (let e = 0; e < this.high; e++) {
      const o = e * STRIDE;
      if (d[o + 4] === 0) continue;
      const hash = hashKey(d[o], d[o + 1], d[o + 2], d[o + 3]);
      let h = hash & mask;
      while (index[h] !== 0) h = (h + 1) & mask;
      index[h] = (((hash >>> 24) << 24) | (e + 1)) | 0;
    }
  }

  private resize(cap: number): void {
    const d = new Uint32Array(cap * STRIDE);
    d.set(this.d.subarray(0, Math.min(this.high, cap) * STRIDE));
    this.d = d;
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

/** Hash of a four-word key (slot = low bits, tag = top 8 bits). */
export function hashKey(k0: number, k1: number, k2: number, k3: number): number {
  let h = Math.imul(k0 ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 13) | (h >>> 19), 5) ^ k1;
  h = Math.imul(h ^ (h >>> 15), 0x1b873593) ^ k2;
  h = Math.imul(h ^ (h >>> 13), 0xcc9e2d51) ^ k3;
  return fmix(h);
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
