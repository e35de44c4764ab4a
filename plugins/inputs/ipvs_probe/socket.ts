/**
 * Opens the probe's TCP connection, optionally with its socket created inside
 * a network namespace.
 *
 * A socket belongs to the namespace its creating thread was in when socket(2)
 * ran; connect(2) later may happen anywhere. Node creates a TCP socket lazily:
 * for `net.connect({host: '10.0.0.2'})` the fd is made on a later tick (after
 * `process.nextTick`), when a namespace switch wrapped around the synchronous
 * call is already undone. When the host is a *name* and the `lookup` function
 * calls back synchronously, Node connects (and so creates the fd) inside the
 * `net.connect` call itself. So the probe passes the IP encoded in a name and
 * a lookup that decodes it synchronously, and in namespace mode checks that
 * the fd really exists before the switch is undone.
 */
import * as net from 'node:net';
import type { LookupFunction } from 'node:net';

/** Runs `fn` synchronously with the calling thread inside a network namespace. */
export type NetnsRunner = <T>(fn: () => T) => T;

const NAME_PREFIX = 'ip-';

const decodeLookup: LookupFunction = (hostname, options, callback) => {
  const ip = hostname.slice(NAME_PREFIX.length);
  const family = net.isIP(ip);
  const cb = callback as unknown as (err: Error | null, address: unknown, family?: number) => void;
  if ((options as { all?: boolean }).all) cb(null, [{ address: ip, family }]);
  else cb(null, ip, family);
};

export class NamespaceSocketError extends Error {}

/**
 * Starts a TCP connection to an IP literal; returns the connecting socket.
 * `inNetns` switches into the namespace for this one socket; `insideNetns`
 * says the caller has already switched (a batch of probes under one switch)
 * and only the synchronous-fd check is wanted.
 */
export function connectTcp(ip: string, port: number, inNetns?: NetnsRunner, insideNetns = false): net.Socket {
  const opts: net.NetConnectOpts = {
    host: NAME_PREFIX + ip,
    port,
    lookup: decodeLookup,
    // One address, no Happy Eyeballs: keeps the connect path single and synchronous.
    autoSelectFamily: false,
    noDelay: true,
  };
  if (inNetns) return inNetns(() => checkedConnect(opts));
  return insideNetns ? checkedConnect(opts) : net.connect(opts);
}

function checkedConnect(opts: net.NetConnectOpts): net.Socket {
  const socket = net.connect(opts);
  if (socketFd(socket) < 0) {
    socket.destroy();
    throw new NamespaceSocketError('this Node.js creates TCP sockets lazily; cannot create probe sockets inside the namespace');
  }
  return socket;
}

/** The socket's file descriptor, or -1 while libuv has not created it. */
export function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}
