/**
 * Wall-clock time in nanoseconds for timestamps. Date.now() has millisecond
 * resolution; the monotonic clock adds the nanoseconds. The pair is
 * re-anchored whenever the two disagree by more than a millisecond, so an NTP
 * step or a resumed VM moves timestamps with the wall clock (as the
 * scheduler, which uses Date.now(), moves) instead of leaving them off by the
 * step for the life of the process. Durations use the monotonic clock alone.
 */

let anchorWallMs = Date.now();
let anchorMonoNs = process.hrtime.bigint();

/** Current wall-clock time, ns since the epoch. */
export function wallClockNs(): bigint {
  const mono = process.hrtime.bigint();
  const wallMs = Date.now();
  const t = BigInt(anchorWallMs) * 1_000_000n + (mono - anchorMonoNs);
  const drift = Number(t / 1_000_000n) - wallMs;
  if (drift > 1 || drift < -1) {
    anchorWallMs = wallMs;
    anchorMonoNs = mono;
    return BigInt(wallMs) * 1_000_000n;
  }
  return t;
}

/** The same as a double (ns since the epoch; exact to about 0.25 µs), for arithmetic with kernel timestamps. */
export function wallClockNsNumber(): number {
  return Number(wallClockNs());
}
