/**
 * Plugins keep non-code files (sample.conf) beside their source; the build
 * copies them beside the compiled code (scripts/copy-assets.js), so `dist/`
 * runs on its own, in the repository or installed from the package. The
 * runtime never reads the source tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Reads a text file the build put beside a compiled module, e.g. `readAsset(__dirname, 'sample.conf')`. */
export function readAsset(compiledDir: string, file: string): string {
  const where = path.join(compiledDir, file);
  try {
    return fs.readFileSync(where, 'utf8');
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message} (the build copies ${file} there: npm run build)`);
  }
}
