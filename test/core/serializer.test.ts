import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldType, Metric } from '../../core/metric';
import { formatFloat, LineProtocolSerializer, MetricSerializeError } from '../../core/serializers/influx';

const T = 1700000000000000000n;

function metric(name: string, tags: Record<string, string>, fields: [string, FieldType, number | bigint | string | boolean][], time = T): Metric {
  const m = new Metric(name, time);
  for (const [k, v] of Object.entries(tags)) m.setTag(k, v);
  for (const [k, t, v] of fields) m.addField(k, t, v);
  return m;
}

describe('line protocol serializer', () => {
  const s = new LineProtocolSerializer();

  test('sorts tags and keeps field insertion order', () => {
    const m = metric('cpu', { z: '1', a: '2', m: '3' }, [
      ['b', FieldType.Int, 1],
      ['a', FieldType.Int, 2],
    ]);
    assert.equal(s.serialize(m), `cpu,a=2,m=3,z=1 b=1i,a=2i ${T}\n`);
  });

  test('influx_sort_fields sorts fields', () => {
    const sorted = new LineProtocolSerializer({ sortFields: true });
    const m = metric('cpu', {}, [
      ['b', FieldType.Int, 1],
      ['a', FieldType.Int, 2],
    ]);
    assert.equal(sorted.serialize(m), `cpu a=2i,b=1i ${T}\n`);
  });

  test('measurement escaping: comma, space, control characters; equals kept', () => {
    const m = metric('a,b c=d\te\nf\rg\fh', {}, [['v', FieldType.Int, 1]]);
    assert.equal(s.serialize(m), `a\\,b\\ c=d\\te\\nf\\rg\\fh v=1i ${T}\n`);
  });

  test('tag key, tag value and field key escaping includes equals', () => {
    const m = metric('m', { 'k ey=,': 'v al=,' }, [['f ie=,ld', FieldType.Int, 1]]);
    assert.equal(s.serialize(m), `m,k\\ ey\\=\\,=v\\ al\\=\\, f\\ ie\\=\\,ld=1i ${T}\n`);
  });

  test('trailing backslashes are trimmed from tag keys and values; empty tags skipped', () => {
    const m = metric('m', { 'a\\\\': 'x\\', empty: '', '': 'novalue', ok: 'y' }, [['f', FieldType.Int, 1]]);
    assert.equal(s.serialize(m), `m,a=x,ok=y f=1i ${T}\n`);
  });

  test('string field values escape only quote and backslash', () => {
    const m = metric('m', {}, [['s', FieldType.String, 'say "hi"\\ now\nnext, a=b']]);
    assert.equal(s.serialize(m), `m s="say \\"hi\\"\\\\ now\nnext, a=b" ${T}\n`);
  });

  test('integers, uints, floats and booleans', () => {
    const m = metric('m', {}, [
      ['i', FieldType.Int, -42],
      ['bi', FieldType.Int, -9223372036854775808n],
      ['u', FieldType.Uint, 42],
      ['f', FieldType.Float, 0.5],
      ['whole', FieldType.Float, 42],
      ['t', FieldType.Bool, true],
      ['fa', FieldType.Bool, false],
    ]);
    assert.equal(s.serialize(m), `m i=-42i,bi=-9223372036854775808i,u=42i,f=0.5,whole=42,t=true,fa=false ${T}\n`);
  });

  test('uint above 2^53 is exact with uint support and clipped to int64 max without', () => {
    const big = 18446744073709551615n;
    const above53 = 9007199254740993n; // 2^53 + 1, not representable as a double
    const withU = new LineProtocolSerializer({ uintSupport: true });
    const m = metric('m', {}, [
      ['a', FieldType.Uint, above53],
      ['b', FieldType.Uint, big],
    ]);
    assert.equal(withU.serialize(m), `m a=9007199254740993u,b=18446744073709551615u ${T}\n`);
    assert.equal(s.serialize(m), `m a=9007199254740993i,b=9223372036854775807i ${T}\n`);
  });

  test('integers print exactly across digit-group and 10^9 boundaries', () => {
    const values: number[] = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 999_999, 1_000_000, 999_999_999, 1_000_000_000, 1_000_000_001];
    for (let e = 10; e <= 15; e++) values.push(10 ** e - 1, 10 ** e, 10 ** e + 1, 10 ** e + 999_999_999);
    values.push(4_294_967_295, 4_294_967_296, 8_999_999_999_999_999, 9_007_199_254_740_991);
    for (let i = 0; i < 2000; i++) values.push(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER), Math.floor(Math.random() * 1e9));
    const withU = new LineProtocolSerializer({ uintSupport: true });
    for (const v of values) {
      const m = metric('m', {}, [
        ['i', FieldType.Int, v],
        ['n', FieldType.Int, -v],
        ['u', FieldType.Uint, v],
      ]);
      assert.equal(withU.serialize(m), `m i=${BigInt(v)}i,n=${v === 0 ? 0 : '-' + BigInt(v)}i,u=${BigInt(v)}u ${T}\n`, String(v));
    }
  });

  test('NaN and Inf fields are dropped; a metric left without fields is an error', () => {
    const m = metric('m', {}, [
      ['nan', FieldType.Float, NaN],
      ['inf', FieldType.Float, Infinity],
      ['ok', FieldType.Float, 1.25],
    ]);
    assert.equal(s.serialize(m), `m ok=1.25 ${T}\n`);
    const bad = metric('m', { t: 'v' }, [['nan', FieldType.Float, NaN]]);
    assert.throws(() => s.serialize(bad), (e: unknown) => e instanceof MetricSerializeError && e.reason === 'no serializable fields');
  });

  test('empty measurement is an error and batches skip unserializable metrics', () => {
    const bad = metric('', {}, [['f', FieldType.Int, 1]]);
    assert.throws(() => s.serialize(bad), /invalid name/);
    const good = metric('m', {}, [['f', FieldType.Int, 1]]);
    const skipped: string[] = [];
    const out = s.serializeBatch([bad, good, metric('n', {}, [['x', FieldType.Float, NaN]])], (e) => skipped.push(e.reason));
    assert.equal(out, `m f=1i ${T}\n`);
    assert.deepEqual(skipped, ['invalid name', 'no serializable fields']);
  });

  test('influx_omit_timestamp drops the timestamp', () => {
    const omit = new LineProtocolSerializer({ omitTimestamp: true });
    assert.equal(omit.serialize(metric('m', {}, [['f', FieldType.Int, 1]])), 'm f=1i\n');
  });

  test('influx_max_line_bytes splits into lines of the same series and timestamp, never longer than the limit', () => {
    const split = new LineProtocolSerializer({ maxLineBytes: 40 });
    const m = metric('cpu', { host: 'a' }, [
      ['aaaa', FieldType.Int, 1],
      ['bbbb', FieldType.Int, 2],
      ['cccc', FieldType.Int, 3],
    ]);
    const out = split.serialize(m);
    const lines = out.split('\n').filter(Boolean);
    assert.ok(lines.length >= 2, out);
    for (const l of lines) {
      assert.ok(Buffer.byteLength(l) + 1 <= 40, `line too long: ${l}`);
      assert.ok(l.startsWith('cpu,host=a '));
      assert.ok(l.endsWith(` ${T}`));
    }
    const fields = lines.flatMap((l) => l.split(' ')[1].split(','));
    assert.deepEqual(fields, ['aaaa=1i', 'bbbb=2i', 'cccc=3i']);
    assert.throws(() => new LineProtocolSerializer({ maxLineBytes: 10 }).serialize(m), /need more space/);
  });

  test('large metrics and batches grow the buffer without losing bytes', () => {
    const m = new Metric('big', T);
    for (let i = 0; i < 300; i++) m.setTag(`tag${String(i).padStart(3, '0')}`, 'v'.repeat(200) + i);
    for (let i = 0; i < 300; i++) m.addField(`field_${'k'.repeat(100)}_${i}`, FieldType.Int, 1e15 + i);
    m.addField('s', FieldType.String, 'x'.repeat(100_000));
    const line = s.serialize(m);
    assert.ok(line.endsWith(`" ${T}\n`));
    for (let i = 0; i < 300; i++) assert.ok(line.includes(`,tag${String(i).padStart(3, '0')}=${'v'.repeat(200)}${i}`), `tag ${i}`);
    for (let i = 0; i < 300; i++) assert.ok(line.includes(`field_${'k'.repeat(100)}_${i}=${1e15 + i}i`), `field ${i}`);
    const batch = s.serializeBatchToBuffer(Array.from({ length: 50 }, () => m));
    assert.equal(batch.length, Buffer.byteLength(line) * 50);
    assert.equal(batch.toString('utf8', 0, Buffer.byteLength(line)), line);
  });

  test('non-ASCII text is written as UTF-8 and escaped where needed', () => {
    const m = metric('mé tric', { 'clé': 'valeur ünïcode, ok' }, [
      ['champ', FieldType.String, 'naïve "q" ☃'],
      ['ключ', FieldType.Int, 1],
    ]);
    assert.equal(s.serialize(m), `mé\\ tric,clé=valeur\\ ünïcode\\,\\ ok champ="naïve \\"q\\" ☃",ключ=1i ${T}\n`);
  });

  test('floats print in shortest round-trip form without exponent', () => {
    assert.equal(formatFloat(1e21), '1000000000000000000000');
    assert.equal(formatFloat(1.5e-7), '0.00000015');
    assert.equal(formatFloat(-2.5e22), '-25000000000000000000000');
    assert.equal(formatFloat(0.1), '0.1');
    assert.equal(formatFloat(123456789.125), '123456789.125');
    assert.equal(formatFloat(-0), '-0');
    assert.equal(formatFloat(5e-324), '0.' + '0'.repeat(323) + '5');
    for (const v of [Math.PI, 1 / 3, 1e300, 2 ** 60, 1.7976931348623157e308]) assert.equal(Number(formatFloat(v)), v);
  });
});
