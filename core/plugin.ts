/**
 * The plugin contract. The core discovers plugins from `plugins/inputs/<name>/`
 * and `plugins/outputs/<name>/` (see registry.ts) and knows none by name.
 *
 * A plugin folder's `index.ts` default-exports an `InputPlugin` or
 * `OutputPlugin` descriptor. Its `schema` is a JSON Schema (draft-07 subset
 * understood by ajv) for the plugin's own options only; the common options
 * (interval, filters, tags, ...) are validated by the core.
 */
import type { Logger } from './log';
import type { FieldInit, Metric, Tags, ValueType } from './metric';

export type JsonSchema = Record<string, unknown>;

export interface PluginContext {
  log: Logger;
  /** The plugin's `[[inputs.x]]` section name with its index when repeated, for messages. */
  section: string;
  /** Effective gather interval in nanoseconds (inputs), for rate-like computations. */
  intervalNs: bigint;
  /** True when the agent runs `--test`/`--once`: inputs should not start long-lived listeners needlessly. */
  oneShot: boolean;
}

/** Receives what an input gathers. Tag precedence and filters are applied by the core. */
export interface Accumulator {
  addFields(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void;
  addGauge(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void;
  addCounter(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void;
  addHistogram(measurement: string, fields: Record<string, FieldInit>, tags?: Tags, time?: bigint): void;
  /** Hands over a metric built by the plugin (the fastest path; no copying). A zero `time` means "now". */
  addMetric(metric: Metric): void;
  /** Reports a gather error: logged as `Error in plugin: <msg>` and counted; gathering continues. */
  addError(err: unknown): void;
  /** Timestamp that `addFields` uses when no time is given (collection start, rounded). */
  readonly time: bigint;
  /**
   * Resolves when what the metrics flow into (stdout in execd and --test
   * modes) has room again; at least one turn of the event loop. Inputs that
   * emit many metrics in one gather await it between chunks, so a slow reader
   * slows them down instead of letting output pile up in memory.
   */
  whenReady?(): Promise<void>;
}

export interface Input {
  /** Called once before the first gather; throwing here is a startup error (see startup_error_behavior). */
  init?(): Promise<void> | void;
  /** Service inputs (event listeners) start here and may add metrics at any time. */
  start?(acc: Accumulator): Promise<void> | void;
  gather(acc: Accumulator): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/** Thrown by `Output.write` when part of a batch was accepted: rejected indices are dropped, the rest kept. */
export class PartialWriteError extends Error {
  constructor(
    message: string,
    /** Indices into the written batch that must be dropped (not retried). */
    readonly rejected: number[],
    /** Indices that were written. Anything in neither list stays buffered. */
    readonly accepted: number[],
  ) {
    super(message);
    this.name = 'PartialWriteError';
  }
}

export interface Output {
  /** Called once at start (Telegraf's Connect). Throwing is a startup error. */
  connect?(): Promise<void> | void;
  /**
   * Writes one batch. Resolve when the batch is done with (written, or
   * deliberately dropped after logging why); reject to keep it buffered for a
   * retry at the next flush; reject with PartialWriteError for per-metric results.
   */
  write(metrics: Metric[]): Promise<void>;
  /**
   * Called while a write is in flight with the batch that will most likely be
   * written next, so the output can encode it meanwhile. A hint only: write()
   * must accept any batch (it may get fewer metrics after a buffer overflow).
   */
  prepare?(metrics: readonly Metric[]): void;
  close?(): Promise<void> | void;
  /** Output-specific statistics (e.g. `bytes_written`), reported as extra `internal_write` fields. */
  stats?(): Record<string, number>;
  /** The longest one write can take (the output's `timeout`): bounds the final flush at shutdown. */
  readonly timeoutMs?: number;
}

export interface FieldDoc {
  /** Field name, or a pattern such as `<state>` documented as one entry. */
  name: string;
  type: 'float' | 'int' | 'uint' | 'string' | 'bool';
  valueType?: ValueType;
  help: string;
}

export interface MeasurementDoc {
  name: string;
  help: string;
  fields: FieldDoc[];
}

interface PluginBase {
  name: string;
  description: string;
  /** JSON Schema of the plugin's own options. */
  schema: JsonSchema;
  /** Keys Telegraf accepts for this plugin that lvsagent ignores with one warning. */
  telegrafOnlyKeys?: string[];
  /** TOML sample section, as printed by `lvsagent config`. */
  sampleConfig: string;
  /** Field documentation, used for Prometheus `# HELP` text. */
  measurements?: MeasurementDoc[];
}

export interface InputPlugin<O = Record<string, unknown>> extends PluginBase {
  kind: 'input';
  create(options: O, ctx: PluginContext): Input;
}

export interface OutputContext extends PluginContext {
  /** Field documentation of every input plugin the agent knows (for HELP texts and metric types). */
  measurements?: readonly MeasurementDoc[];
}

export interface OutputPlugin<O = Record<string, unknown>> extends PluginBase {
  kind: 'output';
  create(options: O, ctx: OutputContext): Output;
  /**
   * Set by outputs that have no backlog to deliver (pull endpoints): why
   * `buffer_strategy = "disk"` does not apply to them, for the log line
   * saying that they buffer in memory.
   */
  memoryBufferOnly?: string;
}

/** Any plugin descriptor, whatever its options type (create() is checked per plugin). */
export type AnyPlugin = InputPlugin<never> | OutputPlugin<never>;
