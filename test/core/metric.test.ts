import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Logger } from '../../core/log';
import { FieldSchema, FieldType, Metric, TagSet } from '../../core/metric';
import { RunningInput, type RunningInputConfig } from '../../core/models/running_input';
import { RunningOutput } from '../../core/models/running_output';
import { SeriesCache } from '../../core/series_cache';
import type { FilterConfig } from '../../core/filter/filter';

const log = new Logger('test');

function frozenTags(tags: Record<string, string>): TagSet {
  const keys = Object.keys(tags).sort();
  return TagSet.frozen(keys, keys.map((k) => tags[k]));
}

function metricWith(tags: TagSet, fields: string[] = ['f']): Metric {
  const m = new Metric('m', 1n, 'untyped', tags);
  for (const f of fields) m.addField(f, FieldType.Int, 1);
  return m;
}

function input(filter: FilterConfig, tags: Record<string, string> = {}, globalTags: Record<string, string> = { host: 'h' }): RunningInput {
  const cfg: RunningInputConfig = { name: 'x', intervalNs: 1n, precisionNs: 0n, collectionJitterNs: 0n, collectionOffsetNs: 0n, tags, filter, startupErrorBehavior: 'error' };
  return new RunningInput(cfg, { gather: () => undefined }, log, globalTags);
}

describe('TagSet', () => {
  test('a frozen set cannot change; a metric holding one copies it before a change', () => {
    const shared = frozenTags({ a: '1', c: '3' });
    assert.throws(() => shared.set('b', '2'), /frozen/);
    assert.throws(() => shared.delete('a'), /frozen/);
    const one = metricWith(shared);
    const two = metricWith(shared);
    one.setTag('b', '2');
    two.removeTag('a');
    assert.deepEqual(one.tags(), { a: '1', b: '2', c: '3' });
    assert.deepEqual(two.tags(), { c: '3' });
    assert.deepEqual({ keys: shared.keys, values: shared.values }, { keys: ['a', 'c'], values: ['1', '3'] }, 'the shared set is untouched');
    assert.ok(!one.tagSet.frozen && one.tagSet !== shared);
  });

  test('removing or re-adding an absent or present tag keeps a frozen set (nothing to change)', () => {
    const shared = frozenTags({ a: '1' });
    const m = metricWith(shared);
    m.removeTag('zz');
    m.addTagIfAbsent('a', 'other');
    assert.equal(m.tagSet, shared);
  });

  test('copy() shares a frozen set and copies an unfrozen one', () => {
    const shared = frozenTags({ a: '1' });
    assert.equal(metricWith(shared).copy().tagSet, shared);
    const own = metricWith(new TagSet(['a'], ['1']));
    const c = own.copy();
    c.setTag('a', '2');
    assert.equal(own.getTag('a'), '1');
  });

  test('frozen sets share key lists only when the keys are the same', () => {
    const sets = [TagSet.frozen([], []), TagSet.frozen([''], ['x']), TagSet.frozen(['a', 'b'], ['1', '2']), TagSet.frozen(['a,b'], ['3']), TagSet.frozen(['a\u0000b'], ['4'])];
    assert.deepEqual(
      sets.map((t) => t.keys),
      [[], [''], ['a', 'b'], ['a,b'], ['a\u0000b']],
    );
    const again = TagSet.frozen(['a', 'b'], ['5', '6']);
    assert.equal(again.keys, sets[2].keys, 'one array for the same keys');
    assert.deepEqual(again.values, ['5', '6']);
  });

  test('set keeps keys sorted by code unit and replaces values', () => {
    const t = new TagSet();
    for (const [k, v] of [['b', '1'], ['B', '2'], ['a', '3'], ['b', '4'], ['é', '5']]) t.set(k, v);
    assert.deepEqual(t.keys, ['B', 'a', 'b', 'é']);
    assert.deepEqual(t.values, ['2', '3', '4', '5']);
  });
});

describe('tag steps on frozen sets', () => {
  test('the input step gives every metric of a series the same frozen result set, computed once', () => {
    const ri = input({}, { role: 'lb' });
    const shared = frozenTags({ address: '10.0.0.1' });
    const a = ri.makeMetric(metricWith(shared))!;
    const b = ri.makeMetric(metricWith(shared))!;
    assert.deepEqual(a.tags(), { address: '10.0.0.1', host: 'h', role: 'lb' });
    assert.ok(a.tagSet.frozen);
    assert.equal(a.tagSet, b.tagSet, 'derived once, then shared');
    assert.notEqual(a.tagSet, shared, 'the source set is untouched');
    assert.deepEqual(shared.keys, ['address']);
  });

  test('frozen and unfrozen sets come out identical through selectors, added tags and modifiers', () => {
    const filter: FilterConfig = { tagpass: { zone: ['a*'] }, tagdrop: { tier: ['test'] }, taginclude: ['zone', 'host', 'role', 'addr*'], tagexclude: ['address_family'] };
    const cases: Record<string, string>[] = [
      { zone: 'a1', address: 'x', address_family: 'inet', other: 'o' },
      { zone: 'b1', address: 'x' },
      { zone: 'a2', tier: 'test' },
      { zone: 'a3', role: 'metric-role', host: 'metric-host' },
      {},
    ];
    for (const tags of cases) {
      const viaFrozen = input(filter, { role: 'lb' }).makeMetric(metricWith(frozenTags(tags)));
      const plain = new Metric('m', 1n);
      for (const [k, v] of Object.entries(tags)) plain.setTag(k, v);
      plain.addField('f', FieldType.Int, 1);
      const viaPlain = input(filter, { role: 'lb' }).makeMetric(plain);
      assert.deepEqual(viaFrozen?.tags(), viaPlain?.tags(), JSON.stringify(tags));
    }
  });

  test('a series dropped by tagpass stays dropped without re-evaluating; others pass', () => {
    const ri = input({ tagpass: { zone: ['a'] } });
    const dropped = frozenTags({ zone: 'b' });
    assert.equal(ri.makeMetric(metricWith(dropped)), undefined);
    assert.equal(ri.makeMetric(metricWith(dropped)), undefined);
    assert.ok(ri.makeMetric(metricWith(frozenTags({ zone: 'a' }))));
  });

  test('name selectors still see each metric (they do not depend on tags)', () => {
    const ri = input({ namepass: ['keep'] });
    const shared = frozenTags({ a: '1' });
    const keep = metricWith(shared);
    keep.name = 'keep';
    assert.ok(ri.makeMetric(keep));
    assert.equal(ri.makeMetric(metricWith(shared)), undefined);
  });

  test('the output step filters and trims frozen sets and counts what it filters', () => {
    const ro = new RunningOutput(
      { name: 'o', flushIntervalNs: 1n, flushJitterNs: 0n, metricBatchSize: 10, metricBufferLimit: 10, filter: { tagdrop: { zone: ['b'] }, tagexclude: ['secret'] }, startupErrorBehavior: 'error' },
      { write: async () => undefined },
      log,
    );
    const shared = frozenTags({ zone: 'a', secret: 's' });
    const m1 = metricWith(shared);
    const m2 = metricWith(shared);
    ro.add(m1);
    ro.add(m2);
    ro.add(metricWith(frozenTags({ zone: 'b' })));
    assert.equal(ro.buffer.length, 2);
    assert.equal(ro.stats.metricsFiltered.value, 1);
    assert.deepEqual(m1.tags(), { zone: 'a' });
    assert.equal(m1.tagSet, m2.tagSet);
    assert.deepEqual(shared.keys, ['secret', 'zone'], 'the input-side set is untouched');
  });
});

describe('SeriesCache', () => {
  test('keeps what a gather used and forgets the rest at the next sweep', () => {
    const c = new SeriesCache<number>();
    c.set('a', 1);
    c.set('b', 2);
    c.sweep();
    assert.equal(c.get('a'), 1); // used in the second gather
    c.sweep();
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.size, 1);
  });
});

describe('compact fields', () => {
  const schema = new FieldSchema(['a', 'b', 's'], [FieldType.Int, FieldType.Uint, FieldType.String]);

  test('reads like the list form; fields turns it into the list form for good', () => {
    const m = new Metric('m', 1n, 'untyped', undefined, schema, [1, 2n ** 60n, 'x']);
    assert.equal(m.fieldCount, 3);
    assert.deepEqual(m.getField('b'), { key: 'b', type: FieldType.Uint, value: 2n ** 60n });
    assert.equal(m.getField('zz'), undefined);
    assert.equal(m.fieldSchema, schema);
    assert.deepEqual(m.fields, [
      { key: 'a', type: FieldType.Int, value: 1 },
      { key: 'b', type: FieldType.Uint, value: 2n ** 60n },
      { key: 's', type: FieldType.String, value: 'x' },
    ]);
    assert.equal(m.fieldSchema, undefined);
    m.addInt('c', 4);
    m.removeField('a');
    assert.deepEqual(m.fields.map((f) => f.key), ['b', 's', 'c']);
    assert.equal(m.fieldCount, 3);
  });

  test('copies share the values until one of them changes its fields', () => {
    const m = new Metric('m', 1n, 'untyped', undefined, schema, [1, 2, 'x']);
    const c = m.copy();
    assert.equal(c.fieldValues, m.fieldValues);
    c.fields[0].value = 99;
    assert.equal(m.getField('a')!.value, 1);
    assert.equal(c.getField('a')!.value, 99);
  });

  test('a value count that does not match the schema is refused', () => {
    assert.throws(() => new Metric('m', 1n, 'untyped', undefined, schema, [1, 2]), /one value per schema field/);
    assert.throws(() => new FieldSchema(['a'], []), /differ in length/);
  });

  test('field filters and the drop of field-less metrics work on compact metrics', () => {
    const ri = input({ fieldexclude: ['a', 'b', 's'] });
    assert.equal(ri.makeMetric(new Metric('m', 1n, 'untyped', undefined, schema, [1, 2, 'x'])), undefined);
    const keep = input({ fieldinclude: ['b'] }).makeMetric(new Metric('m', 1n, 'untyped', undefined, schema, [1, 2, 'x']))!;
    assert.deepEqual(keep.fields.map((f) => f.key), ['b']);
    const untouched = input({}).makeMetric(new Metric('m', 1n, 'untyped', undefined, schema, [1, 2, 'x']))!;
    assert.equal(untouched.fieldSchema, schema, 'no field filter: still compact');
  });
});
