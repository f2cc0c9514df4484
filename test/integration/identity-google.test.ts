import { createVerify, generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { googleReader, GOOGLE_SCOPES } from '../../bot/identity/google.js';
import { IdentitySource } from '../../config/schema.js';

const API = 'https://admin.googleapis.com';
const TOKEN_URL = 'https://oauth2.googleapis.com/token';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY = JSON.stringify({ type: 'service_account', client_email: 'latch-sync@corp-project.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: TOKEN_URL });
const source = IdentitySource.parse({ type: 'google', serviceAccountKey: { env: 'GOOGLE_SA_KEY' }, subject: 'admin@corp.com' });
if (source.type !== 'google') throw new Error('parsed as another source');

const user = (id: string, email: string, extra: Record<string, unknown> = {}) => ({ kind: 'admin#directory#user', id, primaryEmail: email, name: { fullName: email.split('@')[0] }, suspended: false, archived: false, ...extra });

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('Google Workspace as an identity source', () => {
  it('signs a delegated JWT, reads users through nextPageToken and a 429, and group members with nested groups', async () => {
    const assertions: string[] = [];
    nock('https://oauth2.googleapis.com').post('/token').reply((_uri, body) => {
      const form = new URLSearchParams(String(body));
      expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
      assertions.push(form.get('assertion') ?? '');
      return [200, { access_token: 'ya29.google-token-for-latch', expires_in: 3599, token_type: 'Bearer' }];
    });
    const seen: string[] = [];
    nock(API).get('/admin/directory/v1/users').query((q) => q.customer === 'my_customer' && q.pageToken === undefined).reply(function first() {
      seen.push(String(this.req.headers.authorization));
      return [200, { kind: 'admin#directory#users', users: [user('101', 'alice@corp.com', { relations: [{ type: 'manager', value: 'Carol@corp.com' }] }), user('102', 'bob@corp.com', { suspended: true })], nextPageToken: 'page-2' }];
    });
    nock(API).get('/admin/directory/v1/users').query((q) => q.pageToken === 'page-2').reply(429, { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } }, { 'Retry-After': '0' });
    nock(API).get('/admin/directory/v1/users').query((q) => q.pageToken === 'page-2').reply(200, { kind: 'admin#directory#users', users: [user('103', 'carol@corp.com'), user('104', 'dan@corp.com', { archived: true })] });
    nock(API).get('/admin/directory/v1/groups/eng%40corp.com/members').query((q) => q.includeDerivedMembership === 'true' && q.pageToken === undefined)
      .reply(200, { kind: 'admin#directory#members', members: [{ id: '101', email: 'alice@corp.com', role: 'MEMBER', type: 'USER', status: 'ACTIVE' }, { id: '900', email: 'sub@corp.com', type: 'GROUP' }], nextPageToken: 'm2' });
    nock(API).get('/admin/directory/v1/groups/eng%40corp.com/members').query((q) => q.pageToken === 'm2')
      .reply(200, { kind: 'admin#directory#members', members: [{ id: '103', email: 'carol@corp.com', role: 'OWNER', type: 'USER', status: 'ACTIVE' }] });
    const now = Date.parse('2026-12-02T01:00:00Z');
    const snapshot = await googleReader(source, { GOOGLE_SA_KEY: KEY }, { now: () => now }).read(['eng@corp.com']);

    const [header, claims, signature] = (assertions[0] ?? '').split('.');
    expect(createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, Buffer.from(signature ?? '', 'base64url'))).toBe(true);
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(claims ?? '', 'base64url').toString())).toEqual({
      iss: 'latch-sync@corp-project.iam.gserviceaccount.com', sub: 'admin@corp.com', scope: GOOGLE_SCOPES.join(' '), aud: TOKEN_URL, iat: now / 1000, exp: now / 1000 + 3600,
    });
    expect(seen).toEqual(['Bearer ya29.google-token-for-latch']);
    expect(snapshot.people).toEqual([
      { id: '101', email: 'alice@corp.com', name: 'alice', active: true, manager: 'carol@corp.com' },
      { id: '102', email: 'bob@corp.com', name: 'bob', active: false, manager: null },
      { id: '103', email: 'carol@corp.com', name: 'carol', active: true, manager: null },
      { id: '104', email: 'dan@corp.com', name: 'dan', active: false, manager: null },
    ]);
    expect(snapshot.groups).toEqual([{ id: 'eng@corp.com', name: 'eng@corp.com', members: ['101', '103'] }]);
    expect(nock.isDone()).toBe(true);
  });

  it('fails the whole read when a page fails, so the last good snapshot stays', async () => {
    nock('https://oauth2.googleapis.com').post('/token').reply(200, { access_token: 'ya29.t', expires_in: 3599 });
    nock(API).get('/admin/directory/v1/users').query(true).reply(200, { users: [user('101', 'alice@corp.com')], nextPageToken: 'p2' });
    nock(API).get('/admin/directory/v1/users').query((q) => q.pageToken === 'p2').reply(403, { error: { code: 403, message: 'Not Authorized to access this resource/api' } });
    await expect(googleReader(source, { GOOGLE_SA_KEY: KEY }, { now: Date.now }).read([])).rejects.toThrow(/answered 403 for \/admin\/directory\/v1\/users/);
  });

  it('says which variable is missing or broken without echoing it', async () => {
    await expect(googleReader(source, {}, { now: Date.now }).read([])).rejects.toThrow('identity source google (Google Workspace): environment variable GOOGLE_SA_KEY (serviceAccountKey) is not set');
    await expect(googleReader(source, { GOOGLE_SA_KEY: 'not-json-secret' }, { now: Date.now }).read([])).rejects.toThrow(/^identity source google \(Google Workspace\): GOOGLE_SA_KEY is not a service account JSON key$/);
  });
});
