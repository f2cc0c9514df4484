import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { decide } from '../../handlers/decide.js';
import { forgetIntegrationStatuses } from '../../handlers/integration-status.js';
import { requestAccess } from '../../handlers/request-access.js';
import { grantInput } from '../../jobs/grant.js';
import { reconcile } from '../../jobs/reconcile.js';
import { PostgresProvisioner } from '../../provisioners/postgres.js';
import { principalName } from '../../provisioners/principal-name.js';
import type { GrantInput, Provisioner } from '../../provisioners/provisioner.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connectAs, createTestDatabase, PG_HOST, PG_PORT, PG_SUPERUSER, runPsqlScript, type TestDatabase } from '../support/postgres.js';

// A revoked login role kept for `retainRevoked`: locked, without group roles, password or
// direct privileges, still the owner of what it built, until reconcile drops it.

const DAY = 86_400_000;
let db: TestDatabase;
let provisioner: PostgresProvisioner;
let config: Integration;
const opened: PostgresProvisioner[] = [];
let harness: Harness | null = null;

function integration(connection: Record<string, string | number | boolean> = {}): Integration {
  return IntegrationSchema.parse({
    name: 'pg', type: 'postgresql', owner: 'owner@example.com', retainRevoked: '7d',
    connection: { host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER, instance: db.instance, ...connection },
    resources: [{ name: 'app', settings: { databases: [db.database] }, permissions: { read: { roles: [db.readRole] }, write: { roles: [db.readRole, db.writeRole] } } }],
  });
}

function grantFor(target: Integration, grantee: string, permission = 'write'): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: target, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal: principalName(db.instance, grantee), expiresAt: Date.now() + 3_600_000,
  };
}

/** The person's session builds a table of results, shares it with the readers, and stays open. */
async function buildResults(principal: string, password: string, table: string) {
  await db.query(`GRANT USAGE, CREATE ON SCHEMA scratch TO "${principal}"`, [], db.database);
  const session = await connectAs({ user: principal, password, database: db.database });
  await session.query(`CREATE TABLE scratch.${table} (id int, finding text)`);
  await session.query(`INSERT INTO scratch.${table} VALUES (1, 'slow index'), (2, 'missing fk')`);
  await session.query(`GRANT SELECT ON scratch.${table} TO "${db.readRole}"`);
  return session;
}

async function tableFacts(table: string) {
  const [facts] = await db.query<{ owner: string; acl: string[]; rows: number }>(
    `SELECT tableowner::text AS owner, (SELECT relacl::text[] FROM pg_class WHERE oid = ('scratch.' || $1)::regclass) AS acl,
            (SELECT count(*)::int FROM scratch.${table}) AS rows
       FROM pg_tables WHERE schemaname = 'scratch' AND tablename = $1`, [table], db.database);
  return facts;
}

/**
 * The provisioner as reconcile sees it, limited to this run's roles: the server is shared
 * with other test files running at the same time, and listManaged lists every role in the
 * cluster that carries Latch's comment, which reconcile would remove as orphans.
 */
function thisRunOnly(real: PostgresProvisioner): Provisioner {
  return Object.assign(Object.create(real) as PostgresProvisioner, {
    listManaged: async (target: Integration) => (await real.listManaged(target)).filter((entry) => entry.principal.startsWith(`${db.instance}_`)),
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  config = integration();
  provisioner = new PostgresProvisioner(config, {});
  opened.push(provisioner);
});

afterEach(async () => {
  await harness?.close();
  harness = null;
  forgetIntegrationStatuses();
});

afterAll(async () => {
  await Promise.allSettled(opened.map((each) => each.close()));
  await db?.cleanup();
});

describe('a PostgreSQL login role kept after its revoke', () => {
  it('cannot log in, holds no group roles nor direct privileges, still owns its table, and its comment says until when', async () => {
    const input = grantFor(config, 'alice@example.com');
    const { secrets } = await provisioner.grant(input);
    const password = secrets?.password ?? '';
    const session = await buildResults(input.principal, password, 'alice_results');
    const retainUntil = Date.now() + 7 * DAY;
    const before = Date.now();

    await provisioner.revoke({ ...input, retainUntil });

    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    await expect(connectAs({ user: input.principal, password, database: db.database })).rejects.toThrow(/not permitted to log in/);
    const role = await db.role(input.principal);
    expect(role).toMatchObject({
      canLogin: false, password: null, memberOf: [],
      comment: `latch-managed request=${input.requestId} grant=${input.grantId} retained-until=${new Date(retainUntil).toISOString()}`,
    });
    expect(role?.validUntilMs).toBeGreaterThanOrEqual(before - 1000);
    expect(role?.validUntilMs).toBeLessThanOrEqual(Date.now());
    // The schema privileges someone granted it directly are gone; what it owns is untouched,
    // including the readers' grant on it.
    expect(await db.query(`SELECT has_schema_privilege($1, 'scratch', 'USAGE') AS usage, has_schema_privilege($1, 'scratch', 'CREATE') AS create`, [input.principal], db.database))
      .toEqual([{ usage: false, create: false }]);
    expect(await tableFacts('alice_results')).toEqual({
      owner: input.principal, rows: 2,
      acl: [`${input.principal}=arwdDxt/${input.principal}`, `${db.readRole}=r/${input.principal}`],
    });
    expect(await provisioner.check(input)).toBe('absent');
    expect(await provisioner.listManaged(config)).toContainEqual({ principal: input.principal, reference: input.requestId, expiresAt: role?.validUntilMs, retainedUntil: retainUntil });

    // Again (a retried revoke job, with its own later instant): nothing moves.
    await provisioner.revoke({ ...input, retainUntil: retainUntil + DAY });
    expect(await db.role(input.principal)).toEqual(role);

    // Without retainUntil it goes the usual way: what it built is handed to the connector.
    await provisioner.revoke(input);
    expect(await db.role(input.principal)).toBeNull();
    expect(await tableFacts('alice_results')).toMatchObject({ owner: PG_SUPERUSER, rows: 2 });
  });

  it('takes away roles that were made members of it, and what it passed on with a grant option', async () => {
    const input = grantFor(config, 'bob@example.com', 'read');
    const { secrets } = await provisioner.grant(input);
    const colleague = `${db.prefix}_colleague`;
    await db.query(`CREATE ROLE "${colleague}" NOLOGIN`);
    await db.query(`GRANT INSERT ON public.items TO "${input.principal}" WITH GRANT OPTION`, [], db.database);
    // A member of the role could act as the owner of everything it built.
    await db.query(`GRANT "${input.principal}" TO "${colleague}"`);
    const session = await connectAs({ user: input.principal, password: secrets?.password ?? '', database: db.database });
    await session.query(`GRANT INSERT ON public.items TO "${colleague}"`);
    await session.end();

    await provisioner.revoke({ ...input, retainUntil: Date.now() + DAY });

    expect(await db.query('SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE r.rolname = $1', [input.principal])).toEqual([{ n: 0 }]);
    expect(await db.query(`SELECT has_table_privilege($1, 'public.items', 'INSERT') AS own, has_table_privilege($2, 'public.items', 'INSERT') AS passed_on`, [input.principal, colleague], db.database))
      .toEqual([{ own: false, passed_on: false }]);
    await provisioner.revoke(input);
    expect(await db.role(input.principal)).toBeNull();
  });

  it('works with the least-privilege connector, which keeps nothing of the role afterwards', async () => {
    const connector = `${db.prefix}_connector`;
    await runPsqlScript('scripts/postgres-connector-setup.sql', { connector, group_roles: `${db.readRole},${db.writeRole}`, databases: db.database });
    const target = integration({ user: connector });
    const least = new PostgresProvisioner(target, {});
    opened.push(least);
    const input = grantFor(target, 'carol@example.com');
    const { secrets } = await least.grant(input);
    const session = await connectAs({ user: input.principal, password: secrets?.password ?? '', database: db.database });
    await session.query("INSERT INTO public.items (note) VALUES ('by carol')");

    await least.revoke({ ...input, retainUntil: Date.now() + DAY });

    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect(await db.role(input.principal)).toMatchObject({ canLogin: false, password: null, memberOf: [] });
    expect((await db.role(connector))?.memberOf.sort()).toEqual([db.readRole, db.writeRole].sort());

    // A privilege another role granted it directly, the connector cannot take back: the
    // revoke fails loudly (and is retried), with the role already locked and stripped.
    await db.query(`GRANT USAGE ON SCHEMA scratch TO "${input.principal}"`, [], db.database);
    await expect(least.revoke({ ...input, retainUntil: Date.now() + DAY })).rejects.toThrow(/is locked and holds no group roles, but still has privileges granted to it directly \(pg_namespace in database/);
    expect((await db.role(connector))?.memberOf.sort()).toEqual([db.readRole, db.writeRole].sort());
    await db.query(`REVOKE USAGE ON SCHEMA scratch FROM "${input.principal}"`, [], db.database);
    await least.revoke({ ...input, retainUntil: Date.now() + DAY });
    await least.revoke(input);
    expect(await db.role(input.principal)).toBeNull();
  });
});

describe('reconcile and a kept PostgreSQL login role', () => {
  it('leaves it until the retention ends, then drops it and hands what it built to the connector', async () => {
    harness = await createHarness(`version: 1
settings: { instance: ${db.instance} }
groups:
  - { name: devs, members: [dana@example.com] }
integrations:
  - name: pg
    type: postgresql
    retainRevoked: 7d
    connection: { host: ${PG_HOST}, port: ${PG_PORT}, user: ${PG_SUPERUSER}, instance: ${db.instance} }
    owner: owner@example.com
    resources:
      - name: app
        settings: { databases: [${db.database}] }
        permissions:
          read: { roles: [${db.readRole}] }
          write: { roles: [${db.readRole}, ${db.writeRole}] }
flows:
  - name: write
    requesters: [group:devs]
    access: [{ integration: pg, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [owner@example.com] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`);
    const h = harness;
    h.ctx.provisioners.use('pg', thisRunOnly(provisioner));
    const created = await requestAccess(h.ctx, h.as('dana@example.com'), { resource: 'app', permission: 'write' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await decide(h.ctx, h.as('owner@example.com'), id, 'approve');
    await h.drain();
    const record = await h.store.getRequest(id);
    const grant = record?.grants[0];
    if (!record || !grant?.principal) throw new Error('not granted');
    const principal = grant.principal;
    const session = await buildResults(principal, h.notifier.deliveries.at(-1)?.items[0]?.secrets.password ?? '', 'dana_results');
    await session.end();

    // The revoke job's part, done here by hand: keep the role for retainRevoked, mark the grant revoked.
    const now = h.ctx.now();
    await provisioner.revoke({ ...grantInput(h.ctx, record, grant), retainUntil: now + 7 * DAY });
    const committed = await h.store.commit({
      updateRequests: [{ id, expectState: record.request.state, expectVersion: record.request.version, set: { state: 'revoked', endedAt: now, endedBy: 'dana@example.com', updatedAt: now } }],
      updateGrants: [{ id: grant.id, set: { state: 'revoked', revokedAt: now } }],
      cancelJobs: [{ requestId: id, kinds: ['revoke', 'expiry_warning'] }],
    });
    expect(committed.ok).toBe(true);

    h.advance(6 * DAY);
    const early = (await reconcile(h.ctx)).reports.find((report) => report.integration === 'pg');
    expect(early).toEqual({ integration: 'pg', removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 });
    expect(await db.role(principal)).toMatchObject({ canLogin: false, memberOf: [] });
    expect(await tableFacts('dana_results')).toMatchObject({ owner: principal, rows: 2 });

    h.advance(DAY + 1);
    const late = (await reconcile(h.ctx)).reports.find((report) => report.integration === 'pg');
    expect(late).toMatchObject({ removed: [principal], retained: [], unknown: [], missing: [] });
    expect(await db.role(principal)).toBeNull();
    expect(await tableFacts('dana_results')).toMatchObject({ owner: PG_SUPERUSER, rows: 2 });
  });
});
