/**
 * Connection states as /proc/net/ip_vs_conn prints them (kernel
 * `ip_vs_state_name()`), their numeric codes, the field names they become, and
 * which of them belong to each protocol.
 *
 * Codes are shared across protocols (TCP and SCTP both print NONE and
 * ESTABLISHED); the protocol of the row decides which fields a real server's
 * metric carries.
 */

/** Kernel state names, index = state code. */
export const STATE_NAMES = [
  // TCP (tcp_state_name_table)
  'NONE',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'SYNACK',
  // UDP (the only UDP state)
  'UDP',
  // SCTP (sctp_state_name_table), after the names TCP already has
  'INIT1',
  'INIT',
  'COOKIE_SENT',
  'COOKIE_REPLIED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECEIVED',
  'SHUTDOWN_ACK_SENT',
  'REJECTED',
  'CLOSED',
  // persistence templates (ip_vs_ctpl_state_name_table)
  'ASSURED',
] as const;

export const S_NONE = 0;
export const S_ESTABLISHED = 1;
export const S_SYN_SENT = 2;
export const S_SYN_RECV = 3;
export const S_FIN_WAIT = 4;
export const S_TIME_WAIT = 5;
export const S_CLOSE = 6;
export const S_CLOSE_WAIT = 7;
export const S_LAST_ACK = 8;
export const S_ASSURED = STATE_NAMES.indexOf('ASSURED');
/** Anything else the kernel may print: `ERR!`, `?`, `BUG!`, a future state. */
export const S_OTHER = STATE_NAMES.length;
export const STATE_COUNT = S_OTHER + 1;

/** Field name of a state code: the kernel name in lower case; `other` for unknown names. */
export const STATE_FIELDS: readonly string[] = [...STATE_NAMES.map((n) => n.toLowerCase()), 'other'];

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_SCTP = 132;

const TCP_STATES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const UDP_STATES = [STATE_NAMES.indexOf('UDP')];
const SCTP_STATES = ['NONE', 'INIT1', 'INIT', 'COOKIE_SENT', 'COOKIE_REPLIED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECEIVED', 'SHUTDOWN_ACK_SENT', 'REJECTED', 'CLOSED'].map((n) =>
  STATE_NAMES.indexOf(n as (typeof STATE_NAMES)[number]),
);

/** State codes reported as fields (zeros included) for connections of a protocol. */
export function statesOfProtocol(proto: number): readonly number[] {
  if (proto === PROTO_TCP) return TCP_STATES;
  if (proto === PROTO_UDP) return UDP_STATES;
  if (proto === PROTO_SCTP) return SCTP_STATES;
  return [];
}

/** TCP states in which a connection is closing; an entry in one of them is what a new SYN can reuse. */
export function isClosingTcpState(s: number): boolean {
  return s === S_FIN_WAIT || s === S_TIME_WAIT || s === S_CLOSE || s === S_CLOSE_WAIT || s === S_LAST_ACK;
}

/** Order of the TCP close sequence: a half close (1), the last ACK (2), closed (3). */
function closeRank(s: number): number {
  if (s === S_FIN_WAIT || s === S_CLOSE_WAIT) return 1;
  if (s === S_LAST_ACK) return 2;
  return 3; // TIME_WAIT, CLOSE
}

/**
 * Whether an entry that was closing in the previous snapshot and whose timer
 * was re-armed carries a NEW connection now (rule (a) in README.md):
 * - it was fully closed (TIME_WAIT, CLOSE): any re-arm is a new SYN (or a
 *   stray retransmitted FIN/RST, the documented false positive);
 * - it was half closed (FIN_WAIT, CLOSE_WAIT, LAST_ACK): packets of the old
 *   connection keep re-arming the timer while it finishes closing, so only a
 *   return to an opening/open state, or to an EARLIER close state, counts.
 */
export function reArmMeansNewConnection(prev: number, now: number): boolean {
  if (prev === S_TIME_WAIT || prev === S_CLOSE) return true;
  if (!isClosingTcpState(now)) return true;
  return closeRank(now) < closeRank(prev);
}

/**
 * Byte-level lookup of a state name without building a string: an
 * open-addressing table over a small hash of the bytes, verified byte by byte.
 */
const NAME_BYTES: Buffer[] = STATE_NAMES.map((n) => Buffer.from(n, 'latin1'));
const LOOKUP_BITS = 7;
const LOOKUP_MASK = (1 << LOOKUP_BITS) - 1;
const LOOKUP = new Int8Array(1 << LOOKUP_BITS).fill(-1);

function nameHash(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  return (len * 7 + buf[start] * 3 + buf[end - 1] * 5 + buf[start + (len >> 1)]) & LOOKUP_MASK;
}

for (let code = 0; code < NAME_BYTES.length; code++) {
  const b = NAME_BYTES[code];
  let h = nameHash(b, 0, b.length);
  while (LOOKUP[h] !== -1) h = (h + 1) & LOOKUP_MASK;
  LOOKUP[h] = code;
}

/** State code of the bytes `buf[start..end)`; S_OTHER when the name is unknown. */
export function stateCode(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len > 20) return S_OTHER;
  let h = nameHash(buf, start, end);
  for (;;) {
    const code = LOOKUP[h];
    if (code === -1) return S_OTHER;
    const name = NAME_BYTES[code];
    if (name.length === len) {
      let i = 0;
      while (i < len && name[i] === buf[start + i]) i++;
      if (i === len) return code;
    }
    h = (h + 1) & LOOKUP_MASK;
  }
}
