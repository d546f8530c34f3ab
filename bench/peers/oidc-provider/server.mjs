// node oidc-provider 9 as a peer for portcullis-bench: production mode,
// in-memory adapter (the default), JWT access tokens signed ES256 or RS256
// by client, opaque tokens for the introspection scenario.
// Usage: NODE_ENV=production node server.mjs PORT
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const issuer = `http://127.0.0.1:${port}`;
const jwk = (type, options) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  use: 'sig',
});
const rsa = { ...jwk('rsa', { modulusLength: 2048 }), alg: 'RS256', kid: 'rs256' };
const ec = { ...jwk('ec', { namedCurve: 'P-256' }), alg: 'ES256', kid: 'es256' };

// Secrets are the ones portcullis-bench sends (bench/src/peers.rs).
const client = (client_id, extra = {}) => ({
  client_id,
  client_secret: `${client_id}-secret-0123456789abcdef0123456789abcdef`,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'api',
  token_endpoint_auth_method: 'client_secret_basic',
  ...extra,
});
const format = {
  'cc-rs256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'cc-es256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  'cc-opaque': { accessTokenFormat: 'opaque' },
};

const provider = new Provider(issuer, {
  clients: [client('cc-rs256'), client('cc-es256'), client('cc-opaque')],
  jwks: { keys: [rsa, ec] },
  scopes: ['openid', 'api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench:api',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: 'api',
        audience: resource,
        accessTokenTTL: 300,
        ...format[client.clientId],
      }),
    },
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
