/**
 * The agent's side of disk buffers at a reload: a backlog follows its
 * section when buffer_strategy or buffer_directory changes (memory → disk →
 * memory, one directory → another), in order and without loss; outputs that
 * declare themselves memory-only get no directory.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Agent } from '../../core/agent';
import type { AgentSettings, BufferSettings, LoadedConfig, OutputSection } from '../../core/config/load';
import { configureLogging } from '../../core/log';
import { int, Metric } from '../../core/metric';
import { DiskBuffer } from '../../core/models/disk/disk_buffer';
import type { OutputPlugin } from '../../core/plugin';
import { PluginRegistry } from '../../core/registry';
import { tempDir } from '../support/process';

configureLogging({ quiet: true });
const tmp = tempDir('lvsagent-agentdisk-');

function settings(buffer?: BufferSettings): AgentSettings {
  return {
    intervalNs: 1_000_000_000n,
    roundInterval: true,
    metricBatchSize: 4,
    metricBufferLimit: 1000,
    collectionJitterNs: 0n,
    collectionOffsetNs: 0n,
    flushIntervalNs: 3_600_000_000_000n,
    flushJitterNs: 0n,
    precisionNs: 0n,
    hostname: 'h',
    omitHostname: true,
    debug: false,
    quiet: true,
    logfile: '',
    buffer,
  };
}

const disk = (directory: string): BufferSettings => ({ strategy: 'disk', directory, sync: false, origin: 'test.conf:1: [agent]' });
const section = (name: string): OutputSection => ({ name, section: `[[outputs.${name}]]`, file: 'test.conf', startupErrorBehavior: 'error', filter: {}, options: {}, written: {} });
const config = (agent: AgentSettings, outputs: OutputSection[]): LoadedConfig => ({ files: [], agent, globalTags: {}, inputs: [], outputs, warnings: [] });

function registry(sink: Metric[], state: { up: boolean }): PluginRegistry {
  const reg = new PluginRegistry();
  const out: OutputPlugin = {
    kind: 'output',
    name: 'collect',
    description: '',
    schema: {},
    sampleConfig: '',
    create: () => ({
      write: async (b: Metric[]) => {
        if (!state.up) throw new Error('down');
        sink.push(...b);
      },
    }),
  };
  const pull: OutputPlugin = { ...out, name: 'pull', memoryBufferOnly: 'a pull endpoint' };
  reg.register(out);
  reg.register(pull);
  return reg;
}

const metric = (i: number): Metric => Metric.from('m', { id: String(i) }, { v: int(i) }, BigInt(i));
const ids = (ms: Metric[]): number[] => ms.map((m) => Number(m.time));

describe('disk buffers at a reload', () => {
  test('memory -> disk -> memory -> other directory: the backlog follows its section, in order, nothing lost', async () => {
    const sink: Metric[] = [];
    const state = { up: false };
    const reg = registry(sink, state);
    const dirA = path.join(tmp, 'a');
    const dirB = path.join(tmp, 'b');

    let agent = new Agent(config(settings(), [section('collect')]), reg);
    await agent.start();
    for (let i = 0; i < 10; i++) agent.route(metric(i));
    await agent.stop({ flush: false });
    let left = agent.takeBuffered();

    agent = new Agent(config(settings(disk(dirA)), [section('collect')]), reg);
    assert.equal(agent.adoptBuffered(left), 0);
    await agent.start();
    assert.ok(agent.outputs[0].buffer instanceof DiskBuffer);
    for (let i = 10; i < 15; i++) agent.route(metric(i));
    await agent.stop({ flush: false });
    left = agent.takeBuffered();
    assert.equal(left[0].metrics.length, 0, 'a disk backlog stays in its directory');

    agent = new Agent(config(settings(disk(dirB)), [section('collect')]), reg);
    assert.equal(agent.adoptBuffered(left), 0);
    assert.equal(agent.outputs[0].buffer.length, 15, 'moved into the new directory');
    assert.deepEqual(fs.readdirSync(dirA), [], 'the old directory is removed');
    for (let i = 15; i < 18; i++) agent.route(metric(i));
    await agent.stop({ flush: false });
    left = agent.takeBuffered();

    agent = new Agent(config(settings(), [section('collect')]), reg);
    assert.equal(agent.adoptBuffered(left), 0);
    assert.equal(agent.outputs[0].buffer.length, 18);
    assert.deepEqual(fs.readdirSync(dirB), []);
    await agent.start();
    state.up = true;
    assert.equal(await agent.flushAll(), true);
    assert.deepEqual(ids(sink), Array.from({ length: 18 }, (_, i) => i));
    await agent.stop();
  });

  test('an output that declares itself memory-only buffers in memory and gets no directory', async () => {
    const dir = path.join(tmp, 'exempt');
    const agent = new Agent(config(settings(disk(dir)), [section('pull'), section('collect')]), registry([], { up: true }));
    assert.ok(!(agent.outputs[0].buffer instanceof DiskBuffer));
    assert.ok(agent.outputs[1].buffer instanceof DiskBuffer);
    assert.deepEqual(fs.readdirSync(dir).map((d) => d.replace(/-[0-9a-f]{16}$/, '')), ['collect']);
    await agent.stop({ flush: false });
  });
});
