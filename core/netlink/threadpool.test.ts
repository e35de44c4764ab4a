/**
 * Entering a network namespace cannot trap libuv's threadpool: the pool is
 * started lazily, all threads at once, by the first piece of async work, and
 * threads inherit the namespace of the thread that creates them. A first
 * async fs call inside `withNetns` used to leave every pool thread in the
 * target namespace. Runs in a fresh process so the pool has not started yet.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { skipOrFail } from '../../test/support/skip';

const NETNS_JS = path.join(__dirname, 'netns.js');

test('libuv threadpool threads stay in the process namespace when the first async work starts inside withNetns', async (t) => {
  if (process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0) {
    return skipOrFail(t, 'needs root and unshare(1) to make a network namespace');
  }
  // A namespace held open by a sleeping process.
  const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const target = `/proc/${holder.pid}/ns/net`;
    const script = `
      const fs = require('fs');
      const { withNetns } = require(${JSON.stringify(NETNS_JS)});
      const own = fs.readlinkSync('/proc/self/ns/net');
      const inside = withNetns(${JSON.stringify(target)}, () => {
        fs.access('/', () => {});            // the process's first threadpool work, queued from inside
        return fs.readlinkSync('/proc/thread-self/ns/net');
      });
      setTimeout(() => {
        const tasks = fs.readdirSync('/proc/self/task').map((id) => fs.readlinkSync('/proc/self/task/' + id + '/ns/net'));
        console.log(JSON.stringify({ own, inside, tasks }));
      }, 300);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const { own, inside, tasks } = JSON.parse(r.stdout) as { own: string; inside: string; tasks: string[] };
    assert.notEqual(inside, own, 'the callback ran inside the other namespace');
    assert.ok(tasks.length >= 5, `threads: ${tasks.length} (main, V8 workers, the libuv pool)`);
    assert.deepEqual(
      tasks.filter((ns) => ns !== own),
      [],
      'every thread, the libuv pool included, is in the process namespace',
    );
  } finally {
    holder.kill('SIGKILL');
  }
});
