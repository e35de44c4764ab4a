import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAjv } from '../../../core/config/schema';
import TOML from '@iarna/toml';
import plugin from './index';
import { DEFAULT_OPTIONS } from './options';
import { MEASUREMENT } from './input';
import { probeMetric } from './input';

test('schema defaults equal DEFAULT_OPTIONS and the schema refuses unknown keys', () => {
  const ajv = makeAjv();
  const validate = ajv.compile(plugin.schema);
  const opts: Record<string, unknown> = {};
  assert.equal(validate(opts), true, JSON.stringify(validate.errors));
  assert.deepEqual(opts, { ...DEFAULT_OPTIONS });
  assert.equal(validate({ nope: 1 }), false);
  assert.equal(validate({ probe: 'udp' }), false);
  assert.equal(validate({ healthy_statuses: ['401'] }), false);
});

test('sample.conf is valid TOML whose options, uncommented, pass the schema', () => {
  assert.match(plugin.sampleConfig, /^# .+\n\[\[inputs\.ipvs_probe\]\]/);
  // Uncomment the option lines (`  # key = value`, `  # [table]`, `  #   Key = "v"`).
  const uncommented = plugin.sampleConfig
    .split('\n')
    .map((l) => (/^\s*# (\[|\s*[A-Za-z_]+ = )/.test(l) ? l.replace('# ', '') : l))
    .join('\n');
  const parsed = TOML.parse(uncommented) as { inputs: { ipvs_probe: Record<string, unknown>[] } };
  const section = parsed.inputs.ipvs_probe[0];
  const documented = Object.keys(section).sort();
  const schemaKeys = Object.keys((plugin.schema as { properties: object }).properties).sort();
  assert.deepEqual(documented, schemaKeys, 'every option appears in sample.conf');
  // targets and virtual_servers are alternatives; the values must still be valid.
  const validate = makeAjv().compile(plugin.schema);
  assert.equal(validate(section), true, JSON.stringify(validate.errors));
});

test('field docs cover every field a probe metric carries', () => {
  const m = probeMetric({ address: '10.0.0.1', port: '80', address_family: 'inet' }, 'ns', { result: 'bad_status', status: 503, seconds: 0.01 }, 2, true, 1n);
  const doc = plugin.measurements!.find((d) => d.name === MEASUREMENT)!;
  assert.deepEqual(m.fields.map((f) => f.key).sort(), doc.fields.map((f) => f.name).sort());
  assert.deepEqual(m.tags(), { address: '10.0.0.1', address_family: 'inet', namespace: 'ns', port: '80', result: 'bad_status' });
  assert.equal(m.getField('result_code')?.value, 6);
  assert.equal(m.getField('up')?.value, 0);
});
