/**
 * outputs.prometheus_client as Telegraf serves it: basic auth on when a user
 * name or a password is set, 401 (with WWW-Authenticate) before 403 for
 * ip_range, a landing page with a link to the metrics path, the server TLS
 * keys and read/write timeouts (issue 13 items 2, 3 and 14).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { int, Metric } from '../../../core/metric';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { withDefaults } from '../../../test/support/options';
import { OpensslUnavailable, testPki, type TestPki } from '../../../test/support/tls';
import { skipOrFail } from '../../../test/support/influxdb';
import plugin from './index';
import type { PrometheusClientOptions } from './options';
import { PrometheusClientOutput } from './output';

const T = 1_700_000_000_000_000_000n;
const outputs: PrometheusClientOutput[] = [];
after(async () => {
  for (const o of outputs) await o.close();
});

async function serve(opts: Record<string, unknown>, log = new CaptureLogger('outputs.prometheus_client')): Promise<PrometheusClientOutput> {
  const o = withDefaults<PrometheusClientOptions>(plugin.schema, { listen: '127.0.0.1:0', ...opts });
  const out = new PrometheusClientOutput(o, outputContext(log, 'outputs.prometheus_client'));
  outputs.push(out);
  await out.connect();
  await out.write([Metric.from('m', {}, { v: int(1) }, T)]);
  return out;
}

const basic = (user: string, pass: string) => ({ Authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });

describe('basic auth is on when basic_username OR basic_password is set (Telegraf internal/http.go 108)', () => {
  for (const [user, pass] of [
    ['u', ''],
    ['', 'p'],
  ]) {
    test(`basic_username = "${user}", basic_password = "${pass}"`, async () => {
      const out = await serve({ basic_username: user, basic_password: pass });
      const url = out.server.url();
      const anonymous = await fetch(url);
      assert.equal(anonymous.status, 401, 'metrics are not served to anyone');
      assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="prometheus"');
      assert.equal((await fetch(url, { headers: basic(user, pass) })).status, 200);
      assert.equal((await fetch(url, { headers: basic(user, 'wrong') })).status, 401);
      // Telegraf's handler also takes `Authorization: Token user:pass` (internal/http.go 116-118).
      assert.equal((await fetch(url, { headers: { Authorization: `Token ${user}:${pass}` } })).status, 200);
    });
  }
  test('neither set: no authentication', async () => {
    const out = await serve({});
    assert.equal((await fetch(out.server.url())).status, 200);
  });
});

describe('status codes and the landing page (Telegraf internal/http.go 196-215, prometheus_client.go 170-182)', () => {
  test('ip_range refusals are 403 without WWW-Authenticate; 200 and 403 never carry it', async () => {
    const out = await serve({ ip_range: ['10.0.0.0/8', '192.168.1.0/30'] });
    const r = await fetch(out.server.url());
    assert.equal(r.status, 403);
    assert.equal(await r.text(), 'Forbidden\n');
    assert.equal(r.headers.get('www-authenticate'), null);
    const allowed = await serve({ ip_range: ['127.0.0.0/8'] });
    const ok = await fetch(allowed.server.url());
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('www-authenticate'), null);
  });

  test('with credentials and ip_range: authentication is checked first (401), then the range (403)', async () => {
    const out = await serve({ basic_username: 'u', basic_password: 'p', ip_range: ['10.0.0.0/8'] });
    const r401 = await fetch(out.server.url());
    assert.equal(r401.status, 401);
    assert.equal(r401.headers.get('www-authenticate'), 'Basic realm="prometheus"');
    const r403 = await fetch(out.server.url(), { headers: basic('u', 'p') });
    assert.equal(r403.status, 403);
    assert.equal(r403.headers.get('www-authenticate'), null);
  });

  test('/ answers with a link to the metrics path instead of 404', async () => {
    const out = await serve({ path: '/custom/metrics' });
    const root = out.server.url().replace('/custom/metrics', '/');
    const r = await fetch(root);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await r.text(), /<a href="\/custom\/metrics">/);
    // Go's ServeMux hands every other path to the "/" handler too.
    assert.equal((await fetch(root + 'other')).status, 200);
  });

  test('the landing page sits behind the same authentication', async () => {
    const out = await serve({ basic_username: 'u' });
    const root = out.server.url().replace('/metrics', '/');
    assert.equal((await fetch(root)).status, 401);
    assert.equal((await fetch(root, { headers: basic('u', '') })).status, 200);
  });
});

/** One HTTPS GET with explicit client TLS settings; resolves with status, protocol and cipher. */
function httpsGet(url: string, opts: tls.ConnectionOptions): Promise<{ status: string; protocol: string | null; cipher: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), servername: 'localhost', ...opts }, () => {
      const protocol = socket.getProtocol();
      const cipher = socket.getCipher().name;
      socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => resolve({ status: text.split('\r\n')[0], protocol, cipher }));
    });
    socket.on('error', reject);
  });
}

describe('server TLS keys (Telegraf plugins/common/tls/server.go 14-19)', () => {
  let pki: TestPki | undefined;
  const setup = (t: { skip(msg?: string): void }): TestPki | undefined => {
    try {
      pki ??= testPki({ clientDns: ['scraper.example'], keyPassword: 'secret' });
      return pki;
    } catch (err) {
      if (err instanceof OpensslUnavailable) skipOrFail(t, err.message);
      else throw err;
      return undefined;
    }
  };

  test('tls_key_pwd decrypts a PKCS#8-encrypted key; without it the output fails to start', async (t) => {
    const p = setup(t);
    if (!p) return;
    const out = await serve({ tls_cert: p.serverCert, tls_key: p.serverKey, tls_key_pwd: 'secret' });
    assert.match(out.server.url(), /^https:/);
    const r = await httpsGet(out.server.url(), { ca: fs.readFileSync(p.caFile) });
    assert.equal(r.status, 'HTTP/1.1 200 OK');
    const o = withDefaults<PrometheusClientOptions>(plugin.schema, { listen: '127.0.0.1:0', tls_cert: p.serverCert, tls_key: p.serverKey });
    const noPwd = new PrometheusClientOutput(o, outputContext(new CaptureLogger(), 'outputs.prometheus_client'));
    await assert.rejects(noPwd.connect());
  });

  test('tls_min_version and tls_max_version bound the protocol', async (t) => {
    const p = setup(t);
    if (!p) return;
    const key = { tls_cert: p.serverCert, tls_key: p.serverKey, tls_key_pwd: 'secret' };
    const ca = fs.readFileSync(p.caFile);
    const only13 = await serve({ ...key, tls_min_version: 'TLS13' });
    assert.equal((await httpsGet(only13.server.url(), { ca })).protocol, 'TLSv1.3');
    await assert.rejects(httpsGet(only13.server.url(), { ca, maxVersion: 'TLSv1.2' }));
    const only12 = await serve({ ...key, tls_max_version: 'TLS12' });
    assert.equal((await httpsGet(only12.server.url(), { ca })).protocol, 'TLSv1.2');
    // min above max is a start-up error, as Telegraf's (server.go 77-79).
    const o = withDefaults<PrometheusClientOptions>(plugin.schema, { listen: '127.0.0.1:0', ...key, tls_min_version: 'TLS13', tls_max_version: 'TLS12' });
    await assert.rejects(new PrometheusClientOutput(o, outputContext(new CaptureLogger())).connect(), /can't be greater than tls max version/);
  });

  test('tls_cipher_suites (Go names) limit TLS 1.2 suites', async (t) => {
    const p = setup(t);
    if (!p) return;
    const ca = fs.readFileSync(p.caFile);
    const out = await serve({ tls_cert: p.serverCert, tls_key: p.serverKey, tls_key_pwd: 'secret', tls_max_version: 'TLS12', tls_cipher_suites: ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'] });
    assert.equal((await httpsGet(out.server.url(), { ca })).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    await assert.rejects(httpsGet(out.server.url(), { ca, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }));
  });

  test('an unknown cipher suite name is a config error naming the key', () => {
    assert.throws(() => withDefaults(plugin.schema, { tls_cipher_suites: ['TLS_NOPE'] }), /tls_cipher_suites/);
  });

  test('tls_allowed_dns_names: the client certificate must carry one of the names', async (t) => {
    const p = setup(t);
    if (!p) return;
    const client = { ca: fs.readFileSync(p.caFile), cert: fs.readFileSync(p.clientCert), key: fs.readFileSync(p.clientKey), passphrase: 'secret' };
    const base = { tls_cert: p.serverCert, tls_key: p.serverKey, tls_key_pwd: 'secret', tls_allowed_cacerts: [p.caFile] };
    const ok = await serve({ ...base, tls_allowed_dns_names: ['other.example', 'scraper.example'] });
    assert.equal((await httpsGet(ok.server.url(), client)).status, 'HTTP/1.1 200 OK');
    const log = new CaptureLogger();
    const refused = await serve({ ...base, tls_allowed_dns_names: ['other.example'] }, log);
    const r = await httpsGet(refused.server.url(), client).catch((e: Error) => ({ status: `error ${e.message}` }));
    assert.ok(!r.status.startsWith('HTTP/1.1 200'), r.status);
    assert.match(log.text(), /refused: peer certificate not in allowed DNS Name list: \[scraper\.example\]/);
  });
});

describe('read_timeout and write_timeout (Telegraf prometheus_client.go 52-53, 189-202)', () => {
  test('a request that does not arrive within read_timeout is cut off', async () => {
    const out = await serve({ read_timeout: '1s' });
    const u = new URL(out.server.url());
    const closed = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(u.port), u.hostname, () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.doesNotMatch(closed, /200 OK/);
  });

  test('a scraper that stops reading is disconnected after write_timeout', async () => {
    const log = new CaptureLogger();
    const out = await serve({ write_timeout: '1s' }, log);
    // A page far larger than the socket buffers, so the write cannot complete while nobody reads.
    const big: Metric[] = [];
    for (let i = 0; i < 60_000; i++) big.push(Metric.from('big', { instance: `some-long-label-value-${i}`, other: 'x'.repeat(200) }, { v: int(i) }, T));
    await out.write(big);
    const u = new URL(out.server.url());
    const s = net.connect(Number(u.port), u.hostname, () => s.write(`GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.pause();
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.on('error', () => undefined);
    while (!/not written within write_timeout/.test(log.text())) await new Promise((r) => setTimeout(r, 50));
    s.resume();
    await closed;
  });
});
