/**
 * JSON Schemas of the agent's own configuration: `[agent]`, `[global_tags]`
 * and the options every input and output section accepts. Plugins declare
 * their own options; `sectionSchema` merges the two.
 *
 * Custom keyword `duration` (Go duration or seconds, range-checked); format `glob`.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../plugin';
import { parseDuration } from './duration';
import { globError } from '../filter/glob';
import { isCipherSuiteName } from '../tls';
import { virtualServerPatternError } from '../ipvs/vsfilter';

/**
 * A duration option: Go text or seconds, checked by the `duration` keyword
 * (below) for syntax and range — negative values and values beyond Go's
 * time.Duration are rejected, and `positive` ones must be more than zero.
 */
const duration = { type: ['string', 'integer', 'number'], duration: 'nonnegative' };
const positiveDuration = { type: ['string', 'integer', 'number'], duration: 'positive' };
/** Counts of metrics: beyond this a buffer could not be allocated. */
const MAX_METRIC_COUNT = 2 ** 31 - 1;
/** 0 means "the default" (Telegraf models/running_output.go 99-110). */
const metricCount = { type: 'integer', minimum: 0, maximum: MAX_METRIC_COUNT };
const globList = { type: 'array', items: { type: 'string', format: 'glob' } };
const tagTable = { type: 'object', additionalProperties: { type: 'string' } };
const tagGlobTable = { type: 'object', additionalProperties: globList };
const logLevel = { type: 'string', enum: ['error', 'warn', 'info', 'debug', 'trace'] };

export const agentSchema: JsonSchema = {
  type: 'object',
  properties: {
    interval: { ...positiveDuration, default: '10s' },
    round_interval: { type: 'boolean', default: true },
    metric_batch_size: { ...metricCount, default: 1000 },
    metric_buffer_limit: { ...metricCount, default: 10000 },
    collection_jitter: { ...duration, default: '0s' },
    collection_offset: { ...duration, default: '0s' },
    flush_interval: { ...positiveDuration, default: '10s' },
    flush_jitter: { ...duration, default: '0s' },
    precision: { ...duration, default: '0s' },
    hostname: { type: 'string', default: '' },
    omit_hostname: { type: 'boolean' },
    debug: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    logfile: { type: 'string', default: '' },
    logtarget: { type: 'string' },
    // Telegraf's disk buffer (`disk_write_through` is its internal name for `disk`).
    buffer_strategy: { type: 'string', enum: ['memory', 'disk', 'disk_write_through'], default: 'memory' },
    buffer_directory: { type: 'string', default: '' },
    buffer_disk_sync: { type: 'boolean', default: true },
  },
  additionalProperties: false,
};

/** `[agent]` keys Telegraf accepts that lvsagent ignores with one warning. */
export const agentTelegrafOnlyKeys = [
  'logformat',
  'structured_log_message_key',
  'log_with_timezone',
  'logfile_rotation_interval',
  'logfile_rotation_max_size',
  'logfile_rotation_max_archives',
  'statefile',
  'always_include_local_tags',
  'always_include_global_tags',
  'skip_processors_before_aggregators',
  'skip_processors_after_aggregators',
  'snmp_translator',
  'config_url_retry_attempts',
  'utc',
  'flush_buffer_when_full',
  'metric_buffer_limit_strategy',
];

const filterProperties = {
  namepass: globList,
  namepass_separator: { type: 'string' },
  namedrop: globList,
  namedrop_separator: { type: 'string' },
  fieldinclude: globList,
  fieldexclude: globList,
  fieldpass: globList,
  fielddrop: globList,
  pass: globList,
  drop: globList,
  tagpass: tagGlobTable,
  tagdrop: tagGlobTable,
  taginclude: globList,
  tagexclude: globList,
};

const commonPluginProperties = {
  alias: { type: 'string' },
  name_override: { type: 'string' },
  name_prefix: { type: 'string' },
  name_suffix: { type: 'string' },
  log_level: logLevel,
  startup_error_behavior: { type: 'string', enum: ['error', 'retry', 'ignore', 'probe'], default: 'error' },
  ...filterProperties,
};

export const inputCommonProperties: Record<string, unknown> = {
  ...commonPluginProperties,
  interval: positiveDuration,
  precision: duration,
  collection_jitter: duration,
  collection_offset: duration,
  tags: tagTable,
};

export const outputCommonProperties: Record<string, unknown> = {
  ...commonPluginProperties,
  flush_interval: positiveDuration,
  flush_jitter: duration,
  metric_batch_size: metricCount,
  metric_buffer_limit: metricCount,
};

/** Keys Telegraf accepts in every input/output section that lvsagent ignores with a warning. */
export const inputTelegrafOnlyKeys = ['time_source', 'labels', 'metricpass', 'order'];
export const outputTelegrafOnlyKeys = ['metricpass', 'buffer_strategy', 'buffer_directory', 'use_batch_format_legacy'];
/** Why some of those keys are ignored, when it is not "not implemented". */
export const pluginKeyNotes: Record<string, string> = {
  buffer_strategy: 'is an [agent] option (as in Telegraf, outputs cannot set it)',
  buffer_directory: 'is an [agent] option (as in Telegraf, outputs cannot set it)',
};

export function makeAjv(opts: { allErrors?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: opts.allErrors ?? false, useDefaults: true, strict: false, allowUnionTypes: true });
  // `"duration": "nonnegative" | "positive"`: usable in plugin schemas too (a duration given as a number is checked as well).
  const checkDuration = (kind: 'nonnegative' | 'positive', data: unknown): string | undefined => {
    let ns: bigint;
    try {
      ns = parseDuration(data);
    } catch (e) {
      return (e as Error).message;
    }
    if (ns < 0n) return 'must not be negative';
    if (kind === 'positive' && ns === 0n) return 'must be positive';
    return undefined;
  };
  ajv.addKeyword({
    keyword: 'duration',
    schemaType: 'string',
    errors: true,
    validate: function validateDuration(kind: 'nonnegative' | 'positive', data: unknown): boolean {
      const problem = checkDuration(kind, data);
      (validateDuration as unknown as { errors: Partial<ErrorObject>[] }).errors = problem ? [{ keyword: 'duration', message: problem, params: {} }] : [];
      return problem === undefined;
    },
  });
  ajv.addFormat('glob', { type: 'string', validate: (s: string) => globError(s) === undefined });
  // `"virtual_server": true`: an IPVS service pattern (core/ipvs/vsfilter.ts), with the reason when it is bad.
  ajv.addKeyword({
    keyword: 'virtual_server',
    schemaType: 'boolean',
    errors: true,
    validate: function validateVirtualServer(_on: boolean, data: unknown): boolean {
      const problem = typeof data === 'string' ? virtualServerPatternError(data) : undefined;
      (validateVirtualServer as unknown as { errors: Partial<ErrorObject>[] }).errors = problem ? [{ keyword: 'virtual_server', message: problem, params: {} }] : [];
      return problem === undefined;
    },
  });
  // Formats plugins may use without pulling ajv-formats in.
  ajv.addFormat('cidr', {
    type: 'string',
    validate: (s: string) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s),
  });
  ajv.addFormat('tls_cipher_suite', { type: 'string', validate: isCipherSuiteName });
  ajv.addFormat('uri', { type: 'string', validate: (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s) });
  return ajv;
}

/** The schema of one plugin section: the common options plus the plugin's own. */
export function sectionSchema(kind: 'input' | 'output', plugin: JsonSchema): JsonSchema {
  const own = (plugin.properties as Record<string, unknown> | undefined) ?? {};
  const common = kind === 'input' ? inputCommonProperties : outputCommonProperties;
  return {
    ...plugin,
    type: 'object',
    properties: { ...common, ...own },
    additionalProperties: false,
  };
}

/** Formats an ajv error as `key "x": reason`, naming the offending key. */
export function describeAjvError(e: ErrorObject, data: unknown): { key: string; message: string } {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const key = [...path, extra].join('.');
    return { key, message: `unknown option "${key}"` };
  }
  const key = path.join('.');
  let value: unknown = data;
  for (const p of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[p] : undefined;
  const shown = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  if (e.keyword === 'virtual_server') return { key, message: `option "${key}": ${e.message}` };
  if (e.keyword === 'duration') return { key, message: `option "${key}"${/^must /.test(e.message ?? '') ? ' ' : ': '}${e.message}` };
  if (e.keyword === 'format') {
    const what = (e.params as { format: string }).format;
    return { key, message: `option "${key}": invalid ${what} ${shown}` };
  }
  if (e.keyword === 'type') return { key, message: `option "${key}": expected ${(e.params as { type: string }).type}, got ${shown}` };
  if (e.keyword === 'enum')
    return { key, message: `option "${key}": ${shown} is not one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    const k = [...path, missing].join('.');
    return { key: k, message: `option "${k}" is required` };
  }
  return { key, message: `option "${key}" ${e.message ?? 'is invalid'} (got ${shown})` };
}

export type { ValidateFunction };
