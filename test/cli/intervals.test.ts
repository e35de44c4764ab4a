/**
 * Intervals longer than a Node timer can hold (2^31-1 ms, 24.8 days) are
 * honoured, not turned into a 1 ms loop (600h once produced 12,776 lines in 4 s).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, sleep, tempDir } from '../support/process';

test('interval = "600h" and flush_interval = "700h": no gather and no flush within seconds, no warning', async () => {
  const dir = tempDir('lvsagent-intervals-');
  const out = path.join(dir, 'out.lp');
  const conf = path.join(dir, 'c.conf');
  fs.writeFileSync(conf, `[agent]\n  interval = "600h"\n  flush_interval = "700h"\n  round_interval = false\n[[inputs.internal]]\n  interval = "650h"\n[[outputs.file]]\n  files = ["${out}"]\n`);
  const p = new AgentProcess(['--config', conf]);
  try {
    await p.waitFor(/Loaded outputs/);
    await sleep(3000);
    assert.ok(p.alive());
    p.signal('SIGTERM');
    assert.equal((await p.exit()).code, 0);
    // round_interval = false gathers once at start; then nothing for 650 h.
    const lines = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean) : [];
    const gathers = new Set(lines.map((l) => l.split(' ').pop()));
    assert.ok(gathers.size <= 1, `${gathers.size} gathers in 3 s`);
    assert.doesNotMatch(p.stderr, /TimeoutOverflowWarning|does not fit into a 32-bit/);
  } finally {
    if (p.alive()) p.signal('SIGKILL');
  }
});
