/**
 * The agent: builds running inputs and outputs from a loaded config, runs
 * each input on its own schedule (round_interval alignment, jitter, offset,
 * never overlapping a gather that is still running), routes metrics to every
 * output's buffer, flushes outputs on their timers and when a batch is full,
 * and shuts down with a final flush.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPrecision, type InputSection, type LoadedConfig, type OutputSection } from './config/load';
import { formatDuration } from './config/duration';
import { agentLog, Logger } from './log';
import type { Metric } from './metric';
import type { MeasurementDoc } from './plugin';
import type { PluginRegistry } from './registry';
import { RunningInput, type MetricSink } from './models/running_input';
import type { OutputBuffer } from './models/buffer';
import { DiskBuffer, DiskBufferError, readOwner } from './models/disk/disk_buffer';
import { SegmentLog } from './models/disk/segment_log';
import { outputIdentities, type OutputIdentity } from './models/output_identity';
import { RunningOutput, writeStatTags } from './models/running_output';
import { selfStats, type StatGroup } from './selfstat';
import { setLongTimeout, type TimerHandle } from './timers';

export interface AgentOptions {
  /** Gathers happen only when asked (execd mode, --test, --once): no input timers. */
  manualGather?: boolean;
  oneShot?: boolean;
  /** Builds and connects the configured outputs (default: unless manualGather). */
  runOutputs?: boolean;
  /** Adds the `host` tag (false in execd mode unless the config sets omit_hostname = false). */
  hostTag?: boolean;
  /** Overrides precision when the config sets none (execd: no rounding, as Telegraf's shim). */
  defaultPrecisionNs?: bigint;
  /**
   * A reload's new agent: the running agent's open disk buffers by directory.
   * An output of the same section takes over the buffer instead of opening
   * its directory a second time (see handOverBuffers).
   */
  inheritBuffers?: ReadonlyMap<string, DiskBuffer>;
}

export interface TickPlan {
  intervalMs: number;
  offsetMs: number;
  /** round_interval */
  aligned: boolean;
}

/** First gather time: the next interval boundary (plus offset) at least interval/100 away, as Telegraf's aligned ticker; unaligned: now plus offset. */
export function firstTick(p: TickPlan, nowMs: number): number {
  if (!p.aligned) return nowMs + p.offsetMs;
  return Math.ceil((nowMs + p.intervalMs / 100 - p.offsetMs) / p.intervalMs) * p.intervalMs + p.offsetMs;
}

/** The gather after `scheduled`; after a stall (a suspended VM) missed ticks are skipped rather than replayed in a burst. */
export function nextTick(p: TickPlan, scheduledMs: number, nowMs: number): number {
  const following = scheduledMs + p.intervalMs;
  if (following >= nowMs) return following;
  return p.aligned ? Math.ceil((nowMs - p.offsetMs) / p.intervalMs) * p.intervalMs + p.offsetMs : nowMs + p.intervalMs;
}

/** A difference between wall-clock and monotonic time over one tick that means the wall clock was stepped. */
const CLOCK_STEP_MS = 1000;

/** A random delay in [0, max) milliseconds. */
export function jitter(maxNs: bigint): number {
  return maxNs > 0n ? Math.random() * (Number(maxNs) / 1e6) : 0;
}

export class Agent {
  readonly inputs: RunningInput[] = [];
  readonly outputs: RunningOutput[] = [];
  private readonly timers = new Set<TimerHandle>();
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Which config section each output came from (to hand its buffer on at a reload). */
  private readonly identities = new Map<RunningOutput, OutputIdentity>();
  /** Buffers taken over from the running agent at a reload: closed by it, not by us, until the handover. */
  private readonly inherited = new Set<OutputBuffer>();
  /** Buffers handed over to a reload's new agent: it closes them. */
  private readonly handedOver = new Set<OutputBuffer>();
  /** Extra sink (execd and --test modes write metrics themselves). */
  sink?: MetricSink;
  /** The extra sink's backpressure: a promise while it is full (see Accumulator.whenReady). */
  sinkReady?: () => Promise<void> | undefined;
  private readonly ready = (): Promise<void> | undefined => this.sinkReady?.();

  constructor(
    readonly config: LoadedConfig,
    readonly registry: PluginRegistry,
    readonly options: AgentOptions = {},
  ) {
    const globalTags = { ...config.globalTags };
    const hostTag = options.hostTag ?? config.agent.omitHostname !== true;
    // The agent's host name (configured or the OS's) replaces a `host` in [global_tags], as Telegraf (config/config.go 670-681).
    if (hostTag) globalTags.host = config.agent.hostname;
    for (const s of config.inputs) this.inputs.push(this.buildInput(s, globalTags));
    if (options.runOutputs ?? !options.manualGather) {
      const ids = outputIdentities(config.outputs);
      try {
        config.outputs.forEach((s, i) => {
          const ro = this.buildOutput(s, ids[i]);
          this.outputs.push(ro);
          this.identities.set(ro, ids[i]);
        });
      } catch (err) {
        // Buffers opened so far release their directories (a reload falls back to the running agent).
        this.closeBuffers();
        throw err;
      }
      if (config.agent.buffer?.strategy === 'disk') this.reportForeignBuffers(config.agent.buffer.directory);
    }
  }

  private buildInput(s: InputSection, globalTags: Record<string, string>): RunningInput {
    const plugin = this.registry.inputs.get(s.name);
    if (!plugin) throw new Error(`undefined but requested input: ${s.name}`);
    const a = this.config.agent;
    const intervalNs = s.intervalNs ?? a.intervalNs;
    const explicitPrecision = s.precisionNs || a.precisionNs;
    const precisionNs = explicitPrecision || (this.options.defaultPrecisionNs ?? defaultPrecision(intervalNs));
    const log = new Logger(s.alias ? `inputs.${s.name}::${s.alias}` : `inputs.${s.name}`, s.logLevel);
    const input = createNamed(s, () => plugin.create(s.options, { log, section: s.section, intervalNs, oneShot: !!this.options.oneShot }));
    return new RunningInput(
      {
        name: s.name,
        alias: s.alias,
        intervalNs,
        precisionNs,
        // A per-input collection_jitter applies even when "0s" (Telegraf agent/agent.go 419-423); offset and precision only when non-zero.
        collectionJitterNs: s.collectionJitterNs ?? a.collectionJitterNs,
        collectionOffsetNs: s.collectionOffsetNs || a.collectionOffsetNs,
        nameOverride: s.nameOverride,
        namePrefix: s.namePrefix,
        nameSuffix: s.nameSuffix,
        tags: s.tags,
        filter: s.filter,
        startupErrorBehavior: s.startupErrorBehavior,
      },
      input,
      log,
      globalTags,
    );
  }

  private buildOutput(s: OutputSection, identity: OutputIdentity): RunningOutput {
    const plugin = this.registry.outputs.get(s.name);
    if (!plugin) throw new Error(`undefined but requested output: ${s.name}`);
    const a = this.config.agent;
    const log = new Logger(s.alias ? `outputs.${s.name}::${s.alias}` : `outputs.${s.name}`, s.logLevel);
    const metricBatchSize = s.metricBatchSize ?? a.metricBatchSize;
    const metricBufferLimit = s.metricBufferLimit ?? a.metricBufferLimit;
    // The buffer first: an unusable buffer directory stops the start before any plugin binds a port.
    let buffer: OutputBuffer | undefined;
    const b = a.buffer;
    if (b?.strategy === 'disk') {
      if (plugin.memoryBufferOnly) log.info(`buffer_strategy = "disk" does not apply (${plugin.memoryBufferOnly}); buffering in memory`);
      else {
        const dir = path.join(b.directory, identity.bufferId);
        // A reload's new agent takes over the running agent's open buffer of the same section.
        const inherited = this.options.inheritBuffers?.get(path.resolve(dir));
        if (inherited) {
          buffer = inherited;
          this.inherited.add(inherited);
        } else try {
          buffer = DiskBuffer.open({
            dir,
            owner: { output: s.name, alias: s.alias, section: s.section, file: s.file },
            limit: metricBufferLimit,
            batchSize: metricBatchSize,
            sync: b.sync,
            log,
            stat: (field) => selfStats.register('internal_write', field, writeStatTags(s.name, s.alias)),
          });
        } catch (err) {
          if (err instanceof DiskBufferError) throw new Error(`${b.origin}: option "buffer_directory": buffer of ${s.section} in ${s.file}: ${err.message}`);
          throw err;
        }
      }
    }
    let output;
    try {
      output = createNamed(s, () => plugin.create(s.options, { log, section: s.section, intervalNs: a.intervalNs, oneShot: !!this.options.oneShot, measurements: this.inputDocs() }));
    } catch (err) {
      if (buffer && !this.inherited.has(buffer)) buffer.close?.();
      throw err;
    }
    const ro = new RunningOutput(
      {
        name: s.name,
        alias: s.alias,
        flushIntervalNs: s.flushIntervalNs || a.flushIntervalNs,
        flushJitterNs: s.flushJitterNs ?? a.flushJitterNs,
        metricBatchSize,
        metricBufferLimit,
        nameOverride: s.nameOverride,
        namePrefix: s.namePrefix,
        nameSuffix: s.nameSuffix,
        filter: s.filter,
        startupErrorBehavior: s.startupErrorBehavior,
      },
      output,
      log,
      buffer,
    );
    ro.onBatchReady = () => {
      if (!this.stopping) void ro.flush(true);
    };
    return ro;
  }

  private docs: MeasurementDoc[] | undefined;

  /** The measurement docs of every input plugin in the registry, for the outputs' context. */
  private inputDocs(): readonly MeasurementDoc[] {
    if (this.docs === undefined) {
      this.docs = [];
      for (const p of this.registry.inputs.values()) if (p.measurements) this.docs.push(...p.measurements);
    }
    return this.docs;
  }

  /**
   * Disk buffers in buffer_directory that no configured output owns: their
   * section changed (another destination, other options) or went away. They
   * are never delivered to another section; one line each says so.
   */
  private reportForeignBuffers(directory: string): void {
    const mine = new Set<string>();
    for (const ro of this.outputs) if (ro.buffer instanceof DiskBuffer) mine.add(path.basename(ro.buffer.dir));
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(directory, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || mine.has(e.name)) continue;
      const dir = path.join(directory, e.name);
      const held = SegmentLog.inspect(dir, agentLog);
      if (!held || held.metrics === 0) continue;
      const owner = readOwner(dir);
      const whose = owner ? `${owner.section}${owner.alias ? ` (alias ${owner.alias})` : ''}${owner.file ? ` of ${owner.file}` : ''}` : 'an output';
      agentLog.warn(
        `buffer_directory: ${dir} holds ${held.metrics} metrics (${held.bytes} bytes) of ${whose} as configured before; no configured output has that section now, so they are not delivered (restore the section to send them, or delete the directory)`,
      );
    }
  }

  /** Routes one gathered metric to every output (each gets its own copy) and the extra sink. */
  readonly route: MetricSink = (m: Metric) => {
    const outs = this.outputs;
    if (this.sink) this.sink(outs.length ? m.copy() : m);
    for (let i = 0; i < outs.length; i++) outs[i].add(i === outs.length - 1 ? m : m.copy());
  };

  /**
   * Initialises inputs and connects outputs, honouring startup_error_behavior.
   * Throws on a fatal startup error, after closing what it had opened (so a
   * failed reload leaves no listener or subscription behind).
   */
  async start(): Promise<void> {
    try {
      await this.startPlugins();
    } catch (err) {
      await this.closeStarted();
      this.closeBuffers();
      throw err;
    }
  }

  private async closeStarted(): Promise<void> {
    for (const ri of this.inputs) {
      if (!ri.started || !ri.input.stop) continue;
      await Promise.resolve()
        .then(() => ri.input.stop!())
        .catch((e: Error) => ri.log.error(`stopping: ${e.message}`));
      ri.started = false;
    }
    for (const ro of this.outputs) {
      if (!ro.connected || !ro.output.close) continue;
      await Promise.resolve()
        .then(() => ro.output.close!())
        .catch((e: Error) => ro.log.error(`closing: ${e.message}`));
      ro.connected = false;
    }
  }

  private async startPlugins(): Promise<void> {
    for (const ro of [...this.outputs]) {
      if (!ro.output.connect) {
        ro.connected = true;
        continue;
      }
      try {
        await ro.output.connect();
        ro.connected = true;
      } catch (err) {
        ro.stats.startupErrors.incr();
        const msg = `connecting output ${ro.logName}: ${(err as Error).message}`;
        const b = ro.config.startupErrorBehavior;
        if (b === 'ignore' || b === 'probe') {
          ro.log.error(`${msg}; output removed (startup_error_behavior = "${b}")`);
          this.outputs.splice(this.outputs.indexOf(ro), 1);
        } else if (b === 'retry') {
          ro.log.error(`${msg}; will retry`);
        } else throw new Error(msg, { cause: err });
      }
    }
    for (const ri of [...this.inputs]) {
      if (!(await this.initInput(ri))) {
        const b = ri.config.startupErrorBehavior;
        if (b === 'ignore' || b === 'probe') this.inputs.splice(this.inputs.indexOf(ri), 1);
      }
    }
  }

  /** Returns true when the input is ready; throws when its failure is fatal. */
  private async initInput(ri: RunningInput): Promise<boolean> {
    try {
      if (ri.input.init) await ri.input.init();
      if (ri.input.start) await ri.input.start(ri.accumulator(this.route, undefined, this.ready));
      ri.started = true;
      return true;
    } catch (err) {
      ri.stats.startupErrors.incr();
      const msg = `starting input ${ri.logName}: ${(err as Error).message}`;
      const b = ri.config.startupErrorBehavior;
      if (b === 'error') throw new Error(msg, { cause: err });
      ri.log.error(b === 'retry' ? `${msg}; will retry at the next gather` : `${msg}; input removed (startup_error_behavior = "${b}")`);
      return false;
    }
  }

  /** One gather of one input; errors are logged and counted, never thrown. Returns the error count. */
  async gatherInput(ri: RunningInput): Promise<number> {
    if (!ri.started && !(await this.initInput(ri).catch(() => false))) return 1;
    const acc = ri.accumulator(this.route, undefined, this.ready);
    const start = process.hrtime.bigint();
    try {
      await ri.input.gather(acc);
    } catch (err) {
      acc.addError(err);
    }
    ri.stats.gatherTime.set(Number(process.hrtime.bigint() - start));
    return acc.errors;
  }

  /** Gathers every input once, concurrently. Returns the total error count. */
  async gatherAll(): Promise<number> {
    const counts = await Promise.all(this.inputs.map((ri) => this.runExclusive(ri)));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async runExclusive(ri: RunningInput): Promise<number> {
    if (ri.gathering) return 0;
    ri.gathering = true;
    const p = this.gatherInput(ri);
    const done = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(done);
    try {
      return await p;
    } finally {
      ri.gathering = false;
      this.inFlight.delete(done);
    }
  }

  /** Starts input tickers and output flush timers. */
  run(): void {
    if (!this.options.manualGather) for (const ri of this.inputs) this.scheduleInput(ri);
    for (const ro of this.outputs) this.scheduleFlush(ro);
  }

  private addTimer(ms: number, fn: () => void): void {
    const t = setLongTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private scheduleInput(ri: RunningInput): void {
    const c = ri.config;
    const plan: TickPlan = {
      intervalMs: Number(c.intervalNs) / 1e6,
      offsetMs: Number(c.collectionOffsetNs) / 1e6,
      aligned: this.config.agent.roundInterval,
    };
    // Each tick is armed on the wall clock; the monotonic clock tells a step of the wall
    // clock (NTP, `date -s`, a resumed VM) from a timer that merely fired late.
    const arm = (at: number): void => {
      const wall = Date.now();
      const mono = performance.now();
      this.addTimer(at - wall + jitter(c.collectionJitterNs), () => tick(at, wall, mono));
    };
    const tick = (scheduled: number, armedWall: number, armedMono: number): void => {
      if (this.stopping) return;
      const moved = Date.now() - armedWall - (performance.now() - armedMono);
      if (Math.abs(moved) > CLOCK_STEP_MS) {
        // Gathering now would be off the interval's boundaries (two timestamps in one second after a
        // step forward, a long wait after a step back): realign on the new time instead.
        ri.log.debug(`wall clock moved by ${(moved / 1000).toFixed(1)}s; next gather on the interval's boundary`);
        arm(firstTick(plan, Date.now()));
        return;
      }
      if (ri.gathering) {
        ri.stats.gatherTimeouts.incr();
        selfStats.register('internal_agent', 'gather_timeouts').incr();
        ri.log.warn(`Collection took longer than expected; not complete after interval of ${formatDuration(c.intervalNs)}`);
      } else void this.runExclusive(ri);
      arm(nextTick(plan, scheduled, Date.now()));
    };
    arm(firstTick(plan, Date.now()));
  }

  private scheduleFlush(ro: RunningOutput): void {
    const c = ro.config;
    const loop = (): void => {
      this.addTimer(Number(c.flushIntervalNs) / 1e6 + jitter(c.flushJitterNs), () => {
        if (this.stopping) return;
        const start = Date.now();
        void ro.flush().then(() => {
          if (Date.now() - start > Number(c.flushIntervalNs) / 1e6)
            ro.log.warn(`did not complete within its flush interval`);
        });
        loop();
      });
    };
    loop();
  }

  /** The internal_gather and internal_write series of this agent's plugins. */
  statGroups(): StatGroup[] {
    return [...this.inputs.map((ri) => ri.statGroup), ...this.outputs.map((ro) => ro.statGroup)];
  }

  /** Flushes every output now (SIGUSR1). Resolves true when all writes succeeded. */
  async flushAll(): Promise<boolean> {
    const results = await Promise.all(this.outputs.map((ro) => ro.flush()));
    return results.every(Boolean);
  }

  /**
   * Stops inputs and timers, waits for running gathers, then (unless `flush`
   * is false) a final flush. Each output's final flush waits for its write in
   * flight and then writes what is left, all within its own timeout plus a
   * second, however long an outage went on before: a stop never takes much
   * longer than the slowest output's timeout. Resolves false when something
   * stayed unsent (logged, with the count).
   */
  async stop(opts: { flush?: boolean; gatherWaitMs?: number } = {}): Promise<boolean> {
    this.stopping = true;
    for (const t of this.timers) t.clear();
    this.timers.clear();
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => setTimeout(r, opts.gatherWaitMs ?? 5000).unref())]);
    for (const ri of this.inputs) {
      try {
        if (ri.input.stop) await ri.input.stop();
      } catch (err) {
        ri.log.error(`stopping: ${(err as Error).message}`);
      }
    }
    let ok = true;
    if (opts.flush !== false && this.outputs.length) {
      agentLog.info('Hang on, flushing any cached metrics before shutdown');
      const results = await Promise.all(this.outputs.map((ro) => this.finalFlush(ro)));
      ok = results.every(Boolean);
    } else {
      // Nothing new is written, but a write in flight finishes first: its batch must not be handed on and sent twice.
      await Promise.all(this.outputs.map((ro) => withDeadline(ro.idle().then(() => true), ro.writeTimeoutMs + 1000)));
    }
    for (const ro of this.outputs) {
      try {
        if (ro.output.close) await ro.output.close();
      } catch (err) {
        ro.log.error(`closing: ${(err as Error).message}`);
      }
    }
    this.closeBuffers();
    return ok;
  }

  /** This agent's open disk buffers by directory (for a reload's new agent to take over). */
  diskBuffers(): Map<string, DiskBuffer> {
    const out = new Map<string, DiskBuffer>();
    for (const ro of this.outputs) if (ro.buffer instanceof DiskBuffer && !this.handedOver.has(ro.buffer)) out.set(path.resolve(ro.buffer.dir), ro.buffer);
    return out;
  }

  /** The buffers `next` took over from this agent are its own now: this agent's stop leaves them open. */
  handOverBuffers(next: Agent): void {
    for (const b of next.inherited) this.handedOver.add(b);
    next.inherited.clear();
  }

  /** Disk buffers write what they hold in memory and release their directories (not those lent or taken over). */
  private closeBuffers(): void {
    for (const ro of this.outputs) {
      if (this.inherited.has(ro.buffer) || this.handedOver.has(ro.buffer)) continue;
      try {
        ro.buffer.close?.();
      } catch (err) {
        ro.log.error(`closing the buffer: ${(err as Error).message}`);
      }
    }
  }

  private async finalFlush(ro: RunningOutput): Promise<boolean> {
    const limitMs = ro.writeTimeoutMs + 1000;
    const written = await withDeadline(ro.flushAfterCurrent(), limitMs);
    const kept = ro.buffer instanceof DiskBuffer ? `; they stay in ${ro.buffer.dir} for the next start` : '';
    if (written === undefined) ro.log.error(`final flush did not finish within ${limitMs / 1000}s; ${ro.buffer.length} metrics not sent${kept}`);
    else if (!written) ro.log.error(`final flush failed; ${ro.buffer.length} metrics not sent${kept}`);
    return written === true;
  }

  /**
   * Unsent metrics of every output by section identity, for a reloaded agent
   * (call after stop). A disk buffer's metrics stay in its directory, which
   * stop() released for the new agent.
   */
  takeBuffered(): BufferedMetrics[] {
    return this.outputs.map((ro) => {
      if (ro.buffer instanceof DiskBuffer) return { identity: this.identities.get(ro)!, metrics: [], directory: ro.buffer.dir };
      const left = ro.buffer.batch(ro.buffer.length);
      ro.buffer.endBatch(left, true);
      return { identity: this.identities.get(ro)!, metrics: left };
    });
  }

  /**
   * Puts metrics left by a previous agent (SIGHUP reload) into the outputs
   * they belong to: first the output whose section is unchanged (same plugin,
   * alias and options), then, for sections whose options changed, the one
   * with the same plugin and alias in the same position among its kind.
   * Returns how many had no output any more (dropped).
   */
  adoptBuffered(left: BufferedMetrics[]): number {
    const mine = this.outputs.map((ro) => this.identities.get(ro)!);
    const taken = new Set<number>();
    const rest: BufferedMetrics[] = [];
    // A disk backlog whose directory a new output opened is already where it belongs.
    const pending: BufferedMetrics[] = [];
    for (const b of left) {
      const i = b.directory === undefined ? -1 : this.outputs.findIndex((ro, j) => !taken.has(j) && ro.buffer instanceof DiskBuffer && ro.buffer.dir === b.directory);
      if (i >= 0) taken.add(i);
      else pending.push(b);
    }
    for (const b of pending) {
      const i = mine.findIndex((id, j) => !taken.has(j) && id.exact === b.identity.exact);
      if (i < 0) rest.push(b);
      else if (b.directory !== undefined) this.moveDiskBacklog(i, b.directory, taken);
      else this.adoptInto(i, b.metrics, taken);
    }
    let lost = 0;
    for (const b of rest) {
      if (b.directory !== undefined) {
        // Never into another section: the backlog waits in its directory for its section to come back.
        const held = SegmentLog.inspect(b.directory, agentLog);
        if (held && held.metrics > 0)
          agentLog.warn(`${held.metrics} buffered metrics stay in ${b.directory}: the new configuration has no output with their section; they are delivered when it comes back`);
        continue;
      }
      const i = mine.findIndex((id, j) => !taken.has(j) && id.loose === b.identity.loose);
      if (i < 0) lost += b.metrics.length;
      else this.adoptInto(i, b.metrics, taken);
    }
    return lost;
  }

  /**
   * The same section with another buffer (buffer_strategy or buffer_directory
   * changed): its disk backlog moves into the new buffer, batch by batch, and
   * the old directory is removed.
   */
  private moveDiskBacklog(i: number, directory: string, taken: Set<number>): void {
    taken.add(i);
    const ro = this.outputs[i];
    let src: DiskBuffer;
    try {
      src = DiskBuffer.open({
        dir: directory,
        owner: readOwner(directory) ?? { output: ro.config.name, section: ro.logName },
        limit: Number.MAX_SAFE_INTEGER,
        batchSize: ro.config.metricBatchSize,
        sync: false,
        log: ro.log,
      });
    } catch (err) {
      ro.log.error(`the backlog in ${directory} could not be read: ${(err as Error).message}; left there`);
      return;
    }
    let moved = 0;
    for (;;) {
      const batch = src.batch(ro.config.metricBatchSize);
      if (batch.length === 0) break;
      ro.buffer.add(batch);
      if (ro.buffer instanceof DiskBuffer) ro.buffer.writePending();
      src.endBatch(batch, true);
      moved += batch.length;
    }
    src.close();
    fs.rmSync(directory, { recursive: true, force: true });
    ro.stats.bufferSize.set(ro.buffer.length);
    ro.log.info(`${moved} buffered metrics moved from ${directory} into this output's new buffer`);
  }

  private adoptInto(i: number, metrics: Metric[], taken: Set<number>): void {
    taken.add(i);
    const ro = this.outputs[i];
    // The predecessor's metrics are older than any a service input already gave this output: they go first
    // (remote-write receivers refuse samples older than the newest of a series).
    const mine = ro.buffer.batch(ro.buffer.length);
    ro.buffer.endBatch(mine, true);
    ro.buffer.add(metrics);
    ro.buffer.add(mine);
    ro.stats.bufferSize.set(ro.buffer.length);
  }
}

/** Metrics an output of a stopped agent still held, with the identity of its section. */
export interface BufferedMetrics {
  identity: OutputIdentity;
  metrics: Metric[];
  /** A disk buffer's directory (its metrics are there, not in `metrics`). */
  directory?: string;
}

/** Runs a plugin's create(); an error names the file and section it came from. */
function createNamed<T>(s: InputSection | OutputSection, create: () => T): T {
  try {
    return create();
  } catch (err) {
    throw new Error(`${s.file}: ${s.section}: ${(err as Error).message}`);
  }
}

/** The promise's value, or undefined when `ms` passed first. */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}
