/**
 * Telegraf execd input mode (`lvsagent --execd`): every newline on stdin
 * triggers one gather of all inputs (Telegraf's `signal = "STDIN"`), an
 * optional poll interval gathers on a schedule too (`signal = "none"`);
 * triggers arriving during a gather are coalesced into one; line protocol goes
 * to stdout; stdin EOF or SIGTERM writes what is pending and exits 0.
 */
import { Agent } from '../agent';
import type { LoadedConfig } from '../config/load';
import { agentLog } from '../log';
import type { Metric } from '../metric';
import type { PluginRegistry } from '../registry';
import { LineProtocolSerializer } from '../serializers/influx';

export async function runExecd(cfg: LoadedConfig, registry: PluginRegistry, pollIntervalNs?: bigint): Promise<number> {
  // Telegraf adds its own host tag: ours only when the config explicitly asks for it.
  const agent = new Agent(cfg, registry, {
    manualGather: true,
    hostTag: cfg.agent.omitHostname === false,
    defaultPrecisionNs: 1n,
  });
  const serializer = new LineProtocolSerializer();
  // Metrics leave in batches (big gathers in several), each written into a buffer that is
  // handed back to the serializer once stdout has taken it. Unserializable ones are skipped.
  const BATCH = 1000;
  let pending: Metric[] = [];
  const writeOut = (): void => {
    if (pending.length === 0) return;
    const bytes = serializer.serializeBatchToBuffer(pending);
    pending = [];
    if (bytes.length > 0) process.stdout.write(bytes, () => serializer.recycle(bytes));
  };
  agent.sink = (m) => {
    pending.push(m);
    if (pending.length >= BATCH) writeOut();
  };
  await agent.start();

  let running: Promise<void> | undefined;
  let again = false;
  let closing = false;
  const trigger = (): void => {
    if (closing) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await agent.gatherAll();
        writeOut();
      } while (again && !closing);
      running = undefined;
    })();
  };

  let poll: NodeJS.Timeout | undefined;
  if (pollIntervalNs !== undefined && pollIntervalNs > 0n) poll = setInterval(trigger, Number(pollIntervalNs) / 1e6);

  return await new Promise<number>((resolve) => {
    const finish = async (why: string): Promise<void> => {
      if (closing) return;
      closing = true;
      agentLog.debug(`${why}: stopping`);
      if (poll) clearInterval(poll);
      if (running) await running;
      await agent.stop({ flush: false });
      writeOut();
      resolve(0);
    };
    process.stdin.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) trigger();
    });
    process.stdin.on('end', () => void finish('stdin closed'));
    process.stdin.on('error', () => void finish('stdin error'));
    process.once('SIGTERM', () => void finish('SIGTERM'));
    process.once('SIGINT', () => void finish('SIGINT'));
  });
}
