/**
 * Command-line parsing. Flags accept one or two dashes and `--flag=value`, as
 * Go's flag package does for Telegraf.
 */

export interface CliArgs {
  /** `config` prints a sample (`config create`, Telegraf's name); `config-check` validates (`config check`). */
  command: 'run' | 'config' | 'config-check' | 'help' | 'version' | 'usage' | 'input-list' | 'output-list';
  configs: string[];
  configDirectories: string[];
  test: boolean;
  testWaitSec: number;
  once: boolean;
  execd: boolean;
  pollIntervalNs?: string;
  inputFilter?: string[];
  outputFilter?: string[];
  debug: boolean;
  quiet: boolean;
  /** Written after start-up, removed on exit. */
  pidfile?: string;
  /** Reload on config changes: inotify (`notify`) or stat polling every 250 ms (`poll`), as Telegraf. */
  watchConfig?: 'notify' | 'poll';
  /** The plugin whose sample section `--usage` prints. */
  usage?: string;
}

export class UsageError extends Error {}

const VALUE_FLAGS = new Set(['config', 'config-directory', 'input-filter', 'output-filter', 'poll-interval', 'poll_interval', 'test-wait', 'pidfile', 'watch-config', 'usage']);
const BOOL_FLAGS = new Set(['test', 'once', 'execd', 'debug', 'quiet', 'help', 'h', 'version', 'input-list', 'output-list']);

export function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = {
    command: 'run',
    configs: [],
    configDirectories: [],
    test: false,
    testWaitSec: 0,
    once: false,
    execd: false,
    debug: false,
    quiet: false,
  };
  let sub = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) {
      if (arg === 'config' && a.command === 'run') a.command = 'config';
      else if (arg === 'check' && a.command === 'config' && !sub) {
        a.command = 'config-check';
        sub = true;
      } else if (arg === 'create' && a.command === 'config' && !sub) sub = true;
      else if (arg === 'version' && a.command === 'run') a.command = 'version';
      else if (arg === 'help' && a.command === 'run') a.command = 'help';
      else throw new UsageError(`unexpected argument "${arg}"`);
      continue;
    }
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (VALUE_FLAGS.has(name)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
        value = argv[++i];
      }
      switch (name) {
        case 'config':
          a.configs.push(value);
          break;
        case 'config-directory':
          a.configDirectories.push(value);
          break;
        case 'input-filter':
          a.inputFilter = value.split(':').filter(Boolean);
          break;
        case 'output-filter':
          a.outputFilter = value.split(':').filter(Boolean);
          break;
        case 'poll-interval':
        case 'poll_interval':
          a.pollIntervalNs = value;
          break;
        case 'pidfile':
          a.pidfile = value;
          break;
        case 'watch-config':
          if (value !== 'notify' && value !== 'poll') throw new UsageError(`invalid --watch-config "${value}": expected notify or poll`);
          a.watchConfig = value;
          break;
        case 'usage':
          a.command = 'usage';
          a.usage = value;
          break;
        case 'test-wait':
          a.testWaitSec = Number(value);
          if (!Number.isFinite(a.testWaitSec) || a.testWaitSec < 0) throw new UsageError(`invalid -test-wait "${value}"`);
          break;
      }
      continue;
    }
    if (BOOL_FLAGS.has(name)) {
      const on = value === undefined || value === 'true' || value === '1';
      switch (name) {
        case 'help':
        case 'h':
          a.command = 'help';
          break;
        case 'version':
          a.command = 'version';
          break;
        case 'input-list':
          if (on) a.command = 'input-list';
          break;
        case 'output-list':
          if (on) a.command = 'output-list';
          break;
        case 'test':
          a.test = on;
          break;
        case 'once':
          a.once = on;
          break;
        case 'execd':
          a.execd = on;
          break;
        case 'debug':
          a.debug = on;
          break;
        case 'quiet':
          a.quiet = on;
          break;
      }
      continue;
    }
    throw new UsageError(`flag provided but not defined: -${name}`);
  }
  const modes = [a.test, a.once, a.execd].filter(Boolean).length;
  if (modes > 1) throw new UsageError('--test, --once and --execd are mutually exclusive');
  return a;
}

export const USAGE = `lvsagent, a Telegraf-compatible metrics agent for IPVS/LVS and conntrack

Usage:
  lvsagent [--config FILE]... [--config-directory DIR]... [flags]
  lvsagent config [create]   print a complete sample configuration
  lvsagent config check [--config FILE]... [--config-directory DIR]...
                             validate the configuration; every problem is listed, exit 1 if any
  lvsagent --usage PLUGIN    print the sample section of one input or output plugin
  lvsagent --input-list | --output-list
                             list the available plugins
  lvsagent --help | --version

Flags:
  --config FILE              configuration file (repeatable); default ${'/etc/lvsagent/lvsagent.conf'}
  --config-directory DIR     load every *.conf in DIR, sorted (repeatable); default /etc/lvsagent/lvsagent.d
  --test                     gather once, print metrics to stdout ("> " + line protocol), run no outputs
  --test-wait SECONDS        with --test: let service inputs collect this long before the gather
  --once                     gather once, flush all outputs, exit non-zero if anything was not written
  --execd                    run as a Telegraf execd input: gather on each newline read from stdin,
                             write line protocol to stdout, exit on stdin EOF
  --poll-interval DURATION   with --execd: also gather on this schedule (Telegraf signal = "none")
  --input-filter a:b         run only these inputs
  --output-filter x:y        run only these outputs
  --pidfile FILE             write the process id to FILE once started; removed on exit
  --watch-config notify|poll reload the configuration when a --config file or --config-directory
                             changes (inotify, or polling every 250 ms), as on SIGHUP
  --debug                    debug logging
  --quiet                    errors only

Signals: SIGHUP reloads the configuration keeping buffered metrics, SIGUSR1 flushes
outputs now, SIGINT/SIGTERM flush and exit.
`;
