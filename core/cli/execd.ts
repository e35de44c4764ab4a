/**
 * Telegraf execd input mode (`lvsagent --execd`). A gather of all inputs is
 * triggered by each newline on stdin (Telegraf's `signal = "STDIN"`), by
 * SIGHUP, SIGUSR1 or SIGUSR2 (its other `signal` choices), and by an optional
 * poll interval (`signal = "none"`). Line protocol goes to stdout.
 *
 * Stdout is read by Telegraf at its own pace: metrics are serialized a batch
 * at a time and written as stdout takes them; inputs that emit many metrics
 * wait (Accumulator.whenReady) while a few batches are queued, so a slow
 * reader slows lvsagent down and memory stays bounded. A trigger
 * that arrives while a gather is still being gathered or written is coalesced
 * into one more gather afterwards; triggers beyond that one are skipped and
 * counted in `internal_agent` `gather_timeouts` (Telegraf counts a gather that
 * overruns its interval there too).
 *
 * stdin EOF, SIGTERM or SIGINT: the running gather finishes, everything
 * gathered is written, then the process exits 0. When stdout's reader is gone
 * (the parent Telegraf died) it exits at once, quietly.
 */
import { Agent } from '../agent';
import type { LoadedConfig } from '../config/load';
import { agentLog } from '../log';
import type { PluginRegistry } from '../registry';
import { selfStats } from '../selfstat';
import { MetricLineStream, stdout } from '../stdout';
import { setLongInterval, type TimerHandle } from '../timers';
import { onSignal } from './signals';

export async function runExecd(cfg: LoadedConfig, registry: PluginRegistry, pollIntervalNs?: bigint): Promise<number> {
  // Telegraf adds its own host tag: ours only when the config explicitly asks for it.
  const agent = new Agent(cfg, registry, {
    manualGather: true,
    hostTag: cfg.agent.omitHostname === false,
    defaultPrecisionNs: 1n,
  });
  const sink = stdout();
  sink.onClose(() => process.exit(0));
  const out = new MetricLineStream(sink);
  agent.sink = (m) => out.push(m);
  agent.sinkReady = () => out.ready();
  await agent.start();

  const skippedTriggers = selfStats.register('internal_agent', 'gather_timeouts');
  let running: Promise<void> | undefined;
  let again = false;
  let closing = false;
  let skippedInRow = 0;
  const trigger = (): void => {
    if (closing) return;
    if (running) {
      if (again) {
        skippedTriggers.incr();
        if (skippedInRow++ === 0) agentLog.warn('Gather requests arrive faster than stdout is read; skipping the extra ones (counted in internal_agent gather_timeouts)');
      }
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await agent.gatherAll();
        await out.flush();
      } while (again && !closing);
      if (skippedInRow > 0) agentLog.info(`${skippedInRow} gather requests were skipped while stdout was behind`);
      skippedInRow = 0;
      running = undefined;
    })();
  };

  let poll: TimerHandle | undefined;
  if (pollIntervalNs !== undefined && pollIntervalNs > 0n) poll = setLongInterval(trigger, Number(pollIntervalNs) / 1e6);

  return await new Promise<number>((resolve) => {
    const finish = async (why: string): Promise<void> => {
      if (closing) return;
      closing = true;
      agentLog.debug(`${why}: stopping`);
      poll?.clear();
      if (running) await running;
      await agent.stop({ flush: false });
      await out.flush();
      resolve(0);
    };
    process.stdin.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) trigger();
    });
    process.stdin.on('end', () => void finish('stdin closed'));
    process.stdin.on('error', () => void finish('stdin error'));
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) onSignal(sig, trigger);
    onSignal('SIGTERM', () => void finish('SIGTERM'));
    onSignal('SIGINT', () => void finish('SIGINT'));
  });
}
