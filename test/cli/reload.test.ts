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

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('a reload is all or nothing', () => {
  test('a valid config whose new output cannot start (port in use) leaves the running agent and its buffer as they were', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const out = path.join(tmp, 'kept.lp');
    const conf = path.join(tmp, 'kept.conf');
    const base = `[agent]\n  interval = "1s"\n  flush_interval = "1h"\n  omit_hostname = true\n[[inputs.internal]]\n  collect_memstats = false\n[[outputs.file]]\n  files = ["${out}"]\n`;
    fs.writeFileSync(conf, base);
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Loaded outputs/);
      await sleep(2500);
      fs.writeFileSync(conf, `${base}[[outputs.prometheus_client]]\n  listen = "127.0.0.1:${port}"\n`);
      p.signal('SIGHUP');
      await p.waitFor(/Reload failed, keeping the running configuration: .*(EADDRINUSE|address already in use)/);
      await sleep(2000);
      assert.ok(p.alive(), `the agent died on a failed reload:\n${p.stderr}`);
      assert.deepEqual(lines(out), [], 'nothing flushed: the hourly buffer was not touched');
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0, p.stderr);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
      busy.close();
    }
    // Every gather before and after the failed reload reached the file at the stop, once.
    const stamps = lines(out)
      .filter((l) => /^internal_agent[, ]/.test(l))
      .map((l) => Number(l.split(' ').pop()!) / 1e9);
    assert.ok(stamps.length >= 4, `gathers kept: ${stamps.length}\n${p.stderr}`);
    assert.equal(new Set(stamps).size, stamps.length, 'no gather twice');
    for (let i = 1; i < stamps.length; i++) assert.equal(stamps[i] - stamps[i - 1], 1, `a gap in ${stamps.join(',')}`);
  });

  test('prometheus_client keeping its listen address serves on after a reload', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const conf = path.join(tmp, 'prom-reload.conf');
    const write = (prefix: string): void =>
      fs.writeFileSync(conf, `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n[[inputs.internal]]\n  name_prefix = "${prefix}"\n[[outputs.prometheus_client]]\n  listen = "127.0.0.1:${port}"\n`);
    write('first_');
    const p = new AgentProcess(['--config', conf]);
    try {
      await p.waitFor(/Listening on/);
      write('second_');
      p.signal('SIGHUP');
      await p.waitFor(/Reloaded config/);
      let page = '';
      for (let i = 0; i < 50 && !/^second_internal_agent/m.test(page); i++) {
        await sleep(200);
        page = (await get(`http://127.0.0.1:${port}/metrics`)).body;
      }
      assert.match(page, /^second_internal_agent_metrics_gathered/m);
      assert.ok(p.alive());
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0, p.stderr);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
  });
});

describe('internal_* series of removed plugins', () => {
  test('an input and an output removed by a reload are no longer reported by inputs.internal', async () => {
    const table = path.join(tmp, 'conn');
    fs.writeFileSync(table, 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n');
    const out = path.join(tmp, 'internal.lp');
    const extra = path.join(tmp, 'extra.lp');
    const conf = path.join(tmp, 'retire.conf');
    const base = `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n  omit_hostname = true\n[[inputs.internal]]\n  collect_memstats = false\n[[outputs.file]]\n  files = ["${out}"]\n  namepass = ["internal_*"]\n`;
    const removed = `[[inputs.ip_vs_conn]]\n  path = "${table}"\n  conn_reuse_mode_path = ""\n[[outputs.file]]\n  alias = "extra"\n  files = ["${extra}"]\n`;
    fs.writeFileSync(conf, base + removed);
    const p = new AgentProcess(['--config', conf]);
    let reloadedAt = 0;
    try {
      await p.waitFor(/Loaded outputs/);
      await sleep(2500);
      fs.writeFileSync(conf, base);
      p.signal('SIGHUP');
      await p.waitFor(/Reloaded config/);
      reloadedAt = Date.now() / 1000;
      await sleep(3500);
      p.signal('SIGTERM');
      assert.equal((await p.exit()).code, 0, p.stderr);
    } finally {
      if (p.alive()) p.signal('SIGKILL');
    }
    const rows = lines(out).map((l) => ({ l, t: Number(l.split(' ').pop()!) / 1e9 }));
    const before = rows.filter((r) => r.t < reloadedAt - 0.5).map((r) => r.l);
    const after = rows.filter((r) => r.t > reloadedAt + 1.5).map((r) => r.l);
    assert.ok(before.some((l) => /^internal_gather,.*input=ip_vs_conn/.test(l)), 'reported while configured');
    assert.ok(before.some((l) => /^internal_write,.*alias=extra/.test(l)), 'reported while configured');
    assert.ok(after.some((l) => /^internal_gather,.*input=internal/.test(l)), `gathers go on after the reload:\n${p.stderr}`);
    assert.deepEqual(after.filter((l) => /input=ip_vs_conn|alias=extra/.test(l)), [], 'removed plugins are not reported after the reload');
  });
});
