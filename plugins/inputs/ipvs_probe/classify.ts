/**
 * Probe outcomes. `result` values follow Telegraf's http_response input where
 * the meaning is the same (success, timeout, dns_error, connection_failed) and
 * split its connection_failed catch-all into the causes an operator acts on
 * differently. `result_code` keeps http_response's numbers so that alert rules
 * written for it (`result_code != 0`, `== 4` for timeouts) carry over: the
 * finer connection results share its connection_failed code 3, and bad_status
 * takes response_status_code_mismatch's 6.
 */

export type ProbeResult =
  | 'success'
  | 'bad_status'
  | 'connection_failed'
  | 'connection_refused'
  | 'connection_reset'
  | 'tls_error'
  | 'timeout'
  | 'dns_error';

export const RESULT_CODE: Record<ProbeResult, number> = {
  success: 0,
  connection_failed: 3,
  connection_refused: 3,
  connection_reset: 3,
  tls_error: 3,
  timeout: 4,
  dns_error: 5,
  bad_status: 6,
};

/**
 * LVScare's rule: healthy when the request got a response AND the status is
 * below 400 or one of the extra healthy statuses (k3s answers 401 on /healthz
 * without credentials; sealos#3986). The body is not looked at.
 */
export function statusHealthy(status: number, healthyStatuses: ReadonlySet<number>): boolean {
  return status < 400 || healthyStatuses.has(status);
}

/** Where a probe was when it failed; decides whether an unknown error is a TLS failure. */
export const enum Phase {
  Connecting = 0,
  /** TCP connected, TLS handshake not finished (https only). */
  Handshake = 1,
  /** Request sent or being sent, no response yet. */
  Request = 2,
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'ENODATA']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Maps a socket/TLS/HTTP error to a result. Timeouts of our own timer never reach here. */
export function classifyError(err: unknown, phase: Phase): ProbeResult {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'ECONNREFUSED') return 'connection_refused';
    // Node reports a connection closed before any response as ECONNRESET
    // ("socket hang up"), whether the peer sent RST or FIN: both mean the
    // server dropped the probe.
    if (RESET_CODES.has(code)) return 'connection_reset';
    if (code === 'ETIMEDOUT') return 'timeout';
    if (DNS_CODES.has(code)) return 'dns_error';
  }
  if (phase === Phase.Handshake) return 'tls_error';
  if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT'))) {
    return 'tls_error';
  }
  return 'connection_failed';
}
