/**
 * Signals and shutdown of the built binary, as systemd, an operator and
 * Telegraf's execd (`signal = "SIGHUP" | "SIGUSR1" | "SIGUSR2"`) send them:
 * SIGUSR1 never opens Node's inspector in any mode, execd gathers on each
 * signal, start-up survives SIGHUP and stops cleanly on SIGTERM, and a stop
 * after a long output outage takes about one output timeout.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { AgentProcess, blackHole, listeningPorts, sleep, tempDir, waitUntilCatching } from '../support/process';

const tmp = tempDir('lvsagent-signals-');
let n = 0;
function conf(text: string): string {
  const f = path.join(tmp, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}

/**
 * The process under test. An inspector opened by mistake would listen on an
 * ephemeral port (not 9229, which another process may hold), so the check
 * below cannot pass just because 9229 was taken.
 */
function agent(args: string[]): AgentProcess {
  const p = new AgentProcess(args, { env: { NODE_OPTIONS: '--inspect-port=0' } });
  started.push(p);
  return p;
}
const started: AgentProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.alive()) p.signal('SIGKILL');
});

/** Sends SIGUSR1 at the earliest moment it cannot kill Node, then checks nothing listens and the process lives. */
async function usr1AtStartup(p: AgentProcess): Promise<void> {
  await waitUntilCatching(p.pid);
  p.signal('SIGUSR1');
  // The inspector, if a signal opened it, listens within milliseconds; give it ample time.
  await sleep(1500);
  assert.ok(p.alive(), `process died on SIGUSR1: ${p.stderr}`);
  assert.deepEqual(listeningPorts(p.pid), [], 'nothing listens (Node inspector on 9229 would)');
  p.signal('SIGUSR1');
  await sleep(500);
  assert.ok(p.alive());
  assert.deepEqual(listeningPorts(p.pid), []);
}

describe('SIGUSR1 never opens the inspector', () => {
  test('standalone agent, from start-up on', async () => {
    const out = path.join(tmp, 'agent.out');
    const p = agent(['--config', conf(`[agent]\n  interval = "1s"\n  flush_interval = "1s"\n[[inputs.internal]]\n[[outputs.file]]\n  files = ["${out}"]\n`)]);
    await usr1AtStartup(p);
    await p.waitFor(/Loaded outputs/);
    p.signal('SIGTERM');
    assert.equal((await p.exit()).code, 0);
  });

  test('--execd', async () => {
    const p = agent(['--execd', '--config', conf('[[inputs.internal]]\n')]);
    await usr1AtStartup(p);
    p.child.stdin!.end();
    assert.equal((await p.exit()).code, 0, p.stderr);
  });

  test('--test (while it waits for service inputs)', async () => {
    const p = agent(['--test', '--test-wait', '3', '--config', conf('[[inputs.internal]]\n')]);
    await usr1AtStartup(p);
    const e = await p.exit();
    assert.equal(e.code, 0, p.stderr);
    assert.match(p.stdout, /^> internal_/m);
  });

  test('--once (while its output hangs)', async () => {
    const hole = await blackHole();
    try {
      const p = agent(['--once', '--config', conf(`[[inputs.internal]]\n[[outputs.influxdb]]\n  urls = ["http://127.0.0.1:${hole.port}"]\n  skip_database_creation = true\n  timeout = "4s"\n`)]);
      await usr1AtStartup(p);
      const e = await p.exit();
      assert.equal(e.code, 1, 'the hung output could not take the metrics');
      assert.deepEqual(e.signal, null);
    } finally {
      await hole.close();
    }
  });
});

describe('execd mode follows Telegraf\'s signal choices', () => {
  test('SIGHUP, SIGUSR1 and SIGUSR2 each trigger one gather, like a newline', async () => {
    const p = agent(['--execd', '--config', conf('[[inputs.internal]]\n  collect_memstats = false\n')]);
    // SIGHUP's default action ends a process: lvsagent catches it from the moment its code starts.
    await waitUntilCatching(p.pid, 1);
    const gathers = (): number => (p.stdout.match(/^internal_agent[ ,]/gm) ?? []).length;
    let expected = 0;
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) {
      p.signal(sig);
      expected++;
      await p.waitFor(new RegExp(`(^internal_agent[ ,][^\\n]*\\n[\\s\\S]*){${expected}}`, 'm'), 15_000, 'stdout');
      assert.ok(p.alive(), `${sig} must not end the process`);
    }
    p.child.stdin!.write('\n');
    await p.waitFor(/(^internal_agent[ ,][^\n]*\n[\s\S]*){4}/m, 15_000, 'stdout');
    p.child.stdin!.end();
    assert.equal((await p.exit()).code, 0, p.stderr);
    assert.equal(gathers(), 4, 'one gather per signal and per newline');
  });
});

describe('signals during start-up', () => {
  test('SIGHUP does not kill a slow start; SIGTERM logs and exits 0 at once', async () => {
    const hole = await blackHole();
    try {
      // CREATE DATABASE against a server that never answers: start-up waits for its timeout (20 s).
      const p = agent(['--config', conf(`[[inputs.internal]]\n[[outputs.influxdb]]\n  urls = ["http://127.0.0.1:${hole.port}"]\n  timeout = "20s"\n`)]);
      await p.waitFor(/Loaded outputs/);
      await sleep(300);
      p.signal('SIGHUP');
      await sleep(700);
      assert.ok(p.alive(), 'SIGHUP during start-up must not end the process');
      const sent = Date.now();
      p.signal('SIGTERM');
      const e = await p.exit(10_000);
      assert.equal(e.code, 0, p.stderr);
      assert.ok(e.at - sent < 3000, `exited ${e.at - sent} ms after SIGTERM`);
      assert.match(p.stderr, /Received SIGTERM during start-up, exiting/);
    } finally {
      await hole.close();
    }
  });
});

describe('shutdown time does not grow with an outage', () => {
  test('SIGTERM after a 40 s black-hole outage returns within one output timeout plus a second, exit 0', { timeout: 120_000 }, async () => {
    const hole = await blackHole();
    try {
      const p = agent([
        '--config',
        conf(
          `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n  metric_batch_size = 5\n[[inputs.internal]]\n[[outputs.influxdb]]\n  urls = ["http://127.0.0.1:${hole.port}"]\n  skip_database_creation = true\n  timeout = "2s"\n`,
        ),
      ]);
      await p.waitFor(/Loaded outputs/);
      await sleep(40_000);
      assert.ok(p.alive());
      const sent = Date.now();
      p.signal('SIGTERM');
      const e = await p.exit(60_000);
      const took = e.at - sent;
      assert.equal(e.code, 0, 'an orderly stop is a success even though the final write failed');
      assert.ok(took < 2000 + 1000 + 1500, `stop took ${took} ms (timeout 2 s)`);
      assert.match(p.stderr, /final flush (failed|did not finish)[^\n]*\d+ metrics not sent/);
    } finally {
      await hole.close();
    }
  });
});
