/**
 * inputs.ipvs at scale, in a lab guest (mem=2G): 10,000 virtual servers × 10
 * real servers loaded over netlink, then gathers of the ipvs input (timed
 * inside the process: Node start-up and the family lookup excluded; metrics
 * handed to a ring of 10,000 like an output buffer with Telegraf's default
 * metric_buffer_limit) alternating with `ipvsadm -Ln --stats --exact >
 * /dev/null` over the same table, so each pair runs in the same time window
 * (the guest shares a busy host, and its CPU may be emulated).
 * Targets: ≤ 0.7 × ipvsadm's time, RSS < 200 MB.
 *
 *   node dist/bench/ipvs.js [SERVICES] [DESTS] [ROUNDS]
 *   BENCH_POOLS=1,4 (socket counts to run), BENCH_NODE_FLAGS="--single-threaded-gc" (gatherer's node flags)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLabAvailable, runGuest } from '../test/lab/lab';

const SERVICES = Number(process.argv[2] ?? 10000);
const DESTS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 5);
const POOLS = (process.env.BENCH_POOLS ?? '1,4').split(',').map(Number);
/** Node flags of the gathering process: by default the ones the agent runs with (its shebang). */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS ?? agentNodeFlags();

function agentNodeFlags(): string {
  const shebang = fs.readFileSync(path.join(__dirname, '..', 'core', 'cli', 'main.js'), 'utf8').split('\n', 1)[0];
  return shebang.replace(/^#!\S*env -S node\s*/, '').replace(/^#!.*$/, '');
}

/** Alternates ipvsadm and a gather of one warm `serve` process, ROUNDS times. */
function pairedRounds(sockets: number): string {
  return `
mkfifo /tmp/ctl${sockets}
"$NODE" ${NODE_FLAGS} dist/bench/_ipvs-guest.js serve ${sockets} < /tmp/ctl${sockets} > /tmp/serve${sockets}.out 2> "$LAB_DIR/serve${sockets}.err" &
exec 3> /tmp/ctl${sockets}
i=0
while [ $i -lt ${ROUNDS + 1} ]; do
  i=$((i+1))
  t0=$(date +%s%N); ipvsadm -Ln --stats --exact > /dev/null; echo "ipvsadm $(( ($(date +%s%N) - t0) / 1000000 ))"
  echo go >&3
  while [ "$(wc -l < /tmp/serve${sockets}.out)" -lt $i ]; do sleep 0.05; done
  echo "gather $(sed -n "\${i}p" /tmp/serve${sockets}.out)"
done
exec 3>&-
wait`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const avail = isLabAvailable(['ipvsadm']);
  if (!avail.ok) {
    console.log(`bench/ipvs skipped: ${avail.reason}`);
    return;
  }
  const r = await runGuest({
    mem: '2G',
    timeoutSec: 3600,
    steps: [
      { name: 'load', sh: `lab_node dist/bench/_ipvs-guest.js load ${SERVICES} ${DESTS}` },
      { name: 'lines', sh: 'ipvsadm -Ln --stats --exact | wc -l; /usr/bin/time -f "%M" ipvsadm -Ln --stats --exact 2>&1 > /dev/null | tail -1' },
      ...POOLS.map((n) => ({ name: `pool${n}`, sh: pairedRounds(n) })),
    ],
  });
  if (!r.completed) throw new Error(r.failure);
  for (const [name, s] of Object.entries(r.steps)) if (s.code !== 0) throw new Error(`${name} failed: ${s.stderr}`);
  const load = JSON.parse(r.steps.load.stdout) as { services: number; dests: number; ms: number };
  const [lines, admRssKB] = r.steps.lines.stdout.trim().split('\n').map(Number);
  console.log(`table: ${load.services} virtual servers, ${load.dests} real servers (${lines} ipvsadm lines); loaded over netlink in ${(load.ms / 1000).toFixed(1)} s (ipvsadm -R: about 3 min)`);
  console.log(`ipvsadm max RSS ${(admRssKB / 1024).toFixed(1)} MB`);
  for (const n of POOLS) {
    const adm: number[] = [];
    const ours: { ms: number; metrics: number; rssMB: number; heapMB: number }[] = [];
    for (const line of r.steps[`pool${n}`].stdout.trim().split('\n')) {
      if (line.startsWith('ipvsadm ')) adm.push(Number(line.slice(8)));
      else if (line.startsWith('gather ')) ours.push(JSON.parse(line.slice(7)));
    }
    // Round 1 is the cold gather (JIT compilation, heap growth): reported apart.
    const ratios = ours.slice(1).map((g, i) => g.ms / adm[i + 1]);
    const rss = Math.max(...ours.map((g) => g.rssMB));
    console.log(`\n${n} socket(s)${NODE_FLAGS ? ` (node ${NODE_FLAGS})` : ''}: ${ours[0].metrics} metrics per gather`);
    console.log(`  pairs (ipvsadm ms / lvsagent gather ms): ${adm.map((a, i) => `${a}/${ours[i].ms}`).join('  ')}`);
    console.log(`  cold gather: ${ours[0].ms} ms vs ipvsadm ${adm[0]} ms → ${(ours[0].ms / adm[0]).toFixed(2)}×`);
    console.log(`  warm gathers: median ${median(ours.slice(1).map((g) => g.ms))} ms vs ipvsadm median ${median(adm.slice(1))} ms; paired ratio median ${median(ratios).toFixed(2)}× (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; target ≤ 0.70)`);
    console.log(`  RSS max ${rss} MB (target < 200), heap after gather ${Math.max(...ours.map((g) => g.heapMB))} MB`);
  }
  console.log(`\nguest total ${(r.durationMs / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
