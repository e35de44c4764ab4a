import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSample } from '../../../test/support/sample';
import plugin from './index';

test('sample.conf: starts with the description; as shipped and with every option enabled it passes the schema', () => {
  assert.ok(plugin.sampleConfig.startsWith(`# ${plugin.description}\n[[outputs.prometheus_client]]\n`), plugin.sampleConfig.slice(0, 120));
  for (const uncomment of [false, true]) {
    const { section, errors } = checkSample(plugin.sampleConfig, 'outputs', 'prometheus_client', plugin.schema, uncomment, plugin.telegrafOnlyKeys);
    assert.equal(errors, '', `uncommented=${uncomment}: ${JSON.stringify(section)}`);
    if (uncomment) assert.ok(Object.keys(section).length >= 10, Object.keys(section).join(','));
  }
});
