/**
 * The lab harness itself: one boot checks that setup, foreground, background
 * and node steps run, that files come back through the run directory, that
 * IPVS is loadable and that traffic through a virtual server reaches both
 * real servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { assertCompleted, guestInitScript, labOrSkip, runGuest, shQuote } from './lab';

test('guest init script quotes paths and orders steps', () => {
  const s = guestInitScript("/tmp/x y'z", { setup: 'true' }, [
    { name: 'a', sh: 'echo a' },
    { name: 'b', node: 'dist/x.js', args: ["it's"], background: true },
  ]);
  assert.match(s, /mount -t hostfs -o '\/tmp\/x y'\\''z' none/);
  assert.ok(s.indexOf('# ---- step a') < s.indexOf('# ---- step b'));
  assert.match(s, /'it'\\''s'[\s\S]*&\necho \$! > "\$LAB_DIR\/b\.pid"/);
  assert.equal(shQuote("a'b"), `'a'\\''b'`);
  assert.match(s, /halt -f\n$/);
});

test('UML guest runs a scenario with IPVS traffic', { timeout: 180_000 }, async (t) => {
  if (!labOrSkip(t, ['ipvsadm', 'curl'])) return;
  const net = 'dist/test/lab/guest/net.js';
  const r = await runGuest({
    setup: `
      ip link add d0 type dummy && ip link set d0 up
      ip addr add 10.10.0.1/32 dev d0 && ip addr add 10.10.1.1/32 dev d0 && ip addr add 10.10.1.2/32 dev d0
      ipvsadm -A -t 10.10.0.1:80 -s rr
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.1:8080 -m
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.2:8080 -m
      lab_bg web lab_node ${net} http-server 10.10.1.1:8080 10.10.1.2:8080
      lab_wait_for "$LAB_DIR/web.out" ready
    `,
    steps: [
      { name: 'curl', sh: 'curl -s http://10.10.0.1/; curl -s http://10.10.0.1/' },
      { name: 'load', node: net, args: ['http-get', 'http://10.10.0.1/', '10', '2'] },
      // The kernel folds per-CPU counters into the totals every 2 s (estimator): wait before reading.
      { name: 'stats', sh: 'sleep 2.5; ipvsadm -Ln --stats --exact; echo written > "$LAB_DIR/marker.txt"' },
      { name: 'fails', sh: 'echo oops >&2; exit 3' },
    ],
  });
  assertCompleted(r);
  assert.equal(r.setup.code, 0);
  assert.deepEqual(r.steps.curl.stdout.trim().split('\n').sort(), ['10.10.1.1:8080', '10.10.1.2:8080']);
  const load = JSON.parse(r.steps.load.stdout) as { ok: number; bodies: Record<string, number> };
  assert.equal(load.ok, 10);
  assert.deepEqual(load.bodies, { '10.10.1.1:8080': 5, '10.10.1.2:8080': 5 });
  assert.match(r.steps.stats.stdout, /TCP {2}10\.10\.0\.1:80 +12 /);
  assert.equal(r.files['marker.txt'], 'written\n');
  assert.equal(r.steps.fails.code, 3);
  assert.equal(r.steps.fails.stderr, 'oops\n');
  assert.equal(fs.existsSync(r.dir), false, 'run directory removed');
});

test('a failing setup skips the steps and says why', { timeout: 120_000 }, async (t) => {
  if (!labOrSkip(t)) return;
  const r = await runGuest({ setup: 'echo broken >&2; false', steps: [{ name: 'never', sh: 'echo hi' }], modules: [] });
  assert.equal(r.completed, false);
  assert.match(r.failure, /setup failed \(exit 1\): broken/);
  assert.equal(r.steps.never.code, null);
});
