import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Agent, firstTick, jitter, nextTick } from '../../core/agent';
import type { AgentSettings, InputSection, LoadedConfig, OutputSection } from '../../core/config/load';
import { configureLogging } from '../../core/log';
import { int, type Metric } from '../../core/metric';
import type { Accumulator, InputPlugin, OutputPlugin } from '../../core/plugin';
import { PluginRegistry } from '../../core/registry';

configureLogging({ quiet: true });

const MS = 1_000_000n;

function settings(over: Partial<AgentSettings> = {}): AgentSettings {
  return {
    intervalNs: 100n * MS,
    roundInterval: true,
    metricBatchSize: 1000,
    metricBufferLimit: 10000,
    collectionJitterNs: 0n,
    collectionOffsetNs: 0n,
    flushIntervalNs: 50n * MS,
    flushJitterNs: 0n,
    precisionNs: 0n,
    hostname: 'testhost',
    omitHostname: undefined,
    debug: false,
    quiet: true,
    logfile: '',
    ...over,
  };
}

function inputSection(name: string, over: Partial<InputSection> = {}): InputSection {
  return { name, section: `[[inputs.${name}]]`, file: 'x', startupErrorBehavior: 'error', filter: {}, options: {}, tags: {}, ...over };
}
function outputSection(name: string): OutputSection {
  return { name, section: `[[outputs.${name}]]`, file: 'x', startupErrorBehavior: 'error', filter: {}, options: {} };
}

interface Probe {
  starts: number[];
  ends: number[];
  active: number;
  maxActive: number;
}

function slowInput(name: string, probe: Probe, durationMs: number): InputPlugin {
  return {
    kind: 'input',
    name,
    description: '',
    schema: {},
    sampleConfig: '',
    create: () => ({
      async gather(acc: Accumulator) {
        probe.starts.push(Date.now());
        probe.active++;
        probe.maxActive = Math.max(probe.maxActive, probe.active);
        await new Promise((r) => setTimeout(r, durationMs));
        acc.addFields('m', { v: int(1) });
        probe.active--;
        probe.ends.push(Date.now());
      },
    }),
  };
}

function collectingOutput(sink: Metric[]): OutputPlugin {
  return {
    kind: 'output',
    name: 'collect',
    description: '',
    schema: {},
    sampleConfig: '',
    create: () => ({ write: async (b: Metric[]) => void sink.push(...b) }),
  };
}

function config(agent: AgentSettings, inputs: InputSection[], outputs: OutputSection[] = [outputSection('collect')]): LoadedConfig {
  return { files: [], agent, globalTags: {}, inputs, outputs, warnings: [] };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('scheduler', () => {
  test('the schedule: aligned first tick, offset, unaligned start, skipped ticks after a stall, jitter bounds', () => {
    const aligned = { intervalMs: 10_000, offsetMs: 0, aligned: true };
    assert.equal(firstTick(aligned, 1_700_000_003_000), 1_700_000_010_000);
    // at least interval/100 away: 9.95 s past a boundary waits for the one after
    assert.equal(firstTick(aligned, 1_700_000_009_950), 1_700_000_020_000);
    assert.equal(firstTick({ ...aligned, offsetMs: 2_000 }, 1_700_000_003_000), 1_700_000_012_000);
    assert.equal(firstTick({ ...aligned, aligned: false, offsetMs: 500 }, 1_700_000_003_000), 1_700_000_003_500);
    assert.equal(nextTick(aligned, 1_700_000_010_000, 1_700_000_010_004), 1_700_000_020_000);
    // a 35 s stall: the missed ticks are skipped, the next one is back on a boundary
    assert.equal(nextTick(aligned, 1_700_000_010_000, 1_700_000_045_001), 1_700_000_050_000);
    assert.equal(nextTick({ ...aligned, aligned: false }, 1_700_000_010_000, 1_700_000_045_001), 1_700_000_055_001);
    for (let i = 0; i < 1000; i++) {
      const j = jitter(100_000_000n);
      assert.ok(j >= 0 && j < 100, String(j));
    }
    assert.equal(jitter(0n), 0);
  });

  test('round_interval aligns gathers to interval boundaries (plus offset)', async () => {
    const probe: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('fast', probe, 1));
    const sink: Metric[] = [];
    reg.register(collectingOutput(sink));
    const agent = new Agent(config(settings({ intervalNs: 200n * MS, collectionOffsetNs: 30n * MS }), [inputSection('fast')]), reg);
    await agent.start();
    agent.run();
    await sleep(900);
    await agent.stop();
    assert.ok(probe.starts.length >= 3, `gathers: ${probe.starts.length}`);
    for (const t of probe.starts) {
      const phase = (t - 30) % 200;
      // Exact alignment is checked on the schedule itself below; live timers may fire late on a loaded machine.
      assert.ok(phase >= 0 && phase < 100, `gather at phase ${phase} ms of the 200 ms interval (offset 30 ms)`);
    }
    assert.ok(sink.length >= 3, 'final flush delivered the gathered metrics');
    assert.equal(sink[0].getTag('host'), 'testhost');
  });

  test('a step of the wall clock realigns gathers on the interval boundaries of the new time', async () => {
    const probe: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('fast', probe, 1));
    reg.register(collectingOutput([]));
    const realNow = Date.now;
    let stepMs = 0;
    Date.now = () => realNow() + stepMs;
    const agent = new Agent(config(settings({ intervalNs: 200n * MS }), [inputSection('fast')]), reg);
    try {
      await agent.start();
      agent.run();
      await sleep(500);
      // An hour forward, off the 200 ms grid by 130 ms (as `date -s` or NTP would leave it).
      stepMs = 3600_000 + 130;
      const before = probe.starts.length;
      await sleep(900);
      await agent.stop();
      const after = probe.starts.slice(before);
      assert.ok(after.length >= 3, `gathers after the step: ${after.length}`);
      for (const t of after) {
        const phase = t % 200;
        assert.ok(phase < 100, `gather at phase ${phase} ms of the 200 ms interval after the step (${after.map((x) => x % 200).join(', ')})`);
      }
    } finally {
      Date.now = realNow;
    }
  });

  test('a gather that outlasts its interval is not overlapped and is counted', async () => {
    const probe: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('slow', probe, 250));
    reg.register(collectingOutput([]));
    const agent = new Agent(config(settings({ intervalNs: 100n * MS, roundInterval: false }), [inputSection('slow')]), reg);
    await agent.start();
    agent.run();
    await sleep(700);
    await agent.stop();
    assert.equal(probe.maxActive, 1, 'never two gathers at once');
    assert.ok(agent.inputs[0].stats.gatherTimeouts.value >= 2, `timeouts ${agent.inputs[0].stats.gatherTimeouts.value}`);
  });

  test('round_interval = false gathers at once; jitter delays within [0, jitter)', async () => {
    const probe: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('j', probe, 1));
    reg.register(collectingOutput([]));
    const agent = new Agent(config(settings({ intervalNs: 1000n * MS, roundInterval: false, collectionJitterNs: 100n * MS }), [inputSection('j')]), reg);
    await agent.start();
    const t0 = Date.now();
    agent.run();
    await sleep(250);
    await agent.stop();
    assert.equal(probe.starts.length, 1);
    const delay = probe.starts[0] - t0;
    assert.ok(delay >= 0 && delay < 600, `first gather after ${delay} ms (immediate, not aligned to the 1 s interval)`);
  });

  test('each input runs on its own interval', async () => {
    const a: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const b: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('a', a, 1));
    reg.register(slowInput('b', b, 1));
    reg.register(collectingOutput([]));
    const agent = new Agent(
      config(settings({ roundInterval: false }), [inputSection('a', { intervalNs: 50n * MS }), inputSection('b', { intervalNs: 400n * MS })]),
      reg,
    );
    await agent.start();
    agent.run();
    await sleep(620);
    await agent.stop();
    assert.ok(a.starts.length >= 9, `a gathered ${a.starts.length}`);
    assert.equal(b.starts.length, 2);
  });

  test('flush interval delivers metrics while running; a full batch flushes early', async () => {
    const probe: Probe = { starts: [], ends: [], active: 0, maxActive: 0 };
    const reg = new PluginRegistry();
    reg.register(slowInput('f', probe, 1));
    const sink: Metric[] = [];
    reg.register(collectingOutput(sink));
    const agent = new Agent(
      config(settings({ intervalNs: 20n * MS, roundInterval: false, flushIntervalNs: 100_000n * MS, metricBatchSize: 3 }), [inputSection('f')]),
      reg,
    );
    await agent.start();
    agent.run();
    await sleep(150);
    const before = sink.length;
    await agent.stop({ flush: false });
    assert.ok(before >= 3 && before % 3 === 0, `early flushes wrote full batches only: ${before}`);
  });

  test('precision rounds timestamps; default precision follows the interval', async () => {
    const reg = new PluginRegistry();
    reg.register({
      kind: 'input',
      name: 't',
      description: '',
      schema: {},
      sampleConfig: '',
      create: () => ({ gather: (acc: Accumulator) => acc.addFields('m', { v: int(1) }, {}, 1_700_000_000_600_000_000n) }),
    });
    const sink: Metric[] = [];
    reg.register(collectingOutput(sink));
    const agent = new Agent(config(settings({ intervalNs: 10_000n * MS }), [inputSection('t'), inputSection('t', { precisionNs: 1n })]), reg);
    await agent.start();
    await agent.gatherAll();
    await agent.flushAll();
    assert.deepEqual(
      sink.map((m) => m.time),
      [1_700_000_001_000_000_000n, 1_700_000_000_600_000_000n],
    );
  });
});
