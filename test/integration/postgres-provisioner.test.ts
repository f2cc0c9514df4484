import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { createPostgresProvisioner, PostgresProvisioner, postgresHealth, scramSha256Verifier, verifyScramPassword } from '../../provisioners/postgres.js';
import { parseScramVerifier } from '../../provisioners/postgres/scram.js';
import { principalName } from '../../provisioners/principal-name.js';
import type { GrantInput, RevokeInput } from '../../provisioners/provisioner.js';
import {
  asSuperuser, connectAs, createTestDatabase, logSize, PG_HOST, PG_PORT, PG_SUPERUSER, randomSuffix, readLogFrom, runPsqlScript, serverLogFile,
  type TestDatabase,
} from '../support/postgres.js';

let db: TestDatabase;
let provisioner: PostgresProvisioner;
let config: Integration;
const opened: PostgresProvisioner[] = [];

interface IntegrationOptions {
  connection?: Record<string, string | number | boolean>;
  credentials?: Record<string, unknown>;
  resources?: unknown[];
  /** false: leave connection.instance out. */
  instance?: boolean;
  maxLevel?: 'read' | 'write' | 'admin';
}

/** The integration as the config loader would hand it over (parsed by the real schema). */
function integration(options: IntegrationOptions = {}): Integration {
  return IntegrationSchema.parse({
    name: 'orders-pg',
    type: 'postgresql',
    owner: 'group:leads',
    connection: { host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER, ...(options.instance === false ? {} : { instance: db.instance }), ...options.connection },
    credentials: options.credentials ?? { none: true },
    ...(options.maxLevel ? { maxLevel: options.maxLevel } : {}),
    resources: options.resources ?? [{
      name: 'orders',
      settings: { databases: [db.database] },
      permissions: { read: { roles: [db.readRole] }, write: { roles: [db.readRole, db.writeRole] } },
    }],
  });
}

function open(options: IntegrationOptions = {}): PostgresProvisioner {
  const created = new PostgresProvisioner(integration(options), {});
  opened.push(created);
  return created;
}

function grantFor(target: Integration, options: { permission?: string; grantee?: string; resource?: string; principal?: string; expiresAt?: number } = {}): GrantInput {
  const resource = target.resources.find((candidate) => candidate.name === (options.resource ?? 'orders'));
  if (!resource) throw new Error('no such resource in the test integration');
  const permission = options.permission ?? 'read';
  const grantee = options.grantee ?? 'alice@example.com';
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: target, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {},
    principal: options.principal ?? principalName(db.instance, grantee),
    // Whole milliseconds an hour ahead: VALID UNTIL keeps microseconds, so this survives the round trip.
    expiresAt: options.expiresAt ?? Date.now() + 3_600_000,
  };
}

async function loginAs(user: string, password: string) {
  return connectAs({ user, password, database: db.database });
}

beforeAll(async () => {
  db = await createTestDatabase();
  config = integration();
  provisioner = new PostgresProvisioner(config, {});
  opened.push(provisioner);
});

afterAll(async () => {
  await Promise.allSettled(opened.map((each) => each.close()));
  await db?.cleanup();
});

describe('PostgreSQL provisioner', () => {
  it('computes the SCRAM-SHA-256 verifier PostgreSQL itself computes', async () => {
    const name = `${db.prefix}_scram`;
    const plain = `check-${randomSuffix(16)}`;
    const stored = await asSuperuser(async (client) => {
      await client.query("SET password_encryption = 'scram-sha-256'");
      await client.query(`CREATE ROLE "${name}" PASSWORD '${plain}'`);
      return (await client.query<{ password: string }>('SELECT rolpassword AS password FROM pg_authid WHERE rolname = $1', [name])).rows[0]?.password ?? '';
    });
    const parts = parseScramVerifier(stored);
    expect(parts).not.toBeNull();
    expect(await scramSha256Verifier(plain, { salt: parts?.salt, iterations: parts?.iterations })).toBe(stored);
    expect(await verifyScramPassword(stored, plain)).toBe(true);
    expect(await verifyScramPassword(stored, `${plain}x`)).toBe(false);
  });

  it('grants a login role that can read with read, and write only with write', async () => {
    const read = grantFor(config, { permission: 'read' });
    const readOut = await provisioner.grant(read);
    const password = readOut.secrets?.password ?? '';
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(readOut).toEqual({
      principal: read.principal, secrets: { password },
      details: { host: PG_HOST, port: String(PG_PORT), database: db.database, username: read.principal },
    });
    // The server checks a password against the stored verifier; this machine's pg_hba may
    // trust 127.0.0.1, so check that the verifier is the one for the delivered password.
    const role = await db.role(read.principal);
    expect(await verifyScramPassword(role?.password ?? '', password)).toBe(true);

    const reader = await loginAs(read.principal, password);
    try {
      expect((await reader.query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
      await expect(reader.query("INSERT INTO public.items (note) VALUES ('nope')")).rejects.toThrow(/permission denied/);
    } finally {
      await reader.end();
    }

    const write = grantFor(config, { permission: 'write', grantee: 'bob@example.com' });
    const writeOut = await provisioner.grant(write);
    const writer = await loginAs(write.principal, writeOut.secrets?.password ?? '');
    try {
      await writer.query("INSERT INTO public.items (note) VALUES ('written')");
      expect((await writer.query('SELECT count(*)::int AS n FROM public.items')).rows).toEqual([{ n: 2 }]);
    } finally {
      await writer.end();
    }
    expect((await db.role(write.principal))?.memberOf).toEqual([db.readRole, db.writeRole].sort());

    await provisioner.revoke(read);
    await provisioner.revoke(write);
  });

  it('sets VALID UNTIL to the expiry and marks the role with the request and grant', async () => {
    const input = grantFor(config);
    await provisioner.grant(input);
    const role = await db.role(input.principal);
    expect(role).toMatchObject({
      canLogin: true, superuser: false, createRole: false,
      validUntilMs: input.expiresAt,
      comment: `latch-managed request=${input.requestId} grant=${input.grantId}`,
      memberOf: [db.readRole],
    });
    expect(role?.password).toMatch(/^SCRAM-SHA-256\$4096:/);
    await provisioner.revoke(input);
  });

  it('revoke ends open sessions, hands what the role built to the connector, drops the role; twice is fine', async () => {
    const input = grantFor(config, { permission: 'write' });
    const { secrets } = await provisioner.grant(input);
    const password = secrets?.password ?? '';
    await db.query(`GRANT USAGE, CREATE ON SCHEMA scratch TO "${input.principal}"`, [], db.database);
    const held = await loginAs(input.principal, password);
    await held.query('CREATE TABLE scratch.findings (id int)');
    await held.query('SELECT 1');

    await provisioner.revoke(input);

    await expect(held.query('SELECT 1')).rejects.toThrow();
    await held.end().catch(() => undefined);
    await expect(loginAs(input.principal, password)).rejects.toThrow(/does not exist|authentication failed/);
    expect(await db.role(input.principal)).toBeNull();
    expect(await db.query('SELECT tableowner::text AS owner FROM pg_tables WHERE schemaname = $1 AND tablename = $2', ['scratch', 'findings'], db.database))
      .toEqual([{ owner: PG_SUPERUSER }]);
    expect(await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [input.principal])).toEqual([{ n: 0 }]);

    await expect(provisioner.revoke(input)).resolves.toBeUndefined();
    expect(await provisioner.check(input)).toBe('absent');
  });

  it('a grant retried after a crash issues a new password and still makes one role', async () => {
    const input = grantFor(config);
    const first = await provisioner.grant(input);
    const second = await provisioner.grant(input);
    expect(second.principal).toBe(first.principal);
    expect(second.secrets?.password).not.toBe(first.secrets?.password);
    expect(await db.rolesStartingWith(input.principal)).toEqual([input.principal]);
    const role = await db.role(input.principal);
    expect(await verifyScramPassword(role?.password ?? '', second.secrets?.password ?? '')).toBe(true);
    expect(await verifyScramPassword(role?.password ?? '', first.secrets?.password ?? '')).toBe(false);
    expect(role?.memberOf).toEqual([db.readRole]);
    await provisioner.revoke(input);
  });

  it('a retry after the config changed leaves exactly the memberships the config names now', async () => {
    const write = grantFor(config, { permission: 'write' });
    await provisioner.grant(write);
    await provisioner.grant({ ...write, permission: 'read', permissionSettings: { roles: [db.readRole] } });
    expect((await db.role(write.principal))?.memberOf).toEqual([db.readRole]);
    await provisioner.revoke(write);
  });

  it('revokes a login role even after its permission left the config', async () => {
    const input = grantFor(config, { permission: 'write' });
    await provisioner.grant(input);
    await provisioner.revoke({ ...input, permission: 'gone', permissionSettings: {} });
    expect(await db.role(input.principal)).toBeNull();
  });

  it('extend moves VALID UNTIL; check tells whether the grant is there', async () => {
    const input = grantFor(config);
    expect(await provisioner.check(input)).toBe('absent');
    await provisioner.grant(input);
    expect(await provisioner.check(input)).toBe('present');
    const later = input.expiresAt + 2 * 3_600_000;
    await provisioner.extend({ ...input, expiresAt: later });
    expect((await db.role(input.principal))?.validUntilMs).toBe(later);
    await db.query(`REVOKE "${db.readRole}" FROM "${input.principal}"`);
    expect(await provisioner.check(input)).toBe('absent');
    await provisioner.revoke(input);
    await expect(provisioner.extend(input)).rejects.toThrow(/does not exist/);
  });

  it('takes 50 concurrent grants and 50 revokes (half of them batched) without an orphan', async () => {
    const inputs = Array.from({ length: 50 }, (_, index) => grantFor(config, { grantee: `bulk${index}@example.com`, permission: index % 2 === 0 ? 'read' : 'write' }));
    const granted = await Promise.allSettled(inputs.map((input) => provisioner.grant(input)));
    expect(granted.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(await db.rolesStartingWith(`${db.instance}_bulk`)).toHaveLength(50);

    const one = inputs.slice(0, 25);
    const batched = inputs.slice(25);
    const [revoked, results] = await Promise.all([
      Promise.allSettled(one.map((input) => provisioner.revoke(input))),
      provisioner.revokeMany(batched, { batchSize: 10 }),
    ]);
    expect(revoked.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(results).toEqual(batched.map((input) => ({ grantId: input.grantId, principal: input.principal, ok: true, batched: true })));
    expect(await db.rolesStartingWith(`${db.instance}_bulk`)).toEqual([]);
  });

  it('revokeMany falls back to one at a time when a batch fails and reports the one it could not revoke', async () => {
    const good = Array.from({ length: 3 }, (_, index) => grantFor(config, { grantee: `many${index}@example.com` }));
    for (const input of good) await provisioner.grant(input);
    // A role with a Latch-looking name that Latch did not make: the batch must not drop it.
    const foreign = `${db.instance}_mallory_${randomSuffix(6)}`;
    await db.query(`CREATE ROLE "${foreign}" LOGIN`);
    const bad: RevokeInput = { ...grantFor(config, { principal: foreign }) };

    const results = await provisioner.revokeMany([good[0], bad, good[1], good[2]].filter((input): input is GrantInput => input !== undefined), { batchSize: 10 });
    expect(results.map((result) => result.ok)).toEqual([true, false, true, true]);
    expect(results.filter((result) => result.ok).every((result) => result.ok && !result.batched)).toBe(true);
    expect(results[1]).toMatchObject({ principal: foreign, ok: false, error: expect.stringMatching(/not managed by Latch/) });
    expect(await db.role(foreign)).not.toBeNull();
    for (const input of good) expect(await db.role(input.principal)).toBeNull();
  });

  it('existing_role mode adds and removes the membership only', async () => {
    const person = `${db.prefix}_alice`;
    await db.query(`CREATE ROLE "${person}" LOGIN`);
    const options: IntegrationOptions = {
      resources: [{
        name: 'shared',
        settings: { database: db.database, mode: 'existing_role', existingRoles: { 'Alice@Example.com': person } },
        permissions: { read: { roles: [db.readRole] } },
      }],
    };
    const mapped = open(options);
    const target = integration(options);
    const input = grantFor(target, { resource: 'shared' });

    const output = await mapped.grant(input);
    expect(output).toEqual({ principal: person, details: { host: PG_HOST, port: String(PG_PORT), database: db.database, username: person } });
    expect((await db.role(person))?.memberOf).toEqual([db.readRole]);
    expect(await mapped.check(input)).toBe('present');
    expect(await mapped.listManaged(target)).toContainEqual({ principal: person, reference: null, expiresAt: null });

    await mapped.revoke({ ...input, principal: output.principal });
    expect(await db.role(person)).toMatchObject({ canLogin: true, memberOf: [] });
    await expect(mapped.revoke({ ...input, principal: output.principal })).resolves.toBeUndefined();
    expect(await mapped.check(input)).toBe('absent');
    await expect(mapped.grant(grantFor(target, { resource: 'shared', grantee: 'bob@example.com' }))).rejects.toThrow(/no existing role is mapped to bob@example.com/);
  });

  it('existing_role mode leaves the memberships the person\'s other grants still need', async () => {
    const person = `${db.prefix}_erin`;
    const [shared, alphaOnly, betaOnly] = ['shared', 'alpha', 'beta'].map((name) => `${db.prefix}_g_${name}`) as [string, string, string];
    await db.query(`CREATE ROLE "${person}" LOGIN`);
    for (const group of [shared, alphaOnly, betaOnly]) await db.query(`CREATE ROLE "${group}" NOLOGIN`);
    const options: IntegrationOptions = {
      resources: [
        {
          name: 'reports',
          settings: { database: db.database, mode: 'existing_role', existingRoles: { 'erin@example.com': person } },
          permissions: { alpha: { roles: [shared, alphaOnly] }, beta: { roles: [shared, betaOnly] } },
        },
        // The same person on a resource that makes login roles: its groups live on another principal.
        { name: 'orders', settings: { databases: [db.database] }, permissions: { read: { roles: [alphaOnly] } } },
      ],
    };
    const mapped = open(options);
    const target = integration(options);
    const alpha = grantFor(target, { resource: 'reports', permission: 'alpha', grantee: 'erin@example.com', principal: person });
    const beta = grantFor(target, { resource: 'reports', permission: 'beta', grantee: 'erin@example.com', principal: person });
    const login = grantFor(target, { resource: 'orders', permission: 'read', grantee: 'erin@example.com' });
    const held = (input: GrantInput) => ({ grantId: input.grantId, resource: input.resource, permission: input.permission, permissionSettings: input.permissionSettings });
    const grantBoth = async () => {
      await mapped.grant(alpha);
      await mapped.grant(beta);
      expect((await db.role(person))?.memberOf).toEqual([alphaOnly, betaOnly, shared].sort());
    };

    await grantBoth();
    await mapped.revoke({ ...alpha, stillHeld: [held(beta), held(login)] });
    expect((await db.role(person))?.memberOf).toEqual([betaOnly, shared].sort());
    expect(await mapped.check(beta)).toBe('present');
    await mapped.revoke(beta);
    expect((await db.role(person))?.memberOf).toEqual([]);

    // Revoked together, neither keeps what only the other one needed.
    await grantBoth();
    const results = await mapped.revokeMany([{ ...alpha, stillHeld: [held(beta)] }, { ...beta, stillHeld: [held(alpha)] }]);
    expect(results.map((result) => result.ok)).toEqual([true, true]);
    expect((await db.role(person))?.memberOf).toEqual([]);

    // Through revokeMany too, one revoked alone keeps what the other still needs.
    await grantBoth();
    expect((await mapped.revokeMany([{ ...beta, stillHeld: [held(alpha)] }]))[0]?.ok).toBe(true);
    expect((await db.role(person))?.memberOf).toEqual([alphaOnly, shared].sort());
    await mapped.revoke(alpha);
    expect((await db.role(person))?.memberOf).toEqual([]);
  });

  it('refuses hostile names with a clear error before any SQL, and creates nothing', async () => {
    const hostile = [`ro"; DROP ROLE postgres; --`, 'ro`x', "ro'x", 'rôle', 'r'.repeat(100), 'ro;x', ''];
    // Nothing listens on port 1: an answer other than the naming error would mean SQL was attempted.
    const offline = { connection: { port: 1 } };
    const before = await db.rolesStartingWith(db.instance);
    for (const name of hostile) {
      // (Revoking a login role names no group role, so a bad one in the config cannot stop it.)
      const cases: { options: IntegrationOptions; principal?: string; revokeUsesIt: boolean }[] = [
        { options: { ...offline, resources: [{ name: 'orders', settings: { databases: [db.database] }, permissions: { read: { roles: [name] } } }] }, revokeUsesIt: false },
        { options: { ...offline, resources: [{ name: 'orders', settings: { databases: [name] }, permissions: { read: { roles: [db.readRole] } } }] }, revokeUsesIt: true },
        { options: { ...offline, resources: [{ name: 'orders', settings: { mode: 'existing_role', existingRoles: { 'alice@example.com': name } }, permissions: { read: { roles: [db.readRole] } } }] }, revokeUsesIt: true },
        { options: offline, principal: name, revokeUsesIt: true },
      ];
      const refused = /^integration "orders-pg".*(is not a safe|must be)/;
      for (const { options, principal, revokeUsesIt } of cases) {
        const target = integration(options);
        const subject = open(options);
        const input = grantFor(target, principal === undefined ? {} : { principal });
        const where = `${JSON.stringify(name)} in ${JSON.stringify(options.resources ?? 'principal')}`;
        await expect(subject.grant(input), where).rejects.toThrow(refused);
        await expect(subject.check(input), where).rejects.toThrow(refused);
        if (revokeUsesIt) await expect(subject.revoke(input), where).rejects.toThrow(refused);
      }
    }
    expect(await db.rolesStartingWith(db.instance)).toEqual(before);
    // The live connection refuses them too (and says which setting).
    const live: IntegrationOptions = { resources: [{ name: 'orders', settings: {}, permissions: { read: { roles: [`x"; DROP ROLE "${db.readRole}`] } } }] };
    await expect(open(live).grant(grantFor(integration(live))))
      .rejects.toThrow(/integration "orders-pg" resource "orders" permission "read"\.roles\[0\]: "x\\"; DROP ROLE .* is not a safe role name/);
    expect(await db.role(db.readRole)).not.toBeNull();
    // Resource and permission names are config names: the config schema refuses hostile ones.
    expect(() => integration({ resources: [{ name: "orders'; --", permissions: { read: { roles: [db.readRole] } } }] })).toThrow();
    expect(() => integration({ resources: [{ name: 'orders', permissions: { 'read"x': { roles: [db.readRole] } } }] })).toThrow();
  });

  it('never takes over a role of the same name that Latch did not create', async () => {
    const principal = `${db.instance}_eve_${randomSuffix(6)}`;
    await db.query(`CREATE ROLE "${principal}" NOLOGIN`);
    const input = grantFor(config, { principal });
    await expect(provisioner.grant(input)).rejects.toThrow(/exists but is not managed by Latch/);
    await expect(provisioner.revoke(input)).rejects.toThrow(/not managed by Latch/);
    expect(await db.role(principal)).toMatchObject({ canLogin: false, password: null, memberOf: [] });
  });

  it('refuses to hand out membership in a superuser role', async () => {
    const options: IntegrationOptions = { resources: [{ name: 'orders', settings: { database: db.database }, permissions: { read: { roles: [PG_SUPERUSER] } } }] };
    const input = grantFor(integration(options));
    await expect(open(options).grant(input)).rejects.toThrow(/superuser role; Latch refuses/);
    expect(await db.role(input.principal)).toBeNull();
  });

  it('lists what it manages with request and expiry, and removes orphans it made but never strangers', async () => {
    const input = grantFor(config);
    await provisioner.grant(input);
    const stray = `${db.instance}_stray_${randomSuffix(6)}`;
    await db.query(`CREATE ROLE "${stray}" NOLOGIN`);

    const listed = await provisioner.listManaged(config);
    expect(listed).toContainEqual({ principal: input.principal, reference: input.requestId, expiresAt: input.expiresAt });
    expect(listed).toContainEqual({ principal: stray, reference: null, expiresAt: null });
    expect(listed.map((entry) => entry.principal)).not.toContain(db.readRole);
    expect(listed.map((entry) => entry.principal)).not.toContain(PG_SUPERUSER);
    // Another Latch instance's role on the same server is that instance's business, never an orphan here.
    const neighbour = `${db.prefix}_other_${randomSuffix(6)}`;
    await db.query(`CREATE ROLE "${neighbour}" NOLOGIN`);
    await db.query(`COMMENT ON ROLE "${neighbour}" IS 'latch-managed request=AR-OTHER000 grant=g_other'`);
    expect((await provisioner.listManaged(config)).map((entry) => entry.principal)).not.toContain(neighbour);

    // Without connection.instance the prefix comes from the roles that carry the marker.
    const unconfigured = open({ instance: false });
    expect(unconfigured.connection.instance).toBeUndefined();
    expect((await unconfigured.listManaged(config)).map((entry) => entry.principal)).toEqual(expect.arrayContaining([input.principal, stray]));

    await provisioner.removeOrphan(config, input.principal);
    expect(await db.role(input.principal)).toBeNull();
    await expect(provisioner.removeOrphan(config, input.principal)).resolves.toBeUndefined();
    await expect(provisioner.removeOrphan(config, stray)).rejects.toThrow(/not managed by Latch/);
    expect(await db.role(stray)).not.toBeNull();
  });

  it('health reports a connector without CREATEROLE or ADMIN OPTION, and missing roles and databases', async () => {
    const healthy = await provisioner.health();
    expect(healthy).toMatchObject({ integration: 'orders-pg', ok: true, problems: [], connector: { canLogin: true, superuser: true, createRole: true } });
    expect(healthy.groupRoles).toEqual([
      { role: db.readRole, exists: true, superuser: false, adminOption: true, canGrant: true },
      { role: db.writeRole, exists: true, superuser: false, adminOption: true, canGrant: true },
    ]);
    expect(healthy.databases).toEqual([{ database: db.database, exists: true, connect: true }]);

    const weakUser = `${db.prefix}_weak`;
    await db.query(`CREATE ROLE "${weakUser}" LOGIN`);
    await db.query(`REVOKE CONNECT ON DATABASE "${db.database}" FROM PUBLIC`);
    try {
      const weak = await open({
        connection: { user: weakUser },
        resources: [{ name: 'orders', settings: { databases: [db.database, `${db.prefix}_nowhere`] }, permissions: { read: { roles: [db.readRole, `${db.prefix}_missing`] } } }],
      }).health();
      expect(weak.ok).toBe(false);
      expect(weak.connector).toMatchObject({ user: weakUser, canLogin: true, superuser: false, createRole: false });
      expect(weak.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/lacks CREATEROLE/),
        expect.stringMatching(new RegExp(`no ADMIN OPTION on group role ${db.readRole}: it cannot grant it`)),
        `group role ${db.prefix}_missing does not exist`,
        `database ${db.prefix}_nowhere does not exist`,
        expect.stringMatching(new RegExp(`cannot CONNECT to database ${db.database}`)),
      ]));
    } finally {
      await db.query(`GRANT CONNECT ON DATABASE "${db.database}" TO PUBLIC`);
    }

    expect(await postgresHealth(integration({ connection: { port: 'abc' } }), {})).toMatchObject({
      ok: false, connector: { canLogin: false }, problems: ['integration "orders-pg": connection.port: must be a number'],
    });
    expect((await postgresHealth(integration(), {})).ok).toBe(true);

    const unreachable = await open({ connection: { port: 1 } }).health();
    expect(unreachable).toMatchObject({ ok: false, connector: { canLogin: false } });
    expect(unreachable.problems[0]).toMatch(/cannot log in: .*cannot connect to PostgreSQL at/);
  });

  it('maxLevel read: a read role quietly given more than reading fails the health check and the grant', async () => {
    const reader = `${db.prefix}_audit_ro`;
    const helper = `${db.prefix}_audit_helper`;
    await db.query(`CREATE ROLE "${reader}" NOLOGIN`);
    await db.query(`CREATE ROLE "${helper}" NOLOGIN`);
    await db.query(`GRANT USAGE ON SCHEMA public TO "${reader}"; GRANT SELECT ON public.items TO "${reader}"`, [], db.database);
    const options: IntegrationOptions = {
      maxLevel: 'read',
      resources: [{ name: 'orders', settings: { databases: [db.database] }, permissions: { read: { roles: [reader], level: 'read' } } }],
    };
    const audited = open(options);
    const target = integration(options);
    expect(target.resources[0]?.levels).toEqual({ read: 'read' });

    const clean = await audited.health();
    expect(clean.problems).toEqual([]);
    expect(clean.readLevel).toEqual([{ resource: 'orders', permission: 'read', findings: [] }]);
    const first = grantFor(target);
    await audited.grant(first);
    await audited.revoke(first);

    // INSERT through a role the read role inherits, CREATE on a schema, and an attribute.
    await db.query(`GRANT INSERT ON public.items TO "${helper}"; GRANT CREATE ON SCHEMA scratch TO "${reader}"`, [], db.database);
    await db.query(`GRANT "${helper}" TO "${reader}"; ALTER ROLE "${helper}" CREATEDB`);
    const report = await audited.health();
    expect(report.ok).toBe(false);
    expect(report.readLevel[0]?.findings.sort()).toEqual([
      `group role ${reader} (through ${helper}) holds CREATEDB`,
      `group role ${reader} (through ${helper}) holds INSERT on table items in database ${db.database}`,
      `group role ${reader} holds CREATE on schema scratch in database ${db.database}`,
    ].sort());
    expect(report.problems).toContain(`resource "orders" permission "read" is a read permission (maxLevel read), but group role ${reader} holds CREATE on schema scratch in database ${db.database}`);
    expect((await audited.checkHealth()).ok).toBe(false);

    const refused = grantFor(target, { grantee: 'audit@example.com' });
    await expect(audited.grant(refused)).rejects.toThrow(new RegExp(`integration "orders-pg" resource "orders" permission "read" is a read permission \\(the integration's maxLevel is read\\), but .*group role ${reader} \\(through ${helper}\\) holds INSERT on table items.*Latch refuses to grant it`));
    expect(await db.role(refused.principal)).toBeNull();
    // The same roles under an integration without maxLevel are not held to reading.
    expect((await open({ resources: options.resources }).health()).readLevel).toEqual([]);

    await db.query(`REVOKE CREATE ON SCHEMA scratch FROM "${reader}"; REVOKE INSERT ON public.items FROM "${helper}"`, [], db.database);
    await db.query(`REVOKE "${helper}" FROM "${reader}"`);
    expect((await audited.health()).problems).toEqual([]);
  });

  it('works with a least-privilege connector made by scripts/postgres-connector-setup.sql', async () => {
    const connector = `${db.prefix}_connector`;
    await runPsqlScript('scripts/postgres-connector-setup.sql', { connector, group_roles: `${db.readRole},${db.writeRole}`, databases: db.database });
    const role = await db.role(connector);
    expect(role).toMatchObject({ canLogin: true, superuser: false, createRole: true });

    const least = open({ connection: { user: connector } });
    const report = await least.health();
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, connector: { superuser: false, createRole: true } });

    const target = integration({ connection: { user: connector } });
    const input = grantFor(target, { permission: 'write' });
    const { secrets } = await least.grant(input);
    await least.extend({ ...input, expiresAt: input.expiresAt + 60_000 });
    // Privileges belong to the group roles: that is what the connector can take back.
    await db.query(`GRANT USAGE, CREATE ON SCHEMA scratch TO "${db.writeRole}"`, [], db.database);
    const held = await loginAs(input.principal, secrets?.password ?? '');
    await held.query("INSERT INTO public.items (note) VALUES ('least')");
    await held.query('CREATE TABLE scratch.least_privilege (id int)');

    await least.revoke(input);

    await expect(held.query('SELECT 1')).rejects.toThrow();
    await held.end().catch(() => undefined);
    expect(await db.role(input.principal)).toBeNull();
    expect(await db.query('SELECT tableowner::text AS owner FROM pg_tables WHERE tablename = $1', ['least_privilege'], db.database)).toEqual([{ owner: connector }]);
    // The connector kept nothing of the role it dropped.
    expect((await db.role(connector))?.memberOf.sort()).toEqual([db.readRole, db.writeRole].sort());

    // A privilege someone granted the login role directly only its grantor, the owner or a
    // superuser can revoke: the revoke fails, loudly, with the role already unable to log in,
    // and finishes once the grant is gone.
    const direct = grantFor(target, { grantee: 'direct@example.com' });
    const directOut = await least.grant(direct);
    await db.query(`GRANT USAGE ON SCHEMA scratch TO "${direct.principal}"`, [], db.database);
    await expect(least.revoke(direct)).rejects.toThrow(/cannot drop .* yet: .*granted to the role directly by another role/);
    await expect(loginAs(direct.principal, directOut.secrets?.password ?? '')).rejects.toThrow(/not permitted to log in/);
    expect(await db.role(direct.principal)).toMatchObject({ canLogin: false, password: null, memberOf: [] });
    await db.query(`REVOKE USAGE ON SCHEMA scratch FROM "${direct.principal}"`, [], db.database);
    await least.revoke(direct);
    expect(await db.role(direct.principal)).toBeNull();

    const batch = Array.from({ length: 4 }, (_, index) => grantFor(target, { grantee: `least${index}@example.com` }));
    for (const each of batch) await least.grant(each);
    expect((await least.revokeMany(batch)).every((result) => result.ok && result.batched)).toBe(true);
    expect(await db.rolesStartingWith(`${db.instance}_least`)).toEqual([]);
  });

  it('says which integration and key is wrong in its settings', async () => {
    const missingEnv = new PostgresProvisioner(integration({ credentials: { env: 'ORDERS_PG_PASSWORD' } }), {});
    opened.push(missingEnv);
    await expect(missingEnv.grant(grantFor(config))).rejects.toThrow('integration "orders-pg": environment variable ORDERS_PG_PASSWORD is not set');
    const withEnv = new PostgresProvisioner(integration({ credentials: { env: 'ORDERS_PG_PASSWORD' } }), { ORDERS_PG_PASSWORD: 'from-the-environment' });
    opened.push(withEnv);
    expect((await withEnv.health()).ok).toBe(true);
    const secret = new PostgresProvisioner(integration({ credentials: { secret: 'vault://secret/latch#orders' } }), {});
    opened.push(secret);
    await expect(secret.grant(grantFor(config))).rejects.toThrow(/integration "orders-pg": secret references are not supported by this provisioner yet/);

    expect(() => createPostgresProvisioner(integration({ connection: { port: 'abc' } }), {})).toThrow(/integration "orders-pg": connection\.port: must be a number/);
    expect(() => createPostgresProvisioner(integration({ connection: { host: '' } }), {})).toThrow(/connection\.host: must not be empty/);
    expect(() => createPostgresProvisioner(integration({ connection: { maxConections: 3 } }), {})).toThrow(/connection: Unrecognized key.*maxConections/);
    expect(() => createPostgresProvisioner(IntegrationSchema.parse({ name: 'orders-pg', type: 'postgresql', owner: 'group:leads', connection: { user: 'latch' }, resources: [{ name: 'x', permissions: ['read'] }] }), {}))
      .toThrow(/connection\.host: is required/);
    const noRoles: IntegrationOptions = { resources: [{ name: 'orders', permissions: ['read'] }] };
    await expect(open(noRoles).grant(grantFor(integration(noRoles)))).rejects.toThrow('integration "orders-pg" resource "orders" permission "read".roles: is required');
    const badMode: IntegrationOptions = { resources: [{ name: 'orders', settings: { mode: 'existing_role' }, permissions: { read: { roles: [db.readRole] } } }] };
    await expect(open(badMode).grant(grantFor(integration(badMode)))).rejects.toThrow(/resource "orders": settings\.existingRoles: mode existing_role needs existingRoles/);
    const typo: IntegrationOptions = { resources: [{ name: 'orders', settings: { databse: db.database }, permissions: { read: { roles: [db.readRole] } } }] };
    await expect(open(typo).grant(grantFor(integration(typo)))).rejects.toThrow(/resource "orders": settings: Unrecognized key: "databse"/);
  });
});

describe('PostgreSQL provisioner and the server log', () => {
  let logFile: string | null = null;
  let previous: { setting: string; inAutoConf: boolean } | null = null;

  beforeAll(async () => {
    logFile = await serverLogFile();
    previous = await asSuperuser(async (client) => {
      const row = (await client.query<{ setting: string; sourcefile: string | null }>("SELECT setting, sourcefile FROM pg_settings WHERE name = 'log_statement'")).rows[0];
      // SET would only change this session; the provisioner has its own connections.
      await client.query("ALTER SYSTEM SET log_statement = 'ddl'");
      await client.query('SELECT pg_reload_conf()');
      return { setting: row?.setting ?? 'none', inAutoConf: row?.sourcefile?.endsWith('postgresql.auto.conf') ?? false };
    });
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const now = await asSuperuser(async (client) => (await client.query<{ value: string }>("SELECT current_setting('log_statement') AS value")).rows[0]?.value);
      if (now === 'ddl') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    if (!previous) return;
    const restore = previous;
    await asSuperuser(async (client) => {
      if (restore.inAutoConf) await client.query(`ALTER SYSTEM SET log_statement = ${client.escapeLiteral(restore.setting)}`);
      else await client.query('ALTER SYSTEM RESET log_statement');
      await client.query('SELECT pg_reload_conf()');
    });
  });

  it('logs the CREATE ROLE with the SCRAM verifier but never the password', async () => {
    expect(logFile, 'server log not found: set LATCH_TEST_PG_LOG to the PostgreSQL log file').not.toBeNull();
    const path = logFile ?? '';
    const start = await logSize(path);
    const fresh = open();
    const input = grantFor(integration());
    const first = await fresh.grant(input);
    const again = await fresh.grant(input);
    await fresh.revoke(input);

    let logged = '';
    for (let attempt = 0; attempt < 50 && !logged.includes(`DROP ROLE IF EXISTS "${input.principal}"`); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logged = await readLogFrom(path, start);
    }
    expect(logged).toContain(`CREATE ROLE "${input.principal}" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
    expect(logged).toContain(`ALTER ROLE "${input.principal}" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
    for (const password of [first.secrets?.password, again.secrets?.password]) {
      expect(password).toBeTruthy();
      expect(logged).not.toContain(password);
    }
  });
});
