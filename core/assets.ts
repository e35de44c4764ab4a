/**
 * Plugins keep non-code files (sample.conf, README, testdata) beside their
 * source. Compiled code runs from `dist/`, so map a compiled module's folder
 * back to its source folder to find them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root (the folder holding package.json). */
export const repoRoot: string = (() => {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && path.basename(dir) !== 'dist') return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
})();

/** Source folder of a compiled module folder: `<root>/dist/x/y` → `<root>/x/y`. */
export function sourceDir(compiledDir: string): string {
  const rel = path.relative(path.join(repoRoot, 'dist'), compiledDir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return compiledDir;
  return path.join(repoRoot, rel);
}

/** Reads a text file kept beside a module's source, e.g. `readAsset(__dirname, 'sample.conf')`. */
export function readAsset(compiledDir: string, file: string): string {
  return fs.readFileSync(path.join(sourceDir(compiledDir), file), 'utf8');
}

/** Absolute path of a file kept beside a module's source (fixtures, testdata). */
export function assetPath(compiledDir: string, ...parts: string[]): string {
  return path.join(sourceDir(compiledDir), ...parts);
}
