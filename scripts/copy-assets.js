#!/usr/bin/env node
// @ts-check
/**
 * Copies what the runtime reads besides code (each plugin's sample.conf) from
 * the source tree to beside the compiled plugin in dist/: tsc copies only the
 * JSON it compiles (schema.json), and the runtime never reads sources.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ASSETS = ['sample.conf'];

/** Copies the assets of plugins/<kind>/<name>/ to dist/plugins/<kind>/<name>/; returns how many. */
function copyAssets(root = ROOT) {
  let copied = 0;
  for (const kind of ['inputs', 'outputs']) {
    const base = path.join(root, 'plugins', kind);
    for (const name of fs.readdirSync(base)) {
      for (const asset of ASSETS) {
        const from = path.join(base, name, asset);
        if (!fs.existsSync(from)) continue;
        const to = path.join(root, 'dist', 'plugins', kind, name, asset);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(from, to);
        copied++;
      }
    }
  }
  return copied;
}

module.exports = { copyAssets };

if (require.main === module) copyAssets();
