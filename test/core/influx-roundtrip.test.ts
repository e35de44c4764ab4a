/**
 * The serializer against the reference parser: edge cases written to a real
 * InfluxDB 1.x over HTTP and queried back with the same values and types.
 * (InfluxDB 1.6 rejects the `u` suffix, so uints go through it with
 * influx_uint_support = false; the `u` form is checked by exact lines in
 * serializer.test.ts.)
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { FieldType, Metric } from '../../core/metric';
import { LineProtocolSerializer } from '../../core/serializers/influx';
import { destroyInfluxDB, InfluxDBUnavailable, startInfluxDB, type InfluxDBServer } from '../support/influxdb';
import { skipOrFail } from '../support/skip';

const DB = 'roundtrip';
const T = 1700000000123456789n;

function rawQuery(url: string, q: string): Promise<string> {
  const u = new URL('/query', url);
  u.searchParams.set('db', DB);
  u.searchParams.set('epoch', 'ns');
  u.searchParams.set('q', q);
  return new Promise((resolve, reject) => {
    http
      .get(u, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

function ident(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

describe('line protocol round trip through a real InfluxDB 1.x', () => {
  let db: InfluxDBServer | undefined;
  let unavailable = '';

  before(async () => {
    try {
      db = await startInfluxDB();
      await db.query(`CREATE DATABASE ${DB}`);
    } catch (e) {
      if (e instanceof InfluxDBUnavailable) unavailable = e.message;
      else throw e;
    }
  });
  after(async () => {
    if (db) await destroyInfluxDB(db);
  });

  test('escaping of every element and every value type survives the reference parser', async (t) => {
    if (!db) return skipOrFail(t, unavailable || 'influxd not available');
    const s = new LineProtocolSerializer({ uintSupport: false });
    const name = 'we ird,name=x';
    const m = new Metric(name, T);
    m.setTag('tag key,=', 'tag value, = "q"');
    m.setTag('plain', 'v');
    m.setTag('trail', 'ends with backslash\\');
    m.setTag('empty', '');
    m.addField('int neg', FieldType.Int, -42);
    m.addField('int_min', FieldType.Int, -9223372036854775808n);
    m.addField('int_max', FieldType.Int, 9223372036854775807n);
    m.addField('uint_above_2_53', FieldType.Uint, 9007199254740993n);
    m.addField('uint_max', FieldType.Uint, 18446744073709551615n);
    m.addField('float_big', FieldType.Float, 1e21);
    m.addField('float_small', FieldType.Float, 1.5e-7);
    m.addField('float_tenth', FieldType.Float, 0.1);
    m.addField('float_whole', FieldType.Float, 42);
    m.addField('float_nan', FieldType.Float, NaN);
    m.addField('str', FieldType.String, 'say "hi" \\ back\\slash, a=b\nsecond line');
    m.addField('field key, with=all', FieldType.Bool, true);
    m.addField('no', FieldType.Bool, false);
    const body = s.serializeBatch([m]);
    const res = await db.write(body, DB);
    assert.equal(res.status, 204, `InfluxDB rejected ${JSON.stringify(body)}: ${res.body}`);

    const keys = await db.query(`SHOW FIELD KEYS FROM ${ident(name)}`, DB);
    const types = Object.fromEntries((keys.results[0].series?.[0].values ?? []).map((r) => [r[0] as string, r[1] as string]));
    assert.deepEqual(types, {
      'int neg': 'integer',
      int_min: 'integer',
      int_max: 'integer',
      uint_above_2_53: 'integer',
      uint_max: 'integer',
      float_big: 'float',
      float_small: 'float',
      float_tenth: 'float',
      float_whole: 'float',
      str: 'string',
      'field key, with=all': 'boolean',
      no: 'boolean',
    });

    const tagKeys = await db.query(`SHOW TAG KEYS FROM ${ident(name)}`, DB);
    assert.deepEqual((tagKeys.results[0].series?.[0].values ?? []).map((r) => r[0]).sort(), ['plain', 'tag key,=', 'trail']);

    const rows = await db.select(`SELECT * FROM ${ident(name)}`, DB);
    assert.equal(rows.length, 1);
    const r = rows[0];
    assert.equal(r['tag key,='], 'tag value, = "q"');
    assert.equal(r.trail, 'ends with backslash');
    assert.equal(r.plain, 'v');
    assert.equal(r['int neg'], -42);
    assert.equal(r.float_big, 1e21);
    assert.equal(r.float_small, 1.5e-7);
    assert.equal(r.float_tenth, 0.1);
    assert.equal(r.float_whole, 42);
    assert.equal(r.str, 'say "hi" \\ back\\slash, a=b\nsecond line');
    assert.equal(r['field key, with=all'], true);
    assert.equal(r.no, false);
    assert.ok(!('float_nan' in r) || r.float_nan === null);

    // Integers beyond 2^53 compared digit for digit in the raw JSON (JSON.parse would round them).
    const raw = await rawQuery(db.url, `SELECT int_min, int_max, uint_above_2_53, uint_max FROM ${ident(name)}`);
    assert.match(raw, /\[1700000000123456789,-9223372036854775808,9223372036854775807,9007199254740993,9223372036854775807\]/, raw);
  });

  test('a batch of many metrics with shared and distinct series arrives complete', async (t) => {
    if (!db) return skipOrFail(t, unavailable || 'influxd not available');
    const s = new LineProtocolSerializer();
    const batch: Metric[] = [];
    for (let i = 0; i < 500; i++) {
      const m = new Metric('ipvs_real_server', T + BigInt(i));
      m.setTag('address', `10.0.${i >> 8}.${i & 255}`);
      m.setTag('port', '80');
      m.addField('connections', FieldType.Uint, 1e10 + i);
      m.addField('weight', FieldType.Int, i % 3);
      batch.push(m);
    }
    const res = await db.write(s.serializeBatch(batch), DB);
    assert.equal(res.status, 204, res.body);
    const rows = await db.select('SELECT count(connections) AS n, sum(weight) AS w FROM ipvs_real_server', DB);
    assert.equal(rows[0].n, 500);
    assert.equal(rows[0].w, batch.reduce((acc, m) => acc + Number(m.getField('weight')!.value), 0));
    const last = await db.select(`SELECT connections FROM ipvs_real_server WHERE address = '10.0.1.243'`, DB);
    assert.equal(last[0].connections, 1e10 + 499);
  });
});
