/**
 * Runs one round of probes with at most `maxConcurrency` in flight, and starts
 * a probe only while it can still end (even by timing out) before the round's
 * deadline. The ones that could not be started are returned, not dropped, so
 * the caller can report them and start them first next round.
 */

export interface RoundLimits {
  maxConcurrency: number;
  /** Longest a single probe can take, in ms (its timeout). */
  probeMs: number;
  /** `performance.now()` value by which every started probe must be over. */
  deadline: number;
  /** Clock, replaceable in tests. */
  now?: () => number;
  /**
   * Runs each batch of starts (synchronous) inside something, e.g. a network
   * namespace: one switch per batch instead of one per probe.
   */
  enter?: (batch: () => void) => void;
}

export interface RoundReport {
  started: number;
  /** Positions in `order` of the probes not started because of the deadline. */
  notStarted: number[];
  maxInFlight: number;
}

/**
 * `start(item, done)` begins probe `item` and must call `done()` exactly once
 * when its socket is closed (synchronously is allowed).
 */
export function runRound(order: ArrayLike<number>, start: (item: number, done: () => void) => void, limits: RoundLimits): Promise<RoundReport> {
  const now = limits.now ?? (() => performance.now());
  const total = order.length;
  const max = Math.max(1, Math.floor(limits.maxConcurrency));
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    let stopped = false;
    let pumping = false;
    const notStarted: number[] = [];

    let failure: unknown;
    const settle = (): void => {
      if (inFlight !== 0 || (next < total && !stopped)) return;
      if (failure !== undefined) reject(failure);
      else resolve({ started, notStarted, maxInFlight });
    };

    // Completions in one event-loop turn free their slots together; starting
    // their successors once per turn makes batches (one namespace switch each).
    let scheduled = false;
    const pumpSoon = (): void => {
      scheduled = false;
      pump();
    };
    const onDone = (): void => {
      inFlight--;
      if (!scheduled) {
        scheduled = true;
        setImmediate(pumpSoon);
      }
    };

    const startBatch = (): void => {
      while (!stopped && next < total && inFlight < max) {
        if (now() + limits.probeMs > limits.deadline) {
          stopped = true;
          for (let i = next; i < total; i++) notStarted.push(i);
          next = total;
          break;
        }
        const item = order[next++];
        inFlight++;
        started++;
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        let called = false;
        start(item, () => {
          if (called) return;
          called = true;
          onDone();
        });
      }
    };

    // A loop rather than recursion: a probe may finish synchronously inside start().
    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      try {
        if (!stopped && next < total && inFlight < max) {
          if (limits.enter) limits.enter(startBatch);
          else startBatch();
        }
      } catch (err) {
        // E.g. the namespace cannot be entered any more: start nothing else,
        // let the probes in flight end, then fail the round with the reason.
        stopped = true;
        if (failure === undefined) failure = err;
      } finally {
        pumping = false;
      }
      settle();
    };

    pump();
  });
}
