import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AzureLogger, getLogLevel, setLogLevel, type AzureLogLevel } from '@azure/logger';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { AzurePostgresProvisioner, AzureTokenError, createAzurePostgresProvisioner } from '../../provisioners/azure-postgres.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import { startLoginGate, type LoginGate } from '../support/pg-login-gate.js';
import { createTestDatabase, PG_SUPERUSER, randomSuffix, type TestDatabase } from '../support/postgres.js';

// The connector's credential kinds, driven through @azure/identity against a fake Entra
// (nock) and logging in through a gate that behaves like Azure's: it asks for a password
// in clear text and lets in only a token the fake Entra issued and that has not expired.
// The local server behind it trusts everyone, so without the gate nothing would show
// which token a new connection carried.

const AUTHORITY = 'https://login.latch-test.example';
const PUBLIC_CLOUD = 'https://login.microsoftonline.com';
const SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';
const IMDS = 'http://169.254.169.254';
const SECRET_ENV = 'LATCH_TEST_AZURE_PG_SECRET';

let db: TestDatabase;
let gate: LoginGate;
let scratch: string;
const opened: AzurePostgresProvisioner[] = [];

// ---------------------------------------------------------------- the fake Entra

interface TokenReply { expiresIn?: number; status?: number; error?: Record<string, unknown> }

/**
 * Entra for one tenant at AUTHORITY: the metadata MSAL asks for about an authority host it
 * does not know (instance discovery goes to the public cloud), and a token endpoint that
 * answers each POST with the next queued reply and records the form it was sent.
 */
function fakeEntra(tenant: string) {
  const posts: URLSearchParams[] = [];
  const queue: TokenReply[] = [];
  const base = `${AUTHORITY}/${tenant}`;
  nock(PUBLIC_CLOUD).persist()
    .get('/common/discovery/instance')
    .query((query) => query.authorization_endpoint === `${base}/oauth2/v2.0/authorize`)
    .reply(200, { tenant_discovery_endpoint: `${base}/v2.0/.well-known/openid-configuration`, 'api-version': '1.1', metadata: [] });
  nock(AUTHORITY).persist()
    .get(`/${tenant}/v2.0/.well-known/openid-configuration`)
    .reply(200, {
      token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`, issuer: `${base}/v2.0`, jwks_uri: `${base}/discovery/v2.0/keys`,
    });
  nock(AUTHORITY).persist()
    .post(`/${tenant}/oauth2/v2.0/token`).query(true)
    .reply((_uri, body) => {
      posts.push(new URLSearchParams(String(body)));
      const next = queue.shift();
      if (!next) return [400, { error: 'invalid_request', error_description: 'AADSTS90000: the test expected no further token request' }];
      if (next.error) return [next.status ?? 400, next.error];
      const token = `entra-${randomSuffix(24)}`;
      const expiresIn = next.expiresIn ?? 3599;
      issued.set(token, Date.now() + expiresIn * 1000);
      return [200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token }];
    });
  return {
    posts,
    issue(reply: TokenReply = {}) {
      queue.push(reply);
    },
    refuse(status: number, code: number, error: string, description: string) {
      queue.push({ status, error: { error, error_description: `AADSTS${code}: ${description} Trace ID: 0 Correlation ID: 0 Timestamp: 2026-01-01 00:00:00Z`, error_codes: [code], trace_id: '0', correlation_id: '0' } });
    },
  };
}

// ---------------------------------------------------------------- the login gate

/** Tokens the fake Entra issued, with their expiry (ms): the gate lets in only these, until then. */
const issued = new Map<string, number>();

// ---------------------------------------------------------------- helpers

function integration(connection: Record<string, string | number | boolean>, credentials: Record<string, unknown> = { none: true }): Integration {
  return IntegrationSchema.parse({
    name: 'orders-azure', type: 'azure-postgresql', owner: 'group:leads', credentials,
    connection: { host: '127.0.0.1', port: gate.port, user: PG_SUPERUSER, ssl: 'disable', ...connection },
    resources: [{ name: 'orders', settings: { database: db.database }, permissions: { read: { roles: [db.readRole] } } }],
  });
}

function open(target: Integration, env: NodeJS.ProcessEnv): AzurePostgresProvisioner {
  const created = createAzurePostgresProvisioner(target, env) as AzurePostgresProvisioner;
  opened.push(created);
  return created;
}

function checkInput(target: Integration): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee: `nobody.${db.suffix}@contoso.example`, integration: target, resource, permission: 'read',
    permissionSettings: resource.permissions.read ?? {}, principal: `${db.instance}_x_${randomSuffix(6)}`, expiresAt: Date.now() + 3_600_000,
  };
}

async function healthOf(provisioner: AzurePostgresProvisioner): Promise<Record<string, { ok: boolean; detail?: string }>> {
  const report = await provisioner.checkHealth();
  return Object.fromEntries(report.checks.map((check) => [check.name, { ok: check.ok, detail: check.detail }]));
}

/** Everything the Azure SDK logs (at verbose) while `work` runs. */
async function azureLogsDuring<T>(work: () => Promise<T>): Promise<{ result: T; logs: string }> {
  const lines: string[] = [];
  const previousLevel = getLogLevel() as AzureLogLevel | undefined;
  const previousLog = AzureLogger.log;
  setLogLevel('verbose');
  AzureLogger.log = (...args: unknown[]) => {
    lines.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
  };
  try {
    return { result: await work(), logs: lines.join('\n') };
  } finally {
    AzureLogger.log = previousLog;
    setLogLevel(previousLevel);
  }
}

const AZURE_ENV = ['AZURE_AUTHORITY_HOST', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_SECRET', 'AZURE_REGIONAL_AUTHORITY_NAME',
  'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'AZURE_POD_IDENTITY_AUTHORITY_HOST', 'AZURE_LOG_LEVEL'];
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  // The provisioner reads its env argument; the SDK must not find a way out through process.env.
  for (const key of AZURE_ENV) {
    savedEnv[key] = process.env[key];
    delete process.env[key];
  }
  nock.disableNetConnect();
  db = await createTestDatabase();
  gate = await startLoginGate((_user, password) => (issued.get(password) ?? 0) > Date.now());
  scratch = mkdtempSync(join(tmpdir(), 'latch-azure-'));
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  await Promise.allSettled(opened.map((each) => each.close()));
  await gate?.close();
  nock.enableNetConnect();
  nock.restore();
  for (const [key, value] of Object.entries(savedEnv)) if (value !== undefined) process.env[key] = value;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  await db?.cleanup();
});

// ---------------------------------------------------------------- tests

describe('Azure PostgreSQL connector identities', () => {
  it('workload identity: sends the federated token file as a client assertion, to the authority host of its environment, and logs in with the answer', async () => {
    const tenant = crypto.randomUUID();
    const clientId = crypto.randomUUID();
    const tokenFile = join(scratch, `federated-${randomSuffix()}`);
    const assertion = `eyJhbGciOiJSUzI1NiJ9.${randomSuffix(40)}.${randomSuffix(40)}`;
    writeFileSync(tokenFile, assertion);
    const entra = fakeEntra(tenant);
    entra.issue();
    // What the AKS webhook injects; no client or tenant id in the connection.
    const provisioner = open(integration({ auth: 'workload-identity' }), {
      AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: tenant, AZURE_AUTHORITY_HOST: AUTHORITY,
    });

    const health = await healthOf(provisioner);
    expect(health.token).toMatchObject({ ok: true });
    expect(health.login).toMatchObject({ ok: true });
    expect(entra.posts).toHaveLength(1);
    const form = Object.fromEntries(entra.posts[0] ?? []);
    expect(form).toMatchObject({
      grant_type: 'client_credentials', client_id: clientId, scope: SCOPE, client_assertion: assertion,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    expect(form).not.toHaveProperty('client_secret');
    expect(gate.logins.at(-1)).toEqual({ user: PG_SUPERUSER, password: [...issued.keys()].at(-1), accepted: true });
  });

  it('service principal: sends the client secret from its environment variable and logs in with the answer; the secret is in no log', async () => {
    const tenant = crypto.randomUUID();
    const clientId = crypto.randomUUID();
    const secret = `sp~${randomSuffix(32)}`;
    const entra = fakeEntra(tenant);
    entra.issue();
    const provisioner = open(integration({ auth: 'service-principal', tenantId: tenant, clientId, authorityHost: AUTHORITY }, { env: SECRET_ENV }), { [SECRET_ENV]: secret });

    const { result: health, logs } = await azureLogsDuring(() => healthOf(provisioner));
    expect(health.token).toMatchObject({ ok: true });
    expect(health.login).toMatchObject({ ok: true });
    expect(entra.posts).toHaveLength(1);
    expect(Object.fromEntries(entra.posts[0] ?? [])).toMatchObject({ grant_type: 'client_credentials', client_id: clientId, scope: SCOPE, client_secret: secret });
    expect(gate.logins.at(-1)).toMatchObject({ user: PG_SUPERUSER, accepted: true });
    expect(logs).toContain('ClientSecretCredential');
    expect(logs).not.toContain(secret);
  });

  it('managed identity: the IMDS token is what the new connection logs in with', async () => {
    const clientId = crypto.randomUUID();
    nock(IMDS, { reqheaders: { metadata: 'true' } })
      .get('/metadata/identity/oauth2/token')
      .query({ 'api-version': '2018-02-01', resource: 'https://ossrdbms-aad.database.windows.net', client_id: clientId })
      .reply(200, () => {
        const token = `imds-${randomSuffix(24)}`;
        issued.set(token, Date.now() + 3_599_000);
        const now = Math.floor(Date.now() / 1000);
        return { access_token: token, expires_in: '3599', expires_on: String(now + 3599), not_before: String(now), resource: 'https://ossrdbms-aad.database.windows.net', token_type: 'Bearer' };
      });
    const provisioner = open(integration({ clientId }), {});
    await expect(provisioner.check(checkInput(integration({ clientId })))).resolves.toBe('absent');
    expect(gate.logins.at(-1)).toEqual({ user: PG_SUPERUSER, password: [...issued.keys()].at(-1), accepted: true });
  });

  it('replaces a token near its expiry for the next new connection, going by the expiry the token came with', async () => {
    const tenant = crypto.randomUUID();
    const clientId = crypto.randomUUID();
    const entra = fakeEntra(tenant);
    entra.issue({ expiresIn: 240 }); // valid, but inside the five-minute margin
    entra.issue({ expiresIn: 3599 });
    const config = integration({ auth: 'service-principal', tenantId: tenant, clientId, authorityHost: AUTHORITY }, { env: SECRET_ENV });
    const provisioner = open(config, { [SECRET_ENV]: `sp~${randomSuffix(32)}` });
    const input = checkInput(config);
    const before = gate.logins.length;
    const passwords = () => gate.logins.slice(before).map((login) => login.password);

    await provisioner.check(input);
    const [first] = passwords();
    expect(first).toBeDefined();
    // One idle connection: a second, concurrent call needs a new one, which must not reuse the old token.
    await Promise.all([provisioner.check(input), provisioner.check(input)]);
    const [, second] = passwords();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(entra.posts).toHaveLength(2);
    // The new token has an hour: the next new connection keeps it (a third POST would be refused).
    await Promise.all([provisioner.check(input), provisioner.check(input), provisioner.check(input)]);
    expect(passwords()).toEqual([first, second, second]);
    expect(gate.logins.slice(before).every((login) => login.accepted)).toBe(true);
    expect(entra.posts).toHaveLength(2);
  });

  it.each([
    {
      kind: 'service principal', code: 700016, error: 'unauthorized_client',
      description: "Application with identifier 'x' was not found in the directory 'Contoso'.",
      hint: /the app \(client\) id is not registered in that tenant: check clientId and tenantId/,
    },
    {
      kind: 'service principal', code: 7000215, error: 'invalid_client',
      description: 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      hint: new RegExp(`the client secret is not valid for this app: check the value of ${SECRET_ENV}`),
    },
    {
      kind: 'workload identity', code: 70021, error: 'invalid_request',
      description: 'No matching federated identity record found for presented assertion.',
      hint: /no federated identity credential .* matches the service account token/,
    },
  ])('a refusal from the token endpoint ($kind, AADSTS$code) is a clear error naming the integration and the identity, never the secret', async ({ kind, code, error, description, hint }) => {
    const tenant = crypto.randomUUID();
    const clientId = crypto.randomUUID();
    const secret = `sp~${randomSuffix(32)}`;
    const entra = fakeEntra(tenant);
    entra.refuse(code === 7000215 ? 401 : 400, code, error, description);
    entra.refuse(code === 7000215 ? 401 : 400, code, error, description);
    const tokenFile = join(scratch, `federated-${randomSuffix()}`);
    writeFileSync(tokenFile, `eyJ.${randomSuffix(20)}.sig`);
    const config = kind === 'service principal'
      ? integration({ auth: 'service-principal', tenantId: tenant, clientId, authorityHost: AUTHORITY }, { env: SECRET_ENV })
      : integration({ auth: 'workload-identity', tenantId: tenant, clientId, authorityHost: AUTHORITY });
    const provisioner = open(config, { [SECRET_ENV]: secret, AZURE_FEDERATED_TOKEN_FILE: tokenFile });
    const logins = gate.logins.length;

    const { result, logs } = await azureLogsDuring(async () => ({
      health: await healthOf(provisioner),
      use: await provisioner.check(checkInput(config)).then(() => null, (failure: unknown) => failure),
    }));
    const expected = new RegExp(`^integration "orders-azure" \\(${kind}, client id ${clientId}, tenant ${tenant}\\): could not obtain an Entra token for ${SCOPE.replaceAll('.', '\\.')}: `);
    expect(result.health.token?.ok).toBe(false);
    expect(result.health.token?.detail).toMatch(expected);
    expect(result.health.token?.detail).toMatch(hint);
    expect(result.health.token?.detail).toContain(`AADSTS${code}: ${description}`);
    expect(result.health.login).toBeUndefined();
    // The same error when a pool connection needs the token.
    expect(result.use).toBeInstanceOf(AzureTokenError);
    expect((result.use as Error).message).toMatch(expected);
    for (const text of [result.health.token?.detail ?? '', (result.use as Error).message, String((result.use as Error).stack), logs]) expect(text).not.toContain(secret);
    // Refused before any connection was attempted.
    expect(gate.logins.length).toBe(logins);
    expect(entra.posts).toHaveLength(2);
  });
});
