/**
 * Execd mode into a pipe, as Telegraf reads it: `lvsagent --execd` gathers
 * 100,000 metrics per trigger (inputs.ip_vs_conn on a synthetic 50,000-row
 * connection table, every row a different real server: 100,001 lines) and
 * this process reads its stdout, only counting lines. Beside it, in the same
 * run, `cat` of the same bytes from a file into the same counting reader.
 *
 * Figures per gather: lines/s from the trigger to the last line (gather,
 * metric building, serializing, the pipe), lines/s of the streaming phase
 * alone (first byte to last), and the agent's peak RSS.
 * Targets: end to end ≥ 0.5 × cat's lines/s; RSS < 150 MB.
 *
 *   node dist/bench/stdout.js [ROWS] [ROUNDS]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROWS = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const LINES = 2 * ROWS + 1;
const BIN = path.join(__dirname, '..', 'core', 'cli', 'main.js');

/** Counts newlines on a child's stdout; `until(n)` resolves when n lines have arrived, with the arrival times. */
class LineCounter {
  lines = 0;
  firstByteAt = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  private captured: Buffer[] | undefined;

  constructor(child: ChildProcess, capture = false) {
    if (capture) this.captured = [];
    child.stdout!.on('data', (b: Buffer) => {
      if (this.firstByteAt === 0) this.firstByteAt = performance.now();
      if (this.captured) this.captured.push(b);
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) this.lines++;
      this.waiters = this.waiters.filter((w) => (this.lines >= w.n ? (w.resolve(), false) : true));
    });
  }

  until(n: number): Promise<void> {
    return this.lines >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  takeCapture(): Buffer {
    const b = Buffer.concat(this.captured ?? []);
    this.captured = undefined;
    return b;
  }
}

function vmKb(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  try {
    return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-bench-stdout-'));
  try {
    const hex = (v: number, w: number): string => v.toString(16).toUpperCase().padStart(w, '0');
    const rows = ['Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData'];
    for (let i = 0; i < ROWS; i++) rows.push(`TCP 0A000001 ${hex(1024 + (i % 60000), 4)} 0A0A0001 0050 ${hex(0x0b000000 + i, 8)} 1F90 ESTABLISHED     800`);
    const table = path.join(dir, 'ip_vs_conn');
    fs.writeFileSync(table, rows.join('\n') + '\n');
    const conf = path.join(dir, 'execd.conf');
    fs.writeFileSync(conf, `[[inputs.ip_vs_conn]]\n  path = "${table}"\n  conn_reuse_mode_path = ""\n`);

    const agent = spawn(process.execPath, [...(process.env.BENCH_AGENT_FLAGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean), BIN, '--execd', '--config', conf], { stdio: ['pipe', 'pipe', 'inherit'] });
    const counter = new LineCounter(agent, true);
    let peakKb = 0;
    const rss = setInterval(() => (peakKb = Math.max(peakKb, vmKb(agent.pid!, 'VmRSS'))), 20);

    // Warm-up gather (JIT, the table's groups interned); its bytes are cat's input.
    agent.stdin!.write('\n');
    await counter.until(LINES);
    const bytes = counter.takeCapture();
    const sample = path.join(dir, 'gather.lp');
    fs.writeFileSync(sample, bytes);

    const ours: { total: number; stream: number }[] = [];
    const cats: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      counter.firstByteAt = 0;
      const t0 = performance.now();
      agent.stdin!.write('\n');
      await counter.until((r + 1) * LINES);
      const t1 = performance.now();
      ours.push({ total: t1 - t0, stream: t1 - counter.firstByteAt });

      // cat of the same bytes into the same kind of reader, right after (same machine state).
      const cat = spawn('cat', [sample], { stdio: ['ignore', 'pipe', 'inherit'] });
      const c0 = performance.now();
      const cc = new LineCounter(cat);
      await cc.until(LINES);
      cats.push(performance.now() - c0);
      await new Promise((r2) => cat.on('close', r2));
    }
    agent.stdin!.end();
    const hwm = vmKb(agent.pid!, 'VmHWM');
    await new Promise((r) => agent.on('close', r));
    clearInterval(rss);
    peakKb = Math.max(peakKb, hwm);

    const lps = (ms: number): number => LINES / (ms / 1000);
    const total = median(ours.map((o) => o.total));
    const stream = median(ours.map((o) => o.stream));
    const cat = median(cats);
    const ratios = ours.map((o, i) => cats[i] / o.total);
    console.log(`gather: ${LINES} lines, ${(bytes.length / 1e6).toFixed(1)} MB; ${ROUNDS} rounds after a warm-up, medians`);
    console.log(`lvsagent --execd, trigger to last line: ${total.toFixed(0)} ms = ${(lps(total) / 1e6).toFixed(2)} M lines/s`);
    console.log(`  of which streaming (first byte to last): ${stream.toFixed(0)} ms = ${(lps(stream) / 1e6).toFixed(2)} M lines/s`);
    console.log(`cat of the same bytes:                  ${cat.toFixed(0)} ms = ${(lps(cat) / 1e6).toFixed(2)} M lines/s`);
    console.log(`ratio (lvsagent end to end / cat, pairwise): median ${median(ratios).toFixed(2)}× (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); target ≥ 0.5×`);
    console.log(`lvsagent peak RSS: ${(peakKb / 1024).toFixed(0)} MB (target < 150 MB)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
