import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { AzurePostgresProvisioner, createAzurePostgresProvisioner } from '../../provisioners/azure-postgres.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import { asSuperuser, connectAs, createTestDatabase, PG_HOST, PG_PORT, PG_SUPERUSER, randomSuffix, type TestDatabase } from '../support/postgres.js';

// Real PostgreSQL (trust auth, so the token-as-password is not checked by the server: the
// tests check that the pg password function handed it over). IMDS is faked with nock. The
// pgaadauth_create_principal stand-in lives in a schema of this run in the postgres
// database, put on the connector's search_path through the test-only `searchPath` key.

const IMDS = 'http://169.254.169.254';
const RESOURCE = 'https://ossrdbms-aad.database.windows.net';
const id = pg.escapeIdentifier;

let db: TestDatabase;
let schema: string;
const opened: AzurePostgresProvisioner[] = [];
const principals: string[] = [];

function integration(connection: Record<string, string | number | boolean> = {}, settings: Record<string, unknown> = {}, extraResources: Record<string, unknown>[] = []): Integration {
  return IntegrationSchema.parse({
    name: 'orders-azure', type: 'azure-postgresql', owner: 'group:leads',
    connection: { host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER, ssl: 'disable', clientId: crypto.randomUUID(), searchPath: schema, ...connection },
    resources: [
      { name: 'orders', settings: { database: db.database, ...settings }, permissions: { read: { roles: [db.readRole] }, write: { roles: [db.readRole, db.writeRole] } } },
      ...extraResources,
    ],
  });
}

function open(target: Integration): AzurePostgresProvisioner {
  const created = createAzurePostgresProvisioner(target, {}) as AzurePostgresProvisioner;
  opened.push(created);
  return created;
}

/** Fakes IMDS for one client id; returns the scope and the tokens it handed out. */
function fakeImds(clientId: string, times = 1) {
  const issued: string[] = [];
  const scope = nock(IMDS, { reqheaders: { metadata: 'true' } })
    .get('/metadata/identity/oauth2/token')
    .query((query) => query['api-version'] === '2018-02-01' && query.resource === RESOURCE && query.client_id === clientId)
    .times(times)
    .reply(200, () => {
      const token = `tok-${randomSuffix(24)}`;
      issued.push(token);
      const now = Math.floor(Date.now() / 1000);
      return { access_token: token, expires_in: '3599', expires_on: String(now + 3599), not_before: String(now), resource: RESOURCE, token_type: 'Bearer' };
    });
  return { scope, issued };
}

function grantFor(target: Integration, grantee: string, permission = 'read', resourceName = 'orders'): GrantInput {
  const resource = target.resources.find((each) => each.name === resourceName);
  if (!resource) throw new Error(`no resource ${resourceName}`);
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: target, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal: `${db.instance}_x_${randomSuffix(6)}`, expiresAt: Date.now() + 3_600_000,
  };
}

/** A principal name with @ and . that this run owns (cleaned up after). */
function person(local: string): string {
  const name = `${local}.${db.suffix}@contoso.example`;
  principals.push(name);
  return name;
}

async function membership(name: string): Promise<string[]> {
  return (await db.role(name))?.memberOf ?? [];
}

const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const key of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'AZURE_POD_IDENTITY_AUTHORITY_HOST']) {
    savedEnv[key] = process.env[key];
    delete process.env[key];
  }
  nock.disableNetConnect();
  db = await createTestDatabase();
  schema = `latch_t_${db.suffix}`;
  await asSuperuser(async (client) => {
    await client.query(`CREATE SCHEMA ${id(schema)}`);
    // The stand-in: creates a LOGIN role (Azure's do log in, with tokens), raises the seeds' errors on magic names.
    await client.query(`
      CREATE FUNCTION ${id(schema)}.pgaadauth_create_principal(name text, isadmin boolean, ismfa boolean) RETURNS text LANGUAGE plpgsql AS $fn$
      BEGIN
        IF name LIKE 'ghost.%' THEN
          RAISE EXCEPTION 'Could not validate AAD user 00000000-0000-0000-0000-000000000000 because its name is not found in the tenant.';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
          RAISE EXCEPTION 'role "%" already exists', name;
        END IF;
        EXECUTE format('CREATE ROLE %I LOGIN', name);
        RETURN format('Created role for "%s"', name);
      END $fn$`);
  });
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  await Promise.allSettled(opened.map((each) => each.close()));
  nock.enableNetConnect();
  nock.restore();
  for (const [key, value] of Object.entries(savedEnv)) if (value !== undefined) process.env[key] = value;
  await asSuperuser(async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${id(schema)} CASCADE`);
    const { rows } = await client.query<{ name: string }>('SELECT rolname::text AS name FROM pg_roles WHERE rolname = ANY($1::name[])', [principals]);
    if (rows.length > 0) {
      await client.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = ANY($1::name[])', [rows.map((row) => row.name)]);
      await client.query(`DROP ROLE ${rows.map((row) => id(row.name)).join(', ')}`);
    }
  });
  await db?.cleanup();
});

describe('Azure PostgreSQL provisioner (Entra mode)', () => {
  // That the token reaches the login is shown in azure-postgres-identity.test.ts: the server
  // here trusts everyone, so pg never calls its password function.
  it('gets an IMDS token for the right resource and client id, once, and reuses it', async () => {
    const config = integration();
    const clientId = String(config.connection.clientId);
    const imds = fakeImds(clientId);
    const provisioner = open(config);
    const password = vi.spyOn(provisioner, 'connectorPassword');
    const health = await provisioner.checkHealth();
    expect(health.checks.filter((check) => !check.ok)).toEqual([]);
    expect(health.ok).toBe(true);
    expect(imds.scope.isDone()).toBe(true);
    expect(imds.issued).toHaveLength(1);
    expect(password).toHaveBeenCalled();
    await expect(password.mock.results[0]?.value).resolves.toBe(imds.issued[0]);
    // Cached: a second connection reuses the token, no second IMDS call (nock would refuse it).
    await expect(provisioner.connectorPassword()).resolves.toBe(imds.issued[0]);
  });

  it('grants: creates the Entra principal (quoted @ and .) and the membership; twice is fine; check sees it', async () => {
    const config = integration();
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const name = person('alice');
    const input = grantFor(config, name, 'write');
    const out = await provisioner.grant(input);
    expect(out.principal).toBe(name);
    expect(out.secrets).toBeUndefined();
    expect(out.details).toMatchObject({ host: PG_HOST, port: String(PG_PORT), database: db.database, username: name });
    expect(out.details?.passwordHint).toContain('az account get-access-token --resource-type oss-rdbms');
    expect(await membership(name)).toEqual([db.readRole, db.writeRole].sort());
    await provisioner.grant(input);
    expect(await membership(name)).toEqual([db.readRole, db.writeRole].sort());
    expect(await provisioner.check(input)).toBe('present');
    expect((await provisioner.listManaged(config)).map((entry) => entry.principal)).toContain(name);
    await provisioner.revoke(input);
  });

  it('treats an already existing principal ("already exists") as success', async () => {
    const config = integration();
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const name = person('preexisting');
    await db.query(`CREATE ROLE ${id(name)} LOGIN`);
    await provisioner.grant(grantFor(config, name));
    expect(await membership(name)).toEqual([db.readRole]);
  });

  it('revoke removes the membership, ends open sessions, keeps the Entra role; twice is fine', async () => {
    const config = integration();
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const name = person('bob');
    const input = grantFor(config, name);
    await provisioner.grant(input);
    const session = await connectAs({ user: name, database: db.database });
    expect((await session.query('SELECT count(*)::int AS n FROM public.items')).rows).toEqual([{ n: 1 }]);
    const ended = new Promise<void>((resolve) => session.once('end', () => resolve()));
    await provisioner.revoke(input);
    await ended;
    expect(await membership(name)).toEqual([]);
    expect(await db.role(name)).not.toBeNull();
    expect(await provisioner.check(input)).toBe('absent');
    await provisioner.revoke(input);
    await session.end().catch(() => undefined);
  });

  it('revoke leaves the group roles another active grant of the same person still needs, and still ends their sessions', async () => {
    // alpha and beta share the read role; each has one of its own.
    const alphaRole = `${db.prefix}_alpha`;
    const betaRole = `${db.prefix}_beta`;
    await db.query(`CREATE ROLE ${id(alphaRole)} NOLOGIN; CREATE ROLE ${id(betaRole)} NOLOGIN`);
    const config = integration({}, {}, [{
      name: 'ledger', settings: { database: db.database },
      permissions: { alpha: { roles: [db.readRole, alphaRole] }, beta: { roles: [db.readRole, betaRole] } },
    }]);
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const name = person('grace');
    const alpha = grantFor(config, name, 'alpha', 'ledger');
    const beta = grantFor(config, name, 'beta', 'ledger');
    await provisioner.grant(alpha);
    await provisioner.grant(beta);
    expect(await membership(name)).toEqual([alphaRole, betaRole, db.readRole].sort());

    const session = await connectAs({ user: name, database: db.database });
    const ended = new Promise<void>((resolve) => session.once('end', () => resolve()));
    const stillHeld = [{ grantId: beta.grantId, resource: beta.resource, permission: beta.permission, permissionSettings: beta.permissionSettings }];
    await provisioner.revoke({ ...alpha, stillHeld });
    // A session could have run SET ROLE to the alpha role: it ends even though beta stays.
    await ended;
    expect(await membership(name)).toEqual([betaRole, db.readRole].sort());
    expect(await provisioner.check(alpha)).toBe('absent');
    expect(await provisioner.check(beta)).toBe('present');
    // Twice is fine; then beta's own revoke, with nothing else held, takes the rest.
    await provisioner.revoke({ ...alpha, stillHeld });
    await provisioner.revoke({ ...beta, stillHeld: [] });
    expect(await membership(name)).toEqual([]);
    await session.end().catch(() => undefined);
  });

  it('a still-held grant protects only its own Entra principal, and a revoke that takes nothing leaves the sessions alone', async () => {
    const name = person('heidi');
    const config = integration({}, {}, [{
      name: 'mapped', settings: { database: db.database, principals: { [name]: person('heidi-admin') } },
      permissions: { read: { roles: [db.readRole] } },
    }]);
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const orders = grantFor(config, name);
    await provisioner.grant(orders);
    // Held on "mapped", where the same e-mail is another principal: it does not keep "orders"' role.
    const elsewhere = grantFor(config, name, 'read', 'mapped');
    await provisioner.revoke({ ...orders, stillHeld: [{ grantId: elsewhere.grantId, resource: elsewhere.resource, permission: 'read', permissionSettings: elsewhere.permissionSettings }] });
    expect(await membership(name)).toEqual([]);

    // write's roles include read's: revoking read while write is held takes no role, and ends no session.
    const read = grantFor(config, name, 'read');
    const write = grantFor(config, name, 'write');
    await provisioner.grant(read);
    await provisioner.grant(write);
    const session = await connectAs({ user: name, database: db.database });
    await provisioner.revoke({ ...read, stillHeld: [{ grantId: write.grantId, resource: write.resource, permission: 'write', permissionSettings: write.permissionSettings }] });
    expect(await membership(name)).toEqual([db.readRole, db.writeRole].sort());
    expect((await session.query('SELECT count(*)::int AS n FROM public.items')).rows).toEqual([{ n: 1 }]);
    await session.end();
    await provisioner.revoke({ ...write, stillHeld: [] });
  });

  it('uses name@server in single-server mode (connector and grantee), and the settings.principals mapping', async () => {
    // A connector role spelled the Single Server way, so the real login goes through.
    const connector = `conn_${db.suffix}`;
    principals.push(`${connector}@localhost`);
    await db.query(`CREATE ROLE ${id(`${connector}@localhost`)} LOGIN SUPERUSER`);
    const config = integration({ host: 'localhost', user: connector, singleServer: true });
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    expect(provisioner.connectorLogin).toBe(`${connector}@localhost`);
    const name = person('frank');
    const out = await provisioner.grant(grantFor(config, name));
    expect(out.principal).toBe(name);
    expect(out.details?.username).toBe(`${name}@localhost`);
    expect(await membership(name)).toEqual([db.readRole]);

    const mapped = person('carol-mi');
    const mappedConfig = integration({}, { principals: { 'carol@example.com': mapped } });
    fakeImds(String(mappedConfig.connection.clientId));
    const mappedOut = await open(mappedConfig).grant(grantFor(mappedConfig, 'carol@example.com'));
    expect(mappedOut.principal).toBe(mapped);
    expect(mappedOut.details?.username).toBe(mapped);
    expect(await membership(mapped)).toEqual([db.readRole]);
  });

  it('refuses hostile principal names before any SQL (no token is even fetched)', async () => {
    const config = integration();
    const provisioner = open(config);
    const password = vi.spyOn(provisioner, 'connectorPassword');
    for (const bad of ['x"; DROP ROLE postgres; --', 'a b@example.com', 'pg_signal@example.com', 'azure_pg_admin', `${'a'.repeat(60)}@example.com`]) {
      await expect(provisioner.grant(grantFor(config, bad))).rejects.toThrow(/not a usable Entra principal name/);
    }
    expect(() => open(integration({ user: 'bad"user' }))).toThrow(/not a usable Entra principal name/);
    expect(password).not.toHaveBeenCalled();
  });

  it('maps the seeds\' errors to clear messages', async () => {
    const config = integration();
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const ghost = person('ghost');
    await expect(provisioner.grant(grantFor(config, ghost))).rejects.toThrow(/Entra principal "ghost\.[^"]*" was not found in the tenant/);
    expect(await db.role(ghost)).toBeNull();

    const noFunction = integration({ searchPath: 'public' });
    fakeImds(String(noFunction.connection.clientId));
    const other = open(noFunction);
    await expect(other.grant(grantFor(noFunction, person('dave')))).rejects.toThrow(/connect to the postgres database .* as a Microsoft Entra administrator/);
  });

  it('health names what is missing: a non-postgres admin database without pgaadauth', async () => {
    const config = integration({ database: db.database });
    fakeImds(String(config.connection.clientId));
    const health = await open(config).checkHealth();
    expect(health.ok).toBe(false);
    const failed = Object.fromEntries(health.checks.filter((check) => !check.ok).map((check) => [check.name, check.detail]));
    expect(failed.database).toMatch(new RegExp(`connected to database ${db.database}; Entra mode must connect to the postgres database`));
    expect(failed.entra).toMatch(/pgaadauth_create_principal is missing/);
  });

  it('health checks, not assumes, that a least-privilege connector may end the grantees\' sessions; revoke says so when it may not', async () => {
    // Grants and revokes its group roles (ADMIN OPTION), nothing more.
    const connector = `${db.prefix}_conn`;
    await db.query(`CREATE ROLE ${id(connector)} LOGIN; GRANT ${id(db.readRole)}, ${id(db.writeRole)} TO ${id(connector)} WITH ADMIN OPTION`);
    const config = integration({ user: connector });
    fakeImds(String(config.connection.clientId));
    const provisioner = createAzurePostgresProvisioner(config, {}) as AzurePostgresProvisioner;
    const terminate = async () => (await provisioner.checkHealth()).checks.find((check) => check.name === 'terminate-sessions');
    try {
      expect(await terminate()).toEqual({
        name: 'terminate-sessions', ok: false,
        detail: `${connector} lacks pg_signal_backend, so revoke cannot end the grantees' open sessions (one that ran SET ROLE keeps a revoked role's rights): as the server admin, GRANT pg_signal_backend TO "${connector}"`,
      });

      // The membership goes, the session cannot be ended: the revoke fails, naming what is missing.
      const admin = integration();
      fakeImds(String(admin.connection.clientId));
      const name = person('ivan');
      await open(admin).grant(grantFor(admin, name));
      const input = grantFor(config, name);
      const session = await connectAs({ user: name, database: db.database });
      await expect(provisioner.revoke(input)).rejects.toThrow(`the connector ${connector} may not end the sessions of "${name}": it needs pg_signal_backend`);
      expect(await membership(name)).toEqual([]);
      expect((await session.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

      // Held but not inherited (NOINHERIT) does not count: Latch does not SET ROLE.
      await db.query(`GRANT pg_signal_backend TO ${id(connector)}; ALTER ROLE ${id(connector)} NOINHERIT`);
      expect(await terminate()).toMatchObject({ ok: false, detail: expect.stringContaining('member of pg_signal_backend without its privileges (NOINHERIT)') });

      await db.query(`ALTER ROLE ${id(connector)} INHERIT`);
      expect(await terminate()).toMatchObject({ ok: true, detail: `${connector} has the privileges of pg_signal_backend and can end the grantees' sessions` });
      // The retry now ends the session.
      const ended = new Promise<void>((resolve) => session.once('end', () => resolve()));
      await provisioner.revoke(input);
      await ended;
    } finally {
      await provisioner.close();
      await db.query(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1`, [connector]);
      await db.query(`DROP ROLE ${id(connector)}`);
    }
  });

  it('health reports a token failure (IMDS answers 400)', async () => {
    const config = integration();
    nock(IMDS).get('/metadata/identity/oauth2/token').query(true).reply(400, { error: 'invalid_request', error_description: 'Identity not found' });
    const health = await open(config).checkHealth();
    expect(health.ok).toBe(false);
    expect(health.checks[0]).toMatchObject({ name: 'token', ok: false });
  });
});

describe('Azure PostgreSQL provisioner (password mode)', () => {
  it('delegates to the PostgreSQL provisioner, logging in with the token', async () => {
    const config = integration({ mode: 'password', instance: db.instance });
    fakeImds(String(config.connection.clientId));
    const provisioner = open(config);
    const input = grantFor(config, 'erin@example.com');
    const out = await provisioner.grant(input);
    expect(out.secrets?.password).toBeTruthy();
    expect(await membership(input.principal)).toEqual([db.readRole]);
    await provisioner.revoke(input);
    expect(await db.role(input.principal)).toBeNull();
    // The delegate's checks, plus the right to end the generated roles' sessions.
    const health = await provisioner.checkHealth();
    expect(health.checks.find((check) => check.name === 'terminate-sessions')).toMatchObject({ ok: true, detail: expect.stringContaining('is a superuser') });
  });
});
