/**
 * `--watch-config notify|poll`: calls back when a configuration file or a
 * file under a configuration directory changes, as Telegraf's config
 * watcher. `notify` uses inotify (fs.watch on each file's folder, so an
 * editor's write-and-rename is seen, and recursively on directories);
 * `poll` compares stat results every 250 ms (Telegraf's poll interval).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listConfigDirectory } from '../config/load';

export interface ConfigWatcher {
  close(): void;
}

const POLL_MS = 250;
/** Changes usually come in bursts (truncate, write, rename): one callback after they settle. */
const SETTLE_MS = 100;

export function watchConfig(sources: { files: string[]; directories: string[] }, mode: 'notify' | 'poll', onChange: (what: string) => void, onError: (msg: string) => void): ConfigWatcher {
  let settle: NodeJS.Timeout | undefined;
  let changed = '';
  const fire = (what: string): void => {
    changed = what;
    if (settle) clearTimeout(settle);
    settle = setTimeout(() => {
      settle = undefined;
      onChange(changed);
    }, SETTLE_MS);
  };
  const closers: (() => void)[] = [() => settle && clearTimeout(settle)];
  if (mode === 'poll') {
    let last = signature(sources);
    const timer = setInterval(() => {
      const now = signature(sources);
      if (now !== last) {
        last = now;
        fire('configuration changed');
      }
    }, POLL_MS);
    closers.push(() => clearInterval(timer));
  } else {
    const byFolder = new Map<string, Set<string>>();
    for (const f of sources.files) {
      const abs = path.resolve(f);
      const names = byFolder.get(path.dirname(abs)) ?? new Set<string>();
      names.add(path.basename(abs));
      byFolder.set(path.dirname(abs), names);
    }
    const watch = (target: string, recursive: boolean, accept: (name: string) => boolean): void => {
      try {
        const w = fs.watch(target, { recursive, persistent: true }, (_event, name) => {
          if (name === null || accept(String(name))) fire(path.join(target, String(name ?? '')));
        });
        w.on('error', (err) => onError(`watching ${target}: ${err.message}`));
        closers.push(() => w.close());
      } catch (err) {
        onError(`cannot watch ${target}: ${(err as Error).message}`);
      }
    };
    for (const [folder, names] of byFolder) watch(folder, false, (n) => names.has(n));
    for (const d of sources.directories) watch(d, true, (n) => n.endsWith('.conf') || !path.extname(n));
  }
  return { close: () => closers.forEach((c) => c()) };
}

/** What polling compares: identity, size and modification time of every watched file. */
function signature(sources: { files: string[]; directories: string[] }): string {
  const parts: string[] = [];
  const stat = (f: string): void => {
    try {
      const st = fs.statSync(f);
      parts.push(`${f}:${st.ino}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${f}:missing`);
    }
  };
  for (const f of sources.files) stat(f);
  for (const d of sources.directories) {
    try {
      for (const f of listConfigDirectory(d)) stat(f);
    } catch {
      parts.push(`${d}:missing`);
    }
  }
  return parts.join('\n');
}
