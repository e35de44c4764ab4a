/**
 * Telegraf-style logging: `2024-01-02T03:04:05Z E! [inputs.ipvs] message`.
 * In execd mode the timestamp is left out so that Telegraf's execd input maps
 * the level from the `E! `/`W! `/`I! `/`D! ` prefix at the start of the line.
 */
import * as fs from 'node:fs';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVEL_RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };
const LEVEL_LETTER: Record<LogLevel, string> = { error: 'E', warn: 'W', info: 'I', debug: 'D', trace: 'T' };

export interface LogSink {
  write(line: string): void;
}

class StderrSink implements LogSink {
  write(line: string): void {
    process.stderr.write(line);
  }
}

class FileSink implements LogSink {
  private fd: number;
  constructor(path: string) {
    this.fd = fs.openSync(path, 'a');
  }
  write(line: string): void {
    fs.writeSync(this.fd, line);
  }
}

export interface LogSettings {
  level: LogLevel;
  timestamps: boolean;
  sink: LogSink;
}

const settings: LogSettings = { level: 'info', timestamps: true, sink: new StderrSink() };

export function configureLogging(opts: { debug?: boolean; quiet?: boolean; logfile?: string; timestamps?: boolean }): void {
  settings.level = opts.quiet ? 'error' : opts.debug ? 'debug' : 'info';
  if (opts.timestamps !== undefined) settings.timestamps = opts.timestamps;
  settings.sink = opts.logfile ? new FileSink(opts.logfile) : new StderrSink();
}

export function parseLogLevel(s: string): LogLevel | undefined {
  return (Object.keys(LEVEL_RANK) as LogLevel[]).find((l) => l === s);
}

function stamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class Logger {
  constructor(
    /** e.g. `inputs.ipvs` or `inputs.ipvs::alias`; empty for the agent itself. */
    readonly source: string,
    /** Per-plugin level (Telegraf's `log_level`); undefined follows the agent. */
    private level?: LogLevel,
  ) {}

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] <= LEVEL_RANK[this.level ?? settings.level];
  }

  private emit(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    const src = this.source ? `[${this.source}] ` : '';
    // One record per line: a multi-line message would be split into several levels by execd.
    const text = msg.replace(/\r?\n/g, ' ');
    const prefix = settings.timestamps ? `${stamp()} ` : '';
    settings.sink.write(`${prefix}${LEVEL_LETTER[level]}! ${src}${text}\n`);
  }

  error(msg: string): void {
    this.emit('error', msg);
  }
  warn(msg: string): void {
    this.emit('warn', msg);
  }
  info(msg: string): void {
    this.emit('info', msg);
  }
  debug(msg: string): void {
    this.emit('debug', msg);
  }
  trace(msg: string): void {
    this.emit('trace', msg);
  }
}

export const agentLog = new Logger('agent');
