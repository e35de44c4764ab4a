/**
 * Every key of Telegraf's sample.conf (and of the structs its plugins embed)
 * for the plugins lvsagent implements, plus the agent keys, is either
 * implemented or accepted with exactly one `W!` line saying it is ignored
 * (issue 13 item 3). The keys come from test/compat/telegraf-keys.json,
 * taken from Telegraf at the version and commit recorded there, so a Telegraf
 * upgrade is a diff of that file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/paths';
import { loadConfig, type LoadedConfig } from '../../core/config/load';
import { agentSchema, inputCommonProperties, inputTelegrafOnlyKeys, outputCommonProperties, outputTelegrafOnlyKeys } from '../../core/config/schema';
import { loadRegistry } from '../../core/registry';

interface KeyList {
  telegraf: { version: string; commit: string };
  sections: Record<string, { sources: string[]; keys: Record<string, unknown> }>;
}

const list = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'compat', 'telegraf-keys.json'), 'utf8')) as KeyList;
const registry = loadRegistry();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-keys-'));
let n = 0;

/** A TOML value (inline tables for objects). */
export function toml(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(toml).join(', ')}]`;
  if (v && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)} = ${toml(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

function load(text: string): LoadedConfig {
  const f = path.join(dir, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return loadConfig({ files: [f], directories: [], registry });
}

/** Where a key goes and what lvsagent says it does with it. */
function place(section: string, key: string, value: string): { text: string; implemented: boolean } {
  const line = `  ${key} = ${value}\n`;
  if (section === 'agent') return { text: `[agent]\n${line}[[inputs.internal]]\n[[outputs.file]]\n`, implemented: key in (agentSchema.properties as object) };
  if (section === 'input_common')
    return { text: `[[inputs.internal]]\n${line}[[outputs.file]]\n`, implemented: key in inputCommonProperties && !inputTelegrafOnlyKeys.includes(key) };
  if (section === 'output_common')
    return { text: `[[inputs.internal]]\n[[outputs.file]]\n${line}`, implemented: key in outputCommonProperties && !outputTelegrafOnlyKeys.includes(key) };
  const [kind, name] = section.split('.');
  const plugin = (kind === 'inputs' ? registry.inputs : registry.outputs).get(name);
  assert.ok(plugin, `lvsagent has ${section}`);
  const other = kind === 'inputs' ? '[[outputs.file]]\n' : '[[inputs.internal]]\n';
  return { text: `[[${kind}.${name}]]\n${line}${other}`, implemented: key in (plugin.schema.properties as object) };
}

describe(`Telegraf ${list.telegraf.version} keys are implemented or ignored with one warning`, () => {
  test('the key list names the Telegraf version and commit it came from', () => {
    assert.match(list.telegraf.version, /^\d+\.\d+\.\d+$/);
    assert.match(list.telegraf.commit, /^[0-9a-f]{40}$/);
  });

  for (const [section, { keys }] of Object.entries(list.sections)) {
    test(section, (t) => {
      const ignored: string[] = [];
      for (const [key, value] of Object.entries(keys)) {
        const { text, implemented } = place(section, key, toml(value));
        let cfg: LoadedConfig;
        try {
          cfg = load(text);
        } catch (e) {
          assert.fail(`${section}: ${key} = ${toml(value)} stops the agent: ${(e as Error).message}`);
        }
        const about = cfg.warnings.filter((w) => w.includes(`option "${key}"`));
        if (implemented) assert.deepEqual(about, [], `${section}: ${key} is implemented, so no warning`);
        else {
          assert.equal(about.length, 1, `${section}: ${key} is not implemented: exactly one warning (got ${JSON.stringify(cfg.warnings)})`);
          assert.match(about[0], /is accepted for Telegraf compatibility but not implemented by lvsagent; ignored/);
          ignored.push(key);
        }
      }
      // The ignored keys, listed so that a change in what lvsagent implements shows in this test's output.
      if (ignored.length) t.diagnostic(`${section}: ignored with a warning: ${ignored.join(', ')}`);
    });
  }
});
