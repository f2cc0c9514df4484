import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { requestAccess } from '../../handlers/request-access.js';
import { resetCredentials } from '../../handlers/reset-credentials.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { PostgresProvisioner, verifyScramPassword } from '../../provisioners/postgres.js';
import { principalName } from '../../provisioners/principal-name.js';
import type { GrantInput, GrantOutput } from '../../provisioners/provisioner.js';
import { eventually } from '../support/harness.js';
import { asSuperuser, connectAs, createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

// The delivered password against a server that checks it: a private cluster whose every TCP
// login must pass scram-sha-256 (test/support/private-postgres.ts). The machine's server
// trusts 127.0.0.1, where any password, or none, would do.

const CONNECTOR_PASSWORD = 'LATCH_TEST_PRIVATE_PG_PASSWORD';

let cluster: PrivatePostgres;
let db: TestDatabase;
let config: Integration;
let provisioner: PostgresProvisioner;
const sessions: pg.Client[] = [];
/** Every password a grant in this file delivered: none may ever reach the server log. */
const issued: string[] = [];

function integration(credentials: Record<string, unknown> = { env: CONNECTOR_PASSWORD }): Integration {
  return IntegrationSchema.parse({
    name: 'orders-pg',
    type: 'postgresql',
    owner: 'group:leads',
    connection: { host: cluster.host, port: cluster.port, user: cluster.user, instance: db.instance },
    credentials,
    resources: [{
      name: 'orders',
      settings: { databases: [db.database] },
      permissions: { read: { roles: [db.readRole] }, write: { roles: [db.readRole, db.writeRole] } },
    }],
  });
}

function grantFor(options: { grantee?: string; permission?: string; expiresAt?: number } = {}): GrantInput {
  const resource = config.resources[0];
  if (!resource) throw new Error('no resource in the test integration');
  const permission = options.permission ?? 'read';
  const grantee = options.grantee ?? 'alice@example.com';
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: config, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {},
    principal: principalName(db.instance, grantee),
    expiresAt: options.expiresAt ?? Date.now() + 3_600_000,
  };
}

async function grant(input: GrantInput): Promise<{ output: GrantOutput; password: string }> {
  const output = await provisioner.grant(input);
  const password = output.secrets?.password ?? '';
  expect(password.length).toBeGreaterThanOrEqual(32);
  issued.push(password);
  return { output, password };
}

/** A session over TCP to the test database, as the server lets it in. */
async function login(user: string, password: string): Promise<pg.Client> {
  const session = await connectAs({ server: cluster, user, password, database: db.database });
  sessions.push(session);
  return session;
}

/** The server's refusal: SQLSTATE 28P01 (invalid_password) and its message. */
async function refusal(user: string, password: string): Promise<{ code: string | undefined; message: string }> {
  const error: unknown = await login(user, password).then(() => null, (failure: unknown) => failure);
  if (!error) throw new Error(`${user} logged in, but the server should have refused`);
  return { code: (error as { code?: string }).code, message: (error as Error).message };
}

function refusedFor(user: string) {
  return { code: '28P01', message: `password authentication failed for user "${user}"` };
}

/** The log grows as backends write; wait until it says `text`, then return it from `from`. */
async function logged(text: string, from = 0): Promise<string> {
  let log = '';
  await eventually(() => (log = cluster.log(from)).includes(text), `the server log to say ${text}`, 5_000);
  return log;
}

beforeAll(async () => {
  cluster = await startPrivatePostgres();
  db = await createTestDatabase(cluster);
  config = integration();
  provisioner = new PostgresProvisioner(config, { [CONNECTOR_PASSWORD]: cluster.password });
});

afterAll(async () => {
  await Promise.allSettled(sessions.map((session) => session.end()));
  await provisioner?.close();
  // The cluster goes with its directory; the database need not be dropped first.
  await cluster?.stop();
});

describe('PostgreSQL provisioner against a server that checks passwords', () => {
  it('runs on a private cluster that asks every TCP login for scram-sha-256, the connector included', async () => {
    const rules = await asSuperuser(async (client) => (await client.query<{ type: string; auth_method: string }>(
      "SELECT type, auth_method FROM pg_hba_file_rules WHERE type <> 'local'")).rows, 'postgres', cluster);
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules.map((rule) => rule.auth_method))).toEqual(new Set(['scram-sha-256']));
    expect(await refusal(cluster.user, `${cluster.password}x`)).toEqual(refusedFor(cluster.user));

    expect(await provisioner.health()).toMatchObject({ ok: true, connector: { user: cluster.user, canLogin: true } });
    const withoutPassword = new PostgresProvisioner(integration({ none: true }), {});
    try {
      expect(await withoutPassword.health()).toMatchObject({ ok: false, connector: { canLogin: false } });
    } finally {
      await withoutPassword.close();
    }
  });

  it('the delivered password logs in over TCP with scram-sha-256; the role may SELECT and not INSERT', async () => {
    const input = grantFor();
    const from = cluster.logSize();
    const { output, password } = await grant(input);
    expect(output.details).toEqual({ host: '127.0.0.1', port: String(cluster.port), database: db.database, username: input.principal });

    const session = await login(input.principal, password);
    expect((await session.query('SELECT current_user AS who, inet_server_addr()::text AS addr')).rows)
      .toEqual([{ who: input.principal, addr: '127.0.0.1/32' }]);
    expect((await session.query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    await expect(session.query("INSERT INTO public.items (note) VALUES ('nope')")).rejects.toThrow(/permission denied for table items/);
    // The server itself says how it let the role in.
    await logged(`connection authenticated: identity="${input.principal}" method=scram-sha-256`, from);
    await provisioner.revoke(input);
  });

  it('a wrong password is refused with the server\'s authentication error; the right one still works', async () => {
    const input = grantFor({ grantee: 'wrong@example.com' });
    const { password } = await grant(input);
    const from = cluster.logSize();
    for (const wrong of [`${password}x`, password.slice(1), 'not-the-password']) {
      expect(await refusal(input.principal, wrong), JSON.stringify(wrong)).toEqual(refusedFor(input.principal));
    }
    expect((await logged(`FATAL:  password authentication failed for user "${input.principal}"`, from))).toMatch(/Connection matched pg_hba\.conf line \d+: "host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256"/);
    await expect((await login(input.principal, password)).query('SELECT 1')).resolves.toBeDefined();
    await provisioner.revoke(input);
  });

  it('once VALID UNTIL passes the server refuses the login by itself, with no revoke; open sessions stay', async () => {
    // Whole milliseconds, a couple of seconds ahead.
    const expiresAt = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
    const input = grantFor({ grantee: 'expiring@example.com', expiresAt });
    const { password } = await grant(input);
    const held = await login(input.principal, password);
    expect(Date.now()).toBeLessThan(expiresAt);

    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 250));
    const from = cluster.logSize();
    expect(await refusal(input.principal, password)).toEqual(refusedFor(input.principal));
    await logged(`DETAIL:  User "${input.principal}" has an expired password.`, from);
    // Nothing but the expiry changed: the role is still there, may log in, holds its group.
    expect(await db.role(input.principal)).toMatchObject({ canLogin: true, validUntilMs: expiresAt, memberOf: [db.readRole] });
    // VALID UNTIL only guards the door: a session opened before keeps going, so Latch still revokes at expiry.
    expect((await held.query('SELECT count(*)::int AS n FROM public.items')).rows).toEqual([{ n: 1 }]);

    await provisioner.revoke(input);
    await expect(held.query('SELECT 1')).rejects.toThrow();
  });

  it('after revoke the delivered password no longer logs in, and the open session is ended', async () => {
    const input = grantFor({ grantee: 'revoked@example.com', permission: 'write' });
    const { password } = await grant(input);
    const held = await login(input.principal, password);
    await held.query("INSERT INTO public.items (note) VALUES ('before revoke')");

    await provisioner.revoke(input);

    await expect(held.query('SELECT 1')).rejects.toThrow();
    const from = cluster.logSize();
    expect(await refusal(input.principal, password)).toEqual(refusedFor(input.principal));
    await logged(`DETAIL:  Role "${input.principal}" does not exist.`, from);
    await db.query('DELETE FROM public.items WHERE note = $1', ['before revoke'], db.database);
  });

  it('a retried grant (same principal, new password) leaves only the new password working', async () => {
    const input = grantFor({ grantee: 'retry@example.com' });
    const first = await grant(input);
    const second = await grant(input);
    expect(second.output.principal).toBe(first.output.principal);
    expect(second.password).not.toBe(first.password);

    expect(await refusal(input.principal, first.password)).toEqual(refusedFor(input.principal));
    const session = await login(input.principal, second.password);
    expect((await session.query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    await provisioner.revoke(input);
  });

  it('the server log shows the SCRAM verifier in CREATE ROLE and ALTER ROLE, never a password', async () => {
    const input = grantFor({ grantee: 'logged@example.com' });
    const first = await grant(input);
    await login(input.principal, first.password);
    const again = await grant(input);
    await login(input.principal, again.password);
    await provisioner.revoke(input);

    const log = await logged(`DROP ROLE IF EXISTS "${input.principal}"`);
    const created = new RegExp(`CREATE ROLE "${input.principal}" WITH LOGIN PASSWORD '(SCRAM-SHA-256\\$4096:[^']+)' VALID UNTIL`).exec(log)?.[1];
    const altered = new RegExp(`ALTER ROLE "${input.principal}" WITH LOGIN PASSWORD '(SCRAM-SHA-256\\$4096:[^']+)' VALID UNTIL`).exec(log)?.[1];
    // What the log holds is the verifier of the delivered password, from which it cannot be read back.
    expect(await verifyScramPassword(created ?? '', first.password)).toBe(true);
    expect(await verifyScramPassword(altered ?? '', again.password)).toBe(true);
    // The whole log since the cluster started, against every password this file delivered.
    for (const password of [...issued, cluster.password]) expect(log.includes(password)).toBe(false);
  });
});

describe('resetting the credentials of a login role', () => {
  it('a new password logs in, the old one is refused; group roles and VALID UNTIL stay', async () => {
    const input = grantFor({ grantee: 'reset@example.com' });
    const first = await grant(input);
    const before = await db.role(input.principal);
    const reset = await provisioner.resetCredentials(input);
    const password = reset.secrets?.password ?? '';
    issued.push(password);
    expect(reset).toEqual({ principal: input.principal, secrets: { password }, details: { host: '127.0.0.1', port: String(cluster.port), database: db.database, username: input.principal } });
    expect(password).not.toBe(first.password);

    expect((await (await login(input.principal, password)).query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    expect(await refusal(input.principal, first.password)).toEqual(refusedFor(input.principal));
    // Only the verifier changed: the same group roles, the same VALID UNTIL.
    const after = await db.role(input.principal);
    expect(after).toEqual({ ...before, password: expect.stringMatching(/^SCRAM-SHA-256\$4096:/) });
    expect(after?.password).not.toBe(before?.password);
    await provisioner.revoke(input);
  });

  it('refuses a role that is gone, and a resource of existing roles, whose passwords are not Latch\'s', async () => {
    await expect(provisioner.resetCredentials(grantFor({ grantee: 'gone@example.com' }))).rejects.toThrow(/role "[a-z0-9_]+" does not exist, so it has no password to reset/);
    const mapped = IntegrationSchema.parse({
      name: 'orders-pg', type: 'postgresql', owner: 'group:leads', credentials: { env: CONNECTOR_PASSWORD },
      connection: { host: cluster.host, port: cluster.port, user: cluster.user, instance: db.instance },
      resources: [{ name: 'own', settings: { databases: [db.database], mode: 'existing_role', existingRoles: { 'erin@example.com': 'erin' } }, permissions: { read: { roles: [db.readRole] } } }],
    });
    const own = new PostgresProvisioner(mapped, { [CONNECTOR_PASSWORD]: cluster.password });
    try {
      const resource = mapped.resources[0];
      if (!resource) throw new Error('no resource');
      const input = { ...grantFor({ grantee: 'erin@example.com' }), integration: mapped, resource, permissionSettings: resource.permissions.read ?? {} };
      await expect(own.resetCredentials(input)).rejects.toThrow('integration "orders-pg" resource "own" gives access to the person\'s existing role, whose password is theirs, not Latch\'s: there are no Latch credentials to reset');
    } finally {
      await own.close();
    }
  });
});

describe('the life cycle against a server that checks passwords', () => {
  let latch: RunningLatch;
  let dir: string;
  const notifier = new RecordingNotifier();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-pg-login-'));
    writeFileSync(join(dir, 'latch.yaml'), `version: 1
settings: { instance: ${db.instance}, expiryWarning: 1s }
groups:
  - { name: devs, members: [carol@example.com, dave@example.com] }
integrations:
  - name: pg
    type: postgresql
    connection: { host: ${cluster.host}, port: ${cluster.port}, user: ${cluster.user}, database: postgres }
    credentials: { env: ${CONNECTOR_PASSWORD} }
    owner: owner@example.com
    resources:
      - name: app
        settings: { databases: [${db.database}] }
        permissions:
          read: { roles: [${db.readRole}] }
flows:
  - name: read
    requesters: [group:devs]
    access: [{ integration: pg, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
`);
    latch = await startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier, env: { [CONNECTOR_PASSWORD]: cluster.password }, runner: { sweep: '*/1 * * * * *' },
    });
  });

  afterAll(async () => {
    await latch?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function activeGrant(email: string, durationMs?: number): Promise<{ id: string; principal: string; password: string }> {
    const created = await requestAccess(latch.ctx, { email, via: 'test' }, { resource: 'app', permission: 'read', ...(durationMs ? { durationMs } : {}) });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const principal = (await latch.store.getRequest(id))?.grants[0]?.principal ?? '';
    const password = notifier.deliveries.find((delivery) => delivery.record.request.id === id)?.items[0]?.secrets.password ?? '';
    issued.push(password);
    return { id, principal, password };
  }

  it('the password delivered on approval logs in and reads; at expiry the server refuses it', async () => {
    const { id, principal, password } = await activeGrant('carol@example.com', 3_000);
    const session = await login(principal, password);
    expect((await session.query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    await expect(session.query("INSERT INTO public.items (note) VALUES ('nope')")).rejects.toThrow(/permission denied/);
    expect(await refusal(principal, `${password}x`)).toEqual(refusedFor(principal));

    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'expired', 'the grant to expire', 8_000);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await refusal(principal, password)).toEqual(refusedFor(principal));
    expect(await db.role(principal)).toBeNull();
  });

  it('the password delivered on approval stops working when the requester revokes', async () => {
    const { id, principal, password } = await activeGrant('dave@example.com');
    await expect((await login(principal, password)).query('SELECT 1')).resolves.toBeDefined();

    expect(await revokeAccess(latch.ctx, { email: 'dave@example.com', via: 'test' }, id)).toMatchObject({ ok: true });
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'revoked', 'the grant to be revoked');
    expect(await refusal(principal, password)).toEqual(refusedFor(principal));
    expect(cluster.log().includes(password)).toBe(false);
  });

  it('/access credentials: the reset password delivered by DM logs in, the old one no longer does, and it is kept nowhere', async () => {
    const { id, principal, password: old } = await activeGrant('dave@example.com');
    const lines: string[] = [];
    const log = { info: (fields: object, message: string) => void lines.push(JSON.stringify(fields), message), warn: (fields: object, message: string) => void lines.push(JSON.stringify(fields), message), error: (fields: object, message: string) => void lines.push(JSON.stringify(fields), message) };
    const deliveries = notifier.deliveries.length;

    const result = await resetCredentials({ ...latch.ctx, log }, { email: 'dave@example.com', via: 'test' }, id);
    expect(result).toMatchObject({ ok: true, unsupported: [] });
    const delivered = notifier.deliveries.slice(deliveries);
    expect(delivered.map((delivery) => delivery.grantee)).toEqual(['dave@example.com']);
    const password = delivered[0]?.items[0]?.secrets.password ?? '';
    issued.push(password);
    expect(password).not.toBe(old);

    expect((await (await login(principal, password)).query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    expect(await refusal(principal, old)).toEqual(refusedFor(principal));
    expect((await latch.store.getRequest(id))?.request.state).toBe('active');

    // Not in the audit, the store's files, Latch's log or the server's log.
    const audit = await latch.store.auditEvents({});
    expect(audit.filter((event) => event.type === 'credentials.reset').map((event) => event.requestId)).toEqual([id]);
    expect(JSON.stringify(audit)).not.toContain(password);
    for (const file of readdirSync(dir).filter((name) => name.startsWith('latch.db'))) expect(readFileSync(join(dir, file)).includes(password)).toBe(false);
    expect(lines.join('\n')).not.toContain(password);
    expect(cluster.log().includes(password)).toBe(false);
    await revokeAccess(latch.ctx, { email: 'dave@example.com', via: 'test' }, id);
  });
});
