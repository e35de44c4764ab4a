import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureLogger } from '../../../test/support/capture-log';
import type { PluginContext } from '../../../core/plugin';
import { IpvsProbeInput } from './input';
import { buildProbeSpec, DEFAULT_OPTIONS, type IpvsProbeOptions } from './options';
import { runRound } from './round';
import { fieldValue, TestAccumulator } from '../../../test/support/accumulator';
import { ConnCounter, closedPort, startServer, type Behaviour, type TestServer } from '../../../test/support/inputs/ipvs_probe/servers';

function makeInput(opts: Partial<IpvsProbeOptions>, intervalMs: number, log = new CaptureLogger('inputs.ipvs_probe')): { input: IpvsProbeInput; log: CaptureLogger } {
  const options: IpvsProbeOptions = { ...DEFAULT_OPTIONS, ...opts };
  const ctx: PluginContext = { log, section: 'inputs.ipvs_probe', intervalNs: BigInt(intervalMs) * 1_000_000n, oneShot: false };
  return { input: new IpvsProbeInput(options, buildProbeSpec(options), ctx, {}), log };
}

describe('round scheduling', () => {
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  const many = async (n: number, b: Behaviour, counter: ConnCounter): Promise<TestServer[]> => {
    const out: TestServer[] = [];
    for (let i = 0; i < n; i++) out.push(await startServer(b, { counter }));
    servers.push(...out);
    return out;
  };

  test('runRound never exceeds the bound and stops at the deadline (virtual clock)', async () => {
    // Time advances 10 ms per finished probe; a probe may take 50 ms; deadline 200 ms.
    let completed = 0;
    let inFlight = 0;
    let peak = 0;
    const order = Array.from({ length: 30 }, (_, i) => 100 + i);
    const startedItems: number[] = [];
    const report = await runRound(
      order,
      (item, done) => {
        startedItems.push(item);
        inFlight++;
        peak = Math.max(peak, inFlight);
        setImmediate(() => {
          inFlight--;
          completed++;
          done();
        });
      },
      { maxConcurrency: 5, probeMs: 50, deadline: 200, now: () => completed * 10 },
    );
    // Starts are allowed while now + 50 <= 200, i.e. up to the 15th completion: 5 + 15 started.
    assert.equal(peak, 5);
    assert.equal(report.maxInFlight, 5);
    assert.equal(report.started, 20);
    assert.deepEqual(startedItems, order.slice(0, 20));
    assert.deepEqual(report.notStarted, Array.from({ length: 10 }, (_, i) => 20 + i));
    assert.equal(inFlight, 0, 'resolves only after every started probe finished');
  });

  test('batches run inside enter(); a failing enter() ends the round with its error', async () => {
    const batches: number[] = [];
    let inside = false;
    const report = await runRound(
      Array.from({ length: 20 }, (_, i) => i),
      (_item, done) => {
        assert.equal(inside, true, 'started inside enter()');
        setImmediate(done);
      },
      {
        maxConcurrency: 4,
        probeMs: 1,
        deadline: Infinity,
        enter: (batch) => {
          inside = true;
          const before = batches.length;
          batch();
          inside = false;
          batches.push(before);
        },
      },
    );
    assert.equal(report.started, 20);
    assert.ok(batches.length <= 10, `${batches.length} switches for 20 probes`);
    let calls = 0;
    await assert.rejects(
      runRound(
        [1, 2, 3, 4, 5],
        (_item, done) => setImmediate(done),
        {
          maxConcurrency: 2,
          probeMs: 1,
          deadline: Infinity,
          enter: (batch) => {
            if (++calls > 1) throw new Error('namespace gone');
            batch();
          },
        },
      ),
      /namespace gone/,
    );
  });

  test('a probe finishing synchronously inside start() does not break the bound', async () => {
    let inFlight = 0;
    let peak = 0;
    const report = await runRound(
      Array.from({ length: 50 }, (_, i) => i),
      (item, done) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        if (item % 2 === 0) {
          inFlight--;
          done();
        } else {
          setImmediate(() => {
            inFlight--;
            done();
          });
        }
      },
      { maxConcurrency: 3, probeMs: 1, deadline: Infinity },
    );
    assert.equal(report.started, 50);
    assert.equal(report.notStarted.length, 0);
    assert.ok(peak <= 3);
  });

  test('simultaneous connections seen by the servers stay within max_concurrency', async () => {
    const counter = new ConnCounter();
    const srv = await many(60, { kind: 'status', status: 200, delayMs: 30 }, counter);
    const { input } = makeInput({ probe: 'http', path: '/', max_concurrency: 8, timeout: '2s', targets: srv.map((s) => `127.0.0.1:${s.port}`) }, 10_000);
    const acc = new TestAccumulator();
    await input.gather(acc);
    assert.deepEqual(acc.errors, []);
    const probes = acc.find('ipvs_probe');
    assert.equal(probes.length, 60);
    assert.ok(probes.every((m) => m.getTag('result') === 'success' && fieldValue(m, 'up') === 1));
    assert.equal(counter.accepted, 60, 'each target probed exactly once');
    assert.ok(counter.maxOpen <= 8, `server saw ${counter.maxOpen} connections at once`);
    assert.ok(counter.maxOpen >= 4, `bound not used (max ${counter.maxOpen})`);
    const round = acc.find('ipvs_probe_round')[0];
    assert.equal(fieldValue(round, 'probes_started'), 60);
    assert.equal(fieldValue(round, 'probes_not_started'), 0);
    assert.equal(fieldValue(round, 'max_in_flight'), 8);
  });

  test('probes that cannot finish before the deadline are counted, warned about and go first next round', async () => {
    const counter = new ConnCounter();
    const srv = await many(20, { kind: 'silent' }, counter);
    const { input, log } = makeInput({ probe: 'http', max_concurrency: 4, timeout: '200ms', targets: srv.map((s) => `127.0.0.1:${s.port}`) }, 500);
    const acc = new TestAccumulator();
    const t0 = performance.now();
    await input.gather(acc);
    const elapsed = performance.now() - t0;
    // Without the deadline rule the 5 waves of 200 ms would take 1,000 ms.
    assert.ok(elapsed < 900, `round took ${elapsed} ms for a 500 ms interval`);
    const round = acc.find('ipvs_probe_round')[0];
    const started = fieldValue(round, 'probes_started') as number;
    const notStarted = fieldValue(round, 'probes_not_started') as number;
    assert.equal(started + notStarted, 20);
    assert.ok(notStarted >= 8, `not started ${notStarted}`);
    const probes = acc.find('ipvs_probe');
    assert.equal(probes.length, started, 'one metric per probed pair, none for the not-started');
    assert.ok(probes.every((m) => m.getTag('result') === 'timeout' && fieldValue(m, 'result_code') === 4));
    assert.match(log.text(), new RegExp(`W! ${notStarted} of 20 real servers not probed this round`));
    const probedFirst = new Set(probes.map((m) => m.getTag('port')));

    const acc2 = new TestAccumulator();
    await input.gather(acc2);
    const second = acc2.find('ipvs_probe').map((m) => m.getTag('port'));
    const skippedBefore = srv.map((s) => String(s.port)).filter((p) => !probedFirst.has(p));
    // The first round's leftovers are started first (as many as fit).
    const firstWaves = skippedBefore.slice(0, second.length);
    for (const p of firstWaves) assert.ok(second.includes(p), `port ${p} skipped twice`);
  });

  test('consecutive_failures counts per target and resets on success', async () => {
    const port = await closedPort();
    const { input } = makeInput({ probe: 'tcp', timeout: '1s', targets: [`127.0.0.1:${port}`] }, 5000);
    const values: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const acc = new TestAccumulator();
      await input.gather(acc);
      const m = acc.find('ipvs_probe')[0];
      assert.equal(m.getTag('result'), 'connection_refused');
      assert.equal(fieldValue(m, 'up'), 0);
      values.push(fieldValue(m, 'consecutive_failures'));
    }
    assert.deepEqual(values, [1, 2, 3]);
    const s = await startServer({ kind: 'silent' }, { port });
    servers.push(s);
    const acc = new TestAccumulator();
    await input.gather(acc);
    const m = acc.find('ipvs_probe')[0];
    assert.equal(m.getTag('result'), 'success');
    assert.equal(fieldValue(m, 'consecutive_failures'), 0);
    assert.deepEqual(m.tags(), { address: '127.0.0.1', address_family: 'inet', port: String(port), result: 'success' });
    assert.equal(m.getField('http_response_code'), undefined, 'tcp probes have no HTTP status');
  });

  test('unresolvable static host names report dns_error', async () => {
    const { input } = makeInput({ probe: 'tcp', timeout: '1s', targets: ['no-such-host.invalid:80'] }, 5000);
    const acc = new TestAccumulator();
    await input.gather(acc);
    const m = acc.find('ipvs_probe')[0];
    assert.equal(m.getTag('result'), 'dns_error');
    assert.equal(fieldValue(m, 'result_code'), 5);
    assert.equal(m.getTag('address'), 'no-such-host.invalid');
  });
});
