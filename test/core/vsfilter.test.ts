/**
 * One `virtual_servers` grammar for inputs.ipvs, inputs.ip_vs_conn and
 * inputs.ipvs_probe (issue 13 item 10): CIDR and {a,b} everywhere, and a
 * pattern that cannot be parsed is a config error naming the file, section
 * and key, never a filter that silently matches nothing. (Telegraf has no
 * such option: its ipvs input has no configuration at all, plugins/inputs/ipvs/sample.conf.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../core/config/load';
import { VirtualServerFilter, type VsIdentity } from '../../core/ipvs/vsfilter';
import { loadRegistry } from '../../core/registry';
import { VirtualServerFilter as ConnFilter } from '../../plugins/inputs/ip_vs_conn/filter';

const registry = loadRegistry();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-vs-'));
let n = 0;
function load(text: string) {
  const f = path.join(dir, `c${n++}.conf`);
  fs.writeFileSync(f, text);
  return loadConfig({ files: [f], directories: [], registry });
}

const PLUGINS = ['ipvs', 'ip_vs_conn', 'ipvs_probe'];

const vs = (protocol: string, address: string, port: number, fwmark = 0): VsIdentity => ({ protocol, address, port, fwmark });

/** Pattern, service, expected verdict. */
const CASES: [string, VsIdentity, boolean][] = [
  ['10.96.0.10', vs('udp', '10.96.0.10', 53), true],
  ['10.96.0.10:53', vs('tcp', '10.96.0.10', 54), false],
  ['udp:10.96.0.0/12', vs('udp', '10.111.255.1', 53), true],
  ['udp:10.96.0.0/12', vs('udp', '10.112.0.1', 53), false],
  ['10.96.0.0/12:443', vs('tcp', '10.100.0.1', 443), true],
  ['fd00::/64', vs('tcp', 'fd00::abcd', 80), true],
  ['[fd00:0::10]:53', vs('udp', 'fd00::10', 53), true],
  ['tcp:10.96.*:443', vs('tcp', '10.96.3.4', 443), true],
  ['{tcp,udp}:10.0.0.{1,2}:53', vs('udp', '10.0.0.2', 53), true],
  ['{tcp,udp}:10.0.0.{1,2}:53', vs('sctp', '10.0.0.2', 53), false],
  ['*:*:{80,443}', vs('sctp', '1.2.3.4', 443), true],
  ['*:*:{80,443}', vs('tcp', '1.2.3.4', 8080), false],
  ['*:53', vs('udp', '9.9.9.9', 53), true],
  ['SCTP:1.2.3.4:*', vs('sctp', '1.2.3.4', 9), true],
  ['fwmark:{47,48}', vs('', '', 0, 48), true],
  ['fwmark:47', vs('', '', 0, 48), false],
  ['10.96.0.10', vs('', '', 0, 47), false],
];

describe('virtual_servers: one grammar in ipvs, ip_vs_conn and ipvs_probe', () => {
  test('every pattern loads in every plugin and matches the same services', () => {
    for (const [pattern, service, want] of CASES) {
      for (const name of PLUGINS) {
        const cfg = load(`[[inputs.${name}]]\n  virtual_servers = [${JSON.stringify(pattern)}]\n[[outputs.file]]\n`);
        assert.deepEqual(cfg.inputs[0].options.virtual_servers, [pattern], `${name}: ${pattern}`);
      }
      assert.equal(new VirtualServerFilter([pattern]).matches(service), want, `ipvs/ipvs_probe: ${pattern} vs ${JSON.stringify(service)}`);
      const tags = service.fwmark
        ? { address: '10.1.0.1', port: '80', address_family: 'inet', virtual_fwmark: String(service.fwmark) }
        : { address: '10.1.0.1', port: '80', address_family: 'inet', virtual_protocol: service.protocol, virtual_address: service.address, virtual_port: String(service.port) };
      assert.equal(new ConnFilter([pattern]).matches(tags), want, `ip_vs_conn: ${pattern} vs ${JSON.stringify(service)}`);
    }
  });

  test('a pattern that cannot be parsed is a config error naming file, line, section and key', () => {
    const BAD: [string, RegExp][] = [
      ['tcp:10.0.0.1:http', /bad port "http"/],
      ['10.1.2.300', /bad address "10.1.2.300"/],
      ['tcp:not-an-address', /bad address "not-an-address"/],
      ['10.0.0.0/33', /bad prefix length/],
      ['[fd00::1', /unbalanced brackets/],
      ['tcp:10.0.0.{1,2', /unclosed/],
      ['fwmark:0', /mark out of range/],
      ['', /empty/],
    ];
    for (const [pattern, why] of BAD) {
      for (const name of PLUGINS) {
        for (const key of name === 'ip_vs_conn' ? ['virtual_servers'] : ['virtual_servers', 'virtual_servers_exclude']) {
          let msg = '';
          try {
            load(`[[inputs.${name}]]\n  ${key} = ["10.0.0.1", ${JSON.stringify(pattern)}]\n[[outputs.file]]\n`);
          } catch (e) {
            assert.ok(e instanceof ConfigError, String(e));
            msg = e.message;
          }
          assert.match(msg, new RegExp(`c\\d+\\.conf:2: \\[\\[inputs\\.${name}\\]\\]: option "${key}\\.1": bad virtual server pattern`), `${name} ${key} ${pattern}: ${msg}`);
          assert.match(msg, why, msg);
        }
      }
    }
  });
});
