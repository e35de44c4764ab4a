/**
 * Parser tests on tables captured from a real kernel (UML 6.1, see
 * test/support/inputs/ip_vs_conn/lab/capture-fixtures.ts), checked against `ipvsadm -Lnc` captured at the
 * same moment: an independent decoder of the same file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sourcePath } from '../../../test/support/paths';
import { formatAddress } from './addr';
import { ConnCollector } from './collector';
import { buildMetrics } from './metrics';
import { ConnRow, ConnTableParser, RowSink, readConnTableSync } from './parse';
import { STATE_NAMES, S_OTHER } from './states';

const FIXTURE = sourcePath(__dirname, 'testdata', 'uml-6.1-ip_vs_conn.txt');
const ORACLE = sourcePath(__dirname, 'testdata', 'uml-6.1-ipvsadm-Lnc.txt');

const PROTO_NAMES: Record<number, string> = { 0: 'IP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

interface Flat {
  key: string;
  expires: number;
  template: boolean;
  pe: boolean;
  daf: number;
}

class Collect implements RowSink {
  rows: Flat[] = [];
  row(r: ConnRow): void {
    const ep = (af: number, w: Uint32Array, port: number): string => (af === 4 ? `${formatAddress(4, w)}:${port}` : `[${formatAddress(6, w)}]:${port}`);
    const state = r.state === S_OTHER ? '?' : STATE_NAMES[r.state];
    this.rows.push({
      key: `${PROTO_NAMES[r.proto] ?? r.proto} ${state} ${ep(r.af, r.caddr, r.cport)} ${ep(r.af, r.vaddr, r.vport)} ${ep(r.daf, r.daddr, r.dport)}`,
      expires: r.expires,
      template: r.template,
      pe: r.pe,
      daf: r.daf,
    });
  }
}

function parseFile(file: string, chunkSize?: number): { sink: Collect; parser: ConnTableParser } {
  const sink = new Collect();
  const parser = new ConnTableParser(sink);
  const fd = fs.openSync(file, 'r');
  try {
    readConnTableSync(fd, parser, { chunkSize });
  } finally {
    fs.closeSync(fd);
  }
  return { sink, parser };
}

/** `ipvsadm -Lnc` rows: pro expire(mm:ss) state source virtual destination. */
function oracleRows(): { key: string; expires: number }[] {
  const lines = fs.readFileSync(ORACLE, 'utf8').split('\n').slice(2).filter((l) => l.trim() !== '');
  return lines.map((l) => {
    const [pro, expire, state, src, vip, dst] = l.trim().split(/\s+/);
    const [mm, ss] = expire.split(':').map(Number);
    return { key: `${pro} ${state} ${src} ${vip} ${dst}`, expires: mm * 60 + ss };
  });
}

test('every row of a real kernel table decodes as ipvsadm -Lnc decodes it', () => {
  const { sink, parser } = parseFile(FIXTURE);
  const want = oracleRows();
  assert.equal(parser.malformed, 0);
  assert.equal(parser.rows, want.length);
  const got = sink.rows.map((r) => r.key).sort();
  assert.deepEqual(got, want.map((w) => w.key).sort());
  // Same instant (cat, then ipvsadm): the timers may have moved by a second.
  const byKey = new Map(want.map((w) => [w.key, w.expires]));
  for (const r of sink.rows) assert.ok(Math.abs(byKey.get(r.key)! - r.expires) <= 1, `${r.key}: ${r.expires} vs ${byKey.get(r.key)}`);
});

test('the fixture covers the row kinds the parser must handle', () => {
  const { sink } = parseFile(FIXTURE);
  const keys = sink.rows.map((r) => r.key);
  const has = (re: RegExp): boolean => keys.some((k) => re.test(k));
  for (const re of [/^TCP ESTABLISHED 10\./, /^TCP TIME_WAIT \[fd00::1\]/, /^UDP UDP \[fd00::1\]/, /^UDP UDP 10\./, /^SCTP ESTABLISHED/, /^SCTP CLOSED/, /^TCP SYN_RECV/, /^TCP FIN_WAIT/, /^TCP CLOSE_WAIT/, /^TCP CLOSE /]) {
    assert.ok(has(re), `no row matching ${re}`);
  }
  // Persistence templates: client port 0; fwmark templates carry the mark as the virtual address.
  const templates = sink.rows.filter((r) => r.template).map((r) => r.key);
  assert.ok(templates.includes('TCP ASSURED 10.10.0.3:0 10.10.0.3:80 10.10.1.2:8080'));
  assert.ok(templates.includes('IP ASSURED 10.10.0.4:0 0.0.0.47:0 10.10.1.1:0'));
  assert.ok(templates.includes('IP ASSURED [fd00::8]:0 [0:31::]:0 [fd00::1:1]:0'));
  // The SIP persistence engine adds PEName PEData (11 fields).
  const pe = sink.rows.filter((r) => r.pe);
  assert.equal(pe.length, 1);
  assert.ok(pe[0].template && pe[0].key.startsWith('UDP ASSURED 10.10.0.6:0 10.10.0.6:5060'));
  // An IPv4 service tunnelling to an IPv6 real server.
  assert.ok(sink.rows.some((r) => r.daf === 6 && r.key.startsWith('TCP CLOSE 10.10.0.7:')));
  assert.equal(sink.rows.filter((r) => !r.template).every((r) => !r.key.includes(':0 ')), true);
});

test('chunk boundaries anywhere give the same rows', () => {
  const whole = parseFile(FIXTURE).sink.rows.map((r) => `${r.key} ${r.expires}`);
  for (const size of [256, 257, 300, 511, 1000, 4096]) {
    const { sink, parser } = parseFile(FIXTURE, size);
    assert.equal(parser.malformed, 0, `chunk ${size}`);
    assert.deepEqual(sink.rows.map((r) => `${r.key} ${r.expires}`), whole, `chunk ${size}`);
  }
});

test('a last line without newline, CRLF endings and a line longer than a chunk', () => {
  const lines = fs.readFileSync(FIXTURE, 'latin1').trimEnd().split('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipvsconn-'));
  try {
    const f = path.join(dir, 't');
    const long = 'TCP ' + 'A'.repeat(1500);
    fs.writeFileSync(f, [lines[0], lines[1], long, ...lines.slice(2)].join('\r\n'), 'latin1');
    const { sink, parser } = parseFile(f, 256);
    assert.equal(parser.rows, lines.length - 1);
    assert.equal(parser.malformed, 1);
    assert.equal(parser.firstBadLineNo, 3);
    assert.ok(parser.firstBadLine.startsWith('TCP AAAA'));
    assert.equal(sink.rows.length, lines.length - 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('metrics from the fixture: per real server counts add up to the table', () => {
  const c = new ConnCollector();
  c.collectText(fs.readFileSync(FIXTURE), 0, 0);
  const ms = buildMetrics(c, { time: 1n, namespace: '', connReuseMode: 0, events: false });
  const conns = ms.filter((m) => m.name === 'ipvs_conn');
  const sum = (field: string): number => conns.reduce((a, m) => a + Number(m.getField(field)?.value ?? 0), 0);
  const oracle = oracleRows();
  // Persistence templates are the rows whose client port is 0.
  const oracleTemplates = oracle.filter((o) => o.key.split(' ')[2].endsWith(':0')).length;
  assert.equal(oracleTemplates, 4);
  assert.equal(sum('entries') + sum('templates'), oracle.length);
  assert.equal(sum('templates'), oracleTemplates);
  assert.equal(sum('time_wait'), oracle.filter((o) => o.key.startsWith('TCP TIME_WAIT')).length);
  // Tags as Telegraf's ipvs_real_server prints them.
  const v6 = conns.find((m) => m.getTag('virtual_address') === 'fd00::1' && m.getTag('virtual_protocol') === 'tcp' && m.getTag('address') === 'fd00::1:2');
  assert.ok(v6);
  assert.deepEqual(v6.tags(), { address: 'fd00::1:2', address_family: 'inet6', port: '8080', virtual_address: 'fd00::1', virtual_port: '80', virtual_protocol: 'tcp' });
  assert.equal(v6.type, 'gauge');
  const fw = conns.find((m) => m.getTag('virtual_fwmark') === '49');
  assert.ok(fw);
  assert.deepEqual(fw.tags(), { address: 'fd00::1:1', address_family: 'inet6', port: '0', virtual_fwmark: '49' });
  assert.equal(fw.getField('templates')?.value, 1);
  const sctp = conns.find((m) => m.getTag('virtual_protocol') === 'sctp');
  assert.ok(sctp);
  assert.equal(sctp.getField('established')?.value, oracle.filter((o) => o.key.startsWith('SCTP ESTABLISHED')).length);
  const mixed = conns.find((m) => m.getTag('virtual_address') === '10.10.0.7');
  assert.equal(mixed?.getTag('address_family'), 'inet6');
  const table = ms.find((m) => m.name === 'ipvs_conn_table');
  assert.equal(table?.getField('rows')?.value, oracle.length);
  assert.equal(table?.getField('conn_reuse_mode')?.value, 0);
  assert.equal(table?.getField('tracked_connections')?.value, sum('entries'));
});

test('IPv6 in the fixed %pI6 form and with short groups decode the same; extra spaces are tolerated', () => {
  const rows: string[] = [];
  const sink = new Collect();
  const p = new ConnTableParser(sink);
  const lines = [
    'TCP fd00:0000:0000:0000:0000:0000:0000:0009 9C40 fd00:0000:0000:0000:0000:0000:0000:000a 0050 fd00:0000:0000:0000:0000:0000:0001:0001 1F90 TIME_WAIT       117',
    'TCP fd00:0:0:0:0:0:0:9 9C40 fd00:0:0:0:0:0:0:a 0050 fd00:0:0:0:0:0:1:1 1F90 TIME_WAIT 117',
    'TCP  0A0A0001   CCBC 0A0A0001 0050  0A0A0102 1F90 TIME_WAIT 116',
    'TCP 0A0A0001 CCBC 0A0A0001 0050 0A0A0102 1F90 TIME_WAIT 116',
  ];
  for (const l of lines) {
    const b = Buffer.from(l, 'latin1');
    p.line(b, 0, b.length);
  }
  assert.equal(p.malformed, 0);
  for (const r of sink.rows) rows.push(`${r.key} ${r.expires}`);
  assert.equal(rows[0], 'TCP TIME_WAIT [fd00::9]:40000 [fd00::a]:80 [fd00::1:1]:8080 117');
  assert.equal(rows[1], rows[0]);
  assert.equal(rows[2], 'TCP TIME_WAIT 10.10.0.1:52412 10.10.0.1:80 10.10.1.2:8080 116');
  assert.equal(rows[3], rows[2]);
});
