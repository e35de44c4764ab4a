/**
 * `npm run lab`: boots a lab guest (QEMU with Debian's kernel, or user-mode
 * Linux) with IPVS virtual servers (TCP, UDP, SCTP, fwmark, IPv6, a namespace
 * ns1) and live traffic, runs lvsagent inside with an example configuration
 * for a few intervals, and prints its line protocol.
 *
 *   node dist/test/lab/try.js [SECONDS]     (default 7: three 2-second intervals)
 *
 * Needs root and qemu-system-x86 + busybox-static (or user-mode-linux on a CPU
 * without AMX); see test/lab/README.md. Any failure is one line on stderr.
 */
import { isLabAvailable, labBackend, runGuest } from './lab';
import { IPVS_SETUP } from './scenarios/ipvs';

const CONFIG = `# lvsagent example configuration used by npm run lab
[agent]
  interval = "2s"
  flush_interval = "2s"
  omit_hostname = true

[[inputs.ipvs]]
  collect_sysctls = true

[[inputs.ipvs]]
  namespace = "ns1"
  virtual_servers = ["tcp:*:*"]

[[outputs.file]]
  files = ["stdout"]
`;

const TRAFFIC_LOOP = `
N="$NODE $LAB_REPO/dist/test/lab/guest/net.js"
while :; do
  $N http-get http://10.10.0.1/ 4 2 > /dev/null
  $N http-get 'http://[fd00::1]/' 2 1 > /dev/null
  $N udp-send 10.10.0.2:53 5 300 > /dev/null
  sleep 0.3
done`;

async function main(): Promise<void> {
  if (process.env.NODE_TEST_CONTEXT) return; // loaded by `node --test dist/`: not a test
  const seconds = Number(process.argv[2] ?? 7);
  const avail = isLabAvailable(['ipvsadm', 'perl']);
  if (!avail.ok) {
    console.error(`npm run lab: ${avail.reason}`);
    process.exit(1);
  }
  // The run starts once the agent has loaded its plugins (its start takes seconds in an emulated guest).
  const agent = `
"$NODE" dist/core/cli/main.js --config "$LAB_DIR/lvsagent.conf" > /tmp/agent.out 2> /tmp/agent.err &
pid=$!
lab_wait_for /tmp/agent.err "Loaded outputs" 60 || { cat /tmp/agent.err >&2; exit 1; }
sleep ${seconds}
kill -INT $pid; wait $pid; rc=$?
cat /tmp/agent.out; cat /tmp/agent.err >&2
exit $rc`;
  console.error(`booting the lab guest (${labBackend().backend?.name}; 10-30 s), then running lvsagent for ${seconds} s ...`);
  const r = await runGuest({
    timeoutSec: 120 + seconds,
    setup: `${IPVS_SETUP}\ncat > "$LAB_DIR/lvsagent.conf" <<'EOF'\n${CONFIG}EOF\nlab_bg traffic sh -c '${TRAFFIC_LOOP.replace(/'/g, `'\\''`)}'`,
    steps: [
      { name: 'agent', sh: agent },
      { name: 'ipvsadm', sh: 'ipvsadm -Ln --stats' },
    ],
  });
  if (!r.completed) {
    console.error(`npm run lab: ${r.failure} (LAB_KEEP=1 keeps the run directory with the console and init logs)`);
    process.exit(1);
  }
  console.log('# configuration\n' + CONFIG);
  console.log('# ipvsadm -Ln --stats (after the run)\n' + r.steps.ipvsadm.stdout);
  console.log('# lvsagent output\n' + r.steps.agent.stdout);
  if (r.steps.agent.stderr.trim()) console.log('# lvsagent log\n' + r.steps.agent.stderr);
}

main().catch((e: unknown) => {
  console.error(`npm run lab: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  process.exit(1);
});
