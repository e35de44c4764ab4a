/**
 * The capture logger of every test, bench and lab driver: a Logger that
 * records lines (`E! msg`, `W! msg`, ...) instead of printing them, and the
 * plugin contexts built around one.
 */
import { Logger, type LogLevel } from '../../core/log';
import type { OutputContext, PluginContext } from '../../core/plugin';

const LETTER: Record<LogLevel, string> = { error: 'E', warn: 'W', info: 'I', debug: 'D', trace: 'T' };

export class CaptureLogger extends Logger {
  readonly lines: string[] = [];
  constructor(source = 'test') {
    super(source, 'debug');
  }
  override error(msg: string): void {
    this.lines.push('E! ' + msg);
  }
  override warn(msg: string): void {
    this.lines.push('W! ' + msg);
  }
  override info(msg: string): void {
    this.lines.push('I! ' + msg);
  }
  override debug(msg: string): void {
    this.lines.push('D! ' + msg);
  }
  override trace(msg: string): void {
    this.lines.push('T! ' + msg);
  }
  /** The messages logged at one level, without the level prefix. */
  messages(level: LogLevel): string[] {
    const prefix = LETTER[level] + '! ';
    return this.lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  }
  text(): string {
    return this.lines.join('\n');
  }
  clear(): void {
    this.lines.length = 0;
  }
}

/** What the agent hands an input's create(): `section` names it in messages. */
export function inputContext(log: Logger, section: string, intervalNs = 10_000_000_000n): PluginContext {
  return { log, section, intervalNs, oneShot: false };
}

export function outputContext(log: Logger, section = 'outputs.test'): OutputContext {
  return { log, section, intervalNs: 10_000_000_000n, oneShot: false };
}
