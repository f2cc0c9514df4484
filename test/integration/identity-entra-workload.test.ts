// Entra through workload identity (AKS, or any federated credential): the projected token in
// the file is what Latch presents to Entra, as a client assertion, with no secret anywhere.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entraCredential } from '../../bot/identity/entra.js';
import { IdentitySource } from '../../config/schema.js';
import { ENTRA_AUTHORITY, fakeEntraLogin } from '../support/identity-fakes.js';

const TENANT = 'tenant-workload-0001';
const CLIENT_ID = '3f2b8c1e-5a4d-4e6f-9b0a-7c1d2e3f4a5b';
const PROJECTED = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bGF0Y2g6bGF0Y2gifQ.c2lnbmF0dXJl';
let dir: string;
let login: { posts: URLSearchParams[] };

beforeAll(() => {
  nock.disableNetConnect();
  login = fakeEntraLogin(TENANT);
  dir = mkdtempSync(join(tmpdir(), 'latch-workload-'));
  writeFileSync(join(dir, 'token'), PROJECTED);
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  rmSync(dir, { recursive: true, force: true });
});

const source = (extra: Record<string, unknown>) => {
  const parsed = IdentitySource.parse({ type: 'entra', tenantId: TENANT, authorityHost: ENTRA_AUTHORITY, ...extra });
  if (parsed.type !== 'entra') throw new Error('not an entra source');
  return parsed;
};

describe('Entra workload identity', () => {
  it('presents the federated token from the file as the client assertion for a Graph token', async () => {
    const credential = entraCredential(source({ clientId: CLIENT_ID, federatedTokenFile: join(dir, 'token') }), {});
    const token = await credential.getToken('https://graph.microsoft.com/.default');
    expect(token?.token).toBe('graph-token-for-latch-0123456789');
    const post = login.posts.at(-1);
    expect(post?.get('grant_type')).toBe('client_credentials');
    expect(post?.get('client_id')).toBe(CLIENT_ID);
    expect(post?.get('client_assertion')).toBe(PROJECTED);
    expect(post?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(post?.has('client_secret')).toBe(false);
  });

  it('takes the token file and client id the workload identity webhook puts in the environment', async () => {
    const before = login.posts.length;
    const credential = entraCredential(source({}), { AZURE_FEDERATED_TOKEN_FILE: join(dir, 'token'), AZURE_CLIENT_ID: CLIENT_ID });
    await credential.getToken('https://graph.microsoft.com/.default');
    expect(login.posts.slice(before).map((post) => [post.get('client_id'), post.get('client_assertion')])).toEqual([[CLIENT_ID, PROJECTED]]);
  });

  it('says what is missing when there is a token file but no client id', () => {
    expect(() => entraCredential(source({}), { AZURE_FEDERATED_TOKEN_FILE: join(dir, 'token') })).toThrow("identity source entra: workload identity needs the app's clientId (in the config, or AZURE_CLIENT_ID)");
  });
});
