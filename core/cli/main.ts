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
import { agentLog, configureLogging, Logger } from '../log';
import { loadRegistry, type PluginRegistry } from '../registry';
import { exitAfterDrain, MetricLineStream, stdout } from '../stdout';
import { version } from '../version';
import { parseArgs, USAGE, UsageError, type CliArgs } from './args';
import { sampleConfig } from './sample';
import { runExecd } from './execd';
import { reloadAgent } from './reload';
import { watchConfig, type ConfigWatcher } from './watch';

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
  agent.sinkReady = () => out.ready();
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

  if (args.pidfile) writePidfile(args.pidfile);

  // Reloads run one at a time; a stop waits for a reload in progress, not for flushes.
  let reloading: Promise<void> = Promise.resolve();
  let reloadQueued = false;
  onSignal('SIGUSR1', () => void agent.flushAll());
  onSignal('SIGUSR2', () => agentLog.debug('SIGUSR2 ignored'));
  // SIGHUP and --watch-config reload alike: all or nothing (a bad new config keeps the running one).
  const reload = (why: string): void => {
    if (reloadQueued) return;
    reloadQueued = true;
    reloading = reloading.then(async () => {
      reloadQueued = false;
      agentLog.info(`Reloading config (${why})`);
      let next: LoadedConfig;
      try {
        next = loadForArgs(args, registry);
        if (!next.outputs.length || !next.inputs.length) throw new ConfigError('no inputs or no outputs in the new config');
      } catch (err) {
        agentLog.error(`Reload failed, keeping the running configuration: ${(err as Error).message}`);
        return;
      }
      let result;
      try {
        result = await reloadAgent(agent, cfg, next, registry, agentLog);
      } catch (err) {
        agentLog.error(`The previous configuration could not be started again: ${(err as Error).message}`);
        await exitAfterDrain(1);
        return;
      }
      if (result.agent === agent) return;
      agent = result.agent;
      cfg = result.config;
      setupLogging(cfg, false);
      agent.run();
      agentLog.info(cfg === next ? 'Reloaded config' : 'Running the previous configuration again');
    });
  };
  onSignal('SIGHUP', () => reload('SIGHUP'));
  let watcher: ConfigWatcher | undefined;
  if (args.watchConfig) {
    const sources = resolveConfigSources(args);
    watcher = watchConfig(sources, args.watchConfig, (what) => reload(`${what} changed`), (msg) => agentLog.warn(`Config watcher: ${msg}`));
    agentLog.info(`Config watcher started (${args.watchConfig}) for ${[...sources.files, ...sources.directories].join(', ')}`);
  }
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    agentLog.info(`Received ${sig}, shutting down`);
    watcher?.close();
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

/** Telegraf's --pidfile: the process id and a newline, mode 0640; removed when the process exits. */
function writePidfile(file: string): void {
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o640 });
  } catch (err) {
    agentLog.error(`Unable to create pidfile: ${(err as Error).message}`);
    return;
  }
  process.once('exit', () => {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      process.stderr.write(`E! Unable to remove pidfile: ${(err as Error).message}\n`);
    }
  });
}

/** `lvsagent config check`: every problem of the configuration, one `E!` line each; 0 when there is none. */
function checkConfig(args: CliArgs, registry: PluginRegistry): number {
  const problems: string[] = [];
  let cfg: LoadedConfig | undefined;
  try {
    cfg = loadConfig({ ...resolveConfigSources(args), registry, problems });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err.message);
  }
  if (cfg) {
    if (args.inputFilter) cfg.inputs = cfg.inputs.filter((s) => args.inputFilter!.includes(s.name));
    if (args.outputFilter) cfg.outputs = cfg.outputs.filter((s) => args.outputFilter!.includes(s.name));
    for (const w of cfg.warnings) process.stderr.write(`W! ${w}\n`);
    // Plugins are created (their options checked), not started: nothing is opened or listened on.
    const quiet = new Logger('config check', 'error');
    for (const s of [...cfg.inputs, ...cfg.outputs]) {
      const plugin = 'tags' in s ? registry.inputs.get(s.name) : registry.outputs.get(s.name);
      try {
        plugin?.create(s.options as never, { log: quiet, section: s.section, intervalNs: cfg.agent.intervalNs, oneShot: true });
      } catch (err) {
        problems.push(`${s.file}: ${s.section}: ${(err as Error).message}`);
      }
    }
    if (!cfg.outputs.length) problems.push('no outputs found, probably invalid config file provided');
    if (!cfg.inputs.length) problems.push('no inputs found, probably invalid config file provided');
  }
  for (const p of problems) process.stderr.write(`E! ${p}\n`);
  if (problems.length) {
    process.stderr.write(`E! config check: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  process.stderr.write(`I! config check: ${cfg!.files.join(', ')}: OK (${cfg!.inputs.length} inputs, ${cfg!.outputs.length} outputs)\n`);
  return 0;
}

function pluginList(title: string, names: Iterable<string>): string {
  return `${title}:\n${[...names].sort().map((n) => `  ${n}\n`).join('')}`;
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
  if (args.command === 'config-check') return await exitAfterDrain(checkConfig(args, registry));
  if (args.command === 'input-list') return void process.stdout.write(pluginList('Available Input Plugins', registry.inputs.keys()));
  if (args.command === 'output-list') return void process.stdout.write(pluginList('Available Output Plugins', registry.outputs.keys()));
  if (args.command === 'usage') {
    // Inputs first, then outputs, as Telegraf's --usage.
    const p = registry.inputs.get(args.usage!) ?? registry.outputs.get(args.usage!);
    if (!p) return await fail(`input or output plugin "${args.usage}" not found; see --input-list and --output-list`);
    process.stdout.write(p.sampleConfig.endsWith('\n') ? p.sampleConfig : p.sampleConfig + '\n');
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
