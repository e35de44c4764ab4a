import { test } from 'node:test';
import assert from 'node:assert/strict';
import TOML from '@iarna/toml';
import { makeAjv } from '../../../core/config/schema';
import plugin from './index';
import { validate, type ConntrackOptions } from './options';

test('sample.conf with every option uncommented parses, passes the schema and validation', () => {
  assert.match(plugin.sampleConfig, /^# .+\n/);
  const uncommented = plugin.sampleConfig.replace(/^  # ([a-z_]+ = )/gm, '  $1').replace('collect_service_flows = false', 'collect_service_flows = true');
  const doc = TOML.parse(uncommented) as { inputs: { conntrack: Array<Record<string, unknown>> } };
  const section = doc.inputs.conntrack[0];
  assert.ok(Object.keys(section).length >= 25, 'all options present');
  const check = makeAjv().compile(plugin.schema);
  assert.ok(check(section), JSON.stringify(check.errors));
  validate(section as unknown as ConntrackOptions);
});

test('schema defaults give Telegraf defaults', () => {
  const opts: Record<string, unknown> = {};
  const check = makeAjv().compile(plugin.schema);
  assert.ok(check(opts));
  assert.deepEqual(opts.collect, []);
  assert.deepEqual(opts.dirs, ['/proc/sys/net/ipv4/netfilter', '/proc/sys/net/netfilter']);
  assert.deepEqual(opts.files, ['ip_conntrack_count', 'ip_conntrack_max', 'nf_conntrack_count', 'nf_conntrack_max']);
  assert.equal(opts.collect_table, false);
  assert.equal(opts.collect_service_flows, false);
  assert.throws(() => validate({ ...(opts as unknown as ConntrackOptions), collect: ['bogus'] }), /config option 'collect': unknown choice bogus/);
  assert.throws(() => validate({ ...(opts as unknown as ConntrackOptions), collect_service_flows: true }), /service_subnets/);
  assert.ok(!check({ unknown_key: 1 }));
});
