/**
 * `npm run bench [-- name...]`: runs every benchmark in bench/ (or the named
 * ones) one after another, each in its own process so their RSS figures do
 * not mix. Each benchmark prints its figure beside its reference run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = __dirname;
const wanted = process.argv.slice(2);
const all = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''))
  .sort();
const selected = wanted.length ? all.filter((b) => wanted.includes(b)) : all;
if (wanted.length && selected.length !== wanted.length) {
  console.error(`unknown benchmark(s): ${wanted.filter((w) => !all.includes(w)).join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const b of selected) {
  console.log(`\n=== bench/${b} ===`);
  // The agent's own runtime flags (see the shebang of core/cli/main.ts), so figures match what it does.
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=32', path.join(dir, `${b}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${b} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
