/** The package as operators get it: the compiled runtime runs without the source tree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../support/paths';

const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

/** Every plugin's section header, as `lvsagent config` prints it. */
const PLUGIN_SECTIONS = ['inputs', 'outputs'].flatMap((kind) => fs.readdirSync(path.join(repoRoot, 'plugins', kind)).map((name) => `[[${kind}.${name}]]`));

/** A configuration that gathers without privileges or servers. */
function smallConfig(dir: string): string {
  const file = path.join(dir, 'small.conf');
  fs.writeFileSync(file, '[agent]\n  omit_hostname = true\n\n[[inputs.internal]]\n  collect_memstats = false\n');
  return file;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** What the agent must do from / with nothing but `bin` (a script run with node). */
function assertRunsFromRoot(bin: string[], dir: string): void {
  const config = ok(run(bin[0], [...bin.slice(1), 'config'], { cwd: '/' }), 'lvsagent config');
  for (const section of PLUGIN_SECTIONS) assert.ok(config.includes(section), `lvsagent config lacks ${section}`);
  const gathered = ok(run(bin[0], [...bin.slice(1), '--test', '--config', smallConfig(dir)], { cwd: '/' }), 'lvsagent --test');
  assert.match(gathered, new RegExp(`^> internal_agent,go_version=v[\\d.]+,version=${version.replace(/\./g, '\\.')} .*metrics_gathered=\\d+i`, 'm'));
  assert.doesNotMatch(gathered, /internal_memstats/, 'collect_memstats = false was read from the configuration');
}

test('the compiled runtime runs without the source tree beside it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-dist-'));
  try {
    const runtime = (src: string): boolean => !/\.test\.js(\.map)?$/.test(src);
    for (const part of ['core', 'plugins']) fs.cpSync(path.join(repoRoot, 'dist', part), path.join(dir, 'dist', part), { recursive: true, filter: runtime });
    fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    assertRunsFromRoot([process.execPath, path.join(dir, 'dist', 'core', 'cli', 'main.js')], dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
