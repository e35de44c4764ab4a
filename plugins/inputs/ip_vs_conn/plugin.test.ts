import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as TOML from '@iarna/toml';
import { makeAjv } from '../../../core/config/schema';
import plugin from './index';
import { DEFAULT_OPTIONS } from './options';
import { ConnCollector } from './collector';
import { buildMetrics } from './metrics';
import { namespacePath, threadSelfPath } from './source';

test('descriptor, sample.conf and schema agree', () => {
  assert.equal(plugin.name, 'ip_vs_conn');
  assert.equal(plugin.kind, 'input');
  assert.match(plugin.sampleConfig, /^# .+\n\[\[inputs\.ip_vs_conn\]\]/);
  const uncommented = plugin.sampleConfig
    .split('\n')
    .map((l) => (/^\s*# [A-Za-z_]+ = /.test(l) ? l.replace('# ', '') : l))
    .join('\n');
  const section = (TOML.parse(uncommented) as { inputs: { ip_vs_conn: Record<string, unknown>[] } }).inputs.ip_vs_conn[0];
  const schemaKeys = Object.keys((plugin.schema as { properties: object }).properties).sort();
  assert.deepEqual(Object.keys(section).sort(), schemaKeys, 'every option appears in sample.conf');
  const validate = makeAjv().compile(plugin.schema);
  assert.equal(validate(section), true, JSON.stringify(validate.errors));
  // The commented sample gives the defaults, which are the code's defaults.
  const empty: Record<string, unknown> = {};
  assert.equal(validate(empty), true);
  assert.deepEqual(empty, { ...DEFAULT_OPTIONS });
  assert.equal(validate({ path: '/x', bogus: 1 }), false);
  assert.throws(() => plugin.create({ ...DEFAULT_OPTIONS, virtual_servers: ['tcp:not-an-address'] }, { log: undefined as never, section: 'inputs.ip_vs_conn', intervalNs: 1n, oneShot: false }), /virtual_servers/);
});

test('field docs name every field the metrics carry', () => {
  const c = new ConnCollector({ maxEvents: 10 });
  const t = (r: string): string => `Pro FromIP\n${r}\n`;
  c.collectText(t('TCP 0A000009 9C40 0A60000A 0035 0A010001 0035 TIME_WAIT        28'), 0, 0.1);
  c.collectText(t('TCP 0A000009 9C40 0A60000A 0035 0A010002 0035 SYN_RECV         60'), 6, 6.1);
  const ms = buildMetrics(c, { time: 1n, namespace: 'x', connReuseMode: 0, events: true });
  for (const m of ms) {
    const doc = plugin.measurements!.find((d) => d.name === m.name);
    assert.ok(doc, m.name);
    for (const f of m.fields) assert.ok(doc.fields.some((d) => d.name === f.key || (d.name === '<state>' && /^[a-z_0-9]+$/.test(f.key))), `${m.name}.${f.key}`);
  }
  assert.deepEqual([...new Set(ms.map((m) => m.name))].sort(), ['ipvs_conn', 'ipvs_conn_reuse', 'ipvs_conn_reuse_event', 'ipvs_conn_table']);
});

test('namespace names and /proc/net paths inside a namespace', () => {
  assert.equal(namespacePath('lb'), '/var/run/netns/lb');
  assert.equal(namespacePath('/proc/1/ns/net'), '/proc/1/ns/net');
  assert.equal(threadSelfPath('/proc/net/ip_vs_conn'), '/proc/thread-self/net/ip_vs_conn');
  assert.equal(threadSelfPath('/proc/42/net/ip_vs_conn'), '/proc/42/net/ip_vs_conn');
});
