import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { FieldType, Metric } from '../metric';
import { LineProtocolSerializer } from '../serializers/influx';
import { lineProtocolBody, PreparedBody } from './body';

function metrics(n: number, from = 0): Metric[] {
  return Array.from({ length: n }, (_, i) => {
    const m = new Metric('m', BigInt(from + i));
    m.addField('v', FieldType.Int, from + i);
    return m;
  });
}

test('a large batch compressed in slices is one valid gzip stream with every line in order', async () => {
  const s = new LineProtocolSerializer();
  const batch = metrics(3500);
  const body = await lineProtocolBody(s, batch, 1);
  assert.equal(zlib.gunzipSync(body).toString(), s.serializeBatch(batch));
});

test('a prepared body is used only for exactly the batch it was made from', async () => {
  const s = new LineProtocolSerializer();
  const all = metrics(10);
  const prepared = new PreparedBody();
  prepared.prepareBody(s, all.slice(2, 6), undefined);
  // the same metrics in a new array (the buffer hands out a fresh batch array): reused
  const body = prepared.take(all.slice(2, 6));
  assert.ok(body);
  assert.equal((await body).toString(), s.serializeBatch(all.slice(2, 6)));
  assert.equal(prepared.take(all.slice(2, 6)), undefined, 'taken once');
  prepared.prepareBody(s, all.slice(2, 6), undefined);
  assert.equal(prepared.take(all.slice(3, 6)), undefined, 'a shrunk batch (overflow) is encoded anew');
  prepared.prepareBody(s, all.slice(2, 6), undefined);
  assert.equal(prepared.take(metrics(4, 2)), undefined, 'other metric objects');
});
