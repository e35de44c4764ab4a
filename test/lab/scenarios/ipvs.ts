/**
 * A reusable IPVS table with live traffic for lab guests (shell fragments for
 * `runGuest`): TCP, UDP, SCTP, IPv6, fwmark and persistent services, real
 * servers with different weights, thresholds and forwarding methods, node
 * HTTP/UDP servers behind them, and a network namespace `ns1` with a table of
 * its own. Used by the ipvs input's lab test, the decoder capture and
 * `npm run lab`.
 */

const NET = 'dist/test/lab/guest/net.js';

/** Builds the table and starts the servers (needs the default modules; loads sctp/nft ones itself). */
export const IPVS_SETUP = String.raw`
set -e
ip link add d0 type dummy
ip link set d0 up
for a in 10.10.0.1 10.10.0.2 10.10.0.3 10.10.0.4 10.10.0.5 10.10.1.1 10.10.1.2 10.10.1.3; do ip addr add $a/32 dev d0; done
for a in fd00::1 fd00::11 fd00::12; do ip -6 addr add $a/128 dev d0 nodad; done

# TCP, round robin, NAT; a weight-0 (quiesced) server too
ipvsadm -A -t 10.10.0.1:80 -s rr
ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.1:8080 -m -w 1
ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.2:8080 -m -w 3
ipvsadm -a -t 10.10.0.1:80 -r 10.10.1.3:8080 -m -w 0
# UDP, weighted round robin
ipvsadm -A -u 10.10.0.2:53 -s wrr
ipvsadm -a -u 10.10.0.2:53 -r 10.10.1.1:5353 -m -w 2
ipvsadm -a -u 10.10.0.2:53 -r 10.10.1.2:5353 -m -w 1
# SCTP, source hashing
modprobe sctp
ipvsadm -A --sctp-service 10.10.0.3:3868 -s sh
ipvsadm -a --sctp-service 10.10.0.3:3868 -r 10.10.1.1:3868 -m -w 5
# persistent, /24 persistence mask; tunnel and route with thresholds
ipvsadm -A -t 10.10.0.4:443 -s wlc -p 300 -M 255.255.255.0
ipvsadm -a -t 10.10.0.4:443 -r 10.10.1.1:443 -i -w 7 -x 100 -y 10
ipvsadm -a -t 10.10.0.4:443 -r 10.10.1.2:443 -g -w 2
# fwmark service (IPv4): the traffic step marks its sockets with SO_MARK (perl; no nft/iptables needed)
ipvsadm -A -f 47 -s rr
ipvsadm -a -f 47 -r 10.10.1.1:8080 -m
ipvsadm -a -f 47 -r 10.10.1.2:8080 -m
# IPv6 TCP and UDP, and a persistent IPv6 service with a /64 mask
ipvsadm -A -t [fd00::1]:80 -s rr
ipvsadm -a -t [fd00::1]:80 -r [fd00::11]:8080 -m
ipvsadm -a -t [fd00::1]:80 -r [fd00::12]:8080 -m -w 4
ipvsadm -A -u [fd00::1]:53 -s wrr
ipvsadm -a -u [fd00::1]:53 -r [fd00::11]:5353 -m
ipvsadm -A -t [fd00::1]:443 -s rr -p 120 -M 64
ipvsadm -a -t [fd00::1]:443 -r [fd00::12]:443 -g

# a namespace with its own table
ip netns add ns1
ip netns exec ns1 sh -c '
  set -e
  ip link set lo up
  ipvsadm -A -t 10.20.0.1:80 -s rr
  ipvsadm -a -t 10.20.0.1:80 -r 10.20.1.1:80 -m -w 9
  ipvsadm -A -f 7 -s wlc
  ipvsadm -a -f 7 -r 10.20.1.2:80 -g'

lab_bg web lab_node ${NET} http-server 10.10.1.1:8080 10.10.1.2:8080 10.10.1.3:8080 [fd00::11]:8080 [fd00::12]:8080
lab_bg dns lab_node ${NET} udp-echo 10.10.1.1:5353 10.10.1.2:5353 [fd00::11]:5353
lab_bg sctp perl -MSocket -e '
  socket(my $l, PF_INET, SOCK_STREAM, 132) or die "sctp socket: $!";
  bind($l, pack_sockaddr_in(3868, inet_aton("10.10.1.1"))) or die "bind: $!";
  listen($l, 16) or die "listen: $!"; $| = 1; print "ready\n";
  while (accept(my $c, $l)) { my $n = sysread($c, my $buf, 4096); syswrite($c, $buf, $n) if $n; close $c }'
lab_wait_for "$LAB_DIR/web.out" ready
lab_wait_for "$LAB_DIR/dns.out" ready
lab_wait_for "$LAB_DIR/sctp.out" ready
`;

/** Traffic through the masquerading services, then a pause so the kernel's 2 s estimator folds the per-CPU counters. */
export const IPVS_TRAFFIC = String.raw`
lab_node ${NET} http-get http://10.10.0.1/ 16 2
# fwmark 47: SO_MARK (36) on the client sockets; any address works, 10.10.0.5 is on d0
perl -MSocket -e 'for (1..6) { socket(my $s, PF_INET, SOCK_STREAM, 0) or die; setsockopt($s, SOL_SOCKET, 36, pack("i", 47)) or die "SO_MARK: $!"; connect($s, pack_sockaddr_in(80, inet_aton("10.10.0.5"))) or die "connect: $!"; syswrite($s, "GET / HTTP/1.0\r\n\r\n"); local $/; my $r = <$s>; print((split /\n/, $r)[-1], "\n"); close $s }'
# SCTP: 5 associations with one echoed message each
perl -MSocket -e 'for (1..5) { socket(my $s, PF_INET, SOCK_STREAM, 132) or die; connect($s, pack_sockaddr_in(3868, inet_aton("10.10.0.3"))) or die "connect: $!"; syswrite($s, "ping"); sysread($s, my $b, 16); print "$b\n"; close $s }'
lab_node ${NET} http-get 'http://[fd00::1]/' 10 2
lab_node ${NET} udp-send 10.10.0.2:53 30 200
lab_node ${NET} udp-send '[fd00::1]:53' 12 100
curl -s -m 1 http://10.10.0.4:443/ > /dev/null || true
sleep 2.5
`;

/** The oracle: ipvsadm's view, in the default namespace and in ns1. */
export const IPVS_ORACLE = String.raw`
echo '=== stats'; ipvsadm -Ln --stats --exact
echo '=== list'; ipvsadm -Ln
echo '=== thresholds'; ipvsadm -Ln --thresholds
echo '=== persistent'; ipvsadm -Ln --persistent-conn
echo '=== ns1 stats'; ip netns exec ns1 ipvsadm -Ln --stats --exact
echo '=== ns1 list'; ip netns exec ns1 ipvsadm -Ln
`;
