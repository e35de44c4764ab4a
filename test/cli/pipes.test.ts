/**
 * Stdout through real pipes (spawned processes, kernel pipe buffers of 64
 * KiB): every line a gather produced arrives, whole and in order, in each
 * mode; a slow reader slows the agent down without loss; a reader that goes
 * away ends `--test` and `--execd` at once and quietly, and is reported once
 * by outputs.file in the standalone agent.
 *
 * The gather comes from a synthetic connection table (no kernel needed):
 * `inputs.ip_vs_conn` reading a file in /proc/net/ip_vs_conn format where
 * every row is a different real server, so N rows give 2N + 1 lines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { AgentProcess, BIN, sleep, tempDir } from '../support/process';

const tmp = tempDir('lvsagent-pipes-');

function connTable(rows: number): string {
  const f = path.join(tmp, `ip_vs_conn.${rows}`);
  if (fs.existsSync(f)) return f;
  const hex = (v: number, w: number): string => v.toString(16).toUpperCase().padStart(w, '0');
  let text = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';
  for (let i = 0; i < rows; i++) text += `TCP 0A000001 ${hex(1024 + (i % 60000), 4)} 0A0A0001 0050 ${hex(0x0b000000 + i, 8)} 1F90 ESTABLISHED     800\n`;
  fs.writeFileSync(f, text);
  return f;
}

let configs = 0;
function config(rows: number, agent = '', rest = ''): string {
  const f = path.join(tmp, `c${configs++}.conf`);
  fs.writeFileSync(f, `[agent]\n  omit_hostname = true\n${agent}[[inputs.ip_vs_conn]]\n  path = "${connTable(rows)}"\n  conn_reuse_mode_path = ""\n${rest}`);
  return f;
}

/** Runs a shell pipeline; resolves with its stdout and exit status. */
function sh(cmd: string, timeoutMs = 120_000): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BIN, NODE: process.execPath } });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`timed out: ${cmd}\n${err}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ out, err, code });
    });
  });
}

/** Checks a stream of line protocol: `expected` lines, each whole, every real server once. */
function assertAllLines(text: string, expected: number, prefix = ''): void {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.equal(lines.length, expected);
  const servers = new Set<string>();
  for (const l of lines) {
    assert.ok(l.startsWith(prefix + 'ipvs_conn'), `whole line: ${l.slice(0, 80)}`);
    assert.match(l, / \d{19}$/, 'ends in a timestamp');
    const m = /^(?:> )?ipvs_conn,address=([\d.]+),/.exec(l);
    if (m) servers.add(m[1]);
  }
  assert.equal(servers.size, (expected - 1) / 2, 'each real server once');
}

describe('stdout delivers every line through a pipe', () => {
  const ROWS = 20_000;
  const LINES = 2 * ROWS + 1;

  test('--test | wc -l', async () => {
    const r = await sh(`"$NODE" "$BIN" --test --config ${config(ROWS)} | wc -l`);
    assert.equal(Number(r.out.trim()), LINES, r.err);
  });

  test('--test streams: its lines are whole "> " lines, in order', async () => {
    const r = await sh(`"$NODE" "$BIN" --test --config ${config(ROWS)} | cat`);
    assertAllLines(r.out, LINES, '> ');
  });

  test('(echo; sleep 0.5) | --execd | wc -l', async () => {
    const r = await sh(`(echo; sleep 0.5) | "$NODE" "$BIN" --execd --config ${config(ROWS)} | wc -l`);
    assert.equal(Number(r.out.trim()), LINES, r.err);
  });

  test('--execd with a slow reader (64 KiB every 50 ms): nothing lost, whole lines', async () => {
    const p = new AgentProcess(['--execd', '--config', config(ROWS)], { keepStdout: false });
    p.child.stdout!.removeAllListeners('data');
    let text = '';
    const reader = setInterval(() => {
      const chunk = p.child.stdout!.read(64 * 1024) as Buffer | null;
      if (chunk) text += chunk.toString('utf8');
    }, 50);
    p.child.stdin!.write('\n');
    await sleep(300);
    p.child.stdin!.end();
    // Read until the process has exited and the pipe is empty.
    await new Promise<void>((resolve) => p.child.stdout!.on('end', resolve).on('readable', () => undefined));
    clearInterval(reader);
    for (let c = p.child.stdout!.read() as Buffer | null; c; c = p.child.stdout!.read() as Buffer | null) text += c.toString('utf8');
    const e = await p.exit();
    assert.equal(e.code, 0, p.stderr);
    assertAllLines(text, LINES);
  });

  test('a 100,000-metric gather through --execd', { timeout: 180_000 }, async () => {
    const r = await sh(`(echo; sleep 0.5) | "$NODE" "$BIN" --execd --config ${config(50_000)} | wc -l`);
    assert.equal(Number(r.out.trim()), 100_001, r.err);
  });

  test('SIGTERM while the reader is slow: what was gathered is written before the exit', async () => {
    const p = new AgentProcess(['--execd', '--config', config(ROWS)], { keepStdout: false });
    p.child.stdout!.pause();
    p.child.stdin!.write('\n');
    await sleep(1500);
    p.signal('SIGTERM');
    let text = '';
    p.child.stdout!.on('data', (b: Buffer) => (text += b.toString('utf8')));
    p.child.stdout!.resume();
    const e = await p.exit();
    await new Promise((r) => setImmediate(r));
    assert.equal(e.code, 0, p.stderr);
    assertAllLines(text, LINES);
  });
});

describe('a reader that goes away', () => {
  test('--test | head -1 ends at once, quietly', async () => {
    const started = Date.now();
    const r = await sh(`bash -c 'set -o pipefail; "$NODE" "$BIN" --test --config ${config(50_000)} | head -1'`);
    assert.match(r.out, /^> ipvs_conn/);
    assert.equal(r.code, 0, 'lvsagent exited 0');
    assert.doesNotMatch(r.err, /Error|at .*\.js:\d+|EPIPE/, 'no stack trace, no error');
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  test('--execd whose reader is gone exits 0 without a word', async () => {
    const p = new AgentProcess(['--execd', '--config', config(20_000)], { keepStdout: false });
    p.child.stdout!.destroy();
    p.child.stdin!.write('\n');
    const e = await p.exit(20_000);
    assert.equal(e.code, 0);
    assert.equal(p.stderr, '');
  });

  test('standalone agent with outputs.file to stdout: reported once, keeps running, stops cleanly', async () => {
    const conf = config(2000, '  interval = "1s"\n  flush_interval = "1s"\n', '[[outputs.file]]\n  files = ["stdout"]\n');
    const p = new AgentProcess(['--config', conf], { keepStdout: false });
    await p.waitFor(/Loaded outputs/);
    p.child.stdout!.once('data', () => p.child.stdout!.destroy());
    await sleep(4000);
    assert.ok(p.alive(), p.stderr);
    p.signal('SIGTERM');
    const e = await p.exit();
    assert.equal(e.code, 0, p.stderr);
    assert.equal((p.stderr.match(/stdout: its reader went away/g) ?? []).length, 1, p.stderr);
    assert.doesNotMatch(p.stderr, /Unhandled|\n\s+at /);
  });
});
