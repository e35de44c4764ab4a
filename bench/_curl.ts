/** curl as the reference client of the end-to-end write benchmarks: its start-up cost, and a timed run of a config file. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Median time to start and finish curl doing no network work. */
export function curlStartup(dir: string): number {
  const times: number[] = [];
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '');
  for (let i = 0; i < 11; i++) {
    const t = process.hrtime.bigint();
    spawnSync('curl', ['-s', '-o', '/dev/null', `file://${empty}`], { stdio: 'ignore' });
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  return times.sort((a, b) => a - b)[5];
}

export function runCurl(cfg: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync('curl', ['--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`curl failed (${r.status}): ${r.stderr}`);
  return secs;
}

