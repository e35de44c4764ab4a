/**
 * The lab harness itself: the generated init, the initramfs pieces, backend
 * choice, and one boot that checks setup, foreground, background and node
 * steps, files coming back through the run directory, IPVS loading and
 * traffic through a virtual server reaching both real servers. Where
 * user-mode Linux can boot here it runs a scenario too; where it cannot (AMX),
 * the harness must say so and never choose it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LabAvailability, LabBackend } from './backend';
import { cpioArchive } from './cpio';
import { labCacheDir } from './debian-kernel';
import { cpuHasAmx, findProgram, isStaticElf } from './host';
import { moduleLoadOrder } from './initramfs';
import { assertCompleted, guestInitScript, isLabAvailable, labBackend, labOrSkip, labTestTimeout, repoRoot, runGuest, selectBackend, shQuote } from './lab';
import { QemuBackend } from './qemu';
import { UmlBackend } from './uml';
import { skipOrFail } from '../support/skip';

test('guest init script quotes paths, orders steps and uses the backend to reach host paths', () => {
  const steps = [
    { name: 'a', sh: 'echo a' },
    { name: 'b', node: 'dist/x.js', args: ["it's"], background: true },
    { name: 'c', sh: 'true', timeoutSec: 10 },
  ];
  const uml = guestInitScript("/tmp/x y'z", { setup: 'true' }, steps, new UmlBackend());
  assert.match(uml, /mount -t hostfs -o '\/tmp\/x y'\\''z' none '\/tmp\/x y'\\''z'/);
  assert.ok(uml.indexOf('# ---- step a') < uml.indexOf('# ---- step b'));
  assert.match(uml, /'it'\\''s'[\s\S]*&\necho \$! > "\$LAB_DIR\/b\.pid"/);
  assert.match(uml, /timeout 10 sh -c/);
  assert.equal(shQuote("a'b"), `'a'\\''b'`);
  assert.match(uml, /lab_poweroff\(\) \{ sync; halt -f; \}/);
  assert.match(uml, /\nlab_poweroff\n$/);

  const kernel = { release: '6.1.0-1-amd64', package: 'linux-image-6.1.0-1-amd64', version: '6.1.1-1', vmlinuz: '/c/vmlinuz', initrd: '/c/initrd.gz', modulesDir: "/c/lib/modules/6.1.0-1-amd64" };
  const qemu = guestInitScript("/tmp/x y'z", { setup: 'true' }, steps, new QemuBackend(kernel, 'tcg'));
  // The host's root is bound aside before tmpfs covers /tmp, then the run directory comes back from it.
  const aside = qemu.indexOf('mount --bind / /dev/.lab-host');
  assert.ok(aside > 0 && aside < qemu.indexOf('mount -t tmpfs tmpfs /tmp'));
  assert.match(qemu, /mount --bind \/dev\/\.lab-host'\/tmp\/x y'\\''z' '\/tmp\/x y'\\''z'/);
  assert.match(qemu, /lab_poweroff\(\) \{ sync; echo b > \/proc\/sysrq-trigger; \}/);
  assert.match(qemu, /mount --bind \/dev\/\.lab-host'\/c\/lib\/modules\/6\.1\.0-1-amd64' \/tmp\/\.lab\/modroot\/lib\/modules\/"\$\(uname -r\)"/);
  // Limits inside the guest scale with emulation (TCG: 3x).
  assert.match(qemu, /timeout 30 sh -c/);
  assert.match(qemu, /LAB_CPUS=2 LAB_TIME_SCALE=3/);
});

test('cpio newc archive unpacks with a real cpio', (t) => {
  const busybox = findProgram('busybox');
  if (!busybox) {
    return skipOrFail(t, 'busybox not installed');
  }
  const archive = cpioArchive([
    { kind: 'dir', name: 'bin' },
    { kind: 'file', name: 'bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
    { kind: 'file', name: 'odd', data: Buffer.from('12345') },
    { kind: 'chardev', name: 'console', major: 5, minor: 1 },
  ]);
  assert.equal(archive.length % 4, 0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-cpio-'));
  try {
    const r = spawnSync(busybox, ['cpio', '-i', '-d', '-m'], { cwd: dir, input: archive });
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(fs.readFileSync(path.join(dir, 'bin/hello'), 'utf8'), 'hi\n');
    assert.equal(fs.statSync(path.join(dir, 'bin/hello')).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(dir, 'odd'), 'utf8'), '12345');
    const con = fs.statSync(path.join(dir, 'console'));
    assert.ok(con.isCharacterDevice());
    assert.equal(con.rdev, (5 << 8) | 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('initramfs modules load after their dependencies; built-in ones are skipped', () => {
  const dep = [
    'kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko',
    'kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko',
    'kernel/fs/netfs/netfs.ko:',
    'kernel/net/9p/9pnet.ko:',
    'kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  ].join('\n');
  const order = moduleLoadOrder(dep, ['virtio_pci', '9pnet_virtio', '9p', 'virtio-rng']);
  const at = (m: string): number => order.findIndex((f) => f.endsWith(`/${m}`));
  for (const [before, after] of [
    ['virtio_ring.ko', 'virtio.ko'],
    ['virtio.ko', '9pnet_virtio.ko'],
    ['9pnet.ko', '9pnet_virtio.ko'],
    ['netfs.ko', 'fscache.ko'],
    ['fscache.ko', '9p.ko'],
    ['9pnet.ko', '9p.ko'],
  ]) {
    assert.ok(at(before) >= 0 && at(before) < at(after), `${before} before ${after} in ${order.join(' ')}`);
  }
  assert.ok(at('virtio-rng.ko.xz') > at('virtio.ko'));
  assert.equal(new Set(order).size, order.length, 'each module once');
  assert.ok(!order.some((f) => f.includes('virtio_pci')), 'virtio_pci is built in here: not loaded');
});

test('host checks: AMX flag, static ELF', () => {
  assert.equal(cpuHasAmx('processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile amx_int8\n'), true);
  assert.equal(cpuHasAmx('processor\t: 0\nflags\t\t: fpu sse2 avx2\n'), false);
  assert.equal(isStaticElf(process.execPath), false, 'node is dynamically linked');
  assert.equal(isStaticElf(__filename), false, 'not an ELF file');
  if (fs.existsSync('/bin/busybox') && /static/.test(spawnSync('/bin/busybox', ['--help'], { encoding: 'utf8' }).stdout + '')) {
    assert.equal(isStaticElf('/bin/busybox'), true);
  }
});

function fakeBackend(name: 'qemu' | 'uml', a: LabAvailability): LabBackend {
  const b = name === 'qemu' ? new QemuBackend() : new UmlBackend();
  b.availability = () => a;
  return b;
}

test('LAB_BACKEND: auto prefers QEMU, never picks a backend that cannot boot, names what is missing', () => {
  const yes = { ok: true, reason: '' };
  const amx = { ok: false, reason: 'user-mode Linux 6.1 cannot boot on this CPU (it has AMX)' };
  const noQemu = { ok: false, reason: 'qemu-system-x86_64 not found: apt-get install qemu-system-x86' };
  assert.equal(selectBackend('auto', fakeBackend('qemu', yes), fakeBackend('uml', yes)).backend?.name, 'qemu');
  assert.equal(selectBackend('auto', fakeBackend('qemu', yes), fakeBackend('uml', amx)).backend?.name, 'qemu');
  assert.equal(selectBackend('auto', fakeBackend('qemu', noQemu), fakeBackend('uml', yes)).backend?.name, 'uml');
  const none = selectBackend('auto', fakeBackend('qemu', noQemu), fakeBackend('uml', amx));
  assert.equal(none.backend, undefined);
  assert.match(none.reason, /qemu: qemu-system-x86_64 not found: apt-get install qemu-system-x86; uml: .*AMX/);
  assert.match(selectBackend('uml', fakeBackend('qemu', yes), fakeBackend('uml', amx)).reason, /^LAB_BACKEND=uml: .*AMX/);
  assert.match(selectBackend('vbox', fakeBackend('qemu', yes), fakeBackend('uml', yes)).reason, /use qemu, uml or auto/);
  // On this host: UML is refused exactly when the CPU has AMX.
  if (cpuHasAmx()) assert.match(new UmlBackend().availability().reason, /AMX/);
});

test('guest runs a scenario with IPVS traffic', { timeout: labTestTimeout(180_000) }, async (t) => {
  if (!labOrSkip(t, ['ipvsadm', 'curl'])) return;
  const r = await runGuest({ ...trafficScenario(), steps: [...trafficScenario().steps, { name: 'cpus', sh: 'nproc; echo "$LAB_CPUS"' }] });
  assertTraffic(r);
  const [seen, promised] = r.steps.cpus.stdout.trim().split('\n').map(Number);
  assert.equal(seen, promised, 'LAB_CPUS tells the guest CPU count');
  assert.equal(fs.existsSync(r.dir), false, 'run directory removed');
  t.diagnostic(`${r.backend}: ${r.durationMs} ms`);
});

test('user-mode Linux: boots the same scenario where it can, is refused where it cannot', { timeout: 180_000 }, async (t) => {
  const uml = new UmlBackend();
  const a = uml.availability();
  if (cpuHasAmx()) {
    assert.equal(a.ok, false);
    assert.match(a.reason, /AMX/);
    assert.notEqual(labBackend().backend?.name, 'uml', 'auto never picks UML on an AMX CPU');
    return;
  }
  if (!a.ok) {
    return skipOrFail(t, `UML unavailable on a CPU without AMX: ${a.reason}`);
  }
  if (!isLabAvailable(['ipvsadm', 'curl']).ok && !labOrSkip(t, ['ipvsadm', 'curl'])) return;
  const r = await runGuest({ ...trafficScenario(), backend: uml });
  assertTraffic(r);
  assert.match(r.backend, /^uml /);
});

test('a failing setup skips the steps and says why', { timeout: labTestTimeout(120_000) }, async (t) => {
  if (!labOrSkip(t)) return;
  const r = await runGuest({ setup: 'echo broken >&2; false', steps: [{ name: 'never', sh: 'echo hi' }], modules: [] });
  assert.equal(r.completed, false);
  assert.match(r.failure, /setup failed \(exit 1\): broken/);
  assert.equal(r.steps.never.code, null);
});

test('a prepared QEMU kernel is reused by the next process (no second download)', { timeout: 120_000 }, async (t) => {
  if (!labOrSkip(t)) return;
  if (labBackend().backend?.name !== 'qemu') return t.skip(`the chosen backend is ${labBackend().backend?.name}`);
  const first = spawnKernelCheck();
  const second = spawnKernelCheck();
  assert.equal(second.logged, '', 'no preparation the second time');
  assert.deepEqual(second.kernel, first.kernel);
  assert.ok(second.kernel.vmlinuz.startsWith(labCacheDir() + path.sep), 'kept in the cache directory');
  assert.ok(!second.kernel.vmlinuz.startsWith(repoRoot + path.sep), 'outside the repository');
  assert.ok(fs.existsSync(path.join(second.kernel.modulesDir, 'kernel', 'net', 'netfilter', 'ipvs')), 'IPVS modules present');
});

function spawnKernelCheck(): { logged: string; kernel: { vmlinuz: string; modulesDir: string; release: string } } {
  const mod = path.join(__dirname, 'debian-kernel.js');
  const code = `require(${JSON.stringify(mod)}).debianKernel((l) => process.stderr.write(l + "\\n")).then((k) => console.log(JSON.stringify(k)), (e) => { console.error(e.message); process.exit(1); })`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stderr);
  return { logged: r.stderr.trim(), kernel: JSON.parse(r.stdout) as { vmlinuz: string; modulesDir: string; release: string } };
}

function trafficScenario(): { setup: string; steps: { name: string; sh?: string; node?: string; args?: string[] }[] } {
  const net = 'dist/test/lab/guest/net.js';
  return {
    setup: `
      ip link add d0 type dummy && ip link set d0 up
      ip addr add 10.10.0.1/32 dev d0 && ip addr add 10.10.1.1/32 dev d0 && ip addr add 10.10.1.2/32 dev d0
      ipvsadm -A -t 10.10.0.1:80 -s rr
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.1:8080 -m
      ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.2:8080 -m
      lab_bg web lab_node ${net} http-server 10.10.1.1:8080 10.10.1.2:8080
      lab_wait_for "$LAB_DIR/web.out" ready
    `,
    steps: [
      { name: 'curl', sh: 'curl -s http://10.10.0.1/; curl -s http://10.10.0.1/' },
      { name: 'load', node: net, args: ['http-get', 'http://10.10.0.1/', '10', '2'] },
      // The kernel folds per-CPU counters into the totals every 2 s (estimator): wait before reading.
      { name: 'stats', sh: 'sleep 2.5; ipvsadm -Ln --stats --exact; echo written > "$LAB_DIR/marker.txt"' },
      { name: 'fails', sh: 'echo oops >&2; exit 3' },
    ],
  };
}

function assertTraffic(r: Awaited<ReturnType<typeof runGuest>>): void {
  assertCompleted(r);
  assert.equal(r.setup.code, 0);
  assert.deepEqual(r.steps.curl.stdout.trim().split('\n').sort(), ['10.10.1.1:8080', '10.10.1.2:8080']);
  const load = JSON.parse(r.steps.load.stdout) as { ok: number; bodies: Record<string, number> };
  assert.equal(load.ok, 10);
  assert.deepEqual(load.bodies, { '10.10.1.1:8080': 5, '10.10.1.2:8080': 5 });
  assert.match(r.steps.stats.stdout, /TCP {2}10\.10\.0\.1:80 +12 /);
  assert.equal(r.files['marker.txt'], 'written\n');
  assert.equal(r.steps.fails.code, 3);
  assert.equal(r.steps.fails.stderr, 'oops\n');
}
