/**
 * Telegraf's TLS keys (plugins/common/tls/client.go 10-19, server.go 14-19)
 * translated into Node's TLS options. Go names TLS versions `TLS10`…`TLS13`
 * and cipher suites by their IANA names; OpenSSL (Node) names suites
 * differently, so they are mapped here. As in Go, only TLS 1.2-and-older
 * suites are configurable: TLS 1.3 always offers its three suites.
 */
import * as fs from 'node:fs';
import type * as tls from 'node:tls';
import { checkServerIdentity, createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';

export const TLS_VERSIONS: Record<string, tls.SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

/** Go's cipher suite name → OpenSSL's, and whether Go lists it among InsecureCipherSuites(). */
const CIPHER_SUITES: Record<string, { openssl: string; insecure: boolean }> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: { openssl: 'ECDHE-ECDSA-AES128-SHA', insecure: false },
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: { openssl: 'ECDHE-ECDSA-AES256-SHA', insecure: false },
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: { openssl: 'ECDHE-RSA-AES128-SHA', insecure: false },
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: { openssl: 'ECDHE-RSA-AES256-SHA', insecure: false },
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: { openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256', insecure: false },
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: { openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384', insecure: false },
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: { openssl: 'ECDHE-RSA-AES128-GCM-SHA256', insecure: false },
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: { openssl: 'ECDHE-RSA-AES256-GCM-SHA384', insecure: false },
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: { openssl: 'ECDHE-RSA-CHACHA20-POLY1305', insecure: false },
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: { openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305', insecure: false },
  TLS_RSA_WITH_AES_128_CBC_SHA: { openssl: 'AES128-SHA', insecure: true },
  TLS_RSA_WITH_AES_256_CBC_SHA: { openssl: 'AES256-SHA', insecure: true },
  TLS_RSA_WITH_AES_128_GCM_SHA256: { openssl: 'AES128-GCM-SHA256', insecure: true },
  TLS_RSA_WITH_AES_256_GCM_SHA384: { openssl: 'AES256-GCM-SHA384', insecure: true },
  TLS_RSA_WITH_AES_128_CBC_SHA256: { openssl: 'AES128-SHA256', insecure: true },
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: { openssl: 'DES-CBC3-SHA', insecure: true },
  TLS_RSA_WITH_RC4_128_SHA: { openssl: 'RC4-SHA', insecure: true },
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: { openssl: 'ECDHE-ECDSA-AES128-SHA256', insecure: true },
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: { openssl: 'ECDHE-RSA-AES128-SHA256', insecure: true },
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: { openssl: 'ECDHE-RSA-DES-CBC3-SHA', insecure: true },
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: { openssl: 'ECDHE-ECDSA-RC4-SHA', insecure: true },
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: { openssl: 'ECDHE-RSA-RC4-SHA', insecure: true },
};
/** TLS 1.3 suites: accepted in the list (Go lists them as secure) but always enabled, as in Go. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export class TlsConfigError extends Error {}

/** True for a name `tls_cipher_suites` accepts (Go's names, any case, or all/secure/insecure). */
export function isCipherSuiteName(name: string): boolean {
  if (name === 'all' || name === 'secure' || name === 'insecure') return true;
  const up = name.toUpperCase();
  return up in CIPHER_SUITES || TLS13_SUITES.includes(up);
}

/** The OpenSSL cipher string for Telegraf's `tls_cipher_suites` (TLS 1.3 suites always appended). */
export function opensslCiphers(names: readonly string[]): string {
  const out: string[] = [];
  const add = (s: string): void => {
    if (!out.includes(s)) out.push(s);
  };
  for (const n of names) {
    if (n === 'all' || n === 'secure' || n === 'insecure') {
      for (const e of Object.values(CIPHER_SUITES)) if (n === 'all' || e.insecure === (n === 'insecure')) add(e.openssl);
      continue;
    }
    const up = n.toUpperCase();
    if (TLS13_SUITES.includes(up)) continue;
    const e = CIPHER_SUITES[up];
    if (!e) throw new TlsConfigError(`tls_cipher_suites: "${up}" unsupported cipher`);
    add(e.openssl);
  }
  // An OpenSSL list of only TLS 1.3 names would leave TLS 1.2 without suites (Go then has none either).
  return [...TLS13_SUITES, ...out].join(':');
}

function version(key: string, v: string | undefined): tls.SecureVersion | undefined {
  if (v === undefined || v === '') return undefined;
  const out = TLS_VERSIONS[v];
  if (!out) throw new TlsConfigError(`could not parse ${key} "${v}": unsupported version (available: ${Object.keys(TLS_VERSIONS).join(',')})`);
  return out;
}

function read(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TlsConfigError(`${key}: could not read "${file}": ${(e as Error).message}`);
  }
}

/** Telegraf's client TLS keys. */
export interface TlsClientOptions {
  tls_ca?: string;
  tls_cert?: string;
  tls_key?: string;
  tls_key_pwd?: string;
  tls_min_version?: string;
  tls_cipher_suites?: string[];
  insecure_skip_verify?: boolean;
  tls_server_name?: string;
  tls_renegotiation_method?: string;
  /** false: none of the other keys apply (the system defaults do); true or unset: they apply. */
  tls_enable?: boolean;
}

/**
 * Node TLS client options from Telegraf's keys; files are read now (once, at
 * start). `tls_server_name` is sent as SNI and is the name the server's
 * certificate must carry, whatever host the URL names, as Go's ServerName.
 */
export function clientTlsOptions(t: TlsClientOptions | undefined): tls.ConnectionOptions {
  if (!t || t.tls_enable === false) return {};
  const o: tls.ConnectionOptions = { minVersion: 'TLSv1.2' };
  if (t.tls_ca) o.ca = read('tls_ca', t.tls_ca);
  if (t.tls_cert && t.tls_key) {
    o.cert = read('tls_cert', t.tls_cert);
    o.key = read('tls_key', t.tls_key);
    if (t.tls_key_pwd) o.passphrase = t.tls_key_pwd;
    checkKeyPair(o);
  }
  const min = version('tls_min_version', t.tls_min_version);
  if (min) o.minVersion = min;
  if (t.tls_cipher_suites?.length) o.ciphers = opensslCiphers(t.tls_cipher_suites);
  if (t.insecure_skip_verify) o.rejectUnauthorized = false;
  const name = t.tls_server_name;
  if (name) {
    o.servername = name;
    o.checkServerIdentity = (_host, cert) => checkServerIdentity(name, cert);
  }
  return o;
}

/** Telegraf's server TLS keys. */
export interface TlsServerOptions {
  tls_cert?: string;
  tls_key?: string;
  tls_key_pwd?: string;
  tls_allowed_cacerts?: string[];
  tls_cipher_suites?: string[];
  tls_min_version?: string;
  tls_max_version?: string;
  tls_allowed_dns_names?: string[];
}

export interface ServerTls {
  options: tls.TlsOptions;
  /** With `tls_allowed_dns_names`: the client certificate's DNS names must include one (else the reason it does not). */
  checkClient?: (cert: Buffer) => string | undefined;
}

/** Node TLS server options, or undefined when no TLS key is set (plain HTTP), as Telegraf's ServerConfig.TLSConfig. */
export function serverTlsOptions(t: TlsServerOptions): ServerTls | undefined {
  if (!t.tls_cert && !t.tls_key && !t.tls_allowed_cacerts?.length) return undefined;
  if (!t.tls_cert || !t.tls_key) throw new TlsConfigError('tls_cert and tls_key must both be set to serve TLS');
  const o: tls.TlsOptions = { cert: read('tls_cert', t.tls_cert), key: read('tls_key', t.tls_key), minVersion: 'TLSv1.2' };
  if (t.tls_key_pwd) o.passphrase = t.tls_key_pwd;
  checkKeyPair(o);
  if (t.tls_allowed_cacerts?.length) {
    o.ca = t.tls_allowed_cacerts.map((f) => read('tls_allowed_cacerts', f));
    o.requestCert = true;
    o.rejectUnauthorized = true;
  }
  if (t.tls_cipher_suites?.length) o.ciphers = opensslCiphers(t.tls_cipher_suites);
  const max = version('tls_max_version', t.tls_max_version);
  const min = version('tls_min_version', t.tls_min_version);
  if (max) o.maxVersion = max;
  if (min) o.minVersion = min;
  const order = Object.values(TLS_VERSIONS);
  if (o.minVersion && o.maxVersion && order.indexOf(o.minVersion) > order.indexOf(o.maxVersion))
    throw new TlsConfigError(`tls min version ${t.tls_min_version} can't be greater than tls max version ${t.tls_max_version}`);
  const allowed = t.tls_allowed_dns_names ?? [];
  // As Go's server.go 83-85: only enforced when client certificates are required.
  const checkClient =
    allowed.length && t.tls_allowed_cacerts?.length
      ? (raw: Buffer): string | undefined => {
          const names = dnsNames(new X509Certificate(raw));
          return names.some((n) => allowed.includes(n)) ? undefined : `peer certificate not in allowed DNS Name list: [${names.join(' ')}]`;
        }
      : undefined;
  return { options: o, checkClient };
}

/** Loads the certificate and key now, so a wrong tls_key_pwd or a mismatched pair fails at start-up, not at each connection. */
function checkKeyPair(o: tls.SecureContextOptions): void {
  try {
    createSecureContext({ cert: o.cert, key: o.key, passphrase: o.passphrase });
  } catch (e) {
    throw new TlsConfigError(`tls_key: could not load the certificate and key${o.passphrase === undefined ? ' (encrypted? set tls_key_pwd)' : ''}: ${(e as Error).message}`);
  }
}

function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}
