/**
 * The CLI operators script against, as Telegraf's (cmd/telegraf/main.go,
 * cmd_config.go; issue 13 items 12 and 13), with the built binary:
 * `config check` (every problem listed, exit 1), `config create`,
 * `--pidfile`, `--watch-config notify|poll`, `--usage`, `--input-list`,
 * `--output-list`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { AgentProcess, BIN, sleep, tempDir } from '../support/process';

const tmp = tempDir('lvsagent-tgcli-');
let n = 0;
function conf(text: string): string {
  const f = path.join(tmp, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}
function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
async function until(cond: () => boolean, what: string, p?: AgentProcess, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not seen within ${timeoutMs} ms${p ? `; stderr:\n${p.stderr}` : ''}`);
    await sleep(25);
  }
}
const lines = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

describe('lvsagent config check|create (Telegraf cmd/telegraf/cmd_config.go)', () => {
  test('check lists every problem, one E! line each, and exits 1', () => {
    const bad = conf(`[agent]
  interval = "often"
  bogus = 1
[[inputs.internal]]
  collect_memstats = "yes"
  nope = 2
[[inputs.ipvs]]
  virtual_servers = ["tcp:1.2.3.4:http"]
[[outputs.prometheus_client]]
  tls_min_version = "TLS9"
`);
    const r = run(['config', 'check', '--config', bad]);
    assert.equal(r.code, 1, r.stderr);
    for (const want of [
      /:2: \[agent\]: option "interval": invalid duration "often"/,
      /:3: \[agent\]: unknown option "bogus"/,
      /:5: \[\[inputs\.internal\]\]: option "collect_memstats": expected boolean/,
      /:6: \[\[inputs\.internal\]\]: unknown option "nope"/,
      /:8: \[\[inputs\.ipvs\]\]: option "virtual_servers\.0": bad virtual server pattern/,
      /:10: \[\[outputs\.prometheus_client\]\]: option "tls_min_version"/,
    ])
      assert.match(r.stderr, new RegExp(`^E! .*${want.source}`, 'm'));
    assert.match(r.stderr, /^E! config check: 8 problems$/m, 'the six above, and no valid input or output is left');
    assert.equal(r.stdout, '');
  });

  test('check of a good configuration exits 0; warnings for ignored Telegraf keys are shown', () => {
    const good = conf('[agent]\n  logformat = "text"\n[[inputs.internal]]\n[[outputs.file]]\n  files = ["stdout"]\n');
    const r = run(['config', 'check', '--config', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^W! .*option "logformat" is accepted for Telegraf compatibility/m);
    assert.match(r.stderr, /OK \(1 inputs, 1 outputs\)/);
  });

  test('config create is today’s config', () => {
    const create = run(['config', 'create']);
    assert.equal(create.code, 0);
    assert.equal(create.stdout, run(['config']).stdout);
    assert.match(create.stdout, /\[\[inputs\.ipvs\]\]/);
  });
});

describe('--usage, --input-list, --output-list (Telegraf cmd/telegraf/main.go 186-219)', () => {
  test('--usage prints one plugin’s sample section; an unknown name exits 1', () => {
    const r = run(['--usage', 'prometheus_client']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^# .*\n\[\[outputs\.prometheus_client\]\]\n/);
    assert.doesNotMatch(r.stdout, /\[\[inputs\./);
    const bad = run(['--usage', 'nosuch']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /input or output plugin "nosuch" not found/);
  });

  test('--input-list and --output-list name the plugins, sorted', () => {
    assert.equal(run(['--input-list']).stdout, 'Available Input Plugins:\n  conntrack\n  internal\n  ip_vs_conn\n  ipvs\n  ipvs_probe\n');
    assert.equal(run(['--output-list']).stdout, 'Available Output Plugins:\n  file\n  http\n  influxdb\n  influxdb_v2\n  prometheus_client\n');
  });
});

function fileAgent(out: string, prefix: string): string {
  return `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n  omit_hostname = true\n[[inputs.internal]]\n  collect_memstats = false\n[[outputs.file]]\n  files = ["${out}"]\n  name_prefix = "${prefix}"\n`;
}

describe('--pidfile (Telegraf cmd/telegraf/telegraf.go 551-568)', () => {
  test('written once started (pid and a newline), removed on exit', async () => {
    const pidfile = path.join(tmp, 'agent.pid');
    const p = new AgentProcess(['--config', conf(fileAgent(path.join(tmp, 'pid.lp'), 'p_')), '--pidfile', pidfile]);
    try {
      await until(() => fs.existsSync(pidfile), 'the pidfile', p);
      assert.equal(fs.readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
      assert.equal(fs.statSync(pidfile).mode & 0o777, 0o640);
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0);
      assert.equal(fs.existsSync(pidfile), false);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
  });
});

for (const mode of ['notify', 'poll'] as const) {
  describe(`--watch-config ${mode} (Telegraf cmd/telegraf/telegraf.go 154-176)`, () => {
    test('a changed file reloads the agent; a broken one keeps the running configuration, as SIGHUP', async () => {
      const a = path.join(tmp, `${mode}-a.lp`);
      const b = path.join(tmp, `${mode}-b.lp`);
      const file = conf(fileAgent(a, 'a_'));
      const p = new AgentProcess(['--config', file, '--watch-config', mode]);
      try {
        await p.waitFor(new RegExp(`Config watcher started \\(${mode}\\)`));
        await until(() => lines(a).length > 0, 'metrics in the first file', p);
        // An editor's save: write a new file and rename it over the old one.
        fs.writeFileSync(file + '.tmp', fileAgent(b, 'b_'));
        fs.renameSync(file + '.tmp', file);
        await p.waitFor(/Reloading config \(.* changed\)/);
        await until(() => lines(b).some((l) => l.startsWith('b_internal')), 'metrics from the reloaded config', p);
        // A broken config is refused at the reload; the agent keeps writing with the old one.
        fs.writeFileSync(file, fileAgent(b, 'b_') + '  bogus = 1\n');
        await p.waitFor(/Reload failed, keeping the running configuration: .*unknown option "bogus"/);
        const before = lines(b).length;
        await until(() => lines(b).length > before, 'more metrics after the refused reload', p);
        assert.ok(p.alive());
      } finally {
        p.signal('SIGTERM');
        await p.exit();
      }
    });
  });
}
