import { readAsset } from '../../../core/assets';
import type { OutputPlugin } from '../../../core/plugin';
import type { HttpOutputOptions } from './options';
import { HttpOutput } from './output';
import schema from './schema.json';

/** Telegraf keys whose features lvsagent does not have: accepted with one warning each, then ignored. */
const TELEGRAF_ONLY_KEYS = [
  // Google API auth
  'google_application_credentials',
  // OAuth2 client credentials
  'client_id',
  'client_secret',
  'token_url',
  'audience',
  'scopes',
  // Cookie authentication
  'cookie_auth_url',
  'cookie_auth_method',
  'cookie_auth_username',
  'cookie_auth_password',
  'cookie_auth_headers',
  'cookie_auth_body',
  'cookie_auth_renewal',
  // AWS SigV4 signing and credentials
  'aws_service',
  'region',
  'access_key',
  'secret_key',
  'token',
  'role_arn',
  'web_identity_token_file',
  'role_session_name',
  'profile',
  'shared_credential_file',
  'endpoint_url',
  // Node's TLS client has no renegotiation switch (OpenSSL's secure renegotiation applies)
  'tls_renegotiation_method',
  // Serializer options of other data formats
  'prometheus_export_timestamp',
  'prometheus_compact_encoding',
];

const plugin: OutputPlugin<HttpOutputOptions> = {
  kind: 'output',
  name: 'http',
  description: 'A plugin that can transmit metrics over HTTP',
  schema,
  telegrafOnlyKeys: TELEGRAF_ONLY_KEYS,
  sampleConfig: readAsset(__dirname, 'sample.conf'),
  create: (options, ctx) => new HttpOutput(options, ctx),
};

export default plugin;
export { HttpOutput };
