/**
 * core/options.ts: SchemaOptions rejects, at compile time, an options type
 * that disagrees with its schema.json; schemaDefaults gives the defaults the
 * config loader fills in. The type check is exercised with the TypeScript
 * compiler on small option types, one per line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { makeAjv } from '../../core/config/schema';
import { schemaDefaults } from '../../core/options';
import { repoRoot } from '../support/paths';

const SCHEMA = {
  type: 'object',
  properties: {
    path: { type: 'string', default: '/proc/net/ip_vs_conn' },
    limit: { type: 'integer' },
    names: { type: 'array', items: { type: 'string' }, default: ['a'] },
    headers: { type: 'object', default: {} },
  },
};

/** Each case is one line of options.ts; `bad` cases must fail to compile on their own line. */
const CASES: Array<{ what: string; options: string; bad: boolean }> = [
  { what: 'matching', options: '{ path: string; limit?: number; names: string[]; headers: Record<string, string> }', bad: false },
  { what: 'a key the schema lacks', options: '{ path: string; limit?: number; names: string[]; headers: Record<string, string>; extra: boolean }', bad: true },
  { what: 'a key without default missing', options: '{ path: string; names: string[]; headers: Record<string, string> }', bad: true },
  { what: 'a key with default missing', options: '{ path: string; limit?: number; headers: Record<string, string> }', bad: true },
  { what: 'an option with a default made optional', options: '{ path?: string; limit?: number; names: string[]; headers: Record<string, string> }', bad: true },
  { what: 'a required option without default', options: '{ path: string; limit: number; names: string[]; headers: Record<string, string> }', bad: true },
];

test('SchemaOptions: compiling fails where an options type and its schema.json disagree', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-options-'));
  try {
    fs.writeFileSync(path.join(dir, 'schema.json'), JSON.stringify(SCHEMA));
    const core = path.join(repoRoot, 'core', 'options').replace(/\\/g, '/');
    const header = [`import schema from './schema.json';`, `import { schemaDefaults, type SchemaOptions } from '${core}';`];
    const lines = [...header, ...CASES.map((c, i) => `export type Case${i} = SchemaOptions<typeof schema, ${c.options}>;`), `export const defaults: Case0 = schemaDefaults(schema);`];
    const file = path.join(dir, 'options.ts');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      resolveJsonModule: true,
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
      lib: ['lib.es2022.d.ts'],
    });
    const all = ts.getPreEmitDiagnostics(program);
    assert.deepEqual(all.filter((d) => d.file?.fileName !== file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'the compiler found its library');
    const diagnostics = all.filter((d) => d.file?.fileName === file);
    const failing = new Set(diagnostics.map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line - header.length));
    const unexpected = diagnostics.filter((d) => !CASES[d.file!.getLineAndCharacterOfPosition(d.start!).line - header.length]?.bad);
    assert.deepEqual(unexpected.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'only the bad cases fail');
    CASES.forEach((c, i) => assert.equal(failing.has(i), c.bad, `${c.what}: ${c.bad ? 'must not compile' : 'must compile'}`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('schemaDefaults: what the config loader fills in for an empty section, copied afresh each time', () => {
  const filled: Record<string, unknown> = {};
  assert.ok(makeAjv().compile(SCHEMA)(filled));
  const defaults = schemaDefaults<{ names: string[] }>(SCHEMA);
  assert.deepEqual(defaults, filled);
  defaults.names.push('b');
  assert.deepEqual(schemaDefaults<{ names: string[] }>(SCHEMA).names, ['a']);
  assert.deepEqual(SCHEMA.properties.names.default, ['a']);
});
