/**
 * The agent in a real kernel where modules are loadable (the lab guest boots
 * with none loaded):
 *
 * - it loads no kernel module behind the operator's back: every input with
 *   default options, and conntrack's netlink parts, leave `/proc/modules`
 *   unchanged and say what is missing; `load_module = true` lets the kernel
 *   load what it needs (which shows the check would catch a load);
 * - metric timestamps follow the wall clock: after `date -s` moves the
 *   guest's clock by an hour while the agent runs, the next gathers carry the
 *   new time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBody } from '../support/lineprotocol';
import { BIN } from '../support/process';
import { assertCompleted, labOrSkip, labTestTimeout, runGuest, shQuote, type GuestResult } from './lab';

const AGENT = `"$NODE" ${shQuote(BIN)}`;
const MODULES = "cut -d' ' -f1 /proc/modules | sort";

const CONFIGS: Record<string, string> = {
  defaults: `[agent]
  omit_hostname = true
[[inputs.ipvs]]
[[inputs.ip_vs_conn]]
[[inputs.ipvs_probe]]
[[inputs.conntrack]]
  collect = ["all"]
`,
  table: `[agent]
  omit_hostname = true
[[inputs.conntrack]]
  collect = ["all"]
  stats_source = "netlink"
  collect_table = true
`,
  optin: `[agent]
  omit_hostname = true
[[inputs.conntrack]]
  collect_table = true
  load_module = true
`,
  clock: `[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true
[[inputs.internal]]
  collect_memstats = false
[[outputs.file]]
  files = ["/tmp/clock.lp"]
`,
};

/** Waits until the agent has written N internal_agent lines (one per gather); N is shell text. */
const gathers = (n: string): string => `lab_wait_for_count() { _end=$(( $(date +%s) + 60 * LAB_TIME_SCALE )); until [ "$(grep -c '^internal_agent' /tmp/clock.lp 2>/dev/null)" -ge $1 ]; do [ "$(date +%s)" -lt $_end ] || return 1; sleep 0.2; done; }; lab_wait_for_count ${n}`;

let result: GuestResult | undefined;
async function lab(): Promise<GuestResult> {
  result ??= await runGuest({
    modules: [],
    timeoutSec: 200,
    setup: Object.entries(CONFIGS)
      .map(([name, body]) => `cat > "$LAB_DIR/${name}.conf" <<'EOF'\n${body}EOF`)
      .join('\n'),
    steps: [
      { name: 'before', sh: MODULES },
      { name: 'defaults', sh: `${AGENT} --test --config "$LAB_DIR/defaults.conf"` },
      { name: 'after_defaults', sh: MODULES },
      // conntrack itself loaded (as by a firewall), its netlink module not.
      { name: 'ct', sh: `modprobe nf_conntrack && ${MODULES}` },
      { name: 'table', sh: `${AGENT} --test --config "$LAB_DIR/table.conf"` },
      { name: 'after_table', sh: MODULES },
      { name: 'optin', sh: `${AGENT} --test --config "$LAB_DIR/optin.conf"` },
      { name: 'after_optin', sh: MODULES },
      {
        name: 'clock',
        sh: `${AGENT} --config "$LAB_DIR/clock.conf" 2> /tmp/clock.err &
pid=$!
${gathers('3')} || { cat /tmp/clock.err >&2; exit 1; }
before=$(date +%s)
written=$(grep -c '^internal_agent' /tmp/clock.lp)
date -s "@$(( before + 3600 ))" > /dev/null
echo "stepped $before $(date +%s)"
# Four more lines than were written at the step: at least three gathers after it, whatever was still buffered.
${gathers('$((written + 4))')} || { cat /tmp/clock.err >&2; exit 1; }
echo "now $(date +%s)"
kill -TERM $pid; wait $pid
cp /tmp/clock.lp "$LAB_DIR/clock.lp"`,
      },
    ],
  });
  assertCompleted(result);
  return result;
}

const modules = (r: GuestResult, step: string): string[] => r.steps[step].stdout.trim().split('\n').filter(Boolean);

test('no kernel module is loaded behind the operator\'s back', { timeout: labTestTimeout(300_000) }, async (t) => {
  if (!labOrSkip(t)) return;
  const r = await lab();
  const before = modules(r, 'before');
  assert.ok(!before.includes('ip_vs') && !before.includes('nf_conntrack'), `the guest starts without them: ${before.join(' ')}`);

  await t.test('every input with default options: /proc/modules unchanged, one line says what is missing', () => {
    assert.deepEqual(modules(r, 'after_defaults'), before);
    const err = r.steps.defaults.stderr;
    assert.match(err, /\[inputs\.ipvs\].*IPVS is not loaded/);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  });

  await t.test('conntrack netlink parts with nf_conntrack loaded: nf_conntrack_netlink stays unloaded, the error says so', () => {
    const withCt = modules(r, 'ct');
    assert.ok(withCt.includes('nf_conntrack'));
    assert.ok(!withCt.includes('nf_conntrack_netlink'));
    assert.deepEqual(modules(r, 'after_table'), withCt);
    assert.match(r.steps.table.stderr, /\[inputs\.conntrack\].*nf_conntrack_netlink is not loaded.*load_module = true/);
  });

  await t.test('load_module = true: the kernel loads it (so the check above would have seen a load)', () => {
    assert.ok(modules(r, 'after_optin').includes('nf_conntrack_netlink'), modules(r, 'after_optin').join(' '));
    assert.equal(r.steps.optin.code, 0, r.steps.optin.stderr);
  });
});

test('metric timestamps follow a step of the wall clock', { timeout: labTestTimeout(300_000) }, async (t) => {
  if (!labOrSkip(t)) return;
  const r = await lab();
  const c = r.steps.clock;
  assert.equal(c.code, 0, c.stderr);
  const [, before, after] = /stepped (\d+) (\d+)/.exec(c.stdout)!.map(Number);
  assert.ok(after - before >= 3599, 'the guest clock moved an hour');
  const now = Number(/now (\d+)/.exec(c.stdout)![1]);
  const times = parseBody(r.files['clock.lp'])
    .filter((p) => p.measurement === 'internal_agent')
    .map((p) => Number((p.time ?? 0n) / 1_000_000_000n));
  assert.ok(times.length >= 7);
  const early = times.filter((s) => s < before + 60);
  const late = times.filter((s) => s >= before + 3600 - 5);
  assert.ok(early.length >= 3, `gathers before the step: ${times.join(' ')}`);
  assert.ok(late.length >= 3, `gathers after the step carry the new time: ${times.join(' ')}`);
  for (const s of late) assert.ok(Math.abs(s - now) < 30, `timestamp ${s} near the stepped clock ${now}`);
  assert.equal(early.length + late.length, times.length, 'no timestamp off by the step');
  assert.equal(new Set(times).size, times.length, `one gather per second, realigned after the step: ${times.join(' ')}`);
});
