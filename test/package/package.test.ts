/**
 * The package as operators get it. The compiled runtime runs without the
 * source tree; the tarball `npm pack` makes holds the runtime only (no test,
 * bench, lab, testdata or key file), installs into an empty prefix with
 * `npm install -g` (building the native binding) and runs from /.
 *
 * `npm pack` runs in a copy of the repository, so the package build (prepack)
 * does not replace the dist/ that the other tests run from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../support/paths';
import { skipOrFail } from '../support/skip';

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

/** Files the tarball may hold: the runtime, the native binding's sources, the top-level documents. */
const ALLOWED = [
  /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|telegraf\.conf\.example|binding\.gyp)$/,
  /^core\/netlink\/native\/[^/]+\.c$/,
  /^dist\/(core|plugins)\/.+\.js$/,
  /^dist\/plugins\/(inputs|outputs)\/[^/]+\/(schema\.json|sample\.conf)$/,
];
/** What must never ship, named so a failure says why. */
const FORBIDDEN: Array<[RegExp, string]> = [
  [/\.test\.js$/, 'a test'],
  [/(^|\/)testdata\//, 'test data'],
  [/^dist\/(test|bench)\//, 'test or bench code'],
  [/(^|\/)(lab|support)\//, 'lab or test support code'],
  [/\.(key|pem|crt|p12)$/, 'a key or certificate'],
  [/\.(ts|map)$/, 'a source or source map'],
  [/^\.ci\//, 'CI scripts'],
];

/** npm's own settings for the child npm: none of the parent `npm test` run's (its prefix, its package). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(nodedir|cache|userconfig|registry)$/i.test(k)) continue;
    if (k === 'INIT_CWD') continue;
    env[k] = v;
  }
  // The binding builds against the installed Node headers, offline (as .ci/run does).
  if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  return env;
}

test('npm pack: the tarball holds the runtime only, installs into an empty prefix and runs from /', { timeout: 600_000 }, (t) => {
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  if (npm.status !== 0) return skipOrFail(t, 'npm not found');
  const env = npmEnv();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-pack-'));
  try {
    // The working tree as it is (uncommitted files too), without build output.
    const src = path.join(dir, 'src');
    const skip = new Set(['node_modules', 'dist', 'build', '.git'].map((d) => path.join(repoRoot, d)));
    fs.cpSync(repoRoot, src, { recursive: true, filter: (p) => !skip.has(p) && !p.endsWith('.tgz') });
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(src, 'node_modules'));

    const packed = JSON.parse(ok(run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: src, env, timeoutMs: 300_000 }), 'npm pack')) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const files = packed[0].files.map((f) => f.path).sort();
    for (const f of files) {
      for (const [re, what] of FORBIDDEN) assert.doesNotMatch(f, re, `the tarball ships ${what}: ${f}`);
      assert.ok(ALLOWED.some((re) => re.test(f)), `the tarball ships ${f}, which is not runtime`);
    }
    for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'telegraf.conf.example', 'binding.gyp', 'core/netlink/native/netlink.c', 'dist/core/cli/main.js']) {
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    }
    for (const section of PLUGIN_SECTIONS) {
      const folder = `dist/plugins/${section.slice(2, -2).replace('.', '/')}`;
      for (const f of ['index.js', 'schema.json', 'sample.conf']) assert.ok(files.includes(`${folder}/${f}`), `the tarball lacks ${folder}/${f}`);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8')) as { main: string; bin: Record<string, string>; exports: Record<string, string> };
    for (const target of [manifest.main, ...Object.values(manifest.bin), ...Object.values(manifest.exports)]) {
      assert.ok(files.includes(path.normalize(target)), `package.json points at ${target}, which the tarball lacks`);
    }

    const prefix = path.join(dir, 'prefix');
    const tarball = path.join(dir, packed[0].filename);
    ok(run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, env, timeoutMs: 300_000 }), 'npm install -g');
    const installed = path.join(prefix, 'lib', 'node_modules', 'lvsagent');
    assert.ok(fs.existsSync(path.join(installed, 'build', 'Release', 'lvsagent_netlink.node')), 'npm install built the native binding');
    assertRunsFromRoot([path.join(prefix, 'bin', 'lvsagent')], dir);
    assert.match(ok(run(path.join(prefix, 'bin', 'lvsagent'), ['--version'], { cwd: '/' }), 'lvsagent --version'), new RegExp(`^lvsagent ${version.replace(/\./g, '\\.')} `));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
