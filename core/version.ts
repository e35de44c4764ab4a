/** The agent's version, from the package.json beside dist/ (in the repository and in an installed package alike). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const version: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export const nodeVersion = process.version;
