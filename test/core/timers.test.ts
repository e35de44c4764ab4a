/** Timers past Node's 2^31-1 ms limit (which Node would replace by 1 ms). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TIMER_MS, setLongInterval, setLongTimeout } from '../../core/timers';

test('a delay beyond 24.8 days does not fire early', async () => {
  let fired = 0;
  const t = setLongTimeout(() => fired++, MAX_TIMER_MS + 10_000);
  const i = setLongInterval(() => fired++, 600 * 3600 * 1000);
  await new Promise((r) => setTimeout(r, 200));
  t.clear();
  i.clear();
  assert.equal(fired, 0);
});

test('short delays fire once, intervals repeat, clear stops them', async () => {
  let once = 0;
  let every = 0;
  setLongTimeout(() => once++, 10);
  const i = setLongInterval(() => every++, 20);
  await new Promise((r) => setTimeout(r, 130));
  i.clear();
  const seen = every;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(once, 1);
  assert.ok(seen >= 3, `interval ran ${seen} times`);
  assert.equal(every, seen, 'stopped');
});
