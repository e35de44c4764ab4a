/**
 * Every plugin folder has the shape plugins/README.md describes, and shipped
 * folders (core/, plugins/) hold runtime code only: every module there is
 * reached from the command line or a plugin descriptor, and none imports
 * test/ or bench/.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeAjv } from '../../core/config/schema';
import type { AnyPlugin } from '../../core/plugin';
import { repoRoot } from '../support/paths';
import { checkSample } from '../support/sample';

type Kind = 'inputs' | 'outputs';

const TEMPLATE: Record<Kind, string[]> = {
  inputs: ['index.ts', 'input.ts', 'options.ts', 'schema.json', 'measurements.ts', 'sample.conf', 'README.md'],
  outputs: ['index.ts', 'output.ts', 'options.ts', 'schema.json', 'sample.conf', 'README.md'],
};

/** Folders not yet in the template's shape, and what they lack (remove an entry once the folder has it). */
const NOT_YET: Record<string, string[]> = {
  'outputs/file': ['output.ts', 'options.ts'],
};

/** Runtime modules no entry point reaches, and why they stay. */
const UNREACHED_LIBRARY: Record<string, string> = {
  'core/netlink/index.ts': "the netlink layer's public entry point (docs/design/netlink.md); plugins import its modules directly",
  'core/netlink/pool.ts': 'SocketPool, part of that public API (kernel.test.ts covers it); the IPVS client pools its own sockets',
};

function folders(kind: Kind): string[] {
  return fs
    .readdirSync(path.join(repoRoot, 'plugins', kind), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

for (const kind of ['inputs', 'outputs'] as const) {
  describe(`plugins/${kind}/*: the plugin folder template`, () => {
    for (const name of folders(kind)) {
      const src = path.join(repoRoot, 'plugins', kind, name);
      test(`${kind}.${name}`, () => {
        const pending = NOT_YET[`${kind}/${name}`] ?? [];
        for (const file of TEMPLATE[kind]) {
          if (pending.includes(file)) assert.ok(!fs.existsSync(path.join(src, file)), `${kind}/${name} has ${file} now: remove it from NOT_YET`);
          else assert.ok(fs.existsSync(path.join(src, file)), `plugins/${kind}/${name} lacks ${file}`);
        }
        const entries = fs.readdirSync(src);
        assert.ok(entries.some((f) => f.endsWith('.test.ts')), `plugins/${kind}/${name} has no tests`);
        for (const entry of entries) {
          assert.ok(entry === 'testdata' || !fs.statSync(path.join(src, entry)).isDirectory(), `plugins/${kind}/${name}/${entry}/: only testdata/ is a subfolder (helpers go to test/support/${kind}/${name}/)`);
        }

        const plugin = (require(path.join(repoRoot, 'dist', 'plugins', kind, name, 'index.js')) as { default: AnyPlugin }).default;
        assert.equal(plugin.name, name);
        assert.equal(plugin.kind, kind === 'inputs' ? 'input' : 'output');
        assert.deepEqual(plugin.schema, JSON.parse(fs.readFileSync(path.join(src, 'schema.json'), 'utf8')));
        assert.equal(plugin.sampleConfig, fs.readFileSync(path.join(src, 'sample.conf'), 'utf8'));
        for (const uncomment of [false, true]) {
          const { errors } = checkSample(plugin.sampleConfig, kind, name, plugin.schema, uncomment, plugin.telegrafOnlyKeys);
          assert.equal(errors, '', `sample.conf${uncomment ? ' with every option uncommented' : ''} fails the schema`);
        }

        if (kind === 'inputs') {
          const { DEFAULT_OPTIONS } = require(path.join(repoRoot, 'dist', 'plugins', kind, name, 'options.js')) as { DEFAULT_OPTIONS: unknown };
          const filled: Record<string, unknown> = {};
          assert.ok(makeAjv().compile(plugin.schema)(filled));
          assert.deepEqual(DEFAULT_OPTIONS, filled, 'DEFAULT_OPTIONS are what the config loader fills in for an empty section');
          const readme = fs.readFileSync(path.join(src, 'README.md'), 'utf8');
          assert.ok(plugin.measurements && plugin.measurements.length > 0, 'measurements.ts documents the measurements');
          for (const m of plugin.measurements) assert.ok(readme.includes(m.name), `README.md does not mention ${m.name}`);
        }
      });
    }
  });
}

/** Relative module specifiers a TypeScript file imports (static, dynamic and require). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  const out: string[] = [];
  const re = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
    const rel = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(rel));
    else if (d.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

test('core/ and plugins/ hold runtime code only: every module is reached from an entry point, none imports test/ or bench/', () => {
  const runtime = [...walk('core'), ...walk('plugins')].filter((f) => !f.endsWith('.test.ts'));
  const known = new Set(runtime);
  const resolve = (from: string, spec: string): string | undefined => {
    const base = path.normalize(path.join(path.dirname(from), spec));
    return [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => known.has(c) || fs.existsSync(path.join(repoRoot, c)));
  };
  for (const file of runtime) {
    for (const spec of importsOf(file)) {
      const target = resolve(file, spec) ?? spec;
      assert.doesNotMatch(target, /^(test|bench)\//, `${file} imports ${spec}: runtime code must not import tests or benches`);
    }
  }
  const entries = runtime.filter((f) => f === 'core/cli/main.ts' || /^plugins\/(inputs|outputs)\/[^/]+\/index\.ts$/.test(f));
  const reached = new Set<string>();
  for (const stack = [...entries]; stack.length; ) {
    const f = stack.pop()!;
    if (reached.has(f)) continue;
    reached.add(f);
    for (const spec of importsOf(f)) {
      const target = resolve(f, spec);
      if (target && known.has(target)) stack.push(target);
    }
  }
  const unreached = runtime.filter((f) => !reached.has(f) && !(f in UNREACHED_LIBRARY));
  assert.deepEqual(unreached, [], 'modules only tests, benches or the lab use belong in test/support/');
  for (const f of Object.keys(UNREACHED_LIBRARY)) assert.ok(known.has(f) && !reached.has(f), `${f} is reached (or gone) now: remove it from UNREACHED_LIBRARY`);
});
