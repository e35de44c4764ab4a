/**
 * Captures testdata/ from a real kernel: boots the lab guest (test/lab; the
 * committed uml-6.1-* files came from LAB_BACKEND=uml), builds
 * IPVS services of every kind, leaves connections in many states, then saves
 * /proc/net/ip_vs_conn and, right after, `ipvsadm -Lnc` (the oracle the parser
 * test compares with). Run as root after `npm run build`:
 *
 *   node dist/test/support/inputs/ip_vs_conn/lab/capture-fixtures.js
 *
 * Needs python3 on the host for SCTP and SO_MARK traffic (Node has neither).
 * Not part of `npm test`: the fixtures are committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertCompleted, isLabAvailable, runGuest } from '../../../../lab/lab';
import { repoRoot } from '../../../paths';

const NET = 'dist/test/lab/guest/net.js';
const TRAFFIC = 'dist/test/support/inputs/ip_vs_conn/lab/guest-traffic.js';
const PY = `python3 ${path.join(repoRoot, 'test', 'support', 'inputs', 'ip_vs_conn', 'lab', 'capture-helpers.py')}`;

export const CAPTURE_SETUP = `
  ip link add d0 type dummy && ip link set d0 up
  ip link add d1 type dummy && ip link set d1 up
  ip route add 10.10.2.0/24 dev d1
  for a in 10.10.0.1 10.10.0.3 10.10.0.4 10.10.0.5 10.10.0.6 10.10.0.7 10.10.0.8 10.10.1.1 10.10.1.2; do ip addr add $a/32 dev d0; done
  for a in fd00::1 fd00::8 fd00::1:1 fd00::1:2; do ip -6 addr add $a/128 dev d0 nodad; done
  # TCP, two real servers
  ipvsadm -A -t 10.10.0.1:80 -s rr
  ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.1:8080 -m
  ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.2:8080 -m
  # held (ESTABLISHED) and half-closed (CLOSE_WAIT) connections
  ipvsadm -A -t 10.10.0.1:81 -s rr
  ipvsadm -a -t 10.10.0.1:81 -r 10.10.1.1:9090 -m
  # server closes first, client keeps its side open (FIN_WAIT)
  ipvsadm -A -t 10.10.0.1:82 -s rr
  ipvsadm -a -t 10.10.0.1:82 -r 10.10.1.1:9091 -m
  # unreachable real server (SYN_RECV)
  ipvsadm -A -t 10.10.0.1:83 -s rr
  ipvsadm -a -t 10.10.0.1:83 -r 10.10.2.1:80 -m
  # UDP
  ipvsadm -A -u 10.10.0.1:53 -s rr
  ipvsadm -a -u 10.10.0.1:53 -r 10.10.1.1:5353 -m
  ipvsadm -a -u 10.10.0.1:53 -r 10.10.1.2:5353 -m
  # IPv6 TCP and UDP
  ipvsadm -A -t [fd00::1]:80 -s rr
  ipvsadm -a -t [fd00::1]:80 -r [fd00::1:1]:8080 -m
  ipvsadm -a -t [fd00::1]:80 -r [fd00::1:2]:8080 -m
  ipvsadm -A -u [fd00::1]:53 -s rr
  ipvsadm -a -u [fd00::1]:53 -r [fd00::1:1]:5353 -m
  # persistence (TCP templates)
  ipvsadm -A -t 10.10.0.3:80 -s rr -p 300
  ipvsadm -a -t 10.10.0.3:80 -r 10.10.1.1:8080 -m
  ipvsadm -a -t 10.10.0.3:80 -r 10.10.1.2:8080 -m
  # firewall marks: 47 persistent (IP templates), 48 not, 49 IPv6 persistent
  ipvsadm -A -f 47 -s rr -p 60
  ipvsadm -a -f 47 -r 10.10.1.1:80 -m
  ipvsadm -A -f 48 -s rr
  ipvsadm -a -f 48 -r 10.10.1.2:80 -m
  ipvsadm -A -f 49 -6 -s rr -p 60
  ipvsadm -a -f 49 -6 -r [fd00::1:1]:80 -m
  # SCTP
  ipvsadm -A --sctp-service 10.10.0.5:9000 -s rr
  ipvsadm -a --sctp-service 10.10.0.5:9000 -r 10.10.1.1:9001 -m
  # SIP persistence engine (11-field rows)
  ipvsadm -A -u 10.10.0.6:5060 -s rr -p 60 --pe sip
  ipvsadm -a -u 10.10.0.6:5060 -r 10.10.1.1:5060 -m
  # IPv4 service, IPv6 real server (tunnel): an IPv4 row with an IPv6 destination
  ipvsadm -A -t 10.10.0.7:80 -s rr
  ipvsadm -a -t 10.10.0.7:80 -r [fd00::1:1]:8080 -i
  lab_bg web lab_node ${NET} http-server 10.10.1.1:8080 10.10.1.2:8080 10.10.1.1:80 10.10.1.2:80 [fd00::1:1]:8080 [fd00::1:2]:8080 [fd00::1:1]:80
  lab_bg udp lab_node ${NET} udp-echo 10.10.1.1:5353 10.10.1.2:5353 10.10.1.1:5060 [fd00::1:1]:5353
  lab_bg sink lab_node ${TRAFFIC} sink 10.10.1.1:9090
  lab_bg closer lab_node ${TRAFFIC} closer 10.10.1.1:9091
  lab_bg sctp ${PY} sctp-server 10.10.1.1 9001
  for f in web udp sink closer sctp; do lab_wait_for "$LAB_DIR/$f.out" ready || exit 1; done
`;

async function main(): Promise<void> {
  const a = isLabAvailable(['ipvsadm', 'python3']);
  if (!a.ok) throw new Error(a.reason);
  const r = await runGuest({
    modules: ['ip_vs', 'ip_vs_rr', 'dummy', 'sctp', 'ip_vs_pe_sip'],
    timeoutSec: 180,
    setup: CAPTURE_SETUP,
    steps: [
      { name: 'v4', node: NET, args: ['http-get', 'http://10.10.0.1/', '6', '2'] },
      { name: 'v6', node: NET, args: ['http-get', 'http://[fd00::1]/', '4', '2'] },
      { name: 'pers', node: NET, args: ['http-get', 'http://10.10.0.3/', '3', '1'] },
      { name: 'hold', sh: `lab_bg holder lab_node ${TRAFFIC} hold 10.10.0.1:81 3; lab_wait_for "$LAB_DIR/holder.out" ready` },
      { name: 'half', sh: `lab_bg halfer lab_node ${TRAFFIC} half-close 10.10.0.1:81 2; lab_wait_for "$LAB_DIR/halfer.out" ready` },
      { name: 'finwait', sh: `lab_bg finwaiter lab_node ${TRAFFIC} hold 10.10.0.1:82 2; lab_wait_for "$LAB_DIR/finwaiter.out" ready` },
      { name: 'syn', node: TRAFFIC, args: ['syn', '10.10.0.1:83', '2'] },
      { name: 'udp4', node: NET, args: ['udp-send', '10.10.0.1:53', '4'] },
      { name: 'udp6', node: NET, args: ['udp-send', '[fd00::1]:53', '2'] },
      { name: 'fwm47', sh: `${PY} mark-get 10.10.0.4 80 47 2` },
      { name: 'fwm48', sh: `${PY} mark-get 10.10.0.8 80 48 2` },
      { name: 'fwm49', sh: `${PY} mark-get fd00::8 80 49 1` },
      { name: 'sctpc', sh: `lab_bg sctpcl ${PY} sctp-client 10.10.0.5 9000 3 1; lab_wait_for "$LAB_DIR/sctpcl.out" ready` },
      { name: 'sip', sh: `printf 'OPTIONS sip:a@10.10.0.6 SIP/2.0\\r\\nCall-ID: call-0@lab\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n' > /tmp/sip.txt; "$NODE" -e "const s=require('dgram').createSocket('udp4');s.send(require('fs').readFileSync('/tmp/sip.txt'),5060,'10.10.0.6',()=>s.close())"` },
      { name: 'mixed', sh: 'curl -s -m 1 http://10.10.0.7/; true', timeoutSec: 5 },
      { name: 'dump', sh: 'sleep 0.5; cat /proc/net/ip_vs_conn > "$LAB_DIR/conn.txt"; ipvsadm -Lnc > "$LAB_DIR/lnc.txt"; uname -r > "$LAB_DIR/kernel.txt"' },
    ],
  });
  assertCompleted(r);
  for (const [name, s] of Object.entries(r.steps)) {
    if (s.code !== 0) process.stderr.write(`step ${name} exited ${s.code}: ${s.stderr.trim()}\n`);
  }
  const dir = path.join(repoRoot, 'plugins', 'inputs', 'ip_vs_conn', 'testdata');
  fs.writeFileSync(path.join(dir, 'uml-6.1-ip_vs_conn.txt'), r.files['conn.txt']);
  fs.writeFileSync(path.join(dir, 'uml-6.1-ipvsadm-Lnc.txt'), r.files['lnc.txt']);
  process.stdout.write(`kernel ${r.files['kernel.txt'].trim()}: ${r.files['conn.txt'].split('\n').length - 2} rows written to ${dir}\n`);
  process.stdout.write(r.files['conn.txt']);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`capture-fixtures: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
