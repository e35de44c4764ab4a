import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { classifyError, Phase, RESULT_CODE, statusHealthy } from './classify';
import { buildProbeSpec, DEFAULT_OPTIONS, OptionsError, type IpvsProbeOptions } from './options';
import { startProbe, type ProbeOutcome, type ProbeSpec } from './probe';
import { closedPort, selfSignedCert, startServer, type Behaviour, type TestServer } from '../../../test/support/inputs/ipvs_probe/servers';

function spec(over: Partial<IpvsProbeOptions> = {}): ProbeSpec {
  return buildProbeSpec({ ...DEFAULT_OPTIONS, probe: 'http', path: '/', timeout: '2s', ...over });
}

function probe(s: ProbeSpec, port: number, host = '127.0.0.1'): Promise<ProbeOutcome> {
  return new Promise((resolve) => startProbe(s, host, port, resolve));
}

describe('status rules (LVScare)', () => {
  test('below 400 is healthy, 400 and above only when listed', () => {
    const none = new Set<number>();
    for (const s of [200, 204, 301, 302, 399]) assert.equal(statusHealthy(s, none), true, String(s));
    for (const s of [400, 401, 403, 404, 500, 503]) assert.equal(statusHealthy(s, none), false, String(s));
    const k3s = new Set([401]);
    assert.equal(statusHealthy(401, k3s), true);
    assert.equal(statusHealthy(403, k3s), false);
  });

  test('result codes mirror Telegraf http_response numbers', () => {
    assert.equal(RESULT_CODE.success, 0);
    assert.equal(RESULT_CODE.connection_failed, 3);
    assert.equal(RESULT_CODE.connection_refused, 3);
    assert.equal(RESULT_CODE.timeout, 4);
    assert.equal(RESULT_CODE.dns_error, 5);
    assert.equal(RESULT_CODE.bad_status, 6);
  });

  test('errors map to results by code, then by phase', () => {
    const e = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(classifyError(e('ECONNREFUSED'), Phase.Connecting), 'connection_refused');
    assert.equal(classifyError(e('ECONNRESET'), Phase.Handshake), 'connection_reset');
    assert.equal(classifyError(e('EPIPE'), Phase.Request), 'connection_reset');
    assert.equal(classifyError(e('ENOTFOUND'), Phase.Connecting), 'dns_error');
    assert.equal(classifyError(e('ETIMEDOUT'), Phase.Connecting), 'timeout');
    assert.equal(classifyError(e('EHOSTUNREACH'), Phase.Connecting), 'connection_failed');
    assert.equal(classifyError(e('ERR_SSL_WRONG_VERSION_NUMBER'), Phase.Handshake), 'tls_error');
    assert.equal(classifyError(e('DEPTH_ZERO_SELF_SIGNED_CERT'), Phase.Request), 'tls_error');
  });
});

describe('options', () => {
  test('Host and tls_server_name shape the request; reserved headers are refused', () => {
    const s = buildProbeSpec({ ...DEFAULT_OPTIONS, headers: { 'X-A': '1', Host: 'api' }, tls_server_name: 'sni.example' });
    assert.equal(s.hostHeader, 'api');
    assert.equal(s.headerLines, 'X-A: 1\r\n');
    assert.equal(s.tls.servername, 'sni.example');
    assert.equal(s.tls.rejectUnauthorized, true);
    assert.equal(buildProbeSpec({ ...DEFAULT_OPTIONS, tls_server_name: 'sni.example' }).hostHeader, 'sni.example');
    assert.throws(() => buildProbeSpec({ ...DEFAULT_OPTIONS, headers: { Connection: 'keep-alive' } }), OptionsError);
    assert.throws(() => buildProbeSpec({ ...DEFAULT_OPTIONS, headers: { 'X-A': 'a\r\nB: c' } }), OptionsError);
    assert.throws(() => buildProbeSpec({ ...DEFAULT_OPTIONS, timeout: '0s' }), OptionsError);
    assert.throws(() => buildProbeSpec({ ...DEFAULT_OPTIONS, targets: ['fd00::1:80'] }), /\[address\]:port/);
  });
});

describe('probes against loopback servers', () => {
  const servers: TestServer[] = [];
  const serve = async (b: Behaviour): Promise<TestServer> => {
    const s = await startServer(b);
    servers.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  test('http 200 is success with the status and a response time', async () => {
    const s = await serve({ kind: 'status', status: 200, delayMs: 30 });
    const o = await probe(spec(), s.port);
    assert.equal(o.result, 'success');
    assert.equal(o.status, 200);
    assert.ok(o.seconds >= 0.025 && o.seconds < 1, `response_time ${o.seconds}`);
  });

  test('closed port is connection_refused (http and tcp)', async () => {
    const port = await closedPort();
    assert.equal((await probe(spec(), port)).result, 'connection_refused');
    assert.equal((await probe(spec({ probe: 'tcp' }), port)).result, 'connection_refused');
  });

  test('tcp probe succeeds on connect, before any data', async () => {
    const s = await serve({ kind: 'silent' });
    const o = await probe(spec({ probe: 'tcp' }), s.port);
    assert.equal(o.result, 'success');
    assert.equal(o.status, 0);
  });

  test('a server that resets connections is connection_reset', async () => {
    const s = await serve({ kind: 'reset' });
    const o = await probe(spec(), s.port);
    assert.equal(o.result, 'connection_reset');
    assert.equal(s.accepted, 1);
  });

  test('a server that never answers is timeout after the timeout', async () => {
    const s = await serve({ kind: 'silent' });
    const o = await probe(spec({ timeout: '300ms' }), s.port);
    assert.equal(o.result, 'timeout');
    assert.ok(o.seconds >= 0.29 && o.seconds < 1.5, `response_time ${o.seconds}`);
    await waitFor(() => s.open === 0);
  });

  test('500 is bad_status; 401 is bad_status unless listed in healthy_statuses', async () => {
    const s500 = await serve({ kind: 'status', status: 500 });
    const o500 = await probe(spec(), s500.port);
    assert.deepEqual([o500.result, o500.status], ['bad_status', 500]);
    const s401 = await serve({ kind: 'status', status: 401 });
    assert.equal((await probe(spec(), s401.port)).result, 'bad_status');
    const ok = await probe(spec({ healthy_statuses: [401] }), s401.port);
    assert.deepEqual([ok.result, ok.status], ['success', 401]);
  });

  test('interim 1xx responses are skipped; garbage is connection_failed', async () => {
    const cont = await serve({ kind: 'raw', response: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 503 Busy\r\n\r\n' });
    const o = await probe(spec(), cont.port);
    assert.deepEqual([o.result, o.status], ['bad_status', 503]);
    const junk = await serve({ kind: 'raw', response: 'SSH-2.0-OpenSSH_9.2\r\n' });
    assert.equal((await probe(spec(), junk.port)).result, 'connection_failed');
    const hangup = await serve({ kind: 'raw', response: '' });
    assert.equal((await probe(spec(), hangup.port)).result, 'connection_reset');
  });

  test('request line, Host and custom headers reach the server', async () => {
    const net = await import('node:net');
    let seen = '';
    const srv = net.createServer((c) => {
      c.on('data', (d) => {
        seen += d.toString();
        if (seen.includes('\r\n\r\nhello')) c.end('HTTP/1.0 204 No Content\r\n\r\n');
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as import('node:net').AddressInfo).port;
    const o = await probe(spec({ method: 'post', path: '/ready?x=1', headers: { 'X-Probe': 'yes' }, body: 'hello' }), port);
    srv.close();
    assert.equal(o.result, 'success');
    assert.equal(o.status, 204);
    assert.match(seen, /^POST \/ready\?x=1 HTTP\/1\.1\r\n/);
    assert.match(seen, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${port}\r\n`));
    assert.match(seen, /\r\nX-Probe: yes\r\n/);
    assert.match(seen, /\r\nContent-Length: 5\r\n/);
    assert.match(seen, /\r\nConnection: close\r\n/);
  });

  test('IPv6 loopback, when the host has it', async (t) => {
    let s: TestServer;
    try {
      s = await startServer({ kind: 'status', status: 200 }, { host: '::1' });
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    servers.push(s);
    const o = await probe(spec(), s.port, '::1');
    assert.equal(o.result, 'success');
  });
});

describe('https probes', () => {
  let cert: ReturnType<typeof selfSignedCert>;
  let server: TestServer;
  let caFile: string;
  before(async () => {
    cert = selfSignedCert();
    server = await startServer({ kind: 'status', status: 200 }, { tls: { key: cert.key, cert: cert.cert } });
    caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ipvs-probe-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, cert.cert);
  });
  after(async () => {
    await server.close();
    fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
  });

  test('self-signed certificate without insecure_skip_verify is tls_error', async () => {
    const o = await probe(spec({ probe: 'https' }), server.port);
    assert.equal(o.result, 'tls_error');
    assert.equal(o.status, 0);
  });

  test('insecure_skip_verify accepts it', async () => {
    const o = await probe(spec({ probe: 'https', insecure_skip_verify: true }), server.port);
    assert.deepEqual([o.result, o.status], ['success', 200]);
  });

  test('tls_ca verifies it against the IP, or against tls_server_name', async () => {
    assert.equal((await probe(spec({ probe: 'https', tls_ca: caFile }), server.port)).result, 'success');
    assert.equal((await probe(spec({ probe: 'https', tls_ca: caFile, tls_server_name: 'probe.test' }), server.port)).result, 'success');
    assert.equal((await probe(spec({ probe: 'https', tls_ca: caFile, tls_server_name: 'other.test' }), server.port)).result, 'tls_error');
  });

  test('unusable TLS material is refused at startup, not at probe time', () => {
    const bad = path.join(path.dirname(caFile), 'bad.pem');
    fs.writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    assert.throws(() => spec({ probe: 'https', tls_ca: bad }), (e: Error) => e instanceof OptionsError && /tls_ca/.test(e.message));
    assert.throws(() => spec({ probe: 'https', tls_cert: caFile }), /go together/);
    assert.throws(() => spec({ probe: 'https', tls_cert: caFile, tls_key: bad }), /TLS settings/);
    assert.throws(() => spec({ probe: 'https', tls_ca: path.join(path.dirname(caFile), 'missing.pem') }), /ENOENT|no such file/);
  });

  test('https to a plain-HTTP port is tls_error', async () => {
    // Like a real HTTP server, it answers the ClientHello bytes with a 400.
    const plain = await startServer({ kind: 'raw', response: 'HTTP/1.1 400 Bad Request\r\n\r\n', eager: true });
    const o = await probe(spec({ probe: 'https' }), plain.port);
    await plain.close();
    assert.equal(o.result, 'tls_error');
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
