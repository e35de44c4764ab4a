#!/usr/bin/env node
// @ts-check
/**
 * The runtime as the package ships it (`npm pack` runs this as prepack):
 * dist/core and dist/plugins compiled afresh with tsconfig.build.json (no
 * tests, no test helpers, no source maps; nothing left from an earlier
 * build), plus the plugin assets. dist/test and dist/bench are left alone but
 * not packed; `npm run build` puts the compiled tests back.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { copyAssets } = require('./copy-assets');

const root = path.join(__dirname, '..');
for (const dir of ['core', 'plugins']) fs.rmSync(path.join(root, 'dist', dir), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
copyAssets(root);
