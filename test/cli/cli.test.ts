/**
 * CLI tests: spawn the built binary (`dist/core/cli/main.js`, the package's
 * `bin`) as a user or Telegraf's execd would.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as TOML from '@iarna/toml';
import { repoRoot } from '../support/paths';
import { loadConfig } from '../../core/config/load';
import { loadRegistry } from '../../core/registry';

const BIN = path.join(repoRoot, 'dist', 'core', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-cli-'));
let n = 0;
function conf(text: string): string {
  const f = path.join(tmp, `cli${n++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}
function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
}

describe('lvsagent CLI', () => {
  test('--version and --help', () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^lvsagent \d+\.\d+\.\d+/);
    const h = run(['--help']);
    assert.equal(h.status, 0);
    for (const flag of ['--config', '--config-directory', '--test', '--once', '--execd', '--input-filter', '--output-filter', '--poll-interval']) assert.ok(h.stdout.includes(flag), flag);
  });

  test('bad configs exit 1 with file, section and key in one line', () => {
    const f = conf('[[outputs.file]]\n[[inputs.internal]]\n  collect_memstats = true\n  typo_key = 3\n');
    const r = run(['--config', f, '--test']);
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^E! ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: \\[\\[inputs\\.internal\\]\\]: unknown option "typo_key"`));
    assert.equal(r.stdout, '', 'nothing gathered');

    const bad = run(['--config', conf('[agent]\n  interval = "often"\n[[inputs.internal]]\n[[outputs.file]]\n')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[agent\]: option "interval": invalid duration "often"/);

    const missing = run(['--config', path.join(tmp, 'nope.conf')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.conf: no such file/);

    const unknown = run(['--config', conf('[[inputs.ipvs_typo]]\n')]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /undefined plugin "ipvs_typo"; available inputs: .*internal/);
  });

  test('unknown flag exits 2 with usage', () => {
    const r = run(['--frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /flag provided but not defined: -frobnicate/);
  });

  test('no inputs or no outputs is an error outside --test', () => {
    const r = run(['--config', conf('[[inputs.internal]]\n')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no outputs found/);
  });

  test('--test prints "> " lines with sorted fields and u uints, runs no outputs', () => {
    const out = path.join(tmp, 'must-not-exist.out');
    const f = conf(`[global_tags]\n  dc = "x"\n[[outputs.file]]\n  files = ["${out}"]\n[[inputs.internal]]\n  name_prefix = "t_"\n`);
    const r = run(['--config', f, '--test']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 3);
    for (const l of lines) {
      assert.match(l, /^> t_internal_\w+,/);
      assert.match(l, /dc=x/);
      const fields = l.split(' ')[2].split(',').map((p) => p.split('=')[0]);
      assert.deepEqual(fields, [...fields].sort(), 'fields sorted');
    }
    assert.ok(!fs.existsSync(out), 'outputs did not run');
  });

  test('an input that fails is reported in one line and the others keep running', () => {
    const f = conf(`[[outputs.file]]\n[[inputs.ip_vs_conn]]\n  path = "${path.join(tmp, 'no-such-ip_vs_conn')}"\n[[inputs.internal]]\n`);
    const r = run(['--config', f, '--test']);
    assert.equal(r.status, 1, 'gather errors make --test exit non-zero');
    assert.match(r.stdout, /^> internal_agent,/m, "the other input still gathered");
    const errors = r.stderr.split('\n').filter((l) => l.includes(' E! '));
    assert.equal(errors.filter((l) => l.includes('[inputs.ip_vs_conn] Error in plugin:')).length, 1, r.stderr);
    assert.match(r.stderr, /E! \[agent\] input plugins recorded 1 errors/);
  });

  test('--once gathers, writes through the outputs and exits 0', () => {
    const out = path.join(tmp, 'once.out');
    const f = conf(`[agent]\n  omit_hostname = true\n[[outputs.file]]\n  files = ["${out}"]\n[[inputs.internal]]\n`);
    const r = run(['--config', f, '--once']);
    assert.equal(r.status, 0, r.stderr);
    const text = fs.readFileSync(out, 'utf8');
    assert.match(text, /^internal_agent,go_version=[^ ]+,version=[^ ]+ .*metrics_gathered=\d+i/m);
    assert.ok(!/host=/.test(text), 'omit_hostname honoured');
  });

  test('--once exits non-zero when an output cannot write', () => {
    const f = conf(`[[outputs.file]]\n  files = ["/proc/lvsagent-cannot-write-here"]\n[[inputs.internal]]\n`);
    const r = run(['--config', f, '--once']);
    assert.notEqual(r.status, 0);
  });

  test('--input-filter and --output-filter select plugins', () => {
    const f = conf(`[[outputs.file]]\n[[inputs.internal]]\n  alias = "one"\n`);
    const r = run(['--config', f, '--test', '--input-filter', 'nothing:else']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
  });

  test('`lvsagent config` prints a complete sample that parses and validates', () => {
    const r = run(['config']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotThrow(() => TOML.parse(r.stdout));
    const registry = loadRegistry();
    for (const name of registry.inputs.keys()) assert.ok(r.stdout.includes(`[[inputs.${name}]]`), name);
    for (const name of registry.outputs.keys()) assert.ok(r.stdout.includes(`[[outputs.${name}]]`), name);
    const f = conf(r.stdout);
    const cfg = loadConfig({ files: [f], directories: [], registry });
    assert.equal(cfg.inputs.length, registry.inputs.size);
    assert.equal(cfg.outputs.length, registry.outputs.size);
  });

  test('telegraf.conf.example validates', () => {
    const r = run(['--config', path.join(repoRoot, 'telegraf.conf.example'), '--test', '--input-filter', 'internal']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^> internal_agent/m);
  });

  test('SIGTERM flushes cached metrics before shutdown', async () => {
    const out = path.join(tmp, 'sigterm.out');
    const f = conf(`[agent]\n  interval = "1s"\n  round_interval = false\n  flush_interval = "1h"\n[[outputs.file]]\n  files = ["${out}"]\n[[inputs.internal]]\n`);
    const child = spawn(process.execPath, [BIN, '--config', f], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    for (let waited = 0; !/Config: Interval/.test(stderr) && waited < 15_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1200));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /I! \[agent\] Hang on, flushing any cached metrics before shutdown/);
    assert.match(fs.readFileSync(out, 'utf8'), /^internal_agent/m);
  });
});

describe('signals', () => {
  const waitFor = async (cond: () => boolean, ms = 15_000): Promise<void> => {
    for (let waited = 0; !cond() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
  };
  const lines = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

  test('SIGUSR1 flushes now; SIGHUP reloads the config and keeps what is buffered', async () => {
    const a = path.join(tmp, 'reload-a.out');
    const cfgFile = conf(`[agent]\n  interval = "300ms"\n  round_interval = false\n  flush_interval = "1h"\n[[outputs.file]]\n  files = ["${a}"]\n[[inputs.internal]]\n  collect_memstats = false\n`);
    const child = spawn(process.execPath, [BIN, '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await waitFor(() => /Config: Interval/.test(stderr));
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(lines(a).length, 0, 'nothing written before the flush interval');
      child.kill('SIGUSR1');
      await waitFor(() => lines(a).length > 0);
      const flushed = lines(a).length;
      assert.ok(flushed >= 2, `SIGUSR1 wrote ${flushed} lines`);

      // Gather more (buffered, not written), then reload into a config whose file output writes elsewhere.
      await new Promise((r) => setTimeout(r, 700));
      const b = path.join(tmp, 'reload-b.out');
      fs.writeFileSync(cfgFile, `[agent]\n  interval = "300ms"\n  round_interval = false\n  flush_interval = "1h"\n[[outputs.file]]\n  files = ["${b}"]\n[[inputs.internal]]\n  collect_memstats = false\n  name_prefix = "reloaded_"\n`);
      child.kill('SIGHUP');
      await waitFor(() => /Reloading config/.test(stderr));
      await new Promise((r) => setTimeout(r, 700));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, stderr);
      assert.equal(lines(a).length, flushed, 'the old file got nothing after the reload');
      const out = lines(b);
      assert.ok(out.some((l) => l.startsWith('internal_agent')), 'metrics buffered before the reload were kept and written by the new output');
      assert.ok(out.some((l) => l.startsWith('reloaded_internal_agent')), 'the new configuration is in effect');
      for (const l of stderr.split('\n').filter(Boolean)) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [EWID]! \[[a-z_.:]+\] /, 'Telegraf log format');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a bad config on SIGHUP keeps the running configuration', async () => {
    const a = path.join(tmp, 'badreload.out');
    const cfgFile = conf(`[agent]\n  interval = "200ms"\n  round_interval = false\n  flush_interval = "200ms"\n[[outputs.file]]\n  files = ["${a}"]\n[[inputs.internal]]\n`);
    const child = spawn(process.execPath, [BIN, '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await waitFor(() => lines(a).length > 0);
      fs.writeFileSync(cfgFile, '[[inputs.internal]]\n  bogus = 1\n');
      child.kill('SIGHUP');
      await waitFor(() => /Reload failed/.test(stderr));
      assert.match(stderr, /Reload failed, keeping the running configuration: .*unknown option "bogus"/);
      const before = lines(a).length;
      await waitFor(() => lines(a).length > before);
      assert.ok(lines(a).length > before, 'still gathering and writing');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('execd mode (Telegraf inputs.execd, signal = "STDIN")', () => {
  test('each newline triggers one gather; EOF exits 0; no host tag; stderr lines carry level prefixes', async () => {
    const f = conf(`[[inputs.internal]]\n  collect_memstats = false\n[[inputs.internal]]\n  alias = "second"\n  namepass = ["internal_agent"]\n`);
    const child = spawn(process.execPath, [BIN, '--execd', '--config', f], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const agentLines = (): string[] => out.split('\n').filter((l) => l.startsWith('internal_agent,'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(agentLines().length, 0, 'nothing before the first newline');
    for (let i = 1; i <= 3; i++) {
      child.stdin.write('\n');
      // Wait for the gather (start-up may be slow on a loaded machine), then make sure no extra one follows.
      for (let waited = 0; agentLines().length < 2 * i && waited < 15_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(agentLines().length, 2 * i, `after newline ${i}: one gather of both inputs`);
    }
    child.stdin.end();
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, err);
    for (const l of out.trim().split('\n')) {
      assert.ok(!/host=/.test(l), 'no host tag in execd mode');
      assert.match(l, /^[a-z_]+(,[^ ]+)? [^ ]+ \d{19}$/);
    }
    for (const l of err.split('\n').filter(Boolean)) assert.match(l, /^[EWID]! /);
  });

  test('a config setting omit_hostname = false gets the host tag', () => {
    const f = conf(`[agent]\n  omit_hostname = false\n  hostname = "node-7"\n[[inputs.internal]]\n`);
    const r = run(['--execd', '--config', f], '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /host=node-7/);
  });

  test('triggers during a gather are coalesced; --poll-interval gathers on its own', async () => {
    const f = conf(`[[inputs.internal]]\n  collect_memstats = false\n`);
    const child = spawn(process.execPath, [BIN, '--execd', '--config', f, '--poll-interval', '200ms'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const count = (): number => out.split('\n').filter((l) => l.startsWith('internal_agent')).length;
    // Start-up time varies with machine load: measure from the first polled gather.
    for (let waited = 0; count() === 0 && waited < 15_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const first = count();
    await new Promise((r) => setTimeout(r, 1100));
    const polled = count() - first;
    assert.ok(polled >= 3, `poll interval produced ${polled} gathers in 1.1 s`);
    // A burst of 50 newlines while gathers run yields far fewer than 50 gathers.
    const before = count();
    child.stdin.write('\n'.repeat(50));
    await new Promise((r) => setTimeout(r, 150));
    child.stdin.end();
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    const after = count();
    assert.ok(after - before >= 1 && after - before < 50, `burst produced ${after - before} gathers`);
  });

  test('SIGTERM exits 0 after writing what it has', async () => {
    const f = conf(`[[inputs.internal]]\n`);
    const child = spawn(process.execPath, [BIN, '--execd', '--config', f], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.write('\n');
    for (let waited = 0; !/^internal_agent/m.test(out) && waited < 15_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    assert.match(out, /^internal_agent/m);
  });
});
