/**
 * Back-off after a server said it is overloaded or failing (429, 5xx): no
 * request until the longer of Retry-After and an own delay that grows with
 * each failure in a row (n²/40 s, at most 60 s, as Telegraf's influxdb_v2
 * output computes it). A success resets it. Writes before the time is up
 * fail at once, so the batch stays buffered for a later flush.
 */
import { formatDuration } from '../config/duration';

const MAX_BACKOFF_S = 60;
/** Retry-After is honoured up to this long; a longer one is taken as this. */
const MAX_RETRY_AFTER_S = 600;

export class RetryBackoff {
  private failures = 0;
  private retryAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Time still to wait before the next request, in ms (0: go ahead). */
  remainingMs(): number {
    return Math.max(0, this.retryAt - this.now());
  }

  /** `retry time has not elapsed (1.5s left)`, or undefined when a request may go out. */
  pendingMessage(): string | undefined {
    const left = this.remainingMs();
    return left > 0 ? `retry time has not elapsed (${formatDuration(BigInt(left) * 1_000_000n)} left)` : undefined;
  }

  /** Records a failure; returns the delay before the next request in ms. */
  failed(retryAfter: string | string[] | undefined): number {
    this.failures++;
    const delay = this.delayMs(retryAfter);
    this.retryAt = this.now() + delay;
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  /** The longer of n²/40 s (≤60 s) for n failures in a row and Retry-After (≤10 min). */
  delayMs(retryAfter: string | string[] | undefined): number {
    const backoff = Math.min((this.failures * this.failures) / 40, MAX_BACKOFF_S);
    let header = 0;
    const v = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
    if (v !== undefined && v !== '') {
      header = Number(v);
      // An unparseable value (an HTTP date, say) is taken as 10 s, as Telegraf does.
      if (!Number.isFinite(header)) header = 10;
      header = Math.min(Math.max(header, 0), MAX_RETRY_AFTER_S);
    }
    return Math.round(Math.max(backoff, header) * 1000);
  }
}
