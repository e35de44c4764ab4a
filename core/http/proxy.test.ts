import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startConnectProxy, type ConnectProxy } from '../../test/support/connectproxy';
import { skipOrFail } from '../../test/support/skip';
import { OpensslUnavailable, selfSignedCert } from '../../test/support/tls';
import { HttpClient } from './client';
import { noProxyMatches, proxyFromEnvironment } from './proxy';

describe('https:// through an HTTP proxy (CONNECT tunnel)', () => {
  let server: https.Server | undefined;
  let port = 0;
  let caFile = '';
  let unavailable = '';
  const seen: { method: string; url: string; host: string; body: string }[] = [];
  const proxies: ConnectProxy[] = [];

  before(async () => {
    let cert;
    try {
      cert = selfSignedCert('influx.test');
    } catch (err) {
      if (err instanceof OpensslUnavailable) {
        unavailable = err.message;
        return;
      }
      throw err;
    }
    caFile = cert.caFile;
    server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const p of proxies) await p.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  async function proxy(opts: Parameters<typeof startConnectProxy>[0] = {}): Promise<ConnectProxy> {
    const p = await startConnectProxy({ resolveTo: '127.0.0.1', ...opts });
    proxies.push(p);
    return p;
  }

  test('the name is resolved by the proxy, TLS is verified end to end, and the tunnel is kept alive', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    const p = await proxy();
    const client = new HttpClient({ url: `https://influx.test:${port}`, timeoutMs: 5000, proxy: p.url, tls: { tls_ca: caFile } });
    try {
      for (const body of ['m v=1i 1', 'm v=2i 2']) {
        const res = await client.request('POST', '/write', new URLSearchParams({ db: 'x' }), Buffer.from(body));
        assert.equal(res.status, 204);
      }
    } finally {
      client.close();
    }
    assert.deepEqual(p.connects, [{ authority: `influx.test:${port}`, authorization: undefined }], 'one tunnel for both requests');
    assert.deepEqual(seen.slice(-2), [
      { method: 'POST', url: '/write?db=x', host: `influx.test:${port}`, body: 'm v=1i 1' },
      { method: 'POST', url: '/write?db=x', host: `influx.test:${port}`, body: 'm v=2i 2' },
    ]);
  });

  test('user info in the proxy URL becomes Proxy-Authorization on the CONNECT only', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    const p = await proxy({ requireAuthorization: 'Basic ' + Buffer.from('agent:s3cr:t').toString('base64') });
    const proxyUrl = p.url.replace('http://', 'http://agent:s3cr%3At@');
    const client = new HttpClient({ url: `https://influx.test:${port}`, timeoutMs: 5000, proxy: proxyUrl, tls: { tls_ca: caFile } });
    try {
      assert.equal((await client.request('GET', '/ping', undefined, undefined)).status, 204);
    } finally {
      client.close();
    }
    assert.equal(p.connects.length, 1);
    assert.equal(seen[seen.length - 1].url, '/ping');
  });

  test('a refused CONNECT, a wrong certificate and a dead proxy are errors that say so', async (t) => {
    if (unavailable) return skipOrFail(t, unavailable);
    const refusing = await proxy({ refuse: true });
    const c1 = new HttpClient({ url: `https://influx.test:${port}`, timeoutMs: 5000, proxy: refusing.url, tls: { tls_ca: caFile } });
    await assert.rejects(c1.request('GET', '/ping', undefined, undefined), /refused CONNECT influx\.test:\d+: HTTP\/1\.1 403 Forbidden/);
    c1.close();
    const p = await proxy();
    const c2 = new HttpClient({ url: `https://other.test:${port}`, timeoutMs: 5000, proxy: p.url, tls: { tls_ca: caFile } });
    await assert.rejects(c2.request('GET', '/ping', undefined, undefined), /other\.test|altnames|certificate/i);
    c2.close();
    const deadPort = p.url.split(':')[2];
    await p.close();
    const c3 = new HttpClient({ url: `https://influx.test:${port}`, timeoutMs: 5000, proxy: `http://127.0.0.1:${deadPort}`, tls: { tls_ca: caFile } });
    await assert.rejects(c3.request('GET', '/ping', undefined, undefined), /proxy 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    c3.close();
  });
});

describe('proxy from the environment (Go ProxyFromEnvironment rules)', () => {
  const env = { HTTP_PROXY: 'http://plain-proxy:3128', https_proxy: 'secure-proxy:8080', NO_PROXY: 'internal.example, .corp, 10.0.0.0/8, [fd00::1], db.example:8443' };

  test('the scheme picks the variable, upper case first; a bare host:port means http://', () => {
    assert.equal(proxyFromEnvironment(new URL('http://influx.example:8086'), env)?.href, 'http://plain-proxy:3128/');
    assert.equal(proxyFromEnvironment(new URL('https://influx.example'), env)?.href, 'http://secure-proxy:8080/');
    assert.equal(proxyFromEnvironment(new URL('https://influx.example'), { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' })?.host, 'upper:1');
    assert.equal(proxyFromEnvironment(new URL('https://influx.example'), {}), undefined);
    assert.equal(proxyFromEnvironment(new URL('unix:///run/influx.sock'), env), undefined);
  });

  test('loopback and NO_PROXY matches go direct', () => {
    for (const target of ['http://localhost:8086', 'http://127.0.0.1:8086', 'https://127.1.2.3', 'http://[::1]:8086']) {
      assert.equal(proxyFromEnvironment(new URL(target), env), undefined, target);
    }
    for (const target of ['http://internal.example', 'http://a.internal.example', 'https://x.corp', 'http://10.1.2.3:8086', 'http://[fd00::1]:80', 'https://db.example:8443']) {
      assert.equal(proxyFromEnvironment(new URL(target), env), undefined, target);
    }
    for (const target of ['http://notinternal.example', 'http://11.1.2.3', 'https://db.example', 'http://corp.example', 'http://corp']) {
      assert.ok(proxyFromEnvironment(new URL(target), env), target);
    }
    assert.equal(noProxyMatches('*', 'anything', '80'), true);
    assert.equal(noProxyMatches('', 'anything', '80'), false);
  });
});
