/**
 * Random, truncated and corrupted lines: the parser never throws, every line
 * is either a row, the header/blank, or counted as malformed, and good rows
 * around bad ones still parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sourcePath } from '../../../test/support/paths';
import { ConnCollector } from './collector';
import { IpVsConnInput } from './input';
import { ConnRow, ConnTableParser, readConnTableSync } from './parse';
import { TestAccumulator } from '../../../test/support/accumulator';
import { CaptureLogger } from '../../../test/support/capture-log';

const FIXTURE = sourcePath(__dirname, 'testdata', 'uml-6.1-ip_vs_conn.txt');
const GOOD = fs.readFileSync(FIXTURE, 'latin1').trimEnd().split('\n').slice(1);

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function mutate(line: string, rnd: () => number): string {
  const b = Buffer.from(line, 'latin1');
  switch (Math.floor(rnd() * 6)) {
    case 0: // truncate
      return b.subarray(0, Math.floor(rnd() * b.length)).toString('latin1');
    case 1: {
      // flip a byte to anything but a newline
      const i = Math.floor(rnd() * b.length);
      let v = Math.floor(rnd() * 256);
      if (v === 10) v = 11;
      b[i] = v;
      return b.toString('latin1');
    }
    case 2: // random bytes
      return Buffer.from(Array.from({ length: Math.floor(rnd() * 120) }, () => {
        const v = Math.floor(rnd() * 256);
        return v === 10 ? 32 : v;
      })).toString('latin1');
    case 3: {
      // drop a field
      const f = line.split(/ +/);
      f.splice(Math.floor(rnd() * f.length), 1);
      return f.join(' ');
    }
    case 4: // huge expires / port
      return line.replace(/\d+$/, '99999999999999999');
    default: {
      // duplicate a field
      const f = line.split(/ +/);
      const i = Math.floor(rnd() * f.length);
      f.splice(i, 0, f[i]);
      return f.join(' ');
    }
  }
}

test('random and corrupted lines never throw and are all accounted for', () => {
  const rnd = prng(0xc0ffee);
  for (let round = 0; round < 200; round++) {
    const lines: string[] = ['Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData'];
    let good = 0;
    for (let i = 0; i < 50; i++) {
      const base = GOOD[Math.floor(rnd() * GOOD.length)];
      if (rnd() < 0.5) {
        lines.push(base);
        good++;
      } else lines.push(mutate(base, rnd));
    }
    const c = new ConnCollector();
    const text = lines.join('\n') + (rnd() < 0.5 ? '\n' : '');
    assert.doesNotThrow(() => c.collectText(text, round * 10, round * 10 + 1));
    const p = c.parser;
    // Lines as the file has them: a last empty element only exists after a final newline.
    const fileLines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    const blank = fileLines.filter((l) => l.trim() === '').length;
    assert.equal(p.lines, fileLines.length);
    // A mutation can produce another valid row, so rows >= the untouched good ones.
    assert.ok(p.rows >= good, `round ${round}: ${p.rows} rows < ${good} good lines`);
    assert.ok(p.rows + p.malformed + blank + 1 >= fileLines.length, `round ${round}: some line neither a row nor malformed`);
    assert.ok(p.rows + p.malformed <= fileLines.length - 1);
    if (p.malformed > 0) assert.ok(p.firstBadLineNo >= 2 && p.firstBadLineNo <= fileLines.length);
  }
});

test('a decoded row is well formed whatever the input', () => {
  const rnd = prng(7);
  const check = {
    row(r: ConnRow): void {
      assert.ok(r.cport >= 0 && r.cport <= 0xffff && r.vport <= 0xffff && r.dport <= 0xffff);
      assert.ok(r.af === 4 || r.af === 6);
      assert.ok(r.daf === 4 || r.daf === 6);
      assert.ok(Number.isInteger(r.expires) && r.expires >= 0);
      assert.ok(r.proto >= 0 && r.proto <= 255);
    },
  };
  const p = new ConnTableParser(check);
  for (let i = 0; i < 20000; i++) {
    const l = Buffer.from(mutate(GOOD[i % GOOD.length], rnd), 'latin1');
    p.line(l, 0, l.length);
  }
  assert.ok(p.malformed > 1000 && p.rows > 1000);
});

test('truncated file: a partial last line is malformed, the rest parse', () => {
  const whole = fs.readFileSync(FIXTURE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipvsconn-'));
  try {
    const f = path.join(dir, 'cut');
    const cut = whole.lastIndexOf(0x0a, whole.length - 2) + 20;
    fs.writeFileSync(f, whole.subarray(0, cut));
    const p = new ConnTableParser({ row: () => undefined });
    const fd = fs.openSync(f, 'r');
    readConnTableSync(fd, p);
    fs.closeSync(fd);
    assert.equal(p.rows, GOOD.length - 1);
    assert.equal(p.malformed, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const testAccumulator = (): TestAccumulator => new TestAccumulator({ time: 1_700_000_000_000_000_000n });

test('the plugin warns once per gather naming the first bad line and counts them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipvsconn-'));
  try {
    const f = path.join(dir, 'ip_vs_conn');
    const mode = path.join(dir, 'mode');
    fs.writeFileSync(mode, '0\n');
    fs.writeFileSync(f, ['Pro FromIP ...', GOOD[0], 'TCP garbage here', GOOD[1], 'UDP 0A 1 2', ''].join('\n'));
    const log = new CaptureLogger('inputs.ip_vs_conn');
    const input = new IpVsConnInput({ path: f, conn_reuse_mode_path: mode }, { log });
    const acc = testAccumulator();
    await input.gather(acc);
    await input.gather(acc);
    assert.deepEqual(acc.errors, []);
    assert.equal(log.messages('warn').length, 2);
    assert.match(log.messages('warn')[0], /2 malformed line\(s\) in .*; first \(line 3\): "TCP garbage here"/);
    const tables = acc.metrics.filter((m) => m.name === 'ipvs_conn_table');
    assert.equal(tables.length, 2);
    assert.equal(tables[0].getField('malformed_lines')?.value, 2);
    assert.equal(tables[0].getField('rows')?.value, 2);
    assert.equal(tables[0].getField('conn_reuse_mode')?.value, 0);
    assert.ok(acc.metrics.filter((m) => m.name === 'ipvs_conn').every((m) => m.getField('conn_reuse_mode')?.value === 0));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing table is a gather error that says why', async () => {
  const input = new IpVsConnInput({ path: '/nonexistent/proc/net/ip_vs_conn' }, { log: new CaptureLogger('inputs.ip_vs_conn') });
  const acc = testAccumulator();
  await input.gather(acc);
  assert.equal(acc.metrics.length, 0);
  assert.match(String(acc.errors[0]), /cannot open \/nonexistent\/proc\/net\/ip_vs_conn: no such file \(is the ip_vs kernel module loaded\?\)/);
});
