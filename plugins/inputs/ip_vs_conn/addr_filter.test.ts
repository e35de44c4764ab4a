import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIPv6, parseAddress } from './addr';
import { VirtualServerFilter } from './filter';
import type { GroupTags } from './groups';

test('IPv6 text as Go prints it (RFC 5952), checked against the WHATWG URL serializer', () => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0xfd00, 0, 0, 0, 0, 0, 1, 2], 'fd00::1:2'],
    [[1, 0, 0, 1, 0, 0, 0, 1], '1:0:0:1::1'],
    [[1, 0, 0, 1, 0, 0, 1, 1], '1::1:0:0:1:1'],
    [[1, 0, 1, 1, 1, 1, 1, 1], '1:0:1:1:1:1:1:1'],
    [[0, 0x31, 0, 0, 0, 0, 0, 0], '0:31::'],
  ];
  const words = (g: number[]): number[] => [0, 1, 2, 3].map((i) => ((g[2 * i] << 16) | g[2 * i + 1]) >>> 0);
  for (const [g, want] of cases) assert.equal(formatIPv6(words(g)), want);
  // Go prints IPv4-mapped addresses as dotted IPv4.
  assert.equal(formatIPv6(words([0, 0, 0, 0, 0, 0xffff, 0x0a00, 1])), '10.0.0.1');
  // Random addresses with zero runs: same text as the URL serializer.
  let s = 99;
  const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16;
  for (let i = 0; i < 2000; i++) {
    const g = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() : 0));
    if (g[5] === 0xffff) continue;
    const text = formatIPv6(words(g));
    assert.equal(`[${text}]`, new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname, g.join(','));
    const back = new Uint32Array(4);
    assert.equal(parseAddress(text, back), 6);
    assert.deepEqual([...back], words(g));
  }
});

const tags = (proto: string, addr: string, port: number): GroupTags => ({
  address: '10.1.0.1',
  port: '80',
  address_family: 'inet',
  virtual_protocol: proto,
  virtual_address: addr,
  virtual_port: String(port),
});

test('virtual_servers syntax', () => {
  const f = (entries: string[], t: GroupTags): boolean => new VirtualServerFilter(entries).matches(t);
  assert.equal(f([], tags('tcp', '10.96.0.10', 53)), true);
  assert.equal(f(['10.96.0.10'], tags('udp', '10.96.0.10', 53)), true);
  assert.equal(f(['10.96.0.10'], tags('udp', '10.96.0.11', 53)), false);
  assert.equal(f(['10.96.0.10:53'], tags('tcp', '10.96.0.10', 53)), true);
  assert.equal(f(['10.96.0.10:53'], tags('tcp', '10.96.0.10', 54)), false);
  assert.equal(f(['tcp:10.96.*:443'], tags('tcp', '10.96.3.4', 443)), true);
  assert.equal(f(['tcp:10.96.*:443'], tags('udp', '10.96.3.4', 443)), false);
  assert.equal(f(['tcp:10.96.*:443'], tags('tcp', '10.97.3.4', 443)), false);
  assert.equal(f(['10.96.0.?'], tags('tcp', '10.96.0.7', 1)), true);
  assert.equal(f(['udp:10.96.0.0/12'], tags('udp', '10.111.255.1', 53)), true);
  assert.equal(f(['udp:10.96.0.0/12'], tags('udp', '10.112.0.1', 53)), false);
  assert.equal(f(['[fd00:0::10]:53'], tags('udp', 'fd00::10', 53)), true);
  assert.equal(f(['fd00::10'], tags('tcp', 'fd00::10', 80)), true);
  assert.equal(f(['fd00::/64'], tags('tcp', 'fd00::abcd', 80)), true);
  assert.equal(f(['fd00::/64'], tags('tcp', 'fd01::abcd', 80)), false);
  assert.equal(f(['*:*:8080'], tags('sctp', '1.2.3.4', 8080)), true);
  assert.equal(f(['SCTP:1.2.3.4:*'], tags('sctp', '1.2.3.4', 9)), true);
  const fw: GroupTags = { address: '10.1.0.1', port: '0', address_family: 'inet', virtual_fwmark: '47' };
  assert.equal(f(['fwmark:47'], fw), true);
  assert.equal(f(['fwmark:48'], fw), false);
  assert.equal(f(['10.96.0.10'], fw), false);
  for (const bad of ['', 'tcp:', '10.96.0.10:99999', '[fd00::1', '10.1.2.300', 'fwmark:0', '10.0.0.0/33', 'x.y.*', 'tcp:10.0.0.1:http']) {
    assert.throws(() => new VirtualServerFilter([bad]), /virtual_servers: bad virtual server pattern/, bad);
  }
});
