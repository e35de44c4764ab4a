/**
 * The README states Telegraf's `collect` behaviour truly (issue 13 item 11):
 * since Telegraf 1.26 (commit 0ea50fa3b5, conntrack.go 97-137 at 1.40.0) each
 * listed value emits its rows, so ["all", "percpu"] gives both kinds; the one
 * deliberate difference is `cpu=all` `entries`, counted once here and summed
 * over CPUs by Telegraf (gopsutil net/net.go 142-160).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSource } from '../../../test/support/paths';

const readme = readSource(__dirname, 'README.md');

test('README: collect = ["all", "percpu"] emits both kinds of row, as Telegraf since 1.26', () => {
  assert.doesNotMatch(readme, /Telegraf emits only the per-CPU rows/);
  assert.match(readme, /`\["all", "percpu"\]` gives the `cpu=all` row and the `cpu0`…`cpuN` rows, as Telegraf since 1\.26/);
});

test('README: cpu=all entries counted once is called a deliberate difference', () => {
  assert.match(readme, /`entries` multiplied in `cpu=all` — a deliberate difference/);
  assert.match(readme, /lvsagent's `cpu=all`\s+`entries` is the count itself, once/);
});
// The behaviour itself: procstat.test.ts ('cpu=all sums the counters but carries entries once').
