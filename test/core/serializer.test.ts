import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldSchema, FieldType, Metric, TagSet, type FieldValue } from '../../core/metric';
import { escapeKey, escapeName, escapeStringValue, formatFloat, LineProtocolSerializer, MetricSerializeError } from '../../core/serializers/influx';

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

/** A plain string-building reference of Telegraf's rules, to check the byte writer against. */
function reference(m: Metric, uintSupport: boolean): string | undefined {
  const tagText = (t: string): string => escapeKey(t).replace(/\\+$/, '');
  let line = escapeName(m.name);
  for (let i = 0; i < m.tagKeys.length; i++) {
    const k = tagText(m.tagKeys[i]);
    const v = tagText(m.tagValues[i]);
    if (k !== '' && v !== '') line += `,${k}=${v}`;
  }
  const fields: string[] = [];
  for (const f of m.fields) {
    if (f.key === '') continue;
    const v = f.value;
    let text: string;
    if (f.type === FieldType.Int) text = `${BigInt(typeof v === 'number' ? Math.trunc(v) : (v as bigint))}i`;
    else if (f.type === FieldType.Uint) {
      const n = BigInt(typeof v === 'number' ? Math.trunc(v) : (v as bigint));
      text = uintSupport ? `${n}u` : `${n > 9223372036854775807n ? 9223372036854775807n : n}i`;
    } else if (f.type === FieldType.Float) {
      if (!Number.isFinite(v as number)) continue;
      text = formatFloat(v as number);
    } else if (f.type === FieldType.String) text = `"${escapeStringValue(v as string)}"`;
    else text = v ? 'true' : 'false';
    fields.push(`${escapeKey(f.key)}=${text}`);
  }
  if (fields.length === 0) return undefined;
  return `${line} ${fields.join(',')} ${m.time}\n`;
}

/** Deterministic pseudo-random numbers (a failure reproduces). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe('line protocol serializer against a string reference', () => {
  const alphabet = ['a', 'b', 'z', '_', '0', ' ', ',', '=', '"', '\\', '\t', '\n', 'é', '☃', '\u{1F600}'];
  function text(r: () => number, max: number): string {
    let s = '';
    const n = Math.floor(r() * max);
    for (let i = 0; i < n; i++) s += r() < 0.7 ? 'abcdefghij'[Math.floor(r() * 10)] : alphabet[Math.floor(r() * alphabet.length)];
    return s;
  }
  function randomInteger(r: () => number): number | bigint {
    const pick = r();
    if (pick < 0.3) return Math.floor(r() * 10 ** Math.floor(r() * 16));
    if (pick < 0.5) return Math.floor(r() * 1e8) * 1e8 + (r() < 0.5 ? 99_999_999 : Math.floor(r() * 3)); // around 10^8 splits
    if (pick < 0.6) return -Math.floor(r() * Number.MAX_SAFE_INTEGER);
    if (pick < 0.7) return BigInt(Math.floor(r() * 2 ** 31)) * BigInt(Math.floor(r() * 2 ** 33)) * (r() < 0.2 ? -1n : 1n);
    if (pick < 0.8) return Number.MAX_SAFE_INTEGER - Math.floor(r() * 3);
    return Math.floor(r() * 2 ** 31) + r() * (r() < 0.1 ? 1 : 0);
  }
  function randomMetric(r: () => number, freeze: boolean): Metric {
    const tags = new TagSet();
    const nTags = Math.floor(r() * 6);
    for (let i = 0; i < nTags; i++) tags.set(text(r, 8), text(r, 12));
    if (freeze) tags.freeze();
    const m = new Metric(text(r, 10) || 'm', BigInt(Math.floor(r() * 2 ** 50)) * 1000n, 'untyped', tags);
    const nFields = 1 + Math.floor(r() * 8);
    for (let i = 0; i < nFields; i++) {
      const key = r() < 0.05 ? '' : text(r, 40);
      const t = Math.floor(r() * 5) as FieldType;
      if (t === FieldType.Int) m.addField(key, t, randomInteger(r));
      else if (t === FieldType.Uint) {
        const v = randomInteger(r);
        m.addField(key, t, typeof v === 'bigint' ? (v < 0n ? -v : v) * (r() < 0.3 ? 2n ** 20n : 1n) : Math.abs(v));
      } else if (t === FieldType.Float) m.addField(key, t, r() < 0.1 ? NaN : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
      else if (t === FieldType.String) m.addField(key, t, text(r, r() < 0.1 ? 2000 : 30));
      else m.addField(key, t, r() < 0.5);
    }
    if (r() < 0.5) return m;
    // The same metric in compact form (a schema and a value array), as inputs on hot paths build them.
    const list = m.fields;
    const schema = new FieldSchema(
      list.map((f) => f.key),
      list.map((f) => f.type),
    );
    const values: FieldValue[] = list.map((f) => f.value);
    return new Metric(m.name, m.time, m.type, m.tagSet, schema, values);
  }

  for (const uintSupport of [false, true]) {
    test(`random metrics, one by one and in batches, frozen and unfrozen tags (uint support ${uintSupport})`, () => {
      const r = rng(uintSupport ? 7 : 11);
      const s = new LineProtocolSerializer({ uintSupport });
      let compactSeen = 0;
      for (let round = 0; round < 40; round++) {
        const batch = Array.from({ length: 50 }, () => randomMetric(r, r() < 0.5));
        let expected = '';
        for (const m of batch) {
          const compact = m.fieldSchema !== undefined;
          // The reference reads a copy: reading `fields` turns a compact metric into its list form.
          const want = reference(m.copy(), uintSupport);
          if (want === undefined || m.name === '') {
            assert.throws(() => s.serialize(m), MetricSerializeError);
            continue;
          }
          assert.equal(s.serialize(m), want);
          assert.equal(m.fieldSchema !== undefined, compact, 'serializing keeps the compact form');
          if (compact) compactSeen++;
          expected += want;
        }
        const bytes = s.serializeBatchToBuffer(batch);
        assert.equal(bytes.toString('utf8'), expected);
        s.recycle(bytes);
      }
      assert.ok(compactSeen > 100, `compact metrics checked: ${compactSeen}`);
    });
  }

  test('a frozen tag set serializes like the same tags unfrozen, including escaping, empty and trailing-backslash tags', () => {
    const s = new LineProtocolSerializer();
    const keys = ['', 'a b', 'empty', 'k=,', 'trail\\', 'é'];
    const values = ['x', 'v,1', '', 'v=2', 'y\\\\', 'ünï'];
    const frozen = new Metric('m', 5n, 'untyped', TagSet.frozen(keys, values));
    frozen.addField('f', FieldType.Int, 1);
    const plain = new Metric('m', 5n, 'untyped', new TagSet([...keys], [...values]));
    plain.addField('f', FieldType.Int, 1);
    const want = 'm,a\\ b=v\\,1,k\\=\\,=v\\=2,trail=y,é=ünï f=1i 5\n';
    assert.equal(s.serialize(plain), want);
    assert.equal(s.serialize(frozen), want);
    assert.equal(s.serialize(frozen), want, 'again, from the cached encoding');
    assert.equal(new LineProtocolSerializer({ uintSupport: true }).serialize(frozen), want, 'another serializer reads the same cache');
  });

  test('a batch Buffer is never written again until it is recycled; recycling twice or a foreign Buffer is harmless', () => {
    const s = new LineProtocolSerializer();
    const batch = (v: number): Metric[] => [Metric.from('m', { t: 'x' }, { f: v }, 1n)];
    const first = s.serializeBatchToBuffer(batch(1));
    const second = s.serializeBatchToBuffer(batch(2));
    assert.notEqual(first.buffer, second.buffer);
    assert.equal(first.toString(), 'm,t=x f=1 1\n');
    s.recycle(first);
    s.recycle(first);
    s.recycle(Buffer.from('foreign'));
    const third = s.serializeBatchToBuffer(batch(3));
    const fourth = s.serializeBatchToBuffer(batch(4));
    assert.equal(third.buffer, first.buffer, 'recycled memory is reused');
    assert.notEqual(fourth.buffer, first.buffer, 'but only once');
    assert.equal(second.toString(), 'm,t=x f=2 1\n', 'a Buffer not recycled keeps its bytes');
    assert.equal(third.toString(), 'm,t=x f=3 1\n');
    assert.equal(fourth.toString(), 'm,t=x f=4 1\n');
  });
});
