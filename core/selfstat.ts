/**
 * Self statistics for `inputs.internal` (Telegraf's selfstat): named int64
 * counters grouped by measurement and tag set. Plugins may register their own
 * `internal_<plugin>` stats through `register`.
 */

export interface Stat {
  readonly measurement: string;
  readonly field: string;
  readonly tags: Readonly<Record<string, string>>;
  value: number;
  /** Timing stats report the average since the last read and then reset. */
  readonly timing: boolean;
  samples: number;
  incr(n?: number): void;
  set(v: number): void;
}

class StatImpl implements Stat {
  value = 0;
  samples = 0;
  constructor(
    readonly measurement: string,
    readonly field: string,
    readonly tags: Readonly<Record<string, string>>,
    readonly timing: boolean,
  ) {}
  incr(n = 1): void {
    this.value += n;
  }
  set(v: number): void {
    if (this.timing) {
      this.value += v;
      this.samples++;
    } else this.value = v;
  }
}

function keyOf(measurement: string, tags: Record<string, string>): string {
  return measurement + '\u0000' + Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join('\u0000');
}

/** One series of the agent's own statistics: a measurement and its tags. */
export interface StatGroup {
  measurement: string;
  tags: Record<string, string>;
}

export class SelfStats {
  private readonly groups = new Map<string, { measurement: string; tags: Record<string, string>; stats: Map<string, StatImpl> }>();

  register(measurement: string, field: string, tags: Record<string, string> = {}, timing = false): Stat {
    const key = keyOf(measurement, tags);
    let g = this.groups.get(key);
    if (!g) {
      g = { measurement, tags: { ...tags }, stats: new Map() };
      this.groups.set(key, g);
    }
    let s = g.stats.get(field);
    if (!s) {
      s = new StatImpl(measurement, field, g.tags, timing);
      g.stats.set(field, s);
    }
    return s;
  }

  /** Stops reporting a series (a plugin removed by a reload). */
  unregister(group: StatGroup): void {
    this.groups.delete(keyOf(group.measurement, group.tags));
  }

  /** Unregisters the groups of `before` that none of `after` reports under. */
  retire(before: readonly StatGroup[], after: readonly StatGroup[]): void {
    const kept = new Set(after.map((g) => keyOf(g.measurement, g.tags)));
    for (const g of before) if (!kept.has(keyOf(g.measurement, g.tags))) this.unregister(g);
  }

  /** Snapshot of every group: timing stats become averages and reset. */
  snapshot(): { measurement: string; tags: Record<string, string>; fields: Record<string, number> }[] {
    const out: { measurement: string; tags: Record<string, string>; fields: Record<string, number> }[] = [];
    for (const g of this.groups.values()) {
      const fields: Record<string, number> = {};
      for (const [name, s] of g.stats) {
        if (s.timing) {
          fields[name] = s.samples > 0 ? Math.round(s.value / s.samples) : 0;
          s.value = 0;
          s.samples = 0;
        } else fields[name] = s.value;
      }
      out.push({ measurement: g.measurement, tags: { ...g.tags }, fields });
    }
    return out;
  }

  /** Sum of one field over all groups of a measurement (for internal_agent totals). */
  sum(measurement: string, field: string): number {
    let total = 0;
    for (const g of this.groups.values()) {
      if (g.measurement !== measurement) continue;
      const s = g.stats.get(field);
      if (s && !s.timing) total += s.value;
    }
    return total;
  }
}

/** The process-wide registry (one agent per process). */
export const selfStats = new SelfStats();
