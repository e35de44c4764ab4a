/**
 * Plugin discovery. Every folder `plugins/inputs/<name>/` and
 * `plugins/outputs/<name>/` whose compiled `index.js` default-exports a plugin
 * descriptor is registered under `<name>`. The core names no plugin.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnyPlugin, InputPlugin, OutputPlugin } from './plugin';

export class PluginRegistry {
  readonly inputs = new Map<string, InputPlugin>();
  readonly outputs = new Map<string, OutputPlugin>();

  register(p: AnyPlugin): void {
    if (p.kind === 'input') this.inputs.set(p.name, p);
    else this.outputs.set(p.name, p);
  }
}

let cached: PluginRegistry | undefined;

/** The compiled plugins beside the compiled core: `dist/plugins`. */
const BUILT_IN_PLUGINS = path.join(__dirname, '..', 'plugins');

/** Loads all plugins found in the compiled plugins folder (or an explicit one). */
export function loadRegistry(pluginsDir: string = BUILT_IN_PLUGINS): PluginRegistry {
  if (cached && pluginsDir === BUILT_IN_PLUGINS) return cached;
  const reg = new PluginRegistry();
  for (const kind of ['inputs', 'outputs'] as const) {
    const base = path.join(pluginsDir, kind);
    if (!fs.existsSync(base)) continue;
    for (const name of fs.readdirSync(base).sort()) {
      const index = path.join(base, name, 'index.js');
      if (!fs.existsSync(index)) continue;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(index) as { default?: AnyPlugin };
      const p = mod.default;
      if (!p || (p.kind !== 'input' && p.kind !== 'output')) continue;
      if (p.name !== name) throw new Error(`plugin folder ${kind}/${name} exports a plugin named "${p.name}"`);
      reg.register(p);
    }
  }
  cached = reg;
  return reg;
}
