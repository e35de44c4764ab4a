/** A Logger that records lines instead of printing them, for asserting on log output in tests. */
import { Logger } from '../../core/log';
import type { OutputContext } from '../../core/plugin';

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
  text(): string {
    return this.lines.join('\n');
  }
  clear(): void {
    this.lines.length = 0;
  }
}

export function outputContext(log: Logger, section = 'outputs.test'): OutputContext {
  return { log, section, intervalNs: 10_000_000_000n, oneShot: false };
}
