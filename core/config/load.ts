/**
 * Loads Telegraf-format TOML configuration: files and directories (sorted
 * `*.conf`), env substitution inside string values, JSON-Schema validation of
 * every section, defaults, and the translation into typed agent, input and
 * output settings. Any error stops loading with a one-line message naming the
 * file, the section (`[[inputs.ipvs]]`, `#2` when repeated) and the key.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as TOML from '@iarna/toml';
import type { FilterConfig } from '../filter/filter';
import { parseLogLevel, type LogLevel } from '../log';
import type { PluginRegistry } from '../registry';
import { parseDuration } from './duration';
import { substituteEnvDeep, EnvSubstitutionError } from './env';
import {
  agentSchema,
  agentTelegrafOnlyKeys,
  describeAjvError,
  inputTelegrafOnlyKeys,
  makeAjv,
  outputTelegrafOnlyKeys,
  pluginKeyNotes,
  sectionSchema,
} from './schema';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface AgentSettings {
  intervalNs: bigint;
  roundInterval: boolean;
  metricBatchSize: number;
  metricBufferLimit: number;
  collectionJitterNs: bigint;
  collectionOffsetNs: bigint;
  flushIntervalNs: bigint;
  flushJitterNs: bigint;
  precisionNs: bigint;
  hostname: string;
  /** undefined when the config does not say (execd mode then omits the host tag). */
  omitHostname: boolean | undefined;
  debug: boolean;
  quiet: boolean;
  logfile: string;
  /** Output buffers; undefined: in memory. */
  buffer?: BufferSettings;
}

/** `[agent]` buffer_strategy, buffer_directory, buffer_disk_sync. */
export interface BufferSettings {
  strategy: 'memory' | 'disk';
  /** Absolute path (relative ones are resolved against the working directory at load). */
  directory: string;
  sync: boolean;
  /** `file:line: [agent]` where buffer_directory was set, for errors about the directory. */
  origin: string;
}

export interface PluginSection {
  name: string;
  /** `[[inputs.ipvs]]` or `[[inputs.ipvs]] #2`. */
  section: string;
  file: string;
  alias?: string;
  logLevel?: LogLevel;
  startupErrorBehavior: 'error' | 'retry' | 'ignore' | 'probe';
  nameOverride?: string;
  namePrefix?: string;
  nameSuffix?: string;
  filter: FilterConfig;
  /** The plugin's own options (defaults applied). */
  options: Record<string, unknown>;
}

export interface InputSection extends PluginSection {
  intervalNs?: bigint;
  precisionNs?: bigint;
  collectionJitterNs?: bigint;
  collectionOffsetNs?: bigint;
  tags: Record<string, string>;
}

export interface OutputSection extends PluginSection {
  /** The section's keys as written (after env substitution, before defaults): what its disk buffer's id is made of. */
  written?: Record<string, unknown>;
  flushIntervalNs?: bigint;
  flushJitterNs?: bigint;
  metricBatchSize?: number;
  metricBufferLimit?: number;
}

export interface LoadedConfig {
  files: string[];
  agent: AgentSettings;
  globalTags: Record<string, string>;
  inputs: InputSection[];
  outputs: OutputSection[];
  /** Warnings to log once logging is configured (ignored Telegraf keys and sections). */
  warnings: string[];
}

export const DEFAULT_METRIC_BATCH_SIZE = 1000;
export const DEFAULT_METRIC_BUFFER_LIMIT = 10000;
export const DEFAULT_CONFIG_FILE = '/etc/lvsagent/lvsagent.conf';
export const DEFAULT_CONFIG_DIR = '/etc/lvsagent/lvsagent.d';

/** Lists `*.conf` files of a directory tree, sorted, skipping folders that start with `..` (Kubernetes ConfigMap internals). */
export function listConfigDirectory(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('..')) walk(p);
      } else if (entry.name.endsWith('.conf') && (entry.isFile() || entry.isSymbolicLink())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const ajv = makeAjv();
const validateAgent = ajv.compile(agentSchema);
/** For `config check`: every problem of a section, not just the first. */
const ajvAll = makeAjv({ allErrors: true });
const validateAgentAll = ajvAll.compile(agentSchema);

/** Finds the 1-based line of `key` inside the n-th occurrence of a section header, for messages. */
function locateKey(text: string, header: RegExp | undefined, occurrence: number, key: string): number | undefined {
  const lines = text.split('\n');
  let start = 0;
  if (header) {
    let seen = 0;
    start = -1;
    for (let i = 0; i < lines.length; i++) {
      if (header.test(lines[i]) && ++seen === occurrence) {
        start = i;
        break;
      }
    }
    if (start < 0) return undefined;
  }
  const first = key.split('.')[0];
  const re = new RegExp(`^\\s*["']?${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*=`);
  for (let i = start + (header ? 1 : 0); i < lines.length; i++) {
    if (i > start && header && /^\s*\[\[?[^\]]+\]\]?\s*(#.*)?$/.test(lines[i]) && !lines[i].includes(`.${first}]`)) {
      // Sub-tables such as [inputs.x.tags] belong to the section; another plugin header ends it.
      if (/^\s*\[\[/.test(lines[i])) break;
    }
    if (re.test(lines[i])) return i + 1;
  }
  return undefined;
}

function toStringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = String(val);
  return out;
}

function optDuration(v: unknown): bigint | undefined {
  return v === undefined ? undefined : parseDuration(v);
}

function filterOf(o: Record<string, unknown>): FilterConfig {
  const list = (k: string): string[] | undefined => o[k] as string[] | undefined;
  // Telegraf appends the deprecated aliases to the current key's list (config/config.go buildFilter).
  const merge = (...lists: (string[] | undefined)[]): string[] | undefined =>
    lists.some((l) => l !== undefined) ? lists.flatMap((l) => l ?? []) : undefined;
  return {
    namepass: list('namepass'),
    namepass_separator: o.namepass_separator as string | undefined,
    namedrop: list('namedrop'),
    namedrop_separator: o.namedrop_separator as string | undefined,
    fieldinclude: merge(list('pass'), list('fieldpass'), list('fieldinclude')),
    fieldexclude: merge(list('drop'), list('fielddrop'), list('fieldexclude')),
    tagpass: o.tagpass as Record<string, string[]> | undefined,
    tagdrop: o.tagdrop as Record<string, string[]> | undefined,
    taginclude: list('taginclude'),
    tagexclude: list('tagexclude'),
  };
}

const COMMON_KEYS = new Set([
  'alias',
  'name_override',
  'name_prefix',
  'name_suffix',
  'log_level',
  'startup_error_behavior',
  'namepass',
  'namepass_separator',
  'namedrop',
  'namedrop_separator',
  'fieldinclude',
  'fieldexclude',
  'fieldpass',
  'fielddrop',
  'pass',
  'drop',
  'tagpass',
  'tagdrop',
  'taginclude',
  'tagexclude',
  'interval',
  'precision',
  'collection_jitter',
  'collection_offset',
  'tags',
  'flush_interval',
  'flush_jitter',
  'metric_batch_size',
  'metric_buffer_limit',
]);

interface ParsedFile {
  file: string;
  text: string;
  data: Record<string, unknown>;
}

function parseFile(file: string): ParsedFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(`error loading config file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  let data: Record<string, unknown>;
  try {
    data = TOML.parse(text) as Record<string, unknown>;
  } catch (e) {
    const err = e as Error & { line?: number; col?: number };
    const first = err.message.split('\n')[0].replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    throw new ConfigError(`error parsing ${file}: line ${(err.line ?? 0) + 1}, column ${(err.col ?? 0) + 1}: ${first}`);
  }
  try {
    data = substituteEnvDeep(data) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof EnvSubstitutionError) throw new ConfigError(`error loading config file ${file}: environment variable ${e.message}`);
    throw e;
  }
  return { file, text, data };
}

export interface LoadOptions {
  files: string[];
  directories: string[];
  registry: PluginRegistry;
  /**
   * Collects every problem here instead of stopping at the first (`config check`):
   * sections with problems are left out of the result.
   */
  problems?: string[];
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const collect = opts.problems;
  /** Throws, or with `problems` records and lets loading go on. */
  const report = (msg: string): void => {
    if (!collect) throw new ConfigError(msg);
    collect.push(msg);
  };
  const files = [...opts.files];
  for (const d of opts.directories) {
    if (!fs.existsSync(d)) report(`error loading config directory ${d}: no such directory`);
    else files.push(...listConfigDirectory(d));
  }
  const warnings: string[] = [];
  const agentRaw: Record<string, unknown> = {};
  const globalTags: Record<string, string> = {};
  const inputs: InputSection[] = [];
  const outputs: OutputSection[] = [];
  const agentFile: Record<string, string> = {};

  for (const file of files) {
    let parsed: ParsedFile;
    try {
      parsed = parseFile(file);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      report(e.message);
      continue;
    }
    const { text, data } = parsed;
    const where = (section: string, header: RegExp | undefined, occurrence: number, key: string): string => {
      const line = locateKey(text, header, occurrence, key);
      return `${file}${line ? `:${line}` : ''}: ${section}`;
    };
    // `[tags]` is Telegraf's alias of `[global_tags]`, read first, so `[global_tags]` wins within a file (config/config.go 637).
    for (const top of ['tags', 'global_tags']) {
      const value = data[top];
      if (value === undefined) continue;
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        report(`${file}: invalid configuration, bad table name "${top}"`);
        continue;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') report(`${where(`[${top}]`, new RegExp(`^\\s*\\[${top}\\]`), 1, k)}: tag "${k}": expected string, got ${JSON.stringify(v)}`);
        else globalTags[k] = v;
      }
    }
    for (const [top, value] of Object.entries(data)) {
      if (top === 'tags' || top === 'global_tags') continue;
      if (top === 'agent') {
        const table = value as Record<string, unknown>;
        for (const [k, v] of Object.entries(table)) {
          if (agentTelegrafOnlyKeys.includes(k)) {
            warnings.push(`${file}: [agent]: option "${k}" is accepted for Telegraf compatibility but not implemented by lvsagent; ignored`);
            continue;
          }
          agentRaw[k] = v;
          agentFile[k] = file;
        }
        continue;
      }
      if (top === 'processors' || top === 'aggregators') {
        for (const name of Object.keys(value as object))
          warnings.push(`${file}: [[${top}.${name}]]: ${top} are not supported by lvsagent; section ignored`);
        continue;
      }
      if (top === 'inputs' || top === 'outputs') {
        const kind = top === 'inputs' ? 'input' : 'output';
        const available = kind === 'input' ? opts.registry.inputs : opts.registry.outputs;
        for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
          const plugin = available.get(name);
          const tables = Array.isArray(raw) ? (raw as Record<string, unknown>[]) : [raw as Record<string, unknown>];
          const header = new RegExp(`^\\s*\\[\\[?\\s*${top}\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]\\]?`);
          if (!plugin) {
            const names = [...available.keys()].sort().join(', ');
            report(`${where(`[[${top}.${name}]]`, header, 1, '')}: undefined plugin "${name}"; available ${top}: ${names}`);
            continue;
          }
          tables.forEach((table0, idx) => {
            const section = tables.length > 1 ? `[[${top}.${name}]] #${idx + 1}` : `[[${top}.${name}]]`;
            const table: Record<string, unknown> = { ...table0 };
            // Before validation fills in defaults (nested tables are shared with table0).
            const written = kind === 'output' ? structuredClone(table0) : undefined;
            const ignored = [...(kind === 'input' ? inputTelegrafOnlyKeys : outputTelegrafOnlyKeys), ...(plugin.telegrafOnlyKeys ?? [])];
            for (const k of Object.keys(table)) {
              if (ignored.includes(k) && !(plugin.schema.properties && k in (plugin.schema.properties as object))) {
                const why = pluginKeyNotes[k] ?? 'is accepted for Telegraf compatibility but not implemented by lvsagent';
                warnings.push(`${where(section, header, idx + 1, k)}: option "${k}" ${why}; ignored`);
                delete table[k];
              }
            }
            const validate = validatorFor(kind, name, plugin.schema, !!collect);
            if (!validate(table)) {
              for (const err of collect ? validate.errors! : validate.errors!.slice(0, 1)) {
                const e = describeAjvError(err, table);
                report(`${where(section, header, idx + 1, e.key)}: ${e.message}`);
              }
              return;
            }
            const options: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(table)) if (!COMMON_KEYS.has(k) || (plugin.schema.properties && k in (plugin.schema.properties as object))) options[k] = v;
            const base: PluginSection = {
              name,
              section,
              file,
              alias: table.alias as string | undefined,
              logLevel: table.log_level ? parseLogLevel(table.log_level as string) : undefined,
              startupErrorBehavior: (table.startup_error_behavior as PluginSection['startupErrorBehavior']) ?? 'error',
              nameOverride: table.name_override as string | undefined,
              namePrefix: table.name_prefix as string | undefined,
              nameSuffix: table.name_suffix as string | undefined,
              filter: filterOf(table),
              options,
            };
            try {
              if (kind === 'input') {
                const s: InputSection = {
                  ...base,
                  intervalNs: optDuration(table.interval),
                  precisionNs: optDuration(table.precision),
                  collectionJitterNs: optDuration(table.collection_jitter),
                  collectionOffsetNs: optDuration(table.collection_offset),
                  tags: toStringRecord(table.tags),
                };
                inputs.push(s);
              } else {
                outputs.push({
                  ...base,
                  written,
                  flushIntervalNs: optDuration(table.flush_interval),
                  flushJitterNs: optDuration(table.flush_jitter),
                  // 0 means "not set": the agent's value (Telegraf models/running_output.go 99-110).
                  metricBatchSize: (table.metric_batch_size as number | undefined) || undefined,
                  metricBufferLimit: (table.metric_buffer_limit as number | undefined) || undefined,
                });
              }
            } catch (e) {
              report(`${file}: ${section}: ${(e as Error).message}`);
            }
          });
        }
        continue;
      }
      report(`${file}: unknown top-level section "${top}"; expected agent, global_tags (or tags), inputs, outputs, processors or aggregators`);
    }
  }

  const checkAgent = collect ? validateAgentAll : validateAgent;
  if (!checkAgent(agentRaw)) {
    const bad = new Set<string>();
    for (const err of collect ? checkAgent.errors! : checkAgent.errors!.slice(0, 1)) {
      const e = describeAjvError(err, agentRaw);
      const file = agentFile[e.key.split('.')[0]] ?? files[files.length - 1] ?? '(defaults)';
      let line: number | undefined;
      try {
        line = locateKey(fs.readFileSync(file, 'utf8'), /^\s*\[agent\]/, 1, e.key);
      } catch {
        line = undefined;
      }
      report(`${file}${line ? `:${line}` : ''}: [agent]: ${e.message}`);
      bad.add(e.key.split('.')[0]);
    }
    // Only `config check` gets here: it goes on with the defaults for the bad keys.
    for (const k of bad) delete agentRaw[k];
    validateAgent(agentRaw);
  }
  const a = agentRaw;
  const agent: AgentSettings = {
    buffer: bufferSettings(a, agentFile, files),
    intervalNs: parseDuration(a.interval),
    roundInterval: a.round_interval as boolean,
    // 0 means the default, as Telegraf (models/running_output.go 102-110).
    metricBatchSize: (a.metric_batch_size as number) || DEFAULT_METRIC_BATCH_SIZE,
    metricBufferLimit: (a.metric_buffer_limit as number) || DEFAULT_METRIC_BUFFER_LIMIT,
    collectionJitterNs: parseDuration(a.collection_jitter),
    collectionOffsetNs: parseDuration(a.collection_offset),
    flushIntervalNs: parseDuration(a.flush_interval),
    flushJitterNs: parseDuration(a.flush_jitter),
    precisionNs: parseDuration(a.precision),
    hostname: (a.hostname as string) || os.hostname(),
    omitHostname: a.omit_hostname as boolean | undefined,
    debug: a.debug as boolean,
    quiet: a.quiet as boolean,
    logfile: a.logfile as string,
  };
  return { files, agent, globalTags, inputs, outputs, warnings };
}

function bufferSettings(a: Record<string, unknown>, agentFile: Record<string, string>, files: string[]): BufferSettings {
  const strategy = a.buffer_strategy === 'memory' ? 'memory' : 'disk';
  const where = (key: string): string => {
    const file = agentFile[key] ?? agentFile.buffer_strategy ?? files[files.length - 1] ?? '(defaults)';
    let line: number | undefined;
    try {
      line = locateKey(fs.readFileSync(file, 'utf8'), /^\s*\[agent\]/, 1, key);
    } catch {
      line = undefined;
    }
    return `${file}${line ? `:${line}` : ''}: [agent]`;
  };
  const dir = a.buffer_directory as string;
  if (strategy === 'disk' && !dir) throw new ConfigError(`${where('buffer_strategy')}: option "buffer_directory" is required with buffer_strategy = "disk"`);
  return { strategy, directory: dir ? path.resolve(dir) : '', sync: a.buffer_disk_sync as boolean, origin: where('buffer_directory') };
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();
function validatorFor(kind: 'input' | 'output', name: string, schema: Record<string, unknown>, allErrors: boolean): ReturnType<typeof ajv.compile> {
  const key = `${kind}:${name}:${allErrors}`;
  let v = validators.get(key);
  if (!v) {
    v = (allErrors ? ajvAll : ajv).compile(sectionSchema(kind, schema));
    validators.set(key, v);
  }
  return v;
}

/** Telegraf's default precision: from the interval (≥1s → 1s, ≥1ms → 1ms, ≥1µs → 1µs, else 1ns). */
export function defaultPrecision(intervalNs: bigint): bigint {
  if (intervalNs >= 1_000_000_000n) return 1_000_000_000n;
  if (intervalNs >= 1_000_000n) return 1_000_000n;
  if (intervalNs >= 1000n) return 1000n;
  return 1n;
}
