/**
 * Telegraf's client TLS keys (plugins/common/tls/client.go 10-19: tls_ca,
 * tls_cert, tls_key, tls_key_pwd, tls_min_version, tls_cipher_suites,
 * insecure_skip_verify, tls_server_name, tls_enable) on every HTTP client
 * output, against a real Node HTTPS server (issue 13 item 3).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { int, Metric } from '../../core/metric';
import type { Output } from '../../core/plugin';
import { loadRegistry } from '../../core/registry';
import { CaptureLogger, outputContext } from '../support/capture-log';
import { withDefaults } from '../support/options';
import { skipOrFail } from '../support/skip';
import { OpensslUnavailable, testPki, type TestPki } from '../support/tls';

const T = 1_700_000_000_000_000_000n;
const registry = loadRegistry();

/** Options naming the target URL for each output plugin with an HTTP client. */
const targets: Record<string, (url: string) => Record<string, unknown>> = {
  influxdb: (url) => ({ urls: [url], skip_database_creation: true }),
  influxdb_v2: (url) => ({ urls: [url], organization: 'o', bucket: 'b', token: 't' }),
  http: (url) => ({ url: `${url}/write` }),
};

interface Seen {
  servername: string | false | null | undefined;
  cipher: string;
  protocol: string | null;
}

let pki: TestPki | undefined;
let unavailable = '';
before(() => {
  try {
    // The server's certificate names only metrics.internal, not the address the URLs use.
    pki = testPki({ clientDns: ['agent.example'], keyPassword: 'k3y', serverSan: 'DNS:metrics.internal' });
  } catch (err) {
    if (err instanceof OpensslUnavailable) unavailable = err.message;
    else throw err;
  }
});

const servers: https.Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function server(p: TestPki, extra: https.ServerOptions = {}): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const srv = https.createServer({ cert: fs.readFileSync(p.serverCert), key: fs.readFileSync(p.plainServerKey), ...extra }, (req, res) => {
    const s = req.socket as TLSSocket;
    seen.push({ servername: s.servername, cipher: s.getCipher().name, protocol: s.getProtocol() });
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(srv.address() as { port: number }).port}`, seen };
}

function output(name: string, url: string, opts: Record<string, unknown>): Output {
  const plugin = registry.outputs.get(name)!;
  const o = withDefaults<Record<string, unknown>>(plugin.schema, { ...targets[name](url), timeout: '5s', ...opts });
  return plugin.create(o as never, outputContext(new CaptureLogger(`outputs.${name}`), `outputs.${name}`));
}

async function write(out: Output): Promise<void> {
  try {
    await out.write([Metric.from('tls', {}, { v: int(1) }, T)]);
  } finally {
    await out.close?.();
  }
}

for (const name of Object.keys(targets)) {
  describe(`outputs.${name}: client TLS keys`, () => {
    test('tls_server_name is sent as SNI and is the name the certificate must carry', async (t) => {
      if (!pki) return skipOrFail(t, unavailable);
      const { url, seen } = await server(pki);
      await assert.rejects(write(output(name, url, { tls_ca: pki.caFile })), 'the certificate does not name 127.0.0.1');
      await write(output(name, url, { tls_ca: pki.caFile, tls_server_name: 'metrics.internal' }));
      assert.equal(seen.at(-1)?.servername, 'metrics.internal');
      await assert.rejects(write(output(name, url, { tls_ca: pki.caFile, tls_server_name: 'other.internal' })));
    });

    test('tls_min_version refuses an older server; tls_cipher_suites picks the TLS 1.2 suite', async (t) => {
      if (!pki) return skipOrFail(t, unavailable);
      const { url, seen } = await server(pki, { maxVersion: 'TLSv1.2' });
      const base = { tls_ca: pki.caFile, tls_server_name: 'metrics.internal' };
      await assert.rejects(write(output(name, url, { ...base, tls_min_version: 'TLS13' })));
      await write(output(name, url, { ...base, tls_min_version: 'TLS12', tls_cipher_suites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'] }));
      assert.deepEqual(seen.at(-1), { servername: 'metrics.internal', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', protocol: 'TLSv1.2' });
    });

    test('tls_key_pwd decrypts the client key for a server that requires a client certificate', async (t) => {
      if (!pki) return skipOrFail(t, unavailable);
      const { url, seen } = await server(pki, { ca: fs.readFileSync(pki.caFile), requestCert: true, rejectUnauthorized: true });
      const base = { tls_ca: pki.caFile, tls_server_name: 'metrics.internal', tls_cert: pki.clientCert, tls_key: pki.clientKey };
      await write(output(name, url, { ...base, tls_key_pwd: 'k3y' }));
      assert.equal(seen.length, 1);
      assert.throws(() => output(name, url, { ...base, tls_key_pwd: 'wrong' }), /tls_key/);
      assert.throws(() => output(name, url, base), /tls_key/, 'an encrypted key without tls_key_pwd');
    });

    test('tls_enable = false: the other TLS keys do not apply (system defaults)', async (t) => {
      if (!pki) return skipOrFail(t, unavailable);
      const { url } = await server(pki);
      await write(output(name, url, { insecure_skip_verify: true }));
      // With TLS keys disabled, verification is on again and the private CA is unknown.
      await assert.rejects(write(output(name, url, { insecure_skip_verify: true, tls_enable: false })));
    });
  });
}
