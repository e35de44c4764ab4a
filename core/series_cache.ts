/**
 * Values an input keeps per series from one gather to the next (its frozen
 * TagSets, typically), with entries not used during a gather forgotten at the
 * next sweep so that vanished series do not accumulate.
 */
export class SeriesCache<V> {
  private readonly entries = new Map<string, { value: V; gen: number }>();
  private gen = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    e.gen = this.gen;
    return e.value;
  }

  set(key: string, value: V): void {
    this.entries.set(key, { value, gen: this.gen });
  }

  /** Call after each gather: forgets what was neither read nor set since the previous sweep. */
  sweep(): void {
    const gen = this.gen;
    for (const [k, e] of this.entries) if (e.gen !== gen) this.entries.delete(k);
    this.gen = gen + 1;
  }
}
