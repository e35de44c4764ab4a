/** Options of inputs.ipvs_probe, typed from schema.json, and their conversion into a probe spec. */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { parseDuration } from '../../../core/config/duration';
import { VirtualServerFilter } from '../../../core/ipvs/vsfilter';
import { schemaDefaults, type SchemaOptions } from '../../../core/options';
import { MAX_TIMER_MS } from '../../../core/timers';
import type { ProbeKind, ProbeSpec } from './probe';
import schema from './schema.json';
import { parseStaticTarget } from './target';

export type IpvsProbeOptions = SchemaOptions<
  typeof schema,
  {
    targets: string[];
    virtual_servers: string[];
    virtual_servers_exclude: string[];
    namespace: string;
    probe: ProbeKind;
    port: number;
    path: string;
    method: string;
    headers: Record<string, string>;
    body: string;
    healthy_statuses: number[];
    timeout: string | number;
    insecure_skip_verify: boolean;
    tls_server_name: string;
    tls_ca: string;
    tls_cert: string;
    tls_key: string;
    max_concurrency: number;
    udp_services: boolean;
    load_module: boolean;
  }
>;

export const DEFAULT_OPTIONS: IpvsProbeOptions = schemaDefaults(schema);

export class OptionsError extends Error {}

/** Response bytes read after the status line before the probe hangs up. */
const MAX_RESPONSE_BYTES = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Builds the probe spec; throws OptionsError on values the schema cannot catch. */
export function buildProbeSpec(o: IpvsProbeOptions): ProbeSpec {
  const timeoutNs = parseDuration(o.timeout);
  if (timeoutNs <= 0n) throw new OptionsError(`timeout must be positive (got ${JSON.stringify(o.timeout)})`);
  for (const t of o.targets) parseStaticTarget(t);
  new VirtualServerFilter(o.virtual_servers, o.virtual_servers_exclude);
  if (!o.path.startsWith('/')) throw new OptionsError(`path must start with "/" (got ${JSON.stringify(o.path)})`);
  if (/[\s]/.test(o.path)) throw new OptionsError('path must not contain white space (percent-encode it)');
  let hostHeader = o.tls_server_name;
  let headerLines = '';
  for (const [name, value] of Object.entries(o.headers)) {
    if (!TOKEN.test(name)) throw new OptionsError(`header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (/[\r\n]/.test(value)) throw new OptionsError(`header ${name}: value must not contain line breaks`);
    const lower = name.toLowerCase();
    if (lower === 'host') hostHeader = value;
    else if (lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding') {
      throw new OptionsError(`header ${name} is set by the probe itself`);
    } else headerLines += `${name}: ${value}\r\n`;
  }
  const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: !o.insecure_skip_verify };
  if (o.tls_server_name) tlsOptions.servername = o.tls_server_name;
  const material: tls.SecureContextOptions = {};
  const read = (what: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new OptionsError(`${what} ${file}: ${(err as Error).message}`);
    }
  };
  if (o.tls_ca) {
    material.ca = read('tls_ca', o.tls_ca);
    // OpenSSL skips PEM blocks it cannot parse: a broken CA file would only
    // show as tls_error on every probe. Say so at startup instead.
    const blocks = material.ca.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new OptionsError(`tls_ca ${o.tls_ca}: no PEM certificate in the file`);
    for (const b of blocks) {
      try {
        new X509Certificate(b);
      } catch (err) {
        throw new OptionsError(`tls_ca ${o.tls_ca}: ${(err as Error).message}`);
      }
    }
  }
  if (o.tls_cert || o.tls_key) {
    if (!o.tls_cert || !o.tls_key) throw new OptionsError('tls_cert and tls_key go together');
    material.cert = read('tls_cert', o.tls_cert);
    material.key = read('tls_key', o.tls_key);
  }
  // One context for every probe: tls.connect would otherwise build one (and
  // parse the CA bundle) per connection, and bad PEM fails here, at startup.
  try {
    tlsOptions.secureContext = tls.createSecureContext(material);
  } catch (err) {
    throw new OptionsError(`TLS settings: ${(err as Error).message}`);
  }
  return {
    kind: o.probe,
    timeoutMs: Math.min(Number(timeoutNs / 1_000_000n), MAX_TIMER_MS) || 1,
    method: o.method.toUpperCase(),
    path: o.path,
    headerLines,
    hostHeader,
    body: Buffer.from(o.body, 'utf8'),
    healthyStatuses: new Set(o.healthy_statuses),
    tls: tlsOptions,
    maxResponseBytes: MAX_RESPONSE_BYTES,
  };
}
