/**
 * `[agent]` buffer_strategy / buffer_directory / buffer_disk_sync (Telegraf's
 * docs/CONFIGURATION.md; config/config.go maps "disk" to its
 * "disk_write_through") and the ids of output buffer directories.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../core/config/load';
import { outputIdentities } from '../../core/models/output_identity';
import { loadRegistry } from '../../core/registry';

const registry = loadRegistry();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-config-buffer-'));
let n = 0;
function write(text: string): string {
  const f = path.join(tmp, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}
const load = (text: string) => loadConfig({ files: [write(text)], directories: [], registry });

describe('[agent] buffer keys', () => {
  test('memory by default; buffer_disk_sync defaults to true', () => {
    const c = load('[[inputs.internal]]\n[[outputs.file]]\n');
    assert.equal(c.agent.buffer?.strategy, 'memory');
    assert.equal(c.agent.buffer?.sync, true);
    assert.deepEqual(c.warnings, []);
  });

  test('"disk" (and Telegraf\'s internal name "disk_write_through") with a directory; relative paths resolved; no warning', () => {
    const c = load('[agent]\n  buffer_strategy = "disk"\n  buffer_directory = "buf"\n  buffer_disk_sync = false\n[[inputs.internal]]\n[[outputs.file]]\n');
    assert.deepEqual({ ...c.agent.buffer, origin: undefined }, { strategy: 'disk', directory: path.resolve('buf'), sync: false, origin: undefined });
    assert.match(c.agent.buffer!.origin, /c\d+\.conf:3: \[agent\]$/);
    assert.deepEqual(c.warnings, []);
    assert.equal(load('[agent]\n  buffer_strategy = "disk_write_through"\n  buffer_directory = "/x"\n[[inputs.internal]]\n[[outputs.file]]\n').agent.buffer?.strategy, 'disk');
  });

  test('errors name the file, line and key', () => {
    const f = write('[agent]\n  interval = "1s"\n  buffer_strategy = "tape"\n[[inputs.internal]]\n[[outputs.file]]\n');
    assert.throws(() => loadConfig({ files: [f], directories: [], registry }), (e: Error) => e instanceof ConfigError && e.message === `${f}:3: [agent]: option "buffer_strategy": "tape" is not one of "memory", "disk", "disk_write_through"`);
    const g = write('[agent]\n  buffer_strategy = "disk"\n[[inputs.internal]]\n[[outputs.file]]\n');
    assert.throws(() => loadConfig({ files: [g], directories: [], registry }), (e: Error) => e instanceof ConfigError && e.message === `${g}:2: [agent]: option "buffer_directory" is required with buffer_strategy = "disk"`);
    assert.throws(() => load('[agent]\n  buffer_disk_sync = "yes"\n[[inputs.internal]]\n[[outputs.file]]\n'), /option "buffer_disk_sync": expected boolean/);
  });

  test('in an output section the keys are ignored with a warning saying they belong in [agent]', () => {
    const c = load('[[inputs.internal]]\n[[outputs.file]]\n  buffer_strategy = "disk"\n');
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0], /\[\[outputs\.file\]\]: option "buffer_strategy" is an \[agent\] option \(as in Telegraf, outputs cannot set it\); ignored/);
  });
});

describe('buffer directory ids', () => {
  const ids = (text: string): string[] => outputIdentities(load(`[[inputs.internal]]\n${text}`).outputs).map((i) => i.bufferId);

  test('stable: the same section gives the same id whatever the key order; named after the plugin', () => {
    const [a] = ids('[[outputs.influxdb]]\n  urls = ["http://a:8086"]\n  database = "x"\n');
    const [b] = ids('[[outputs.influxdb]]\n  database = "x"\n  urls = ["http://a:8086"]\n');
    assert.match(a, /^influxdb-[0-9a-f]{16}$/);
    assert.equal(a, b);
  });

  test('another destination or other options: another id; buffer and delivery tuning keys do not count', () => {
    const base = '[[outputs.influxdb]]\n  urls = ["http://a:8086"]\n';
    const [a] = ids(base);
    assert.notEqual(ids('[[outputs.influxdb]]\n  urls = ["http://b:8086"]\n')[0], a);
    assert.notEqual(ids(`${base}  namepass = ["cpu"]\n`)[0], a);
    assert.notEqual(ids(`${base}  alias = "edge"\n`)[0], a);
    assert.equal(ids(`${base}  metric_buffer_limit = 500000\n  metric_batch_size = 5000\n  flush_interval = "30s"\n  flush_jitter = "1s"\n  log_level = "debug"\n  startup_error_behavior = "retry"\n`)[0], a);
  });

  test('identical sections are told apart by their order', () => {
    const [a, b] = ids('[[outputs.file]]\n[[outputs.file]]\n');
    assert.notEqual(a, b);
    assert.deepEqual(ids('[[outputs.file]]\n[[outputs.file]]\n'), [a, b]);
  });
});
