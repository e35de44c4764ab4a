/**
 * SIGHUP reloads and output (re)connection, with the built binary:
 * buffers move to the output they belong to; an output whose start failed
 * with startup_error_behavior = "retry" connects later on the flush schedule.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { AgentProcess, sleep, tempDir } from '../support/process';

const tmp = tempDir('lvsagent-reload-');

function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function twoFileOutputs(a: string, b: string): string {
  // Metrics stay buffered (hourly flushes) until the final flush at the stop.
  return `[agent]\n  interval = "1s"\n  flush_interval = "1h"\n  omit_hostname = true\n[[inputs.internal]]\n  collect_memstats = false\n[[outputs.file]]\n  files = ["${a}"]\n  name_prefix = "a_"\n[[outputs.file]]\n  files = ["${b}"]\n  name_prefix = "b_"\n`;
}

describe('buffers move to the right output on reload', () => {
  test('two [[outputs.file]] without alias keep their own buffers across SIGHUP, also when one changes its options', async () => {
    const a = path.join(tmp, 'a.lp');
    const b = path.join(tmp, 'b.lp');
    const b2 = path.join(tmp, 'b2.lp');
    const conf = path.join(tmp, 'two.conf');
    fs.writeFileSync(conf, twoFileOutputs(a, b));
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Loaded outputs/);
      await sleep(2500);
      p.signal('SIGHUP'); // same config: each buffer back to its own output
      await p.waitFor(/Reloading config[\s\S]*Reloading|Reloading config/);
      await sleep(1500);
      fs.writeFileSync(conf, twoFileOutputs(a, b2)); // B's file changes: B's buffer follows it
      p.signal('SIGHUP');
      await sleep(1500);
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0, p.stderr);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
    const inA = lines(a);
    const inB = [...lines(b), ...lines(b2)];
    assert.ok(inA.length > 0 && inB.length > 0);
    assert.deepEqual(inA.filter((l) => !l.startsWith('a_')), [], 'only A\'s metrics in A');
    assert.deepEqual(inB.filter((l) => !l.startsWith('b_')), [], 'only B\'s metrics in B');
    assert.deepEqual(lines(b), [], 'B wrote nothing before the stop: its buffer went to its successor');
    // Both outputs got every gather, once.
    const gathers = (ls: string[]): string[] => ls.filter((l) => /^[ab]_internal_agent /.test(l)).map((l) => l.split(' ').pop()!);
    assert.deepEqual(gathers(inA), gathers(inB));
    assert.equal(new Set(gathers(inA)).size, gathers(inA).length, 'no gather twice');
    assert.doesNotMatch(p.stderr, /belonged to outputs no longer configured/);
  });
});

describe('startup_error_behavior = "retry" for outputs', () => {
  test('prometheus_client whose port is busy at start serves once the port is free', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const conf = path.join(tmp, 'prom.conf');
    fs.writeFileSync(
      conf,
      `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n[[inputs.internal]]\n[[outputs.prometheus_client]]\n  listen = "127.0.0.1:${port}"\n  startup_error_behavior = "retry"\n`,
    );
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/EADDRINUSE|address already in use/i);
      await sleep(2500);
      assert.ok(p.alive());
      await new Promise<void>((r) => busy.close(() => r()));
      await p.waitFor(/Connected \(startup_error_behavior = "retry"\)/, 10_000);
      const page = await new Promise<string>((resolve, reject) => {
        http.get(`http://127.0.0.1:${port}/metrics`, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.match(page, /^internal_agent_metrics_gathered/m);
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
      busy.close();
    }
  });
});
