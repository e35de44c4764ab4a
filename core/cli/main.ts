#!/usr/bin/env -S node --max-semi-space-size=32
/**
 * The shebang's V8 flag (also in `npm start`, the systemd unit and the
 * container entrypoint): a 32 MiB young generation lets a gather of 100,000
 * IPVS real servers die young instead of being promoted and traced again —
 * about 2x less gather time on large tables for a bounded ~50 MB more RSS
 * (docs/design/agent.md, bench/ipvs.ts).
 *
 * lvsagent's command line: run the agent, `--test`, `--once`, `--execd`
 * (Telegraf execd input mode), `config`, `--help`, `--version`.
 */
// First: SIGUSR1 must never find the process without a listener (Node would open its inspector).
import { onSignal } from './signals';
import * as fs from 'node:fs';
import { Agent } from '../agent';
import { ConfigError, DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE, loadConfig, type LoadedConfig } from '../config/load';
import { formatDuration, parseDuration } from '../config/duration';
import { agentLog, configureLogging } from '../log';
import { loadRegistry, type PluginRegistry } from '../registry';
import { exitAfterDrain, MetricLineStream, stdout } from '../stdout';
import { version } from '../version';
import { parseArgs, USAGE, UsageError, type CliArgs } from './args';
import { sampleConfig } from './sample';
import { runExecd } from './execd';

function fail(msg: string, code = 1): Promise<never> {
  process.stderr.write(`E! ${msg}\n`);
  return exitAfterDrain(code);
}

export function resolveConfigSources(args: CliArgs): { files: string[]; directories: string[] } {
  if (args.configs.length || args.configDirectories.length) return { files: args.configs, directories: args.configDirectories };
  const env = process.env.LVSAGENT_CONFIG_PATH;
  if (env) return { files: [env], directories: [] };
  const files = fs.existsSync(DEFAULT_CONFIG_FILE) ? [DEFAULT_CONFIG_FILE] : [];
  const directories = fs.existsSync(DEFAULT_CONFIG_DIR) ? [DEFAULT_CONFIG_DIR] : [];
  if (!files.length && !directories.length)
    throw new ConfigError(`no config file specified, and could not find one in ${DEFAULT_CONFIG_FILE} or ${DEFAULT_CONFIG_DIR}`);
  return { files, directories };
}

export function loadForArgs(args: CliArgs, registry: PluginRegistry): LoadedConfig {
  const cfg = loadConfig({ ...resolveConfigSources(args), registry });
  if (args.inputFilter) cfg.inputs = cfg.inputs.filter((s) => args.inputFilter!.includes(s.name));
  if (args.outputFilter) cfg.outputs = cfg.outputs.filter((s) => args.outputFilter!.includes(s.name));
  if (args.debug) cfg.agent.debug = true;
  if (args.quiet) cfg.agent.quiet = true;
  return cfg;
}

function setupLogging(cfg: LoadedConfig, execd: boolean): void {
  configureLogging({
    debug: cfg.agent.debug,
    quiet: cfg.agent.quiet,
    logfile: execd ? undefined : cfg.agent.logfile || undefined,
    timestamps: !execd,
  });
  for (const w of cfg.warnings) agentLog.warn(w);
}

/** In one-shot modes the control signals have nothing to do: they are noted and ignored. */
function ignoreControlSignals(mode: string): void {
  for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) onSignal(sig, () => agentLog.debug(`${sig} ignored in ${mode} mode`));
}

async function runTest(cfg: LoadedConfig, registry: PluginRegistry, args: CliArgs): Promise<number> {
  ignoreControlSignals('--test');
  // Service inputs (event listeners) only run when --test-wait gives them time to collect.
  const agent = new Agent(cfg, registry, { manualGather: true, oneShot: args.testWaitSec === 0 });
  // Streamed as gathered, `> ` before each line, fields sorted and uints as `u` (Telegraf's --test).
  const sink = stdout();
  sink.onClose(() => process.exit(0));
  const out = new MetricLineStream(sink, { uintSupport: true, sortFields: true, linePrefix: '> ' });
  agent.sink = (m) => out.push(m);
  await agent.start();
  if (args.testWaitSec > 0) await new Promise((r) => setTimeout(r, args.testWaitSec * 1000));
  const errors = await agent.gatherAll();
  await agent.stop({ flush: false });
  await out.flush();
  if (errors > 0) {
    agentLog.error(`input plugins recorded ${errors} errors`);
    return 1;
  }
  return 0;
}

async function runOnce(cfg: LoadedConfig, registry: PluginRegistry): Promise<number> {
  ignoreControlSignals('--once');
  const agent = new Agent(cfg, registry, { manualGather: true, oneShot: true, runOutputs: true });
  await agent.start();
  const errors = await agent.gatherAll();
  const ok = await agent.flushAll();
  const unsent = agent.outputs.reduce((n, o) => n + o.buffer.length, 0);
  await agent.stop({ flush: false });
  if (errors > 0) agentLog.error(`input plugins recorded ${errors} errors`);
  if (!ok || unsent > 0) agentLog.error(`output plugins unable to send ${unsent} metrics`);
  return errors > 0 || !ok || unsent > 0 ? 1 : 0;
}

async function runAgent(args: CliArgs, registry: PluginRegistry, first: LoadedConfig): Promise<void> {
  let cfg = first;
  if (!cfg.outputs.length) throw new ConfigError('no outputs found, probably invalid config file provided');
  if (!cfg.inputs.length) throw new ConfigError('no inputs found, probably invalid config file provided');
  let agent = new Agent(cfg, registry);
  agentLog.info(`Starting lvsagent ${version}`);
  agentLog.info(`Loaded inputs: ${cfg.inputs.map((i) => i.name).join(' ')}`);
  agentLog.info(`Loaded outputs: ${cfg.outputs.map((o) => o.name).join(' ')}`);
  agentLog.info(`Config: Interval:${formatDuration(cfg.agent.intervalNs)}, Quiet:${cfg.agent.quiet}, Hostname:"${cfg.agent.hostname}", Flush Interval:${formatDuration(cfg.agent.flushIntervalNs)}`);
  // Until the agent runs, SIGTERM/SIGINT exit at once (nothing is buffered yet) and SIGHUP/SIGUSR1 wait.
  await agent.start();
  agent.run();

  // Reloads run one at a time; a stop waits for a reload in progress, not for flushes.
  let reloading: Promise<void> = Promise.resolve();
  onSignal('SIGUSR1', () => void agent.flushAll());
  onSignal('SIGUSR2', () => agentLog.debug('SIGUSR2 ignored'));
  onSignal('SIGHUP', () => {
    reloading = reloading.then(async () => {
      agentLog.info('Reloading config');
      let next: LoadedConfig;
      try {
        next = loadForArgs(args, registry);
        if (!next.outputs.length || !next.inputs.length) throw new ConfigError('no inputs or no outputs in the new config');
      } catch (err) {
        agentLog.error(`Reload failed, keeping the running configuration: ${(err as Error).message}`);
        return;
      }
      await agent.stop({ flush: false });
      const left = agent.takeBuffered();
      const previous = cfg;
      cfg = next;
      setupLogging(cfg, false);
      try {
        agent = new Agent(cfg, registry);
      } catch (err) {
        // Outputs could not be built (say an unusable buffer_directory): the previous configuration runs on.
        agentLog.error(`Reload failed, keeping the running configuration: ${(err as Error).message}`);
        cfg = previous;
        setupLogging(cfg, false);
        try {
          agent = new Agent(cfg, registry);
        } catch (again) {
          agentLog.error(`${(again as Error).message}`);
          await exitAfterDrain(1);
          return;
        }
      }
      const lost = agent.adoptBuffered(left);
      if (lost) agentLog.warn(`${lost} buffered metrics belonged to outputs no longer configured; dropped`);
      try {
        await agent.start();
      } catch (err) {
        agentLog.error(`${(err as Error).message}`);
        await exitAfterDrain(1);
      }
      agent.run();
    });
  });
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    agentLog.info(`Received ${sig}, shutting down`);
    void reloading.then(async () => {
      const ok = await agent.stop();
      // An orderly stop is a success for the service manager even when the final write failed (logged above).
      if (!ok) agentLog.warn('Stopped with unsent metrics (see above)');
      await exitAfterDrain(0);
    });
  };
  onSignal('SIGINT', () => shutdown('SIGINT'));
  onSignal('SIGTERM', () => shutdown('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`E! ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (args.command === 'version') {
    process.stdout.write(`lvsagent ${version} (node ${process.version})\n`);
    return;
  }
  const registry = loadRegistry();
  if (args.command === 'config') {
    process.stdout.write(sampleConfig(registry, { inputs: args.inputFilter, outputs: args.outputFilter }));
    return;
  }
  let cfg: LoadedConfig;
  try {
    cfg = loadForArgs(args, registry);
  } catch (err) {
    if (err instanceof ConfigError) return await fail(err.message);
    throw err;
  }
  setupLogging(cfg, args.execd);
  try {
    if (args.test) return await exitAfterDrain(await runTest(cfg, registry, args));
    if (args.once) return await exitAfterDrain(await runOnce(cfg, registry));
    if (args.execd) {
      const poll = args.pollIntervalNs !== undefined ? parseDuration(args.pollIntervalNs) : undefined;
      return await exitAfterDrain(await runExecd(cfg, registry, poll));
    }
    await runAgent(args, registry, cfg);
  } catch (err) {
    await fail((err as Error).message);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => void fail(err instanceof Error ? err.stack ?? err.message : String(err)));
}
