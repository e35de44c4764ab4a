/**
 * Where tests find the repository. Tests run compiled from `dist/`, but their
 * fixtures (testdata/, README.md, sample.conf) stay in the source tree, which
 * a test reaches through these; the runtime never does (it reads its assets
 * from beside its compiled code, see core/assets.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the first folder up from here that holds package.json and is not dist/. */
export const repoRoot: string = (() => {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && path.basename(dir) !== 'dist') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no repository root above ${__dirname}`);
    dir = up;
  }
})();

/** A file in the source folder of a compiled module's folder: `sourcePath(__dirname, 'testdata', 'x')` from `dist/a/b` is `a/b/testdata/x`. */
export function sourcePath(compiledDir: string, ...parts: string[]): string {
  const rel = path.relative(path.join(repoRoot, 'dist'), compiledDir);
  const dir = rel.startsWith('..') || path.isAbsolute(rel) ? compiledDir : path.join(repoRoot, rel);
  return path.join(dir, ...parts);
}

/** Reads a text file of a compiled module's source folder, e.g. `readSource(__dirname, 'README.md')`. */
export function readSource(compiledDir: string, ...parts: string[]): string {
  return fs.readFileSync(sourcePath(compiledDir, ...parts), 'utf8');
}
