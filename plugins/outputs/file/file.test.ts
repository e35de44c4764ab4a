import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Logger } from '../../../core/log';
import { FieldSchema, FieldType, Metric, TagSet } from '../../../core/metric';
import { FileOutput } from './index';

const schema = new FieldSchema(['n', 's'], [FieldType.Int, FieldType.String]);
const tags = TagSet.frozen(['host'], ['h']);

function batch(from: number, count: number): Metric[] {
  return Array.from({ length: count }, (_, i) => new Metric('m', BigInt(from + i), 'untyped', tags, schema, [from + i, 'x'.repeat((from + i) % 50)]));
}

test('consecutive batches reach the files whole and in order (batch memory is reused between writes)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-file-'));
  const files = [path.join(dir, 'a.out'), path.join(dir, 'b.out')];
  const out = new FileOutput(
    { files, data_format: 'influx', use_batch_format: true, influx_uint_support: false, influx_omit_timestamp: false, influx_sort_fields: false, influx_max_line_bytes: 0 },
    { log: new Logger('outputs.file'), section: '[[outputs.file]]', intervalNs: 10_000_000_000n, oneShot: false },
  );
  let expected = '';
  for (let b = 0; b < 5; b++) {
    const metrics = batch(b * 1000, 1000 - 150 * b); // shrinking batches: stale bytes from a longer one must not show
    for (const m of metrics) expected += `m,host=h n=${m.fieldValues![0]}i,s="${m.fieldValues![1]}" ${m.time}\n`;
    await out.write(metrics);
  }
  out.close();
  for (const f of files) assert.equal(fs.readFileSync(f, 'utf8'), expected);
});
