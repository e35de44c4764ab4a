/**
 * The real-kernel test lab: boots a Linux guest with IPVS, conntrack and
 * `dummy` as modules on the host's root filesystem, runs a scenario as the
 * guest's init, and hands results back through files in a per-run host
 * directory that the guest mounts at the same path. The guest is QEMU with
 * Debian's stock kernel or user-mode Linux (backend.ts says which and why).
 *
 * Why files: the guest console mixes kernel messages with the script's
 * output, and the guest's /tmp is a private tmpfs, so each step's
 * stdout/stderr/exit code goes to `<runDir>/<step>.{out,err,rc}` instead.
 *
 * See test/lab/README.md for the scenario API and the guest environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../support/paths';
import { skipOrFail } from '../support/skip';
import type { LabAvailability, LabBackend } from './backend';
import { findProgram } from './host';
import { QemuBackend } from './qemu';
import { UmlBackend } from './uml';

/** Repository root (the checkout the guest runs the compiled project from). */
export { repoRoot };
export type { LabAvailability };

let chosen: { backend?: LabBackend; reason: string } | undefined;

/**
 * The backend `LAB_BACKEND` (qemu, uml, auto; default auto) names. auto takes
 * QEMU when it can run here, else UML when it can boot here; never a backend
 * that cannot boot on this host.
 */
export function labBackend(): { backend?: LabBackend; reason: string } {
  chosen ??= selectBackend(process.env.LAB_BACKEND || 'auto', new QemuBackend(), new UmlBackend());
  return chosen;
}

/** The choice itself, for a given `LAB_BACKEND` value and candidates. */
export function selectBackend(want: string, qemu: LabBackend, uml: LabBackend): { backend?: LabBackend; reason: string } {
  if (want === 'qemu' || want === 'uml') {
    const b = want === 'qemu' ? qemu : uml;
    const a = b.availability();
    return a.ok ? { backend: b, reason: '' } : { reason: `LAB_BACKEND=${want}: ${a.reason}` };
  }
  if (want !== 'auto') return { reason: `LAB_BACKEND=${want}: use qemu, uml or auto` };
  const q = qemu.availability();
  if (q.ok) return { backend: qemu, reason: '' };
  const u = uml.availability();
  if (u.ok) return { backend: uml, reason: '' };
  return { reason: `no lab backend can run here: qemu: ${q.reason}; uml: ${u.reason}` };
}

/**
 * Checks that a guest can boot here: Linux, root (the guest sees the host's
 * files with root rights and writes its results as root), a backend, `timeout`,
 * and any extra host programs the scenario uses inside the guest.
 */
export function isLabAvailable(tools: string[] = []): LabAvailability {
  const no = (reason: string): LabAvailability => ({ ok: false, reason });
  if (process.platform !== 'linux') return no(`the lab needs Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return no('the lab needs root (the guest runs on the host\'s root filesystem and loads modules)');
  const b = labBackend();
  if (!b.backend) return no(b.reason);
  if (!findProgram('timeout')) return no('timeout (coreutils) not found');
  for (const t of tools) if (!findProgram(t)) return no(`${t} not found on the host (the guest runs the host's programs)`);
  return { ok: true, reason: '' };
}

/**
 * For tests: returns true when the lab can run; otherwise skips the test with
 * the reason, or fails it when `CI=true` (CI must run the integration tests).
 */
export function labOrSkip(t: { skip(msg?: string): void }, tools: string[] = []): boolean {
  const a = isLabAvailable(tools);
  if (a.ok) return true;
  skipOrFail(t, `lab unavailable: ${a.reason}`);
  return false;
}

/**
 * A test-level timeout (ms) for a scenario that takes `umlMs` on user-mode
 * Linux: scaled for a backend that emulates the guest's CPU.
 */
export function labTestTimeout(umlMs: number): number {
  return Math.ceil(umlMs * (labBackend().backend?.timeScale ?? 1));
}

export interface GuestStep {
  /** Names the result files `<runDir>/<name>.{out,err,rc}`; [A-Za-z0-9_.-]. */
  name: string;
  /** Shell commands (run by /bin/sh in a subshell, cwd = the repository root). */
  sh?: string;
  /** A JavaScript file to run with the host's node, relative to the repository root (e.g. `dist/x/y.js`) or absolute. */
  node?: string;
  /** Arguments for `node` steps (shell-quoted for you). */
  args?: string[];
  /** Start in the background and go on; its pid goes to `<name>.pid`. Output files fill while it runs. */
  background?: boolean;
  /** Kill the step after this many seconds (guest `timeout`, scaled like the run limit); default: none. */
  timeoutSec?: number;
}

export interface GuestOptions {
  /** Shell run first (after modules and loopback are up). If it fails, the steps are skipped. */
  setup?: string;
  steps?: GuestStep[];
  /** Guest memory (`512M`, `1G`, `2G`). Default 1G. */
  mem?: string;
  /**
   * Whole-run limit on the host (boot + setup + steps + power-off) as it
   * would be on user-mode Linux; scaled by the backend's `timeScale`. Default 120 s.
   */
  timeoutSec?: number;
  /** Modules to load at boot. Default: ip_vs ip_vs_rr ip_vs_wrr dummy nf_conntrack_netlink. */
  modules?: string[];
  /** Extra environment for setup and steps. */
  env?: Record<string, string>;
  /** Keep the run directory (also when `LAB_KEEP=1`); its path is in the result. */
  keep?: boolean;
  /** Boot this backend instead of the one `LAB_BACKEND` chooses (the harness's own tests). */
  backend?: LabBackend;
}

export interface StepResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the step did not finish (background steps, guest timeout, setup failed). */
  code: number | null;
  /** Wall time of the step inside the guest, ms (null when not finished). */
  ms: number | null;
}

export interface GuestResult {
  /** True when the guest ran to the end of the scenario (setup ok, all steps started, halted). */
  completed: boolean;
  /** Why not completed, when not: one line (the console and init log hold the details). */
  failure: string;
  /** Which backend ran it, e.g. `qemu tcg, Debian kernel 6.1.0-57-amd64`. */
  backend: string;
  /** Host run directory, shared with the guest at the same path (deleted unless `keep`). */
  dir: string;
  /** Guest console (kernel messages, init's own output), truncated to 1 MiB. */
  console: string;
  setup: StepResult;
  steps: Record<string, StepResult>;
  /** Guest-side log of the generated init script (`set -x` trace of the harness parts). */
  initLog: string;
  /** Files the scenario wrote into `$LAB_DIR`, read after the guest halted: name → contents. */
  files: Record<string, string>;
  durationMs: number;
}

export const DEFAULT_MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'dummy', 'nf_conntrack_netlink'];

const STEP_NAME = /^[A-Za-z0-9_.-]+$/;

/** Single-quotes a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Boots a guest, runs the scenario, returns each step's output. Rejects only on host-side errors. */
export async function runGuest(opts: GuestOptions): Promise<GuestResult> {
  const backend = opts.backend ?? labBackend().backend;
  const avail = opts.backend ? opts.backend.availability() : isLabAvailable();
  if (!avail.ok || !backend) throw new Error(`lab unavailable: ${avail.reason}`);
  const steps = opts.steps ?? [];
  const seen = new Set<string>(['setup', 'init', 'console']);
  for (const s of steps) {
    if (!STEP_NAME.test(s.name) || seen.has(s.name)) throw new Error(`bad or duplicate step name ${JSON.stringify(s.name)}`);
    if ((s.sh === undefined) === (s.node === undefined)) throw new Error(`step ${s.name}: give exactly one of sh or node`);
    seen.add(s.name);
  }
  await backend.prepare((line) => process.stderr.write(`${line}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-lab-'));
  const keep = opts.keep || process.env.LAB_KEEP === '1';
  const started = Date.now();
  try {
    const initPath = path.join(dir, '.init.sh');
    fs.writeFileSync(initPath, guestInitScript(dir, opts, steps, backend), { mode: 0o755 });
    const timeoutSec = Math.ceil((opts.timeoutSec ?? 120) * backend.timeScale);
    const { console: consoleText, exitCode } = await backend.boot({ initPath, dir, mem: opts.mem ?? '1G', timeoutSec });
    const read = (f: string): string => {
      try {
        return fs.readFileSync(path.join(dir, f), 'utf8');
      } catch {
        return '';
      }
    };
    const stepResult = (name: string): StepResult => {
      const rc = read(`${name}.rc`).trim();
      const ms = read(`.${name}.ms`).trim();
      return { stdout: read(`${name}.out`), stderr: read(`${name}.err`), code: rc === '' ? null : Number(rc), ms: ms === '' || rc === '' ? null : Number(ms) };
    };
    const result: GuestResult = {
      completed: false,
      failure: '',
      backend: backend.describe(),
      dir,
      console: consoleText,
      setup: stepResult('setup'),
      steps: {},
      initLog: read('.init.log'),
      files: {},
      durationMs: Date.now() - started,
    };
    for (const s of steps) result.steps[s.name] = stepResult(s.name);
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith('.')) continue;
      const p = path.join(dir, f);
      if (fs.statSync(p).isFile()) result.files[f] = read(f);
    }
    const done = read('.done').trim();
    const initramfs = /^lab-initramfs: (.*)$/m.exec(consoleText)?.[1];
    if (done === 'ok') result.completed = true;
    else if (done === 'setup-failed') result.failure = `guest setup failed (exit ${result.setup.code}): ${lastLines(result.setup.stderr, 1)}`;
    else if (exitCode === 124 || exitCode === 137) result.failure = `guest timed out after ${timeoutSec} s (${backend.describe()})`;
    else if (initramfs) result.failure = `guest did not boot: ${initramfs}`;
    else if (/ptrace set fp regs failed/.test(consoleText)) result.failure = 'user-mode Linux cannot run on this CPU (AMX): use LAB_BACKEND=qemu';
    else if (!fs.existsSync(path.join(dir, '.booted'))) result.failure = `guest did not boot (${backend.name} exit ${exitCode}): ${lastLines(consoleText, 1)}`;
    else result.failure = `guest stopped before the end of the scenario (${backend.name} exit ${exitCode}): ${lastLines(result.initLog, 1)}`;
    return result;
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** Throws with the guest's diagnostics unless the scenario ran to the end. */
export function assertCompleted(r: GuestResult): void {
  if (r.completed) return;
  const details = r.failure.startsWith('guest setup failed') ? r.setup.stderr.slice(-2000) : `init log tail:\n${r.initLog.slice(-2000)}\nconsole tail:\n${r.console.slice(-2000)}`;
  throw new Error(`lab guest (${r.backend}): ${r.failure}\n${details}`);
}

/**
 * The guest's PID 1. Host paths are visible at the same paths; the guest gets
 * private tmpfs on /tmp and /run (so `ip netns add` does not touch the host's
 * /run), the run directory (and a checkout or node under /tmp) re-mounted from
 * the host over its tmpfs shadow, and a modprobe wrapper that finds the guest
 * kernel's modules without creating /lib/modules on the host (also used by
 * the kernel for auto-loading).
 */
export function guestInitScript(dir: string, opts: GuestOptions, steps: GuestStep[], backend: LabBackend): string {
  const q = shQuote;
  const modules = opts.modules ?? DEFAULT_MODULES;
  const scale = backend.timeScale;
  const exposed = [...new Set([repoRoot, path.dirname(process.execPath), dir])].filter((p) => /^\/(tmp|run)(\/|$)/.test(p) || p === dir);
  const lines: string[] = [
    '#!/bin/sh',
    `# Generated by test/lab/lab.ts: the guest init (PID 1), ${backend.name} backend.`,
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    ...backend.guestPreamble(),
    'mount -t tmpfs tmpfs /tmp',
    'mount -t tmpfs tmpfs /run',
    ...exposed.flatMap((p) => [`mkdir -p ${q(p)}`, backend.bindHost(q(p), q(p))]),
    `LAB_DIR=${q(dir)}`,
    `exec > "$LAB_DIR/.init.log" 2>&1`,
    'echo booted > "$LAB_DIR/.booted"',
    'set -x',
    'export PATH=/tmp/.lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8',
    `export LAB_DIR LAB_REPO=${q(repoRoot)} NODE=${q(process.execPath)} LAB_BACKEND=${backend.name} LAB_CPUS=${backend.cpus} LAB_TIME_SCALE=${scale}`,
    'mkdir -p /run/netns /tmp/.lab/bin /tmp/.lab/modroot/lib/modules/"$(uname -r)"',
    backend.bindHost(backend.modulesSource(), '/tmp/.lab/modroot/lib/modules/"$(uname -r)"'),
    `printf '#!/bin/sh\\nexec /sbin/modprobe -d /tmp/.lab/modroot "$@"\\n' > /tmp/.lab/bin/modprobe`,
    'chmod +x /tmp/.lab/bin/modprobe',
    'echo /tmp/.lab/bin/modprobe > /proc/sys/kernel/modprobe',
    // /lib/modules/<release> for programs that look there (lsmod, modinfo, the agent's module checks): an
    // overlay on the host's library folder, in the guest only, so nothing is created on the host.
    'libdir=$(dirname "$(readlink -f /lib/modules)")',
    'if modprobe overlay; then mkdir -p /tmp/.lab/libov/upper/modules/"$(uname -r)" /tmp/.lab/libov/work && mount -t overlay overlay -o lowerdir="$libdir",upperdir=/tmp/.lab/libov/upper,workdir=/tmp/.lab/libov/work "$libdir" && mount --bind /tmp/.lab/modroot/lib/modules/"$(uname -r)" "$libdir"/modules/"$(uname -r)"; fi',
    'ip link set lo up',
  ];
  for (const m of modules) lines.push(`modprobe ${q(m)}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad env name ${k}`);
    lines.push(`export ${k}=${q(v)}`);
  }
  lines.push("cat > /tmp/.lab/helpers.sh <<'LAB_HELPERS_EOF'", ...GUEST_HELPERS, 'LAB_HELPERS_EOF', '. /tmp/.lab/helpers.sh');
  lines.push(`lab_poweroff() { sync; ${backend.powerOff}; }`);
  lines.push(`cd "$LAB_REPO"`, 'set +x', '');
  lines.push('# ---- setup ----');
  lines.push(`( ${opts.setup ?? ':'}\n) > "$LAB_DIR/setup.out" 2> "$LAB_DIR/setup.err" < /dev/null`);
  lines.push('echo $? > "$LAB_DIR/setup.rc"');
  lines.push('if [ "$(cat "$LAB_DIR/setup.rc")" != 0 ]; then echo setup-failed > "$LAB_DIR/.done"; lab_poweroff; fi');
  for (const s of steps) {
    lines.push('', `# ---- step ${s.name} ----`);
    const body = s.sh !== undefined ? s.sh : `"$NODE" ${q(path.isAbsolute(s.node!) ? s.node! : path.join(repoRoot, s.node!))} ${(s.args ?? []).map(q).join(' ')}`;
    const prefix = s.timeoutSec ? `timeout ${Math.ceil(s.timeoutSec * scale)} sh -c ${q(`. /tmp/.lab/helpers.sh\n${body}`)}` : `( ${body}\n)`;
    const redir = `> "$LAB_DIR/${s.name}.out" 2> "$LAB_DIR/${s.name}.err" < /dev/null`;
    if (s.background) {
      lines.push(`${prefix} ${redir} &`);
      lines.push(`echo $! > "$LAB_DIR/${s.name}.pid"`);
    } else {
      lines.push('_t0=$(date +%s%N)');
      lines.push(`${prefix} ${redir}`);
      lines.push(`echo $? > "$LAB_DIR/${s.name}.rc"`);
      lines.push(`echo $(( ($(date +%s%N) - _t0) / 1000000 )) > "$LAB_DIR/.${s.name}.ms"`);
    }
  }
  lines.push('', 'echo ok > "$LAB_DIR/.done"', 'lab_poweroff', '');
  return lines.join('\n');
}

/** Shell functions for setup and steps, in /tmp/.lab/helpers.sh (documented in README.md). */
const GUEST_HELPERS = [
  // lab_wait_for FILE TEXT [SECONDS]: waits until FILE contains TEXT (e.g. a server's "ready");
  // SECONDS (default 30) is scaled like every other limit, and counted on the clock, not in polls.
  'lab_wait_for() { _end=$(( $(date +%s) + ${3:-30} * ${LAB_TIME_SCALE:-1} )); until grep -q -- "$2" "$1" 2>/dev/null; do [ "$(date +%s)" -lt $_end ] || { echo "lab_wait_for: $2 not in $1" >&2; return 1; }; sleep 0.1; done; }',
  // lab_bg NAME CMD...: runs CMD in the background, output to $LAB_DIR/NAME.out/.err, pid in NAME.pid.
  'lab_bg() { _name=$1; shift; "$@" > "$LAB_DIR/$_name.out" 2> "$LAB_DIR/$_name.err" < /dev/null & echo $! > "$LAB_DIR/$_name.pid"; }',
  // lab_node SCRIPT ARGS...: the host's node on a repository-relative script.
  'lab_node() { _s=$1; shift; case "$_s" in /*) ;; *) _s="$LAB_REPO/$_s";; esac; "$NODE" "$_s" "$@"; }',
];
