/** Self-signed certificates for TLS tests, made with openssl (CI installs it). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class OpensslUnavailable extends Error {}

/** A key and self-signed certificate for `name` and 127.0.0.1; the certificate also serves as its own CA file (`caFile`). */
export function selfSignedCert(name: string): { key: Buffer; cert: Buffer; caFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
        '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
  } catch (err) {
    throw new OpensslUnavailable(`openssl could not make a test certificate: ${(err as Error).message}`);
  }
  return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')), caFile: path.join(dir, 'cert.pem') };
}

export interface TestPki {
  dir: string;
  caFile: string;
  serverCert: string;
  /** The server key, PKCS#8-encrypted with `keyPassword` when one was given (Telegraf decrypts only that form). */
  serverKey: string;
  clientCert: string;
  /** The client key, encrypted like the server key. */
  clientKey: string;
  /** The server key unencrypted (for a Node test server). */
  plainServerKey: string;
}

/**
 * A CA, a server certificate (RSA, for localhost and 127.0.0.1) and a client
 * certificate carrying `clientDns` as DNS names, all signed by the CA, in files.
 */
export function testPki(opts: { clientDns: string[]; keyPassword?: string; serverSan?: string }): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsagent-pki-'));
  const f = (n: string): string => path.join(dir, n);
  const run = (args: string[]): void => {
    try {
      execFileSync('openssl', args, { stdio: 'ignore' });
    } catch (err) {
      throw new OpensslUnavailable(`openssl ${args[0]} failed: ${(err as Error).message}`);
    }
  };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=lvsagent test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign']);
  const leaf = (name: string, keyArgs: string[], san: string): void => {
    run(['req', '-new', ...keyArgs, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`]);
    run(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-copy_extensions', 'copy', '-out', f(`${name}.crt`)]);
  };
  leaf('server', ['-newkey', 'rsa:2048'], opts.serverSan ?? 'DNS:localhost,IP:127.0.0.1');
  leaf('client', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], opts.clientDns.length ? opts.clientDns.map((d) => `DNS:${d}`).join(',') : 'email:client@example.invalid');
  let serverKey = f('server.key');
  let clientKey = f('client.key');
  if (opts.keyPassword !== undefined) {
    for (const name of ['server', 'client']) run(['pkcs8', '-topk8', '-in', f(`${name}.key`), '-out', f(`${name}.enc.key`), '-v2', 'aes-256-cbc', '-passout', `pass:${opts.keyPassword}`]);
    serverKey = f('server.enc.key');
    clientKey = f('client.enc.key');
  }
  return { dir, caFile: f('ca.crt'), serverCert: f('server.crt'), serverKey, clientCert: f('client.crt'), clientKey, plainServerKey: f('server.key') };
}
