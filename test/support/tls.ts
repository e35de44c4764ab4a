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
