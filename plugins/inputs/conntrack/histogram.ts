/**
 * Fixed-bucket histograms, which FlowAggregator.metrics emits the way
 * Telegraf's histogram aggregator does (cumulative): one metric per bucket with an `le` tag holding the upper
 * bound (Go's shortest decimal text, `+Inf` last) and a `<field>_bucket`
 * int field; plus, as an addition, one metric without `le` holding
 * `<field>_sum` (float) and `<field>_count` (int). All are typed `histogram`
 * so that a Prometheus output can render them as histograms.
 */
import { formatFloat } from '../../../core/serializers/influx';

export class Histogram {
  /** Sorted, de-duplicated upper bounds. */
  readonly bounds: Float64Array;
  /** Count per bucket (not cumulative); index bounds.length is +Inf. */
  readonly counts: Float64Array;
  /** The `le` tag of each bucket: Go's shortest decimal text of its bound, `+Inf` last. */
  readonly labels: readonly string[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    const sorted = [...new Set(bounds.filter((b) => Number.isFinite(b)))].sort((a, b) => a - b);
    this.bounds = Float64Array.from(sorted);
    this.counts = new Float64Array(sorted.length + 1);
    this.labels = [...sorted.map(formatFloat), '+Inf'];
  }

  observe(v: number): void {
    if (Number.isNaN(v)) return;
    const b = this.bounds;
    // Binary search for the first bound >= v (Prometheus `le` semantics).
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]++;
    this.sum += v;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** Default buckets, as npinaeva/conntrack-metrics uses them. */
export const DEFAULT_BUCKETS = {
  bytes: [1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000],
  packets: [1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000],
  duration: [0, 1, 2.5, 5, 10, 30, 31, 35, 119.9, 119.99, 120, 120.01, 120.015, 120.02, 120.025, 120.03, 120.1, 120.5, 121, 125, 130],
  connectLatency: [0, 1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 7.5e-4, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 5, 10],
  finLatency: [0, 0.001, 0.005, 0.0075, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.3, 0.4, 0.5, 1, 3, 5, 10, 20, 50],
} as const;
