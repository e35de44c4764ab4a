/**
 * Timers for delays of any length. Node's setTimeout holds at most 2^31-1 ms
 * (about 24.8 days); a longer delay is replaced by 1 ms with a warning, which
 * turned `interval = "600h"` into a gather loop. Longer delays are chained.
 */

/** How early a timer may fire (Node's cached loop clock) and still be re-armed for the rest. */
const EARLY_TOLERANCE_MS = 100;

/** The longest delay one Node timer can hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface TimerHandle {
  clear(): void;
}

/** Calls `fn` once after `ms` milliseconds, however long that is. */
export function setLongTimeout(fn: () => void, ms: number): TimerHandle {
  let timer: NodeJS.Timeout;
  const due = Date.now() + Math.max(0, ms);
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      // Also re-armed when Node fires a little early: its timers run on a cached
      // monotonic loop time, so a tick can come a millisecond before its boundary.
      // A larger difference is the wall clock stepping back: the caller sees it.
      const rest = due - Date.now();
      if (rest > 0 && (left > MAX_TIMER_MS || rest <= EARLY_TOLERANCE_MS)) arm(Math.ceil(rest));
      else fn();
    }, Math.min(Math.max(0, left), MAX_TIMER_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/** Calls `fn` every `ms` milliseconds (chained past MAX_TIMER_MS). */
export function setLongInterval(fn: () => void, ms: number): TimerHandle {
  let current: TimerHandle;
  const again = (): void => {
    current = setLongTimeout(() => {
      again();
      fn();
    }, ms);
  };
  again();
  return { clear: () => current.clear() };
}
