/**
 * outputs.influxdb against a real InfluxDB 1.6 (`influxd` on loopback, own
 * data dir), with a fault-injecting proxy for hung and resetting servers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { sourcePath } from '../../../test/support/paths';
import { float, int, Metric, uint } from '../../../core/metric';
import { PartialWriteError } from '../../../core/plugin';
import { CaptureLogger, outputContext } from '../../../test/support/capture-log';
import { startFaultProxy, type FaultProxy } from '../../../test/support/faultproxy';
import { destroyInfluxDB, InfluxDBUnavailable, skipOrFail, startInfluxDB, type InfluxDBServer } from '../../../test/support/influxdb';
import { withDefaults } from '../../../test/support/options';
import plugin from './index';
import type { InfluxDBOptions } from './options';
import type { InfluxDBOutput } from './output';

const T0 = 1_700_000_000_000_000_000n;

function make(opts: Record<string, unknown>, log = new CaptureLogger('outputs.influxdb')): { out: InfluxDBOutput; log: CaptureLogger } {
  const o = withDefaults<InfluxDBOptions>(plugin.schema, opts);
  return { out: plugin.create(o, outputContext(log, 'outputs.influxdb')) as InfluxDBOutput, log };
}

let server: InfluxDBServer | undefined;
let unavailable = '';

before(async () => {
  try {
    server = await startInfluxDB({ unixSocket: true, udp: true, udpDatabase: 'udpdb' });
  } catch (err) {
    if (err instanceof InfluxDBUnavailable) unavailable = err.message;
    else throw err;
  }
});

after(async () => {
  if (server) await destroyInfluxDB(server);
});

function need(t: { skip(msg?: string): void }): InfluxDBServer | undefined {
  if (!server) skipOrFail(t, unavailable || 'influxd not started');
  return server;
}

describe('outputs.influxdb (real InfluxDB 1.6)', () => {
  test('creates the database at connect and writes values that read back with the same types', async (t) => {
    const s = need(t);
    if (!s) return;
    for (const encoding of ['gzip', 'identity']) {
      const db = `roundtrip_${encoding}`;
      const { out, log } = make({ urls: [s.url], database: db, content_encoding: encoding });
      await out.connect();
      const dbs = await s.query('SHOW DATABASES');
      assert.ok(JSON.stringify(dbs).includes(db), `database ${db} created at connect: ${JSON.stringify(dbs)}`);
      const weird = 'a "quoted" \\back\\slash\\ and\nnewline';
      const m1 = Metric.from(
        'rt',
        { 'tag with space': 'v, with=comma', host: 'h1' },
        { i: int(-42), big: int(9007199254740993n), f: 0.1, s: weird, b: true, u: uint(18446744073709551615n), whole: float(3) },
        T0,
      );
      const m2 = Metric.from('rt', { 'tag with space': 'second', host: 'h1' }, { i: int(7), f: -1.5e-7, s: '', b: false, u: uint(5), whole: 1e21 }, T0 + 1000n);
      await out.write([m1, m2]);
      const rows = await s.select('SELECT * FROM rt ORDER BY time', db);
      assert.equal(rows.length, 2, JSON.stringify(rows));
      const r1 = rows[0];
      assert.equal(r1['tag with space'], 'v, with=comma');
      assert.equal(r1.i, -42);
      assert.equal(r1.f, 0.1);
      assert.equal(r1.s, weird);
      assert.equal(r1.b, true);
      // uints without uint support are clipped to int64 max (as Telegraf).
      assert.equal(r1.whole, 3);
      assert.equal(rows[1].f, -1.5e-7);
      assert.equal(rows[1].s, '');
      assert.equal(rows[1].b, false);
      assert.equal(rows[1].whole, 1e21);
      // Field types as InfluxDB stored them.
      const keys: Awaited<ReturnType<InfluxDBServer["query"]>> = await s.query('SHOW FIELD KEYS FROM rt', db);
      const types: Record<string, string> = Object.fromEntries(keys.results[0].series![0].values as [string, string][]);
      assert.deepEqual(types, { b: 'boolean', big: 'integer', f: 'float', i: 'integer', s: 'string', u: 'integer', whole: 'float' });
      // Exact 64-bit values need a query that keeps them as text: compare via a string query of the max.
      const raw = await fetch(`${s.url}/query?db=${db}&q=${encodeURIComponent('SELECT big, u FROM rt WHERE time = ' + T0)}`);
      const text = await raw.text();
      assert.ok(text.includes('9007199254740993'), text);
      assert.ok(text.includes('9223372036854775807'), text);
      assert.ok(out.stats().bytes_written > 0);
      assert.ok(!log.text().includes('E!'), log.text());
      out.close();
    }
  });

  test('a large gzip batch (several gzip members) is accepted whole', async (t) => {
    const s = need(t);
    if (!s) return;
    const { out } = make({ urls: [s.url], database: 'bigbatch' });
    await out.connect();
    const batch: Metric[] = [];
    for (let i = 0; i < 2500; i++) batch.push(Metric.from('big', { n: String(i % 50) }, { v: int(i) }, T0 + BigInt(i)));
    await out.write(batch);
    const rows = await s.select('SELECT count(v), sum(v) FROM big', 'bigbatch');
    assert.equal(rows[0].count, 2500);
    assert.equal(rows[0].sum, (2499 * 2500) / 2);
    out.close();
  });

  test('a field type conflict (HTTP 400 partial write) drops only the points InfluxDB rejected', async (t) => {
    const s = need(t);
    if (!s) return;
    const { out, log } = make({ urls: [s.url], database: 'conflict' });
    await out.connect();
    await out.write([Metric.from('c', { k: 'a' }, { v: int(1) }, T0)]);
    const batch = [
      Metric.from('c', { k: 'b' }, { v: int(2) }, T0),
      Metric.from('c', { k: 'c' }, { v: 'a string now' }, T0),
      Metric.from('c', { k: 'd' }, { v: int(4) }, T0),
    ];
    await out.write(batch); // resolves: nothing to retry
    const rows = await s.select('SELECT v, k FROM c', 'conflict');
    assert.deepEqual(rows.map((r) => r.k).sort(), ['a', 'b', 'd']);
    assert.match(log.text(), /Failed to write metric \(will be dropped: 400 Bad Request\): partial write: field type conflict/);
    out.close();
  });

  test('"database not found" creates the database and retries; skip_database_creation drops', async (t) => {
    const s = need(t);
    if (!s) return;
    const { out } = make({ urls: [s.url], database: 'lateborn' });
    await out.connect();
    await s.query('DROP DATABASE lateborn');
    await out.write([Metric.from('m', {}, { v: int(1) }, T0)]);
    assert.equal((await s.select('SELECT v FROM m', 'lateborn')).length, 1);
    out.close();

    const skipped = make({ urls: [s.url], database: 'never_created', skip_database_creation: true });
    await skipped.out.connect();
    await skipped.out.write([Metric.from('m', {}, { v: int(1) }, T0)]);
    assert.match(skipped.log.text(), /will be dropped: 404 Not Found\): database not found/);
    assert.ok(!JSON.stringify(await s.query('SHOW DATABASES')).includes('never_created'));
    skipped.out.close();
  });

  test('database_tag and retention_policy_tag split a batch into requests; exclude removes the tags', async (t) => {
    const s = need(t);
    if (!s) return;
    await s.query('CREATE DATABASE tagged_b');
    await s.query('CREATE RETENTION POLICY short ON tagged_b DURATION 2h REPLICATION 1');
    const { out } = make({
      urls: [s.url],
      database: 'tagged_default',
      database_tag: 'dest',
      exclude_database_tag: true,
      retention_policy_tag: 'rp',
      exclude_retention_policy_tag: true,
    });
    await out.connect();
    await out.write([
      Metric.from('m', { dest: 'tagged_a', x: '1' }, { v: int(1) }, T0),
      // Recent: a 2h retention policy discards older points.
      Metric.from('m', { dest: 'tagged_b', rp: 'short', x: '2' }, { v: int(2) }, BigInt(Date.now()) * 1_000_000n),
      Metric.from('m', { x: '3' }, { v: int(3) }, T0),
    ]);
    const a = await s.select('SELECT * FROM m', 'tagged_a');
    assert.deepEqual(a.map((r) => r.v), [1]);
    assert.ok(!('dest' in a[0]), 'database tag excluded');
    const b = await s.select('SELECT * FROM short.m', 'tagged_b');
    assert.deepEqual(b.map((r) => r.v), [2]);
    assert.ok(!('rp' in b[0]) && !('dest' in b[0]), 'tags excluded');
    assert.deepEqual((await s.select('SELECT * FROM m', 'tagged_default')).map((r) => r.v), [3]);
    out.close();
  });

  test('unix socket and UDP URLs', async (t) => {
    const s = need(t);
    if (!s) return;
    const unix = make({ urls: [s.socketUrl!], database: 'viasocket' });
    await unix.out.connect();
    await unix.out.write([Metric.from('m', {}, { v: int(9) }, T0)]);
    assert.deepEqual((await s.select('SELECT v FROM m', 'viasocket')).map((r) => r.v), [9]);
    unix.out.close();

    await s.query('CREATE DATABASE udpdb');
    const udp = make({ urls: [s.udpUrl!], udp_payload: 64 });
    await udp.out.connect();
    const batch: Metric[] = [];
    for (let i = 0; i < 20; i++) batch.push(Metric.from('u', { n: String(i) }, { v: int(i), pad: 'x'.repeat(30) }, T0));
    await udp.out.write(batch);
    let rows: Record<string, unknown>[] = [];
    for (let k = 0; k < 60 && rows.length < 20; k++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await s.select('SELECT * FROM u', 'udpdb');
    }
    assert.equal(rows.length, 20);
    assert.ok(rows.every((r) => r.pad === 'x'.repeat(30)));
    udp.out.close();
  });

  test('hung server: the write times out and rejects (batch kept); resets and refusals reject; another URL takes over', async (t) => {
    const s = need(t);
    if (!s) return;
    let proxy: FaultProxy | undefined;
    try {
      proxy = await startFaultProxy(s.port);
      const { out, log } = make({ urls: [proxy.url], database: 'faults', timeout: '300ms' });
      await out.connect();
      await out.write([Metric.from('m', {}, { v: int(1) }, T0)]);

      await proxy.setMode('blackhole');
      proxy.dropConnections();
      const started = Date.now();
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(2) }, T0 + 1n)]), /could not write any address/);
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 5000, `timeout enforced (${took} ms)`);
      assert.match(log.text(), /timeout after 300 ms/);

      await proxy.setMode('reset');
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(3) }, T0 + 2n)]), /could not write any address/);
      await proxy.setMode('refuse');
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(4) }, T0 + 3n)]), /could not write any address/);
      assert.match(log.text(), /ECONNREFUSED/);

      // The same batch, retried after recovery, arrives once.
      await proxy.setMode('pass');
      await out.write([Metric.from('m', {}, { v: int(2) }, T0 + 1n)]);
      const rows = await s.select('SELECT v FROM m', 'faults');
      assert.deepEqual(rows.map((r) => r.v), [1, 2]);
      out.close();

      // Two URLs, one refusing: every write lands on the good one.
      await proxy.setMode('refuse');
      const two = make({ urls: [proxy.url, s.url], database: 'faults2', timeout: '1s' });
      await two.out.connect();
      for (let i = 0; i < 6; i++) await two.out.write([Metric.from('m', {}, { v: int(i) }, T0 + BigInt(i))]);
      assert.equal((await s.select('SELECT v FROM m', 'faults2')).length, 6);
      two.out.close();
    } finally {
      await proxy?.close();
    }
  });

  test('credentials never appear in logs', async (t) => {
    const s = need(t);
    if (!s) return;
    const proxy = await startFaultProxy(s.port);
    try {
      await proxy.setMode('refuse');
      const { out, log } = make({ urls: [`http://alice:s3cr3tpw@127.0.0.1:${proxy.port}`], username: 'bob', password: 'hunter2secret', timeout: '500ms' });
      await out.connect();
      await assert.rejects(out.write([Metric.from('m', {}, { v: int(1) }, T0)]));
      const text = log.text();
      assert.match(text, /When writing to \[http:\/\/redacted@127\.0\.0\.1/);
      for (const secret of ['s3cr3tpw', 'hunter2secret', 'alice']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
      out.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('outputs.influxdb (local HTTP server: request shape and status handling)', () => {
  interface Seen {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    body: string;
  }
  async function withServer(handler: (req: Seen, res: http.ServerResponse) => void, fn: (url: string, seen: Seen[]) => Promise<void>) {
    const seen: Seen[] = [];
    const srv = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let buf = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') buf = zlib.gunzipSync(buf);
        const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: buf.toString() };
        seen.push(s);
        handler(s, res);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      await fn(`http://127.0.0.1:${(srv.address() as { port: number }).port}`, seen);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  }

  test('headers, query parameters, basic auth, consistency, 5xx keeps the batch and 4xx drops it', async () => {
    let status = 204;
    await withServer(
      (req, res) => {
        if (req.url.startsWith('/query')) {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"results":[{"statement_id":0}]}');
          return;
        }
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(status === 204 ? '' : JSON.stringify({ error: `status ${status}` }));
      },
      async (url, seen) => {
        const { out, log } = make({
          urls: [url + '/prefix'],
          database: 'd b',
          retention_policy: 'rp1',
          write_consistency: 'quorum',
          username: 'u',
          password: 'p',
          http_headers: { 'X-Extra': 'yes' },
          user_agent: 'agent-under-test',
        });
        await out.connect();
        assert.equal(seen[0].url, '/prefix/query');
        assert.equal(new URLSearchParams(seen[0].body).get('q'), 'CREATE DATABASE "d b"');
        await out.write([Metric.from('m', {}, { v: int(1) }, T0)]);
        const w = seen[1];
        assert.equal(w.method, 'POST');
        const u = new URL(w.url, 'http://x');
        assert.equal(u.pathname, '/prefix/write');
        assert.deepEqual(Object.fromEntries(u.searchParams), { db: 'd b', rp: 'rp1', consistency: 'quorum' });
        assert.equal(w.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(w.headers['content-encoding'], 'gzip');
        assert.equal(w.headers['user-agent'], 'agent-under-test');
        assert.equal(w.headers['x-extra'], 'yes');
        assert.equal(w.headers.authorization, 'Basic ' + Buffer.from('u:p').toString('base64'));
        assert.equal(w.body, `m v=1i ${T0}\n`);

        status = 503;
        await assert.rejects(out.write([Metric.from('m', {}, { v: int(2) }, T0)]), /could not write any address/);
        assert.match(log.text(), /When writing to \[.*\]: 503 Service Unavailable: status 503/);
        status = 422;
        await out.write([Metric.from('m', {}, { v: int(3) }, T0)]);
        assert.match(log.text(), /Failed to write metric \(will be dropped: 422 Unprocessable Entity\): status 422/);
        out.close();
      },
    );
  });

  test('a retryable failure after some database groups were written reports a partial write', async () => {
    await withServer(
      (req, res) => {
        const db = new URL(req.url, 'http://x').searchParams.get('db');
        if (req.url.startsWith('/query')) res.writeHead(200).end('{"results":[{"statement_id":0}]}');
        else if (db === 'bad') res.writeHead(400).end('{"error":"bad"}');
        else if (db === 'down') res.writeHead(500).end('{"error":"down"}');
        else res.writeHead(204).end();
      },
      async (url) => {
        const { out } = make({ urls: [url], database_tag: 'db', skip_database_creation: true });
        const batch = [
          Metric.from('m', { db: 'good' }, { v: int(1) }, T0),
          Metric.from('m', { db: 'bad' }, { v: int(2) }, T0),
          Metric.from('m', { db: 'down' }, { v: int(3) }, T0),
          Metric.from('m', { db: 'good' }, { v: int(4) }, T0),
        ];
        const err = await out.write(batch).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof PartialWriteError, String(err));
        assert.deepEqual(err.accepted, [0, 3]);
        assert.deepEqual(err.rejected, [1]);
        out.close();
      },
    );
  });

  test('https with a private CA and a client certificate; insecure_skip_verify', async () => {
    const td = (f: string) => sourcePath(__dirname, 'testdata', f);
    const bodies: string[] = [];
    const srv = https.createServer(
      { cert: fs.readFileSync(td('server.crt')), key: fs.readFileSync(td('server.key')), ca: fs.readFileSync(td('ca.crt')), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.url!.startsWith('/write')) bodies.push(zlib.gunzipSync(Buffer.concat(chunks)).toString());
          res.writeHead(req.url!.startsWith('/write') ? 204 : 200).end(req.url!.startsWith('/query') ? '{"results":[{"statement_id":0}]}' : undefined);
        });
      },
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(srv.address() as { port: number }).port}`;
    try {
      const ok = make({ urls: [url], tls_ca: td('ca.crt'), tls_cert: td('client.crt'), tls_key: td('client.key') });
      await ok.out.connect();
      await ok.out.write([Metric.from('tls', {}, { v: int(1) }, T0)]);
      assert.deepEqual(bodies, [`tls v=1i ${T0}\n`]);
      ok.out.close();
      // Without the CA the server certificate is not trusted...
      const untrusted = make({ urls: [url], tls_cert: td('client.crt'), tls_key: td('client.key') });
      await assert.rejects(untrusted.out.write([Metric.from('tls', {}, { v: int(2) }, T0)]), /could not write any address/);
      assert.match(untrusted.log.text(), /self.signed|unable to verify|certificate/i);
      untrusted.out.close();
      // ...unless verification is skipped; without a client certificate the server refuses.
      const insecure = make({ urls: [url], insecure_skip_verify: true, tls_cert: td('client.crt'), tls_key: td('client.key') });
      await insecure.out.write([Metric.from('tls', {}, { v: int(3) }, T0)]);
      assert.equal(bodies.length, 2);
      insecure.out.close();
      const noCert = make({ urls: [url], tls_ca: td('ca.crt') });
      await assert.rejects(noCert.out.write([Metric.from('tls', {}, { v: int(4) }, T0)]));
      noCert.out.close();
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  test('the deprecated `url` alone does not add the default URL', async () => {
    await withServer(
      (_req, res) => res.writeHead(204).end(),
      async (url, seen) => {
        const { out, log } = make({ url, skip_database_creation: true, timeout: '1s' });
        for (let i = 0; i < 5; i++) await out.write([Metric.from('m', {}, { v: int(i) }, T0)]);
        assert.equal(seen.length, 5);
        assert.ok(!log.text().includes('localhost:8086'), log.text());
        out.close();
      },
    );
  });

  test('http_proxy: requests go to the proxy with the absolute target URL', async () => {
    await withServer(
      (req, res) => {
        if (req.url.includes('/query')) res.writeHead(200).end('{"results":[{"statement_id":0}]}');
        else res.writeHead(204).end();
      },
      async (proxyUrl, seen) => {
        const { out } = make({ urls: ['http://influx.invalid:8086'], http_proxy: proxyUrl, database: 'viaproxy' });
        await out.connect();
        await out.write([Metric.from('m', {}, { v: int(1) }, T0)]);
        assert.equal(seen[0].url, 'http://influx.invalid:8086/query');
        assert.equal(seen[1].url, 'http://influx.invalid:8086/write?db=viaproxy');
        assert.equal(seen[1].headers.host, 'influx.invalid:8086');
        out.close();
        // https:// targets tunnel through the proxy instead (core/http/proxy.test.ts); only other proxy schemes are refused.
        assert.throws(() => make({ urls: ['https://influx.invalid:8086'], http_proxy: 'socks5://127.0.0.1:1080' }), /unsupported proxy scheme "socks5"/);
      },
    );
  });
});
