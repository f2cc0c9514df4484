// How Latch authenticates to Okta's API: an API token (SSWS), or an OAuth 2.0 service app
// whose client-credentials grant is signed with the app's private key (private_key_jwt,
// RFC 7523). Service-app tokens are scoped and short-lived: one is kept until a minute
// before it ends. DPoP-bound tokens are not supported: clear "Require DPoP" on the app.
import { createPrivateKey, createSign, randomUUID, type KeyObject } from 'node:crypto';
import type { IdentitySource } from '../../config/schema.js';
import { callSource, isRecord, SourceError, stringOf, type CallOptions } from './http.js';

type OktaSource = Extract<IdentitySource, { type: 'okta' }>;

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

function signingKey(label: string, variable: string, raw: string): KeyObject {
  try {
    const text = raw.trim();
    return text.startsWith('{') ? createPrivateKey({ key: JSON.parse(text) as Record<string, unknown> & { kty: string }, format: 'jwk' }) : createPrivateKey(text);
  } catch {
    throw new SourceError(`${label}: ${variable} is not a private key (PEM or JWK)`);
  }
}

/** The client assertion Okta's token endpoint takes from a service app. */
export function oktaClientAssertion(clientId: string, audience: string, key: KeyObject, nowMs: number, keyId?: string): string {
  const iat = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...(keyId ? { kid: keyId } : {}) }));
  const claims = base64url(JSON.stringify({ iss: clientId, sub: clientId, aud: audience, iat, exp: iat + 300, jti: randomUUID() }));
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
  return `${header}.${claims}.${base64url(signature)}`;
}

/** The Authorization header every API call carries, fetched or renewed as needed. */
export function oktaAuthorization(source: OktaSource, env: NodeJS.ProcessEnv, label: string, options: Pick<CallOptions, 'sleep'> & { now?: () => number }): () => Promise<string> {
  const now = options.now ?? Date.now;
  if (source.token) {
    const variable = source.token.env;
    return async () => {
      const token = env[variable];
      if (!token) throw new SourceError(`${label}: environment variable ${variable} (token) is not set`);
      return `SSWS ${token}`;
    };
  }
  const oauth = source.oauth;
  if (!oauth) throw new SourceError(`${label}: give token or oauth`);
  const tokenUrl = `${source.url.replace(/\/+$/, '')}/oauth2/v1/token`;
  let held: { value: string; until: number } | null = null;
  return async () => {
    if (held && held.until > now()) return held.value;
    const raw = env[oauth.privateKey.env];
    if (!raw) throw new SourceError(`${label}: environment variable ${oauth.privateKey.env} (oauth.privateKey) is not set`);
    const assertion = oktaClientAssertion(oauth.clientId, tokenUrl, signingKey(label, oauth.privateKey.env, raw), now(), oauth.keyId);
    const { body } = await callSource(label, tokenUrl, {
      method: 'POST', ...options,
      form: { grant_type: 'client_credentials', scope: oauth.scopes.join(' '), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion },
    });
    const accessToken = isRecord(body) ? stringOf(body.access_token) : null;
    if (!accessToken) throw new SourceError(`${label}: Okta's token endpoint answered without an access_token`);
    const lifetimeS = isRecord(body) && typeof body.expires_in === 'number' ? body.expires_in : 3600;
    held = { value: `Bearer ${accessToken}`, until: now() + Math.max(0, lifetimeS - 60) * 1000 };
    return held.value;
  };
}
