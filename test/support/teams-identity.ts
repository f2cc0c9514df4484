// A local double of the two identity services a Teams bot talks to:
//
//  * inbound: the Bot Framework OpenID metadata and signing keys (JWKS) botbuilder checks the
//    bearer token of every activity against, and `mintToken`, which signs tokens the way the
//    Bot Connector does;
//  * outbound: the Entra ID (AAD) endpoints MSAL calls to get the token botbuilder sends to the
//    Bot Connector: instance discovery, the tenant's OpenID configuration and the v2.0 token
//    endpoint (client-credentials grant).
//
// botbuilder reads all of this from its parameterized configuration, see `env()`. What it does
// with that configuration (botbuilder / botframework-connector 4.23.3, msal-node 2.16):
//
//  * Inbound (ParameterizedBotFrameworkAuthentication.ChannelValidation_*, JwtTokenExtractor,
//    OpenIdMetadata): a token whose `iss` equals ToBotFromChannelTokenIssuer is verified with
//    jsonwebtoken against the JWKS key named by its `kid` (algorithms RS256/RS384/RS512, clock
//    tolerance 300 s for exp and nbf, no audience check inside verify); then `aud` must equal
//    MicrosoftAppId, `serviceurl` must equal activity.serviceUrl exactly, and if the key has
//    `endorsements`, activity.channelId must be one of them. The metadata is fetched with
//    node-fetch (GET metadata URL, then GET its `jwks_uri`) and cached process-wide per metadata
//    URL for 24 hours, which is why every double's metadata URL is unique (`?double=<nonce>`).
//    Tokens with a `ver` + `appid`/`azp` claim are treated as skill tokens and tokens with a
//    Microsoft emulator issuer go to the emulator path, so `mintToken` sets neither.
//  * Outbound (PasswordServiceClientCredentialFactory -> PrivateCloudAppCredentials ->
//    MsalAppCredentials): the MSAL authority is ToChannelFromBotLoginUrl, lower-cased, used as
//    is (the tenant is not appended: put it in the URL). ValidateAuthority is stored but never
//    reaches MSAL. MSAL requires an https authority, and with no knownAuthorities it makes, in
//    order:
//      GET  https://login.microsoftonline.com/common/discovery/instance?api-version=1.1
//             &authorization_endpoint=<authority>/oauth2/v2.0/authorize
//      GET  <authority>/v2.0/.well-known/openid-configuration
//      POST <token_endpoint from that document>  (grant_type=client_credentials, client_id,
//             client_secret, scope=<ToChannelFromBotOAuthScope>/.default)
//    Those https calls are answered in process with nock (installed while the double runs); the
//    same documents are also served over plain HTTP under /login/ for inspection.
//    The access token is cached process-wide by botframework-connector (AppCredentials.cache,
//    keyed by app id + scope, until 5 minutes before it expires), so every double uses its own
//    ToChannelFromBotOAuthScope: a second double with the same app id would otherwise never
//    see a token request and the bot would present the first double's token.
//
// Gotchas:
//  * A token signed with the wrong key but a published kid fails inside jsonwebtoken, and
//    botbuilder rethrows that JsonWebTokenError as is (so do NotBeforeError for a future nbf):
//    it is not an AuthenticationError, and CloudAdapter.process answers it with 500. A bot must
//    map those to 401 itself. Expired tokens are wrapped (AuthenticationError 401).
//  * nock is active in the process from import. While a double runs, do not call
//    nock.cleanAll() (it drops the login interceptors: MSAL then fails with
//    untrusted_authority) or nock.disableNetConnect() without enableNetConnect('127.0.0.1').

import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';

export const BOT_FRAMEWORK_TOKEN_ISSUER = 'https://api.botframework.com';
export const PUBLIC_AZURE_CALLER_ID = 'urn:botframework:azure';
const INSTANCE_DISCOVERY_ORIGIN = 'https://login.microsoftonline.com';
const INSTANCE_DISCOVERY_PATH = '/common/discovery/instance';

export interface TeamsIdentityOptions {
  /** The bot's Microsoft App ID: the `aud` of inbound tokens and the `client_id` of outbound ones. */
  appId: string;
  /** The client secret the token endpoint accepts (default: random). */
  appPassword?: string;
  /** The bot's tenant (lower case: botbuilder lower-cases the login URL). Default 'tenant-0001'. */
  tenantId?: string;
  /** Default 'SingleTenant'. Both work: with a custom login URL the tenant comes from the URL. */
  appType?: 'SingleTenant' | 'MultiTenant';
  /** Endorsements on the signing key; botbuilder requires activity.channelId to be one. Default ['msteams']. */
  endorsements?: string[];
  /** Lifetime of issued access tokens (default 3600). botbuilder refreshes 5 minutes early. */
  tokenLifetimeSec?: number;
  /** ToBotFromChannelTokenIssuer (default https://api.botframework.com). */
  issuer?: string;
}

export interface MintTokenOptions {
  /** The `serviceurl` claim; must equal the activity's serviceUrl. */
  serviceUrl: string;
  /** Default: the app id. */
  audience?: string;
  /** Default: ToBotFromChannelTokenIssuer. */
  issuer?: string;
  /** exp = now + expiresInSec (default 3600). botbuilder allows 300 s of clock skew. */
  expiresInSec?: number;
  /** nbf = now + notBeforeSec (default -60). */
  notBeforeSec?: number;
  /** 'valid' signs with the published key; 'foreign' with a key that is not in the JWKS. */
  key?: 'valid' | 'foreign';
  /** Header kid (default: the published key's kid, also for 'foreign', as a forger would). */
  kid?: string;
  omitServiceUrl?: boolean;
  /** Extra or overriding claims. */
  claims?: Record<string, unknown>;
}

export type IdentityRoute = 'openid' | 'jwks' | 'emulator-openid' | 'emulator-jwks' | 'instance-discovery' | 'login-openid' | 'login-jwks' | 'token' | 'unknown';

export interface IdentityRequest {
  seq: number;
  at: number;
  /** 'http' for the local server, 'nock' for https calls answered in process. */
  via: 'http' | 'nock';
  method: string;
  /** The full URL as the caller used it. */
  url: string;
  route: IdentityRoute;
  headers: Record<string, string>;
  body: string;
  status: number;
}

export interface TokenRequest {
  at: number;
  via: 'http' | 'nock';
  grantType: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  scope: string | undefined;
  form: Record<string, string>;
  status: number;
  /** The access token handed out, if the request was granted. */
  accessToken?: string;
  error?: string;
}

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  appid: string;
  tid: string;
  iat: number;
  nbf: number;
  exp: number;
  ver: string;
}

export interface TeamsIdentityDouble {
  readonly appId: string;
  readonly appPassword: string;
  readonly tenantId: string;
  readonly appType: 'SingleTenant' | 'MultiTenant';
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** ToBotFromChannelTokenIssuer */
  readonly issuer: string;
  /** ToBotFromChannelOpenIdMetadataUrl (unique per double) */
  readonly openIdMetadataUrl: string;
  /** ToChannelFromBotLoginUrl: https://login-<nonce>.identity.test/<tenant> (answered via nock) */
  readonly loginUrl: string;
  /** ToChannelFromBotOAuthScope (unique per double; see the note on AppCredentials.cache) */
  readonly oauthScope: string;
  /** kid of the published signing key */
  readonly kid: string;
  /** Every request served, local or via nock, in order. */
  readonly requests: IdentityRequest[];
  /** Every client-credentials request to the token endpoint, in order. */
  readonly tokenRequests: TokenRequest[];
  /** Configuration for ConfigurationBotFrameworkAuthentication plus the MICROSOFT_APP_* names Latch reads. */
  env(): Record<string, string>;
  /** A Bot Connector style inbound token (RS256). Synchronous. */
  mintToken(options: MintTokenOptions): string;
  /** The claims of an access token this double issued and that has not expired, else null. */
  verifyAccessToken(token: string): AccessTokenClaims | null;
  /** true for `Bearer <token>` where the token is one this double issued and is still valid. */
  acceptsAuthorization(authorization: string | undefined): boolean;
  /**
   * The next `times` token requests fail with this AAD error (default 401 invalid_client).
   * botbuilder asks only when it has no cached token for app id + scope: in practice the first
   * outbound call after the double starts.
   */
  failNextTokenRequests(times: number, error?: { status?: number; error?: string; description?: string }): void;
  close(): Promise<void>;
}

interface RsaKey { kid: string; privateKey: KeyObject; publicKey: KeyObject; jwk: { kty: string; n: string; e: string } }

// RSA-2048 generation takes 50-500 ms, so the key material is generated once per process (on the
// first start) and reused with a kid of each double's own: a token minted by one double names a
// kid no other double publishes. 'foreign' material is never published by any double.
const keyMaterial = new Map<'signing' | 'foreign' | 'aad', { privateKey: KeyObject; publicKey: KeyObject }>();

function rsaKey(slot: 'signing' | 'foreign' | 'aad', kid: string): RsaKey {
  let material = keyMaterial.get(slot);
  if (!material) {
    material = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keyMaterial.set(slot, material);
  }
  const exported = material.publicKey.export({ format: 'jwk' });
  if (typeof exported.n !== 'string' || typeof exported.e !== 'string') throw new Error('RSA key export without n/e');
  return { kid, privateKey: material.privateKey, publicKey: material.publicKey, jwk: { kty: 'RSA', n: exported.n, e: exported.e } };
}

const b64url = (value: Buffer | string): string => Buffer.from(value).toString('base64url');

/** Compact RS256 JWS, signed synchronously with node:crypto. */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

function decodeJwtPart(part: string | undefined): Record<string, unknown> | null {
  if (!part) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Header and payload of a JWT, not verified. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } | null {
  const [header, payload] = token.split('.');
  const h = decodeJwtPart(header);
  const p = decodeJwtPart(payload);
  return h && p ? { header: h, payload: p } : null;
}

function headersOf(raw: IncomingMessage['headers'] | Record<string, string | string[] | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return result;
}

interface Answer { status: number; body: unknown; headers?: Record<string, string> }

export async function startTeamsIdentityDouble(options: TeamsIdentityOptions): Promise<TeamsIdentityDouble> {
  const appId = options.appId;
  const nonce = randomBytes(6).toString('hex');
  const appPassword = options.appPassword ?? `secret-${randomBytes(12).toString('hex')}`;
  const tenantId = (options.tenantId ?? 'tenant-0001').toLowerCase();
  const appType = options.appType ?? 'SingleTenant';
  const endorsements = options.endorsements ?? ['msteams'];
  const tokenLifetimeSec = options.tokenLifetimeSec ?? 3600;
  const issuer = options.issuer ?? BOT_FRAMEWORK_TOKEN_ISSUER;
  const loginHost = `login-${nonce}.identity.test`;
  const loginOrigin = `https://${loginHost}`;
  const loginUrl = `${loginOrigin}/${tenantId}`;
  const oauthScope = `https://api.botframework.test/${nonce}`;

  const signing = rsaKey('signing', `latch-test-${nonce}`);
  const foreign = rsaKey('foreign', `latch-foreign-${nonce}`);
  // The "AAD" key that signs outbound access tokens; never published to botbuilder.
  const aad = rsaKey('aad', `aad-${nonce}`);

  const requests: IdentityRequest[] = [];
  const tokenRequests: TokenRequest[] = [];
  const issued = new Map<string, AccessTokenClaims>();
  let tokenFailures: { times: number; status: number; error: string; description: string } | null = null;
  let seq = 0;

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const openIdMetadataUrl = `${baseUrl}/openid/.well-known/openidconfiguration?double=${nonce}`;
  const emulatorMetadataUrl = `${baseUrl}/emulator/.well-known/openidconfiguration?double=${nonce}`;

  const loginOpenIdConfig = (origin: string, prefix: string): Record<string, unknown> => {
    const base = `${origin}${prefix}/${tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${origin}${prefix}/${tenantId}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${origin}${prefix}/${tenantId}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'ver'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'identity.test',
    };
  };

  const issueToken = (via: 'http' | 'nock', form: Record<string, string>): Answer => {
    const request: TokenRequest = {
      at: Date.now(), via, grantType: form.grant_type, clientId: form.client_id, clientSecret: form.client_secret, scope: form.scope, form, status: 200,
    };
    tokenRequests.push(request);
    const refuse = (status: number, error: string, description: string): Answer => {
      request.status = status;
      request.error = `${error}: ${description}`;
      return { status, body: { error, error_description: description, error_codes: [], timestamp: new Date().toISOString(), trace_id: nonce, correlation_id: nonce } };
    };
    if (tokenFailures && tokenFailures.times > 0) {
      tokenFailures.times -= 1;
      return refuse(tokenFailures.status, tokenFailures.error, tokenFailures.description);
    }
    if (form.grant_type !== 'client_credentials') return refuse(400, 'unsupported_grant_type', `AADSTS70003: grant type '${form.grant_type ?? ''}' is not supported by this double.`);
    if (form.client_id !== appId) return refuse(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenantId}'.`);
    if (form.client_secret !== appPassword) return refuse(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    const scopes = (form.scope ?? '').split(' ').filter(Boolean);
    if (scopes.length !== 1 || scopes[0] !== `${oauthScope}/.default`) {
      return refuse(400, 'invalid_scope', `AADSTS70011: The provided value for scope '${form.scope ?? ''}' is not valid; this double issues tokens for '${oauthScope}/.default' (ToChannelFromBotOAuthScope) only.`);
    }
    const now = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      aud: oauthScope, iss: `https://sts.windows.net/${tenantId}/`, appid: appId, tid: tenantId, iat: now, nbf: now - 5, exp: now + tokenLifetimeSec, ver: '1.0',
    };
    const accessToken = signJwt({ kid: aad.kid }, { ...claims, jti: randomBytes(8).toString('hex') }, aad.privateKey);
    issued.set(accessToken, claims);
    request.accessToken = accessToken;
    return { status: 200, body: { token_type: 'Bearer', expires_in: tokenLifetimeSec, ext_expires_in: tokenLifetimeSec, access_token: accessToken } };
  };

  const parseForm = (body: string): Record<string, string> => Object.fromEntries(new URLSearchParams(body).entries());

  /** Routes a request for the local server (origin = baseUrl, paths under /openid, /emulator, /login) or nock. */
  const handle = (via: 'http' | 'nock', method: string, url: URL, headers: Record<string, string>, body: string): Answer => {
    const record = (route: IdentityRoute, answer: Answer): Answer => {
      seq += 1;
      requests.push({ seq, at: Date.now(), via, method, url: url.toString(), route, headers, body, status: answer.status });
      return answer;
    };
    const path = url.pathname;
    if (via === 'http') {
      if (method === 'GET' && path === '/openid/.well-known/openidconfiguration') {
        return record('openid', {
          status: 200,
          body: {
            issuer, authorization_endpoint: `${baseUrl}/openid/authorize`, jwks_uri: `${baseUrl}/openid/keys`,
            id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['private_key_jwt'],
          },
        });
      }
      if (method === 'GET' && path === '/openid/keys') {
        return record('jwks', { status: 200, body: { keys: [{ ...signing.jwk, use: 'sig', kid: signing.kid, endorsements }] } });
      }
      if (method === 'GET' && path === '/emulator/.well-known/openidconfiguration') {
        return record('emulator-openid', { status: 200, body: { issuer: 'https://login.microsoftonline.com/emulator/v2.0', jwks_uri: `${baseUrl}/emulator/keys`, id_token_signing_alg_values_supported: ['RS256'] } });
      }
      if (method === 'GET' && path === '/emulator/keys') return record('emulator-jwks', { status: 200, body: { keys: [] } });
    }
    // The Entra ID endpoints: /login/... locally, the bare paths on the nock'ed https login host.
    const loginPrefix = via === 'http' ? '/login' : '';
    const origin = via === 'http' ? baseUrl : loginOrigin;
    if (method === 'GET' && (path === `${loginPrefix}${INSTANCE_DISCOVERY_PATH}` || (via === 'nock' && url.origin === INSTANCE_DISCOVERY_ORIGIN && path === INSTANCE_DISCOVERY_PATH))) {
      const host = via === 'http' ? new URL(baseUrl).host : loginHost;
      return record('instance-discovery', {
        status: 200,
        body: {
          tenant_discovery_endpoint: `${origin}${loginPrefix}/${tenantId}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        },
      });
    }
    if (path.startsWith(`${loginPrefix}/`)) {
      const rest = path.slice(loginPrefix.length + 1).split('/');
      const tenant = rest[0]?.toLowerCase();
      const tail = rest.slice(1).join('/');
      if (tenant === tenantId || tenant === 'common' || tenant === 'organizations') {
        if (method === 'GET' && (tail === 'v2.0/.well-known/openid-configuration' || tail === '.well-known/openid-configuration')) {
          return record('login-openid', { status: 200, body: loginOpenIdConfig(origin, loginPrefix) });
        }
        if (method === 'GET' && tail === 'discovery/v2.0/keys') {
          return record('login-jwks', { status: 200, body: { keys: [{ ...aad.jwk, use: 'sig', kid: aad.kid }] } });
        }
        if (method === 'POST' && tail === 'oauth2/v2.0/token') return record('token', issueToken(via, parseForm(body)));
      }
    }
    return record('unknown', { status: 404, body: { error: 'not_found', error_description: `identity double: no route for ${method} ${url.toString()}` } });
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = handle('http', req.method ?? 'GET', new URL(req.url ?? '/', baseUrl), headersOf(req.headers), Buffer.concat(chunks).toString('utf8'));
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
      res.end(JSON.stringify(answer.body));
    });
  });

  // The https side, in process. nock is active from import; these interceptors only match the
  // double's own login host and instance-discovery queries that name it.
  const nockReply = (method: string) => function (this: nock.ReplyFnContext, uri: string, body: nock.Body): nock.ReplyFnResult {
    const headers = headersOf(this.req.headers);
    const host = headers.host ?? loginHost;
    const url = new URL(uri, host === loginHost ? loginOrigin : INSTANCE_DISCOVERY_ORIGIN);
    const answer = handle('nock', method, url, headers, typeof body === 'string' ? body : JSON.stringify(body));
    return [answer.status, JSON.stringify(answer.body), { 'content-type': 'application/json; charset=utf-8', ...answer.headers }];
  };
  const interceptors: nock.Interceptor[] = [];
  const scopes: nock.Scope[] = [];
  const loginScope = nock(loginOrigin).persist();
  scopes.push(loginScope);
  for (const method of ['GET', 'POST'] as const) {
    const interceptor = loginScope.intercept(() => true, method);
    interceptors.push(interceptor);
    interceptor.reply(nockReply(method));
  }
  const discoveryScope = nock(INSTANCE_DISCOVERY_ORIGIN, { allowUnmocked: true }).persist();
  scopes.push(discoveryScope);
  const discovery = discoveryScope
    .get(INSTANCE_DISCOVERY_PATH)
    .query((query) => String(query.authorization_endpoint ?? '').toLowerCase().startsWith(`${loginOrigin}/`));
  interceptors.push(discovery);
  discovery.reply(nockReply('GET'));

  const double: TeamsIdentityDouble = {
    appId, appPassword, tenantId, appType, baseUrl, issuer, openIdMetadataUrl, loginUrl, oauthScope, kid: signing.kid, requests, tokenRequests,
    env() {
      return {
        MicrosoftAppId: appId,
        MicrosoftAppPassword: appPassword,
        MicrosoftAppType: appType,
        MicrosoftAppTenantId: tenantId,
        ToBotFromChannelOpenIdMetadataUrl: openIdMetadataUrl,
        ToBotFromChannelTokenIssuer: issuer,
        ToBotFromEmulatorOpenIdMetadataUrl: emulatorMetadataUrl,
        ToChannelFromBotLoginUrl: loginUrl,
        ToChannelFromBotOAuthScope: oauthScope,
        ValidateAuthority: 'false',
        CallerId: PUBLIC_AZURE_CALLER_ID,
        MICROSOFT_APP_ID: appId,
        MICROSOFT_APP_PASSWORD: appPassword,
        MICROSOFT_APP_TENANT_ID: tenantId,
        MICROSOFT_APP_TYPE: appType,
      };
    },
    mintToken(mint) {
      const now = Math.floor(Date.now() / 1000);
      const nbf = now + (mint.notBeforeSec ?? -60);
      const payload: Record<string, unknown> = {
        iss: mint.issuer ?? issuer,
        aud: mint.audience ?? appId,
        nbf,
        exp: now + (mint.expiresInSec ?? 3600),
        iat: Math.min(now, nbf),
        ...(mint.omitServiceUrl ? {} : { serviceurl: mint.serviceUrl }),
        ...mint.claims,
      };
      const key = mint.key === 'foreign' ? foreign : signing;
      return signJwt({ kid: mint.kid ?? signing.kid }, payload, key.privateKey);
    },
    verifyAccessToken(token) {
      const claims = issued.get(token);
      if (!claims) return null;
      const [header, payload, signature] = token.split('.');
      if (!header || !payload || !signature) return null;
      if (!verify('sha256', Buffer.from(`${header}.${payload}`), aad.publicKey, Buffer.from(signature, 'base64url'))) return null;
      return claims.exp > Math.floor(Date.now() / 1000) ? claims : null;
    },
    acceptsAuthorization(authorization) {
      const match = /^Bearer (\S+)$/.exec(authorization ?? '');
      return Boolean(match?.[1] && double.verifyAccessToken(match[1]));
    },
    failNextTokenRequests(times, error = {}) {
      tokenFailures = { times, status: error.status ?? 401, error: error.error ?? 'invalid_client', description: error.description ?? 'AADSTS7000215: Invalid client secret provided.' };
    },
    async close() {
      for (const scope of scopes) scope.persist(false);
      for (const interceptor of interceptors) nock.removeInterceptor(interceptor);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return double;
}
