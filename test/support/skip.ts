/**
 * The one skip policy of integration tests: a test whose prerequisite (root,
 * a program, a server, the lab) is missing here skips with the reason —
 * except under CI=true, where a skipped integration test would hide a broken
 * environment, so it fails.
 */

/** Skips `t` with `reason`, or throws under CI=true. */
export function skipOrFail(t: { skip(message?: string): void }, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`integration prerequisite missing in CI: ${reason}`);
  t.skip(reason);
}

/** For `test(..., { skip })`: `skipped: reason`, false when nothing is missing — or a failure under CI=true. */
export function skipReason(reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (process.env.CI === 'true') throw new Error(`integration prerequisite missing in CI: ${reason}`);
  return `skipped: ${reason}`;
}
