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

test('a timer armed while the event loop was busy does not fire before its due time', async () => {
  // Node arms timers against the loop's cached clock: after 30 ms of synchronous
  // work that clock is 30 ms behind, so a bare setTimeout(10) fires at once.
  const results: number[] = [];
  for (let round = 0; round < 5; round++) {
    await new Promise<void>((resolve) => {
      const spinUntil = Date.now() + 30;
      while (Date.now() < spinUntil);
      const due = Date.now() + 10;
      setLongTimeout(() => {
        results.push(Date.now() - due);
        resolve();
      }, 10);
    });
  }
  for (const early of results) assert.ok(early >= 0, `fired ${-early} ms before its due time (${results.join(', ')})`);
});
