/**
 * Without CAP_NET_ADMIN, the error names the capability and the plugin
 * (the kernel's own word is only "operation not permitted" on a setsockopt),
 * and warnings about kernel settings are given once, not on every retry.
 * Runs the agent as nobody with every capability dropped (setpriv).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, sleep, tempDir } from '../support/process';
import { skipOrFail } from '../support/skip';

test('conntrack events without CAP_NET_ADMIN: the capability is named, warnings once across retries', async (t) => {
  const ready = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0 && fs.existsSync('/proc/sys/net/netfilter/nf_conntrack_count');
  if (!ready) {
    return skipOrFail(t, 'needs root (to drop to nobody), setpriv and conntrack');
  }
  const dir = tempDir('lvsagent-priv-');
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'c.conf');
  fs.writeFileSync(
    conf,
    `[agent]\n  interval = "1s"\n  flush_interval = "1s"\n[[inputs.conntrack]]\n  collect_service_flows = true\n  service_subnets = [\"10.96.0.0/12\"]\n  startup_error_behavior = "retry"\n[[outputs.file]]\n  files = ["stdout"]\n`,
  );
  fs.chmodSync(conf, 0o644);
  const p = new AgentProcess(['--config', conf], {
    wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
  });
  try {
    await p.waitFor(/missing CAP_NET_ADMIN/, 20_000);
    await sleep(3500); // three more retries
    p.signal('SIGTERM');
    assert.equal((await p.exit()).code, 0, p.stderr);
    const errors = p.stderr.split('\n').filter((l) => / E! /.test(l));
    assert.ok(errors.length >= 3, 'the start is retried every gather');
    for (const l of errors) assert.match(l, /\[inputs\.conntrack\] .*listening to conntrack events: operation not permitted: missing CAP_NET_ADMIN/);
    assert.ok((p.stderr.match(/conntrack flow metrics incomplete/g) ?? []).length <= 1, 'the sysctl warning is given once');
  } finally {
    if (p.alive()) p.signal('SIGKILL');
  }
});
