/**
 * The real-kernel test lab: boots Debian's user-mode Linux (`linux.uml`, a
 * Linux 6.1 kernel running as an ordinary process, with IPVS, conntrack and
 * `dummy` as modules) on the host's root filesystem (hostfs), runs a scenario
 * as the guest's init, and hands results back through files in a per-run host
 * directory that the guest mounts at the same path.
 *
 * Why files: the guest console (our stdout) mixes kernel messages with the
 * script's output, and the guest's /tmp is a private tmpfs, so each step's
 * stdout/stderr/exit code goes to `<runDir>/<step>.{out,err,rc}` instead.
 *
 * See test/lab/README.md for the scenario API and the guest environment.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../core/assets';

/** Repository root (the checkout the guest runs the compiled project from). */
export { repoRoot };

export const UML_BINARY = process.env.LAB_UML || '/usr/bin/linux.uml';
export const UML_MODULES = '/usr/lib/uml/modules';

export interface LabAvailability {
  ok: boolean;
  /** Why the lab cannot run here (empty when ok). */
  reason: string;
}

/**
 * Checks that a guest can boot here: Linux, root (hostfs exposes the host's
 * files with the guest's root rights, and the guest writes its results as the
 * host user, so tests need root), the UML kernel and its modules, `timeout`,
 * and any extra host programs the scenario uses inside the guest.
 */
export function isLabAvailable(tools: string[] = []): LabAvailability {
  const no = (reason: string): LabAvailability => ({ ok: false, reason });
  if (process.platform !== 'linux') return no(`the UML lab needs Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return no('the UML lab needs root (hostfs root filesystem, module loading in the guest)');
  if (!isExecutable(UML_BINARY)) return no(`${UML_BINARY} not found: apt-get install user-mode-linux`);
  let kernels: string[] = [];
  try {
    kernels = fs.readdirSync(UML_MODULES);
  } catch {
    /* reported below */
  }
  if (kernels.length === 0) return no(`${UML_MODULES}/<version> not found: the user-mode-linux package is incomplete`);
  if (!findProgram('timeout')) return no('timeout (coreutils) not found');
  for (const t of tools) if (!findProgram(t)) return no(`${t} not found on the host (the guest runs the host's programs)`);
  return { ok: true, reason: '' };
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function findProgram(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

/**
 * For tests: returns true when the lab can run; otherwise skips the test with
 * the reason, or fails it when `CI=true` (CI must run the integration tests).
 */
export function labOrSkip(t: { skip(msg?: string): void }, tools: string[] = []): boolean {
  const a = isLabAvailable(tools);
  if (a.ok) return true;
  if (process.env.CI === 'true') throw new Error(`UML lab unavailable in CI: ${a.reason}`);
  t.skip(`UML lab unavailable: ${a.reason}`);
  return false;
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
  /** Kill the step after this many seconds (guest `timeout`); default: none. */
  timeoutSec?: number;
}

export interface GuestOptions {
  /** Shell run first (after modules and loopback are up). If it fails, the steps are skipped. */
  setup?: string;
  steps?: GuestStep[];
  /** Guest memory, UML syntax (`512M`, `1G`, `2G`). Default 1G. */
  mem?: string;
  /** Whole-run limit on the host (boot + setup + steps + halt). Default 120 s. */
  timeoutSec?: number;
  /** Modules to load at boot. Default: ip_vs ip_vs_rr ip_vs_wrr dummy nf_conntrack_netlink. */
  modules?: string[];
  /** Extra environment for setup and steps. */
  env?: Record<string, string>;
  /** Keep the run directory (also when `LAB_KEEP=1`); its path is in the result. */
  keep?: boolean;
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
  /** Why not completed, when not. */
  failure: string;
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
  const avail = isLabAvailable();
  if (!avail.ok) throw new Error(`UML lab unavailable: ${avail.reason}`);
  const steps = opts.steps ?? [];
  const seen = new Set<string>(['setup', 'init', 'console']);
  for (const s of steps) {
    if (!STEP_NAME.test(s.name) || seen.has(s.name)) throw new Error(`bad or duplicate step name ${JSON.stringify(s.name)}`);
    if ((s.sh === undefined) === (s.node === undefined)) throw new Error(`step ${s.name}: give exactly one of sh or node`);
    seen.add(s.name);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-lab-'));
  const keep = opts.keep || process.env.LAB_KEEP === '1';
  const started = Date.now();
  try {
    const initPath = path.join(dir, '.init.sh');
    fs.writeFileSync(initPath, guestInitScript(dir, opts, steps), { mode: 0o755 });
    const timeoutSec = opts.timeoutSec ?? 120;
    const { console: consoleText, exitCode } = await bootUml(initPath, dir, opts.mem ?? '1G', timeoutSec);
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
    if (done === 'ok') result.completed = true;
    else if (done === 'setup-failed') result.failure = `guest setup failed (exit ${result.setup.code}): ${result.setup.stderr.trim().slice(-2000)}`;
    else if (exitCode === 124 || exitCode === 137) result.failure = `guest timed out after ${timeoutSec} s`;
    else if (!fs.existsSync(path.join(dir, '.booted'))) result.failure = `guest did not boot (linux.uml exit ${exitCode}); console tail:\n${consoleText.slice(-2000)}`;
    else result.failure = `guest stopped before the end of the scenario (linux.uml exit ${exitCode}); init log tail:\n${result.initLog.slice(-2000)}`;
    return result;
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws with the guest's diagnostics unless the scenario ran to the end. */
export function assertCompleted(r: GuestResult): void {
  if (!r.completed) throw new Error(`UML guest: ${r.failure}`);
}

function bootUml(initPath: string, dir: string, mem: string, timeoutSec: number): Promise<{ console: string; exitCode: number | null }> {
  const args = [
    '--kill-after=5',
    String(timeoutSec),
    UML_BINARY,
    `mem=${mem}`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'rw',
    `init=${initPath}`,
    'con=null',
    'con0=fd:0,fd:1',
    // UML keeps its pid/mconsole files under ~/.uml by default; keep them in the run directory.
    `uml_dir=${path.join(dir, '.uml')}`,
    // Quiet kernel: the console is for diagnostics only.
    'quiet',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', TMPDIR: os.tmpdir() } });
    const LIMIT = 1 << 20;
    let text = '';
    const take = (b: Buffer): void => {
      if (text.length < LIMIT) text += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ console: text.slice(0, LIMIT), exitCode: code }));
  });
}

/**
 * The guest's PID 1. Host paths are visible at the same paths (hostfs); the
 * guest gets private tmpfs on /tmp and /run (so `ip netns add` does not touch
 * the host's /run), the run directory re-mounted from the host over its tmpfs
 * shadow, and a modprobe wrapper that finds the UML modules without creating
 * /lib/modules on the host (also used by the kernel for auto-loading).
 */
export function guestInitScript(dir: string, opts: GuestOptions, steps: GuestStep[]): string {
  const q = shQuote;
  const modules = opts.modules ?? DEFAULT_MODULES;
  const lines: string[] = [
    '#!/bin/sh',
    '# Generated by test/lab/lab.ts: the UML guest init (PID 1).',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t tmpfs tmpfs /tmp',
    'mount -t tmpfs tmpfs /run',
    // A checkout (CI's clone, say) or node installed under /tmp or /run would be hidden by those tmpfs.
    ...[repoRoot, path.dirname(process.execPath)]
      .filter((p) => /^\/(tmp|run)(\/|$)/.test(p))
      .flatMap((p) => [`mkdir -p ${q(p)}`, `mount -t hostfs -o ${q(p)} none ${q(p)}`]),
    `mkdir -p ${q(dir)}`,
    `mount -t hostfs -o ${q(dir)} none ${q(dir)}`,
    `LAB_DIR=${q(dir)}`,
    `exec > "$LAB_DIR/.init.log" 2>&1`,
    'echo booted > "$LAB_DIR/.booted"',
    'set -x',
    'export PATH=/tmp/.lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8',
    `export LAB_DIR LAB_REPO=${q(repoRoot)} NODE=${q(process.execPath)}`,
    'mkdir -p /run/netns /tmp/.lab/bin /tmp/.lab/modroot/lib/modules/"$(uname -r)"',
    `mount --bind ${UML_MODULES}/"$(uname -r)" /tmp/.lab/modroot/lib/modules/"$(uname -r)"`,
    `printf '#!/bin/sh\\nexec /sbin/modprobe -d /tmp/.lab/modroot "$@"\\n' > /tmp/.lab/bin/modprobe`,
    'chmod +x /tmp/.lab/bin/modprobe',
    'echo /tmp/.lab/bin/modprobe > /proc/sys/kernel/modprobe',
    'ip link set lo up',
  ];
  for (const m of modules) lines.push(`modprobe ${q(m)}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad env name ${k}`);
    lines.push(`export ${k}=${q(v)}`);
  }
  lines.push("cat > /tmp/.lab/helpers.sh <<'LAB_HELPERS_EOF'", ...GUEST_HELPERS, 'LAB_HELPERS_EOF', '. /tmp/.lab/helpers.sh');
  lines.push(`cd "$LAB_REPO"`, 'set +x', '');
  lines.push('# ---- setup ----');
  lines.push(`( ${opts.setup ?? ':'}\n) > "$LAB_DIR/setup.out" 2> "$LAB_DIR/setup.err" < /dev/null`);
  lines.push('echo $? > "$LAB_DIR/setup.rc"');
  lines.push('if [ "$(cat "$LAB_DIR/setup.rc")" != 0 ]; then echo setup-failed > "$LAB_DIR/.done"; sync; halt -f; fi');
  for (const s of steps) {
    lines.push('', `# ---- step ${s.name} ----`);
    const body = s.sh !== undefined ? s.sh : `"$NODE" ${q(path.isAbsolute(s.node!) ? s.node! : path.join(repoRoot, s.node!))} ${(s.args ?? []).map(q).join(' ')}`;
    const prefix = s.timeoutSec ? `timeout ${Math.ceil(s.timeoutSec)} sh -c ${q(`. /tmp/.lab/helpers.sh\n${body}`)}` : `( ${body}\n)`;
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
  lines.push('', 'echo ok > "$LAB_DIR/.done"', 'sync', 'halt -f', '');
  return lines.join('\n');
}

/** Shell functions for setup and steps, in /tmp/.lab/helpers.sh (documented in README.md). */
const GUEST_HELPERS = [
  // lab_wait_for FILE TEXT [SECONDS]: waits until FILE contains TEXT (e.g. a server's "ready").
  'lab_wait_for() { _n=$(( ${3:-20} * 10 )); while [ $_n -gt 0 ]; do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; _n=$((_n-1)); done; echo "lab_wait_for: $2 not in $1" >&2; return 1; }',
  // lab_bg NAME CMD...: runs CMD in the background, output to $LAB_DIR/NAME.out/.err, pid in NAME.pid.
  'lab_bg() { _name=$1; shift; "$@" > "$LAB_DIR/$_name.out" 2> "$LAB_DIR/$_name.err" < /dev/null & echo $! > "$LAB_DIR/$_name.pid"; }',
  // lab_node SCRIPT ARGS...: the host's node on a repository-relative script.
  'lab_node() { _s=$1; shift; case "$_s" in /*) ;; *) _s="$LAB_REPO/$_s";; esac; "$NODE" "$_s" "$@"; }',
];
