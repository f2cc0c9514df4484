// Okta through an OAuth 2.0 service app: the client-credentials grant signed with the app's
// private key (private_key_jwt), the scoped access token on every API call, kept until just
// before it ends — and no API token anywhere.
import { createVerify, generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { oktaReader } from '../../bot/identity/okta.js';
import { IdentitySource } from '../../config/schema.js';
import { fakeOktaRead, OKTA } from '../support/identity-fakes.js';

const CLIENT_ID = '0oa8latchsvc0123456';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ENV = { OKTA_SERVICE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
const TOKEN_URL = `${OKTA}/oauth2/v1/token`;

beforeEach(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const source = (oauth: Record<string, unknown>) => {
  const parsed = IdentitySource.parse({ type: 'okta', url: OKTA, oauth: { clientId: CLIENT_ID, privateKey: { env: 'OKTA_SERVICE_KEY' }, ...oauth } });
  if (parsed.type !== 'okta') throw new Error('not an okta source');
  return parsed;
};

function fakeTokenEndpoint(expiresIn = 3600): URLSearchParams[] {
  const posts: URLSearchParams[] = [];
  nock(OKTA).persist().post('/oauth2/v1/token').reply((_uri, body) => {
    posts.push(new URLSearchParams(String(body)));
    return [200, { token_type: 'Bearer', expires_in: expiresIn, access_token: `okta-access-${posts.length}`, scope: 'okta.users.read okta.groups.read' }];
  });
  return posts;
}

const users = [{ id: '00u1', status: 'ACTIVE' as const, login: 'alice@example.com' }, { id: '00u2', status: 'SUSPENDED' as const, login: 'bob@example.com' }];

describe('Okta service app (OAuth 2.0, private_key_jwt)', () => {
  it('signs the client assertion with the app key and calls the API with the scoped token', async () => {
    const posts = fakeTokenEndpoint();
    const calls = fakeOktaRead(users, [{ id: '00g1', name: 'sre', members: ['00u1'] }]);
    const snapshot = await oktaReader(source({ keyId: 'latch-key-1' }), ENV, { sleep: async () => {} }).read(['sre']);
    expect(snapshot.people.map((person) => [person.email, person.active])).toEqual([['alice@example.com', true], ['bob@example.com', false]]);

    expect(posts).toHaveLength(1);
    const form = posts[0];
    expect(form?.get('grant_type')).toBe('client_credentials');
    expect(form?.get('scope')).toBe('okta.users.read okta.groups.read');
    expect(form?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const [header, claims, signature] = (form?.get('client_assertion') ?? '').split('.');
    expect(createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, Buffer.from(signature ?? '', 'base64url'))).toBe(true);
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'latch-key-1' });
    const payload = JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: TOKEN_URL });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(300);
    expect(typeof payload.jti).toBe('string');

    expect(new Set(calls.map((call) => call.authorization))).toEqual(new Set(['Bearer okta-access-1']));
  });

  it('keeps the token until a minute before it ends, then asks for a new one', async () => {
    const posts = fakeTokenEndpoint(600);
    let now = Date.parse('2026-12-02T03:00:00Z');
    const reader = oktaReader(source({}), ENV, { sleep: async () => {}, now: () => now });
    fakeOktaRead(users, []);
    await reader.read([]);
    now += 500_000;
    const second = fakeOktaRead(users, []);
    await reader.read([]);
    expect(posts).toHaveLength(1);
    expect(second.every((call) => call.authorization === 'Bearer okta-access-1')).toBe(true);
    now += 50_000;
    const third = fakeOktaRead(users, []);
    await reader.read([]);
    expect(posts).toHaveLength(2);
    expect(third.every((call) => call.authorization === 'Bearer okta-access-2')).toBe(true);
  });

  it('refuses a config with both an API token and a service app, or neither', () => {
    expect(IdentitySource.safeParse({ type: 'okta', url: OKTA, token: { env: 'OKTA_TOKEN' }, oauth: { clientId: CLIENT_ID, privateKey: { env: 'K' } } }).error?.issues[0]?.message).toBe('give either token (an API token) or oauth (a service app), not both');
    expect(IdentitySource.safeParse({ type: 'okta', url: OKTA }).success).toBe(false);
  });

  it('says which variable is not a private key', async () => {
    fakeTokenEndpoint();
    await expect(oktaReader(source({}), { OKTA_SERVICE_KEY: 'not a key' }, { sleep: async () => {} }).read([])).rejects.toThrow('identity source okta (Okta): OKTA_SERVICE_KEY is not a private key (PEM or JWK)');
  });
});
