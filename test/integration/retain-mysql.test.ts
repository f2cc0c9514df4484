import type { Connection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { decide } from '../../handlers/decide.js';
import { forgetIntegrationStatuses } from '../../handlers/integration-status.js';
import { requestAccess } from '../../handlers/request-access.js';
import { grantInput } from '../../jobs/grant.js';
import { reconcile } from '../../jobs/reconcile.js';
import { MysqlProvisioner } from '../../provisioners/mysql.js';
import { principalName } from '../../provisioners/principal-name.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connectAs, createTestDatabase, MY_HOST, MY_PORT, MY_ROOT, MY_ROOT_PASSWORD, rootQuery, type TestDatabase } from '../support/mysql.js';

// A revoked account kept for `retainRevoked`: locked, password replaced, without roles or
// privileges, its sessions ended, until reconcile drops it.

const DAY = 86_400_000;
let db: TestDatabase;
let provisioner: MysqlProvisioner;
let config: Integration;
const opened: MysqlProvisioner[] = [];
const sessions: Connection[] = [];
let harness: Harness | null = null;

const credentials = () => (MY_ROOT_PASSWORD ? { env: 'LATCH_TEST_MYSQL_PASSWORD' } : { none: true });

function permissions() {
  return {
    read: { roles: [db.readRole] },
    // A role plus direct privileges that let the person build a table of their own.
    build: { roles: [db.writeRole], grants: [{ privileges: ['SELECT', 'INSERT', 'CREATE'], on: `${db.database}.*` }] },
  };
}

function integration(connection: Record<string, string | number | boolean> = {}, extra: Record<string, unknown> = {}): Integration {
  return IntegrationSchema.parse({
    name: 'my', type: 'mysql', owner: 'owner@example.com', retainRevoked: '7d',
    connection: { host: MY_HOST, port: MY_PORT, user: MY_ROOT, instance: db.instance, ...connection },
    credentials: credentials(),
    resources: [{ name: 'app', settings: { database: db.database }, permissions: permissions() }],
    ...extra,
  });
}

function grantFor(target: Integration, grantee: string, permission = 'build'): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: target, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal: principalName(db.instance, grantee), expiresAt: Date.now() + 3_600_000,
  };
}

async function loginAs(user: string, password: string): Promise<Connection> {
  const conn = await connectAs({ user, password, database: db.database });
  sessions.push(conn);
  return conn;
}

/** What the server says about the account: SHOW CREATE USER, its grants, its roles, its password hash. */
async function account(principal: string) {
  const create = await rootQuery<Record<string, string>>('SHOW CREATE USER ?@?', [principal, '%']);
  const grants = (await rootQuery<Record<string, string>>('SHOW GRANTS FOR ?@?', [principal, '%'])).map((row) => String(Object.values(row)[0]));
  const roles = db.flavour === 'mariadb'
    ? await rootQuery<{ role: string }>('SELECT Role AS role FROM mysql.roles_mapping WHERE User = ? AND Host = ?', [principal, '%'])
    : await rootQuery<{ role: string }>('SELECT FROM_USER AS role FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = ?', [principal, '%']);
  const [hash] = await rootQuery<{ hash: string }>('SELECT authentication_string AS hash FROM mysql.user WHERE User = ? AND Host = ?', [principal, '%']);
  return { create: String(Object.values(create[0] ?? {})[0] ?? ''), grants, roles: roles.map((row) => row.role), hash: hash?.hash ?? null };
}

beforeAll(async () => {
  db = await createTestDatabase();
  config = integration();
  provisioner = new MysqlProvisioner(config, process.env);
  opened.push(provisioner);
});

afterEach(async () => {
  await harness?.close();
  harness = null;
  forgetIntegrationStatuses();
});

afterAll(async () => {
  await Promise.allSettled(sessions.map((conn) => conn.end().catch(() => conn.destroy())));
  await Promise.allSettled(opened.map((each) => each.close()));
  await db?.cleanup();
});

describe('a MySQL/MariaDB account kept after its revoke', () => {
  it('is locked with a new password, holds no role nor privilege, its session is killed, and its marker says until when', async () => {
    const input = grantFor(config, 'alice@example.com');
    const { secrets } = await provisioner.grant(input);
    const password = secrets?.password ?? '';
    const session = await loginAs(input.principal, password);
    await session.query('CREATE TABLE alice_results (id INT, finding VARCHAR(100))');
    await session.query("INSERT INTO alice_results VALUES (1, 'slow index')");
    const before = await account(input.principal);
    expect(before.roles).toEqual([db.writeRole]);
    const retainUntil = Date.now() + 7 * DAY;

    await provisioner.revoke({ ...input, retainUntil });

    await expect(session.query('SELECT 1')).rejects.toThrow();
    await expect(connectAs({ user: input.principal, password })).rejects.toThrow(/locked|denied/i);
    expect(await rootQuery('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [input.principal])).toEqual([]);
    const kept = await account(input.principal);
    expect(kept.create).toMatch(/ACCOUNT LOCK/);
    expect(kept.create).toContain(`REQUIRE ISSUER 'latch-managed request=${input.requestId} grant=${input.grantId} retained-until=${new Date(retainUntil).toISOString()}'`);
    expect(kept.hash).not.toBe(before.hash);
    expect(kept.roles).toEqual([]);
    expect(kept.grants).toHaveLength(1);
    expect(kept.grants[0]).toMatch(/^GRANT USAGE ON \*\.\* TO /);
    expect(await rootQuery('SELECT Db FROM mysql.db WHERE User = ?', [input.principal])).toEqual([]);
    // What the person built is still there.
    expect(await rootQuery(`SELECT finding FROM \`${db.database}\`.alice_results`)).toEqual([{ finding: 'slow index' }]);
    expect(await provisioner.check(input)).toBe('absent');
    expect(await provisioner.listManaged(config)).toContainEqual({ principal: input.principal, reference: input.requestId, expiresAt: null, retainedUntil: retainUntil });

    // Again (a retried revoke job, with its own later instant): the first instant stays.
    await provisioner.revoke({ ...input, retainUntil: retainUntil + DAY });
    const again = await account(input.principal);
    expect(again.create.replace(/IDENTIFIED BY PASSWORD '[^']*'/, '')).toBe(kept.create.replace(/IDENTIFIED BY PASSWORD '[^']*'/, ''));

    // Without retainUntil it goes the usual way.
    await provisioner.revoke(input);
    expect(await db.accountExists(input.principal)).toBe(false);
  });

  it('a grant retried on a kept account opens it again, without the marker', async () => {
    const input = grantFor(config, 'bob@example.com', 'read');
    await provisioner.grant(input);
    await provisioner.revoke({ ...input, retainUntil: Date.now() + DAY });
    const { secrets } = await provisioner.grant(input);
    const conn = await loginAs(input.principal, secrets?.password ?? '');
    expect(await conn.query('SELECT 1 AS one').then(([rows]) => rows)).toEqual([{ one: 1 }]);
    expect((await account(input.principal)).create).not.toMatch(/REQUIRE|ACCOUNT LOCK/);
    expect(await provisioner.listManaged(config)).toContainEqual({ principal: input.principal, reference: null, expiresAt: null });
    await provisioner.revoke(input);
  });

  it('works with a connector made by scripts/mysql-connector-setup.sql', async () => {
    const connector = await db.createConnector();
    const target = integration({ user: connector.user }, { credentials: { env: 'LATCH_TEST_CONNECTOR_PASSWORD' } });
    const least = new MysqlProvisioner(target, { LATCH_TEST_CONNECTOR_PASSWORD: connector.password });
    opened.push(least);
    const input = grantFor(target, 'carol@example.com', 'read');
    const session = await loginAs(input.principal, (await least.grant(input)).secrets?.password ?? '');
    const retainUntil = Date.now() + DAY;

    await least.revoke({ ...input, retainUntil });

    await expect(session.query('SELECT 1')).rejects.toThrow();
    const kept = await account(input.principal);
    expect(kept.create).toMatch(/ACCOUNT LOCK/);
    expect(kept.roles).toEqual([]);
    expect(await least.listManaged(target)).toContainEqual(expect.objectContaining({ principal: input.principal, retainedUntil: retainUntil }));
    await least.revoke(input);
    expect(await db.accountExists(input.principal)).toBe(false);
  });
});

describe('reconcile and a kept MySQL/MariaDB account', () => {
  it('leaves it until the retention ends, then drops it', async () => {
    harness = await createHarness(`version: 1
settings: { instance: ${db.instance} }
groups:
  - { name: devs, members: [dana@example.com] }
integrations:
  - name: my
    type: mysql
    retainRevoked: 7d
    connection: { host: ${MY_HOST}, port: ${MY_PORT}, user: ${MY_ROOT}, instance: ${db.instance} }
    credentials: ${MY_ROOT_PASSWORD ? '{ env: LATCH_TEST_MYSQL_PASSWORD }' : '{ none: true }'}
    owner: owner@example.com
    resources:
      - name: app
        settings: { database: ${db.database} }
        permissions:
          read: { roles: [${db.readRole}] }
flows:
  - name: read
    requesters: [group:devs]
    access: [{ integration: my, resources: any, permissions: [read] }]
    approval: { steps: [{ approvers: [owner@example.com] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`);
    const h = harness;
    h.ctx.provisioners.use('my', provisioner);
    const created = await requestAccess(h.ctx, h.as('dana@example.com'), { resource: 'app', permission: 'read' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await decide(h.ctx, h.as('owner@example.com'), id, 'approve');
    await h.drain();
    const record = await h.store.getRequest(id);
    const grant = record?.grants[0];
    if (!record || !grant?.principal) throw new Error('not granted');
    const principal = grant.principal;
    const session = await loginAs(principal, h.notifier.deliveries.at(-1)?.items[0]?.secrets.password ?? '');

    // The revoke job's part, done here by hand: keep the account for retainRevoked, mark the grant revoked.
    const now = h.ctx.now();
    await provisioner.revoke({ ...grantInput(h.ctx, record, grant), retainUntil: now + 7 * DAY });
    const committed = await h.store.commit({
      updateRequests: [{ id, expectState: record.request.state, expectVersion: record.request.version, set: { state: 'revoked', endedAt: now, endedBy: 'dana@example.com', updatedAt: now } }],
      updateGrants: [{ id: grant.id, set: { state: 'revoked', revokedAt: now } }],
      cancelJobs: [{ requestId: id, kinds: ['revoke', 'expiry_warning'] }],
    });
    expect(committed.ok).toBe(true);
    await expect(session.query('SELECT 1')).rejects.toThrow();

    h.advance(6 * DAY);
    const early = (await reconcile(h.ctx)).reports.find((report) => report.integration === 'my');
    expect(early).toEqual({ integration: 'my', removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 });
    expect((await account(principal)).create).toMatch(/ACCOUNT LOCK/);

    h.advance(DAY + 1);
    const late = (await reconcile(h.ctx)).reports.find((report) => report.integration === 'my');
    expect(late).toMatchObject({ removed: [principal], retained: [], unknown: [], missing: [] });
    expect(await db.accountExists(principal)).toBe(false);
  });
});
