/** The agent's version, from package.json. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './assets';

export const version: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export const nodeVersion = process.version;
