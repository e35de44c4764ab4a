/**
 * The deployment files in deploy/ are what the docs link to, so they are
 * checked as files: the systemd unit with `systemd-analyze verify` (in a
 * temporary root that holds the installed command), the Kubernetes manifests
 * parse as YAML with the expected kinds and agree with each other, the
 * ConfigMap's configuration passes `lvsagent config check`, and the
 * Dockerfile installs the packed tarball that its .dockerignore lets in.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../support/paths';
import { BIN } from '../support/process';
import { skipOrFail } from '../support/skip';

const DEPLOY = path.join(repoRoot, 'deploy');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const BIN_NAME = Object.keys(manifest.bin)[0];
/** Where the docs install the package for systemd and the image (`npm install -g --prefix`). */
const PREFIX = '/opt/lvsagent';

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The commands of a unit's Exec*= lines (without systemd's `-@:+!` prefixes). */
function execCommands(unit: string): string[] {
  return [...unit.matchAll(/^Exec\w+=[-@:+!]*(\S+)/gm)].map((m) => m[1]);
}

describe('deploy/systemd/lvsagent.service', () => {
  const unitFile = path.join(DEPLOY, 'systemd', 'lvsagent.service');
  const unit = fs.readFileSync(unitFile, 'utf8');

  test('runs the command the package installs into the documented prefix', () => {
    const [start] = execCommands(unit);
    assert.equal(start, `${PREFIX}/bin/${BIN_NAME}`);
    assert.match(fs.readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8'), new RegExp(`npm install -g --prefix ${PREFIX} `));
  });

  test('systemd-analyze verify finds nothing to report', (t) => {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) return skipOrFail(t, 'systemd-analyze not found (Debian package systemd)');
    // A root with the system's own units, the unit as installed, the installed command (a stand-in)
    // and the others the unit runs: verify checks each command is an executable file.
    const root = tempDir('lvsagent-unit-');
    try {
      fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
      fs.symlinkSync('usr/bin', path.join(root, 'bin'));
      fs.symlinkSync('usr/sbin', path.join(root, 'sbin'));
      fs.mkdirSync(path.join(root, 'usr/sbin'));
      fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
      fs.copyFileSync(unitFile, path.join(root, 'etc/systemd/system/lvsagent.service'));
      for (const command of execCommands(unit)) {
        const target = path.join(root, command);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (command.startsWith(`${PREFIX}/`)) fs.writeFileSync(target, '#!/bin/sh\n', { mode: 0o755 });
        else fs.copyFileSync(fs.realpathSync(command), target);
      }
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'lvsagent.service'], { encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`, '', 'no warning (an unknown key is only a warning)');
      assert.equal(r.status, 0);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        hostNetwork?: boolean;
        containers: Array<{
          args: string[];
          ports: Array<{ containerPort: number }>;
          securityContext: { capabilities: { add: string[] } };
          volumeMounts: Array<{ name: string; mountPath: string }>;
        }>;
        volumes: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}

describe('deploy/kubernetes/*.yaml', () => {
  const dir = path.join(DEPLOY, 'kubernetes');
  const objects: K8sObject[] = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((doc) => {
        assert.deepEqual(doc.errors, [], `${f} is YAML`);
        return doc.toJS() as K8sObject;
      }),
    );
  const ofKind = (kind: string): K8sObject => {
    const found = objects.filter((o) => o.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0];
  };

  test('a Namespace, a ConfigMap and a DaemonSet, all in that namespace', () => {
    assert.deepEqual(objects.map((o) => `${o.apiVersion} ${o.kind}`).sort(), ['apps/v1 DaemonSet', 'v1 ConfigMap', 'v1 Namespace']);
    const ns = ofKind('Namespace').metadata.name;
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) assert.equal(o.metadata.namespace, ns, `${o.kind} in namespace ${ns}`);
  });

  test('the DaemonSet runs the ConfigMap\'s configuration in the host network with NET_ADMIN, and exposes its prometheus_client port', () => {
    const config = ofKind('ConfigMap');
    const pod = ofKind('DaemonSet').spec!.template.spec;
    assert.equal(pod.hostNetwork, true);
    const [container] = pod.containers;
    assert.ok(container.securityContext.capabilities.add.includes('NET_ADMIN'));
    const volume = pod.volumes.find((v) => v.configMap?.name === config.metadata.name);
    assert.ok(volume, 'the ConfigMap is mounted');
    const mount = container.volumeMounts.find((m) => m.name === volume.name)!;
    const file = container.args[container.args.indexOf('--config') + 1];
    assert.equal(path.dirname(file), mount.mountPath);
    assert.ok(config.data![path.basename(file)], `the ConfigMap holds ${path.basename(file)}`);
    const listen = /listen = "[^"]*:(\d+)"/.exec(config.data![path.basename(file)]);
    assert.ok(listen, 'prometheus_client listens');
    assert.deepEqual(container.ports.map((p) => p.containerPort), [Number(listen[1])]);
  });

  test('the ConfigMap\'s lvsagent.conf passes lvsagent config check', () => {
    const dir = tempDir('lvsagent-configmap-');
    try {
      const conf = path.join(dir, 'lvsagent.conf');
      fs.writeFileSync(conf, ofKind('ConfigMap').data!['lvsagent.conf']);
      const r = spawnSync(process.execPath, [BIN, 'config', 'check', '--config', conf], { encoding: 'utf8', env: { ...process.env, NODE_NAME: 'node-1' } });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/docker', () => {
  const dockerfile = fs.readFileSync(path.join(DEPLOY, 'docker', 'Dockerfile'), 'utf8');
  const ignore = fs.readFileSync(path.join(DEPLOY, 'docker', '.dockerignore'), 'utf8');

  /** Whether .dockerignore lets `file` into the build context (its patterns: `*` and `!glob`, last match wins). */
  function inContext(file: string): boolean {
    let included = true;
    for (const raw of ignore.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const negated = line.startsWith('!');
      const glob = new RegExp(`^${(negated ? line.slice(1) : line).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
      if (glob.test(file)) included = negated;
    }
    return included;
  }

  test('the build context is the packed tarball alone, and the image installs it into the prefix its entrypoint runs from', () => {
    const tarball = `${manifest.name}-${manifest.version}.tgz`;
    assert.ok(inContext(tarball), `.dockerignore lets ${tarball} in`);
    for (const other of ['package.json', 'Dockerfile.bak', 'core', 'lvsagent.conf']) assert.ok(!inContext(other), `.dockerignore keeps ${other} out`);
    const copies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(\S+)\s/gm)].map((m) => m[1]);
    assert.deepEqual(copies, ['lvsagent-*.tgz']);
    assert.ok(inContext(copies[0].replace('*', manifest.version)));
    assert.match(dockerfile, new RegExp(`npm install -g --prefix ${PREFIX} .*/tmp/lvsagent-\\*\\.tgz`));
    assert.match(dockerfile, new RegExp(`^ENTRYPOINT \\["${PREFIX}/bin/${BIN_NAME}"\\]`, 'm'));
    assert.match(dockerfile, /^USER 65534:65534$/m);
  });
});
