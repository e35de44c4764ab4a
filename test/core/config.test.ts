import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseDuration, formatDuration, DurationError } from '../../core/config/duration';
import { substituteEnv, EnvSubstitutionError } from '../../core/config/env';
import { ConfigError, defaultPrecision, loadConfig, listConfigDirectory } from '../../core/config/load';
import { loadRegistry } from '../../core/registry';
import { Agent } from '../../core/agent';
import { FieldType, Metric } from '../../core/metric';

const registry = loadRegistry();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-config-'));
let n = 0;
function write(text: string, dir = tmp): string {
  const f = path.join(dir, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}
function load(text: string) {
  return loadConfig({ files: [write(text)], directories: [], registry });
}
function loadError(text: string): string {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('durations', () => {
  test('Go duration strings and integer seconds', () => {
    assert.equal(parseDuration('10s'), 10_000_000_000n);
    assert.equal(parseDuration('1m30s'), 90_000_000_000n);
    assert.equal(parseDuration('500ms'), 500_000_000n);
    assert.equal(parseDuration('1.5h'), 5_400_000_000_000n);
    assert.equal(parseDuration('2us'), 2000n);
    assert.equal(parseDuration('2µs'), 2000n);
    assert.equal(parseDuration('100ns'), 100n);
    assert.equal(parseDuration(10), 10_000_000_000n);
    assert.equal(parseDuration('10'), 10_000_000_000n);
    assert.equal(parseDuration(''), 0n);
    assert.equal(parseDuration('-1s'), -1_000_000_000n);
  });
  test('bad durations are rejected', () => {
    for (const bad of ['ten seconds', '10x', '1m30', 's', '1 s']) {
      assert.throws(() => parseDuration(bad), DurationError, bad);
    }
  });
  test('formats like Go', () => {
    assert.equal(formatDuration(10_000_000_000n), '10s');
    assert.equal(formatDuration(90_000_000_000n), '1m30s');
    assert.equal(formatDuration(500_000_000n), '500ms');
    assert.equal(formatDuration(3_600_000_000_000n), '1h0m0s');
  });
});

describe('environment substitution (strict mode)', () => {
  const env = { A: 'alpha', EMPTY: '' };
  test('braced and plain forms', () => {
    assert.equal(substituteEnv('${A}-$A', env), 'alpha-alpha');
    assert.equal(substituteEnv('x${A}y', env), 'xalphay');
  });
  test('undefined variables are left as written', () => {
    assert.equal(substituteEnv('${NOPE} $NOPE', env), '${NOPE} $NOPE');
  });
  test('defaults: :- for unset or empty, - for unset only', () => {
    assert.equal(substituteEnv('${NOPE:-d}', env), 'd');
    assert.equal(substituteEnv('${EMPTY:-d}', env), 'd');
    assert.equal(substituteEnv('${NOPE-d}', env), 'd');
    assert.equal(substituteEnv('${EMPTY-d}', env), '');
    assert.equal(substituteEnv('${A:-d}', env), 'alpha');
  });
  test('errors: :? for unset or empty, ? for unset only', () => {
    assert.throws(() => substituteEnv('${NOPE:?need it}', env), (e: unknown) => e instanceof EnvSubstitutionError && /NOPE: need it/.test(e.message));
    assert.throws(() => substituteEnv('${EMPTY:?need it}', env), EnvSubstitutionError);
    assert.equal(substituteEnv('${EMPTY?need it}', env), '');
    assert.throws(() => substituteEnv('${NOPE?x}', env), EnvSubstitutionError);
  });
  test('$$ escapes a dollar', () => {
    assert.equal(substituteEnv('cost $$5 ${A}', env), 'cost $5 alpha');
  });
  test('substitution happens only inside string values of the config', () => {
    process.env.LVSAGENT_TEST_HOST = 'h1';
    process.env.LVSAGENT_TEST_FILE = 'stdout';
    const cfg = load(`[global_tags]\n  dc = "\${LVSAGENT_TEST_HOST}"\n[[outputs.file]]\n  files = ["\${LVSAGENT_TEST_FILE}"]\n[[inputs.internal]]\n`);
    assert.equal(cfg.globalTags.dc, 'h1');
    assert.deepEqual(cfg.outputs[0].options.files, ['stdout']);
    const msg = loadError(`[global_tags]\n  dc = "\${LVSAGENT_TEST_MISSING:?set the data centre}"\n`);
    assert.match(msg, /LVSAGENT_TEST_MISSING: set the data centre/);
  });
});

describe('config loading', () => {
  test('defaults are Telegraf’s', () => {
    const cfg = load('[[inputs.internal]]\n[[outputs.file]]\n');
    const a = cfg.agent;
    assert.equal(a.intervalNs, 10_000_000_000n);
    assert.equal(a.roundInterval, true);
    assert.equal(a.metricBatchSize, 1000);
    assert.equal(a.metricBufferLimit, 10000);
    assert.equal(a.flushIntervalNs, 10_000_000_000n);
    assert.equal(a.collectionJitterNs, 0n);
    assert.equal(a.precisionNs, 0n);
    assert.equal(a.omitHostname, undefined);
    assert.deepEqual(cfg.outputs[0].options.files, ['stdout']);
    assert.equal(cfg.inputs[0].options.collect_memstats, true);
  });

  test('common input options and filters are parsed', () => {
    const cfg = load(`
[[inputs.internal]]
  alias = "me"
  interval = "1m30s"
  precision = "1ms"
  collection_jitter = 2
  name_prefix = "p_"
  fieldpass = ["a*"]
  fielddrop = ["b"]
  namepass = ["internal_*"]
  log_level = "debug"
  [inputs.internal.tags]
    role = "lb"
  [inputs.internal.tagpass]
    input = ["ipvs", "conn*"]
`);
    const s = cfg.inputs[0];
    assert.equal(s.alias, 'me');
    assert.equal(s.intervalNs, 90_000_000_000n);
    assert.equal(s.precisionNs, 1_000_000n);
    assert.equal(s.collectionJitterNs, 2_000_000_000n);
    assert.equal(s.namePrefix, 'p_');
    assert.equal(s.logLevel, 'debug');
    assert.deepEqual(s.tags, { role: 'lb' });
    assert.deepEqual(s.filter.fieldinclude, ['a*']);
    assert.deepEqual(s.filter.fieldexclude, ['b']);
    assert.deepEqual(s.filter.tagpass, { input: ['ipvs', 'conn*'] });
    assert.ok(!('alias' in s.options) && !('tags' in s.options), 'common keys are not plugin options');
  });

  test('unknown key names file, line, section and key', () => {
    const msg = loadError('[[inputs.internal]]\n  collect_memstats = true\n  bogus_key = 1\n');
    assert.match(msg, /c\d+\.conf:3: \[\[inputs\.internal\]\]: unknown option "bogus_key"/);
    assert.equal(msg.split('\n').length, 1);
  });

  test('repeated sections are named with their index', () => {
    const msg = loadError('[[inputs.internal]]\n[[inputs.internal]]\n  nope = true\n');
    assert.match(msg, /\[\[inputs\.internal\]\] #2: unknown option "nope"/);
  });

  test('wrong type, bad duration and bad glob are errors', () => {
    assert.match(loadError('[[inputs.internal]]\n  collect_memstats = "yes"\n'), /collect_memstats.*expected boolean/);
    assert.match(loadError('[[inputs.internal]]\n  interval = "10 parsecs"\n'), /option "interval": invalid duration/);
    assert.match(loadError('[agent]\n  flush_interval = "soon"\n'), /\[agent\]: option "flush_interval": invalid duration/);
    assert.match(loadError('[[inputs.internal]]\n  namepass = ["cpu[abc"]\n'), /namepass\.0.*invalid glob/);
    assert.match(loadError('[agent]\n  interval = "0s"\n'), /\[agent\]: option "interval" must be positive/);
    assert.match(loadError('[agent]\n  no_such_agent_key = 1\n'), /:2: \[agent\]: unknown option "no_such_agent_key"/);
  });

  test('unknown plugin names the plugins that exist', () => {
    const msg = loadError('[[inputs.nosuch]]\n');
    assert.match(msg, /undefined plugin "nosuch"; available inputs: .*internal/);
  });

  test('Telegraf-only keys, processors and aggregators warn and are ignored', () => {
    const cfg = load(`
[agent]
  logfile_rotation_max_size = "10MB"
[[inputs.internal]]
  collect_gostats = true
  time_source = "metric"
[[processors.rename]]
[[aggregators.minmax]]
`);
    const w = cfg.warnings.join('\n');
    assert.match(w, /\[agent\]: option "logfile_rotation_max_size" is accepted for Telegraf compatibility/);
    assert.match(w, /\[\[inputs\.internal\]\]: option "time_source"/);
    assert.match(w, /\[\[processors\.rename\]\]: processors are not supported/);
    assert.match(w, /\[\[aggregators\.minmax\]\]/);
    assert.equal(cfg.inputs.length, 1);
  });

  test('TOML syntax errors give file and line', () => {
    assert.match(loadError('[agent]\n  interval = \n'), /error parsing .*c\d+\.conf: line 2/);
  });

  test('config directories load *.conf sorted, and files merge', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'd-'));
    fs.writeFileSync(path.join(dir, 'b.conf'), '[[inputs.internal]]\n  alias = "b"\n');
    fs.writeFileSync(path.join(dir, 'a.conf'), '[[inputs.internal]]\n  alias = "a"\n[agent]\n  interval = "5s"\n');
    fs.writeFileSync(path.join(dir, 'c.txt'), 'garbage');
    fs.mkdirSync(path.join(dir, '..data'));
    fs.writeFileSync(path.join(dir, '..data', 'x.conf'), 'garbage');
    assert.deepEqual(listConfigDirectory(dir).map((f) => path.basename(f)), ['a.conf', 'b.conf']);
    const main = write('[agent]\n  flush_interval = "3s"\n[[outputs.file]]\n');
    const cfg = loadConfig({ files: [main], directories: [dir], registry });
    assert.deepEqual(cfg.inputs.map((i) => i.alias), ['a', 'b']);
    assert.equal(cfg.agent.intervalNs, 5_000_000_000n);
    assert.equal(cfg.agent.flushIntervalNs, 3_000_000_000n);
  });

  test('default precision follows the interval as Telegraf', () => {
    assert.equal(defaultPrecision(10_000_000_000n), 1_000_000_000n);
    assert.equal(defaultPrecision(500_000_000n), 1_000_000n);
    assert.equal(defaultPrecision(5000n), 1000n);
    assert.equal(defaultPrecision(10n), 1n);
  });
});

describe('durations and sizes are bounded at every level', () => {
  // Each case: the config, then what the one-line error must name (file:line, section, key, reason).
  const cases: [string, RegExp][] = [
    ['[agent]\n  interval = 1e300\n', /:2: \[agent\]: option "interval": duration 1e\+300 out of range/],
    ['[agent]\n  flush_interval = "-5s"\n', /:2: \[agent\]: option "flush_interval" must not be negative/],
    ['[agent]\n  collection_jitter = "3000000h"\n', /:2: \[agent\]: option "collection_jitter": duration "3000000h" out of range/],
    ['[agent]\n  metric_buffer_limit = 1e300\n', /:2: \[agent\]: option "metric_buffer_limit" must be <= 2147483647/],
    ['[agent]\n  metric_batch_size = -1\n', /:2: \[agent\]: option "metric_batch_size" must be >= 0/],
    ['[[inputs.internal]]\n  interval = "-1s"\n', /:2: \[\[inputs\.internal\]\]: option "interval" must not be negative/],
    ['[[inputs.internal]]\n  interval = 0\n', /:2: \[\[inputs\.internal\]\]: option "interval" must be positive/],
    ['[[inputs.internal]]\n  collection_offset = "-2s"\n', /:2: \[\[inputs\.internal\]\]: option "collection_offset" must not be negative/],
    ['[[outputs.file]]\n  flush_interval = "-5s"\n', /:2: \[\[outputs\.file\]\]: option "flush_interval" must not be negative/],
    ['[[outputs.file]]\n  metric_buffer_limit = 1e300\n', /:2: \[\[outputs\.file\]\]: option "metric_buffer_limit" must be <= 2147483647/],
    ['[[outputs.influxdb]]\n  timeout = "-1s"\n', /:2: \[\[outputs\.influxdb\]\]: option "timeout" must not be negative/],
    ['[[outputs.influxdb]]\n  timeout = 1e300\n', /:2: \[\[outputs\.influxdb\]\]: option "timeout": duration 1e\+300 out of range/],
    ['[[outputs.prometheus_client]]\n  expiration_interval = "-1m"\n', /:2: \[\[outputs\.prometheus_client\]\]: option "expiration_interval" must not be negative/],
  ];
  for (const [text, want] of cases) {
    test(text.replace(/\n/g, ' ').trim(), () => {
      const msg = loadError(text);
      assert.match(msg, want);
      assert.match(msg, /^\/.*\.conf:\d+: /, 'names the file');
      assert.doesNotMatch(msg, /\n/, 'one line');
    });
  }

  test('long intervals are accepted: 600 hours, a year', () => {
    assert.equal(load('[agent]\n  interval = "600h"\n  flush_interval = "8760h"\n').agent.intervalNs, 600n * 3600n * 1_000_000_000n);
    assert.equal(parseDuration('2562047h'), 2562047n * 3600n * 1_000_000_000n);
    assert.throws(() => parseDuration('2562048h'), /out of range/);
  });
});

describe('Telegraf config semantics (issue 13 items 4-8)', () => {
  const ri = (cfg: ReturnType<typeof load>) => new Agent(cfg, registry, { manualGather: true }).inputs[0];
  const tagsOf = (cfg: ReturnType<typeof load>): Record<string, string> => {
    const x = new Metric('internal_agent', 1n);
    x.addField('v', FieldType.Int, 1);
    return ri(cfg).makeMetric(x)!.tags();
  };

  test('[tags] is an alias of [global_tags], read first (config/config.go 637)', () => {
    const cfg = load('[tags]\n  dc = "eu"\n  rack = "r1"\n[global_tags]\n  rack = "r2"\n[[inputs.internal]]\n[[outputs.file]]\n');
    assert.deepEqual(cfg.globalTags, { dc: 'eu', rack: 'r2' });
    assert.equal(tagsOf(cfg).dc, 'eu');
    assert.match(loadError('[tags]\n  n = 1\n'), /\[tags\]: tag "n": expected string/);
  });

  test('the agent host name replaces a host set in [global_tags] unless omit_hostname (config/config.go 670-681)', () => {
    assert.equal(tagsOf(load('[agent]\n  hostname = "agent-h"\n[global_tags]\n  host = "tag-h"\n[[inputs.internal]]\n[[outputs.file]]\n')).host, 'agent-h');
    assert.equal(tagsOf(load('[global_tags]\n  host = "tag-h"\n[[inputs.internal]]\n[[outputs.file]]\n')).host, os.hostname(), 'the OS host name too');
    assert.equal(tagsOf(load('[agent]\n  omit_hostname = true\n[global_tags]\n  host = "tag-h"\n[[inputs.internal]]\n[[outputs.file]]\n')).host, 'tag-h');
  });

  test('metric_batch_size = 0 / metric_buffer_limit = 0 mean the defaults (models/running_output.go 99-110)', () => {
    const cfg = load('[agent]\n  metric_batch_size = 0\n  metric_buffer_limit = 0\n[[inputs.internal]]\n[[outputs.file]]\n  metric_batch_size = 0\n[[outputs.file]]\n  metric_buffer_limit = 0\n  metric_batch_size = 7\n');
    assert.equal(cfg.agent.metricBatchSize, 1000);
    assert.equal(cfg.agent.metricBufferLimit, 10000);
    const outs = new Agent(load('[agent]\n  metric_batch_size = 50\n  metric_buffer_limit = 500\n[[inputs.internal]]\n[[outputs.file]]\n  metric_batch_size = 0\n  metric_buffer_limit = 0\n'), registry, { manualGather: true, runOutputs: true }).outputs;
    assert.equal(outs[0].config.metricBatchSize, 50, 'per output: 0 = the agent value');
    assert.equal(outs[0].config.metricBufferLimit, 500);
    assert.equal(cfg.outputs[1].metricBatchSize, 7);
    assert.match(loadError('[agent]\n  metric_batch_size = -1\n'), /metric_batch_size/);
  });

  test('a per-input collection_jitter = "0s" overrides the agent jitter (agent/agent.go 419-423)', () => {
    const cfg = load('[agent]\n  collection_jitter = "5s"\n[[inputs.internal]]\n  collection_jitter = "0s"\n[[inputs.internal]]\n[[outputs.file]]\n');
    const inputs = new Agent(cfg, registry, { manualGather: true }).inputs;
    assert.equal(inputs[0].config.collectionJitterNs, 0n);
    assert.equal(inputs[1].config.collectionJitterNs, 5_000_000_000n);
  });

  test('durations take Telegraf’s d unit at every level (config/types.go 14, 49-57)', () => {
    assert.equal(parseDuration('1d'), 86_400_000_000_000n);
    assert.equal(parseDuration('1.5d'), 129_600_000_000_000n);
    assert.equal(parseDuration('1d12h30m'), 131_400_000_000_000n);
    const cfg = load('[agent]\n  flush_interval = "1d"\n[[inputs.internal]]\n  interval = "2d"\n[[outputs.prometheus_client]]\n  listen = "127.0.0.1:0"\n  expiration_interval = "7d"\n  flush_interval = "0.5d"\n');
    assert.equal(cfg.agent.flushIntervalNs, 86_400_000_000_000n);
    assert.equal(cfg.inputs[0].intervalNs, 172_800_000_000_000n);
    assert.equal(cfg.outputs[0].flushIntervalNs, 43_200_000_000_000n);
    assert.equal(parseDuration(cfg.outputs[0].options.expiration_interval), 604_800_000_000_000n);
    assert.throws(() => parseDuration('d'), DurationError);
  });

  test('${VAR:+alt} and ${VAR+alt} (compose-go v1.20.2 template.go 234-235)', () => {
    const env = { A: 'alpha', EMPTY: '' };
    assert.equal(substituteEnv('${A:+set}', env), 'set');
    assert.equal(substituteEnv('${EMPTY:+set}', env), '');
    assert.equal(substituteEnv('${NOPE:+set}', env), '');
    assert.equal(substituteEnv('${A+set}', env), 'set');
    assert.equal(substituteEnv('${EMPTY+set}', env), 'set');
    assert.equal(substituteEnv('${NOPE+set}', env), '');
    assert.equal(substituteEnv('${A:+x${A}y}', env), 'xalphay');
    process.env.LVSAGENT_TEST_TLS = '1';
    const cfg = load('[global_tags]\n  tls = "${LVSAGENT_TEST_TLS:+on}"\n  other = "${LVSAGENT_TEST_UNSET_X+on}"\n');
    assert.deepEqual(cfg.globalTags, { tls: 'on', other: '' });
  });
});
