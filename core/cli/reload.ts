/**
 * Configuration reloads (SIGHUP), all or nothing. The new agent is built and
 * started beside the running one; only once it stands is the old one stopped
 * and its buffers handed over. When the new one cannot be built or started,
 * the old one keeps running with its buffers, untouched.
 *
 * One case cannot be decided beside the old agent: a listener on an address
 * the old agent itself holds (prometheus_client keeping its `listen`). Then
 * the old agent is stopped first and the new one started again; should that
 * fail too, the old configuration is started again with its buffers.
 */
import { Agent, type BufferedMetrics } from '../agent';
import { selfStats } from '../selfstat';
import type { LoadedConfig } from '../config/load';
import { processListensOn } from '../net/listening';
import type { Logger } from '../log';
import type { PluginRegistry } from '../registry';

export interface Reloaded {
  agent: Agent;
  config: LoadedConfig;
}

/** True when starting failed on a port that this process (the running agent) listens on. */
function addressHeldByUs(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const n = e as NodeJS.ErrnoException & { port?: number };
    if (n.code === 'EADDRINUSE') return typeof n.port === 'number' && processListensOn(n.port);
  }
  return false;
}

async function startFresh(config: LoadedConfig, registry: PluginRegistry, running?: Agent): Promise<Agent> {
  const agent = new Agent(config, registry, running ? { inheritBuffers: running.diskBuffers() } : {});
  await agent.start();
  return agent;
}

/** Stops `old` (no final flush) and gives its unsent metrics to `next`. */
async function handOver(old: Agent, next: Agent, log: Logger): Promise<void> {
  await old.stop({ flush: false });
  adopt(old, old.takeBuffered(), next, log);
}

/** Gives `left` (the unsent metrics of `old`) to `next`; plugins `next` no longer has stop reporting internal_* series. */
function adopt(old: Agent, left: BufferedMetrics[], next: Agent, log: Logger): void {
  const lost = next.adoptBuffered(left);
  if (lost) log.warn(`${lost} buffered metrics belonged to outputs no longer configured; dropped`);
  selfStats.retire(old.statGroups(), next.statGroups());
}

/**
 * Replaces `current` (running `currentConfig`) by an agent for `next`.
 * Resolves with the agent that runs afterwards: a new one (not yet `run()`),
 * or `current` itself when the reload failed. Rejects only when the old
 * configuration could not be started again after it had to be stopped.
 */
export async function reloadAgent(current: Agent, currentConfig: LoadedConfig, next: LoadedConfig, registry: PluginRegistry, log: Logger): Promise<Reloaded> {
  let fresh: Agent;
  try {
    fresh = await startFresh(next, registry, current);
  } catch (err) {
    if (!addressHeldByUs(err)) {
      log.error(`Reload failed, keeping the running configuration: ${(err as Error).message}`);
      return { agent: current, config: currentConfig };
    }
    log.info(`The new configuration needs an address the running agent holds (${(err as Error).message}); stopping the running agent first`);
    await current.stop({ flush: false });
    const left = current.takeBuffered();
    let replacement: Agent;
    let config = next;
    try {
      replacement = await startFresh(next, registry);
    } catch (err2) {
      log.error(`Reload failed, restarting the previous configuration: ${(err2 as Error).message}`);
      replacement = await startFresh(currentConfig, registry);
      config = currentConfig;
    }
    adopt(current, left, replacement, log);
    return { agent: replacement, config };
  }
  current.handOverBuffers(fresh);
  await handOver(current, fresh, log);
  return { agent: fresh, config: next };
}
