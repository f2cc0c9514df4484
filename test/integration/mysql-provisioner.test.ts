import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { createMysqlProvisioner, MysqlProvisioner, MysqlSettingsError } from '../../provisioners/mysql.js';
import { principalName } from '../../provisioners/principal-name.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { connectAs, createTestDatabase, MY_HOST, MY_PORT, MY_ROOT, MY_ROOT_PASSWORD, rootQuery, type TestDatabase } from '../support/mysql.js';

let db: TestDatabase;
let provisioner: MysqlProvisioner;
let config: Integration;
const opened: MysqlProvisioner[] = [];
const sessions: Connection[] = [];

interface IntegrationOptions {
  connection?: Record<string, string | number | boolean>;
  credentials?: Record<string, unknown>;
  permissions?: Record<string, unknown>;
}

const rootCredentials = () => (MY_ROOT_PASSWORD ? { env: 'LATCH_TEST_MYSQL_PASSWORD' } : { none: true });

/** The integration as the config loader would hand it over (parsed by the real schema). */
function integration(options: IntegrationOptions = {}): Integration {
  return IntegrationSchema.parse({
    name: 'orders-my',
    type: 'mysql',
    owner: 'group:leads',
    connection: { host: MY_HOST, port: MY_PORT, user: MY_ROOT, instance: db.instance, ...options.connection },
    credentials: options.credentials ?? rootCredentials(),
    resources: [{
      name: 'orders',
      settings: { database: db.database },
      permissions: options.permissions ?? {
        read: { roles: [db.readRole] },
        write: { roles: [db.writeRole] },
        'table-read': { grants: [{ privileges: ['SELECT'], on: `${db.database}.items` }] },
        'schema-write': { grants: [{ privileges: ['select', 'Insert'], on: `${db.database}.*` }] },
      },
    }],
  });
}

function open(options: IntegrationOptions = {}, env: NodeJS.ProcessEnv = process.env): MysqlProvisioner {
  const created = new MysqlProvisioner(integration(options), env);
  opened.push(created);
  return created;
}

function grantFor(target: Integration, options: { permission?: string; grantee?: string; principal?: string; instance?: string } = {}): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('the test integration has no resource');
  const permission = options.permission ?? 'read';
  const grantee = options.grantee ?? 'alice@example.com';
  return {
    grantId: newId('gr'), requestId: newRequestId(), grantee, integration: target, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {},
    principal: options.principal ?? principalName(options.instance ?? db.instance, grantee),
    expiresAt: Date.now() + 3_600_000,
  };
}

async function loginAs(user: string, password: string): Promise<Connection> {
  const conn = await connectAs({ user, password, database: db.database });
  sessions.push(conn);
  return conn;
}

async function selectNotes(conn: Connection): Promise<string[]> {
  const [rows] = await conn.query('SELECT note FROM items ORDER BY id');
  return (rows as { note: string }[]).map((row) => row.note);
}

beforeAll(async () => {
  db = await createTestDatabase();
  config = integration();
  provisioner = open();
});

afterAll(async () => {
  await Promise.allSettled(sessions.map((conn) => conn.end().catch(() => conn.destroy())));
  await Promise.allSettled(opened.map((each) => each.close()));
  await db?.cleanup();
});

describe('MySQL/MariaDB provisioner: grant', () => {
  it('grants a role: the delivered password logs in, can SELECT and cannot INSERT', async () => {
    const input = grantFor(config, { permission: 'read' });
    const output = await provisioner.grant(input);
    expect(output.principal).toBe(input.principal);
    expect(output.details).toEqual({ host: MY_HOST, port: String(MY_PORT), username: input.principal, database: db.database });
    const password = output.secrets?.password ?? '';
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const conn = await loginAs(input.principal, password);
    expect(await selectNotes(conn)).toContain('first');
    await expect(conn.query("INSERT INTO items (note) VALUES ('nope')")).rejects.toThrow(/denied/i);
    const [role] = await conn.query('SELECT CURRENT_ROLE() AS role');
    expect(role).toEqual([{ role: db.readRole }]);

    expect(await provisioner.check(input)).toBe('present');
    expect(await provisioner.check({ ...input, permission: 'write', permissionSettings: config.resources[0]?.permissions.write ?? {} })).toBe('absent');
    await provisioner.revoke(input);
  });

  it('grants the write role: INSERT works', async () => {
    // The provisioner has seen SET DEFAULT ROLE ... FOR work: this account is made in one compound statement.
    const input = grantFor(config, { permission: 'write', grantee: 'bob@example.com' });
    const output = await provisioner.grant(input);
    const conn = await loginAs(input.principal, output.secrets?.password ?? '');
    const [role] = await conn.query('SELECT CURRENT_ROLE() AS role');
    expect(role).toEqual([{ role: db.writeRole }]);
    await conn.query("INSERT INTO items (note) VALUES ('from bob')");
    expect(await selectNotes(conn)).toContain('from bob');
    await provisioner.revoke(input);
  });

  it('grants privileges directly (grants:), on exactly the table or schema named', async () => {
    const table = grantFor(config, { permission: 'table-read', grantee: 'carol@example.com' });
    const tableConn = await loginAs(table.principal, (await provisioner.grant(table)).secrets?.password ?? '');
    expect(await selectNotes(tableConn)).toContain('first');
    await expect(tableConn.query('SELECT * FROM secrets')).rejects.toThrow(/denied/i);
    await expect(tableConn.query("INSERT INTO items (note) VALUES ('nope')")).rejects.toThrow(/denied/i);
    expect(await provisioner.check(table)).toBe('present');

    const schema = grantFor(config, { permission: 'schema-write', grantee: 'dave@example.com' });
    const schemaConn = await loginAs(schema.principal, (await provisioner.grant(schema)).secrets?.password ?? '');
    await schemaConn.query("INSERT INTO items (note) VALUES ('from dave')");
    await schemaConn.query('SELECT * FROM secrets');
    // `latch_t_x.*` unescaped would also match `latchxtx...`: the grant must not reach it.
    await expect(schemaConn.query(`SELECT * FROM \`${db.decoy}\`.items`)).rejects.toThrow(/denied/i);
    expect(await provisioner.check(schema)).toBe('present');

    await provisioner.revoke(table);
    await provisioner.revoke(schema);
    expect(await provisioner.check(schema)).toBe('absent');
  });

  it('granting twice returns a new password, keeps one account, and holds what the config says now', async () => {
    const first = grantFor(config, { permission: 'write', grantee: 'erin@example.com' });
    const one = await provisioner.grant(first);
    // The retry of the same grant, after the permission was changed to read in the config.
    const retry = { ...first, permission: 'read', permissionSettings: config.resources[0]?.permissions.read ?? {} };
    const two = await provisioner.grant(retry);
    expect(two.principal).toBe(one.principal);
    expect(two.secrets?.password).not.toBe(one.secrets?.password);
    expect(await rootQuery('SELECT Host FROM mysql.user WHERE User = ?', [first.principal])).toHaveLength(1);

    await expect(connectAs({ user: first.principal, password: one.secrets?.password ?? '' })).rejects.toThrow(/denied/i);
    const conn = await loginAs(first.principal, two.secrets?.password ?? '');
    expect(await selectNotes(conn)).toContain('first');
    await expect(conn.query("INSERT INTO items (note) VALUES ('stale write role')")).rejects.toThrow(/denied/i);
    expect(await provisioner.check(retry)).toBe('present');
    await provisioner.revoke(retry);
  });

  it('resetting the credentials gives a new password that logs in with the same roles; the old one is denied', async () => {
    const input = grantFor(config, { grantee: 'reset@example.com' });
    const granted = await provisioner.grant(input);
    const reset = await provisioner.resetCredentials(input);
    expect(reset.principal).toBe(input.principal);
    expect(reset.secrets?.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(reset.secrets?.password).not.toBe(granted.secrets?.password);
    expect(reset.details).toEqual(granted.details);

    await expect(connectAs({ user: input.principal, password: granted.secrets?.password ?? '' })).rejects.toThrow(/denied/i);
    const conn = await loginAs(input.principal, reset.secrets?.password ?? '');
    expect(await selectNotes(conn)).toContain('first');
    expect(await provisioner.check(input)).toBe('present');
    await provisioner.revoke(input);
    await expect(provisioner.resetCredentials(input)).rejects.toThrow(/does not exist, so it has no password to reset/);
  });

  it('two racing attempts of the same grant leave one account whose last password works', async () => {
    const input = grantFor(config, { permission: 'read', grantee: 'judy@example.com' });
    const [a, b] = await Promise.all([provisioner.grant(input), provisioner.grant(input)]);
    expect(await rootQuery('SELECT Host FROM mysql.user WHERE User = ?', [input.principal])).toHaveLength(1);
    const works = async (password: string) => connectAs({ user: input.principal, password }).then(async (conn) => {
      await conn.end();
      return true;
    }, () => false);
    // The per-principal lock orders them: exactly one password is current, never a silent no-op.
    expect([await works(a.secrets?.password ?? ''), await works(b.secrets?.password ?? '')].filter(Boolean)).toHaveLength(1);
    await provisioner.revoke(input);
  });

  it('50 concurrent grants all succeed, and 50 revokes leave no account behind', async () => {
    const bulk = open({ connection: { instance: db.bulkInstance } });
    const target = integration({ connection: { instance: db.bulkInstance } });
    const inputs = Array.from({ length: 50 }, (_unused, index) => grantFor(target, { grantee: `user${index}@example.com`, instance: db.bulkInstance }));
    const outputs = await Promise.all(inputs.map((input) => bulk.grant(input)));
    expect(outputs.every((output) => (output.secrets?.password ?? '').length === 32)).toBe(true);
    expect(await db.accountsStartingWith(`${db.bulkInstance}_`)).toHaveLength(50);
    expect((await bulk.listManaged(target)).map((entry) => entry.principal).sort()).toEqual(inputs.map((input) => input.principal).sort());

    await Promise.all(inputs.map((input) => bulk.revoke(input)));
    expect(await db.accountsStartingWith(`${db.bulkInstance}_`)).toEqual([]);
    expect(await bulk.listManaged(target)).toEqual([]);
  });
});

describe('MySQL/MariaDB provisioner: revoke', () => {
  it('kills open sessions, blocks new logins and drops the account; revoking twice succeeds', async () => {
    const input = grantFor(config, { permission: 'read', grantee: 'frank@example.com' });
    const output = await provisioner.grant(input);
    const password = output.secrets?.password ?? '';
    const held = await loginAs(input.principal, password);
    expect(await selectNotes(held)).toContain('first');

    await provisioner.revoke(input);
    await expect(held.query('SELECT 1')).rejects.toThrow();
    await expect(connectAs({ user: input.principal, password })).rejects.toThrow(/denied/i);
    expect(await db.accountExists(input.principal)).toBe(false);
    expect(await rootQuery('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [input.principal])).toEqual([]);
    expect(await provisioner.check(input)).toBe('absent');

    await expect(provisioner.revoke(input)).resolves.toBeUndefined();
  });

  it('revokes even when the permission has since been removed from the config', async () => {
    const input = grantFor(config, { permission: 'read', grantee: 'gina@example.com' });
    await provisioner.grant(input);
    await provisioner.revoke({ ...input, permission: 'gone', permissionSettings: {} });
    expect(await db.accountExists(input.principal)).toBe(false);
  });

  it('extend is a no-op: the expiry lives in Latch', async () => {
    const input = grantFor(config, { permission: 'read', grantee: 'hank@example.com' });
    await provisioner.grant(input);
    await expect(provisioner.extend({ ...input, expiresAt: input.expiresAt + 3_600_000 })).resolves.toBeUndefined();
    expect(await provisioner.check(input)).toBe('present');
    await provisioner.revoke(input);
  });

  it('lists managed accounts by prefix and removes orphans, never anything without the prefix', async () => {
    const input = grantFor(config, { permission: 'read', grantee: 'ivy@example.com' });
    await provisioner.grant(input);
    const managed = await provisioner.listManaged(config);
    expect(managed).toContainEqual({ principal: input.principal, reference: null, expiresAt: null });
    expect(managed.every((entry) => entry.principal.startsWith(`${db.instance}_`))).toBe(true);

    await provisioner.removeOrphan(config, input.principal);
    expect(await db.accountExists(input.principal)).toBe(false);
    await expect(provisioner.removeOrphan(config, input.principal)).resolves.toBeUndefined();
    await expect(provisioner.removeOrphan(config, db.plainAccount)).rejects.toThrow(/not Latch's to touch/);
    await expect(provisioner.revoke({ ...input, principal: MY_ROOT })).rejects.toThrow(/not Latch's to touch/);
    expect(await db.accountExists(db.plainAccount)).toBe(true);
  });
});

describe('MySQL/MariaDB provisioner: refuses what it must not do', () => {
  const HOSTILE = [
    "x'; DROP USER root; --",
    'a;b',
    'a`b',
    'naïve',
    '表',
    'x'.repeat(100),
    'a b',
    'a\\b',
    '',
  ];

  function settingsFor(field: 'schema' | 'table' | 'role' | 'privilege', value: string): Record<string, unknown> {
    switch (field) {
      case 'schema': return { grants: [{ privileges: ['SELECT'], on: `${value}.*` }] };
      case 'table': return { grants: [{ privileges: ['SELECT'], on: `${db.database}.${value}` }] };
      case 'role': return { roles: [value] };
      case 'privilege': return { grants: [{ privileges: [value], on: `${db.database}.*` }] };
    }
  }

  it('refuses hostile schema, table, role and privilege names with a clear error before any SQL, and creates nothing', async () => {
    // A provisioner pointed at no server: a settings error is the only possible answer.
    const nowhere = open({ connection: { port: 1 } });
    const cases: { field: 'schema' | 'table' | 'role' | 'privilege'; value: string }[] = [];
    for (const value of HOSTILE) for (const field of ['schema', 'table', 'role', 'privilege'] as const) cases.push({ field, value });
    for (const value of ['ALL', 'ALL PRIVILEGES', 'GRANT OPTION', 'SUPER', 'FILE', 'SELECT; DROP TABLE items', 'SELECT,INSERT']) cases.push({ field: 'privilege', value });
    const principals: string[] = [];
    for (const { field, value } of cases) {
      const target = integration({ permissions: { bad: settingsFor(field, value) } });
      const input = grantFor(target, { permission: 'bad', grantee: 'mallory@example.com' });
      principals.push(input.principal);
      for (const each of [provisioner, nowhere]) {
        const error = await each.grant(input).then(() => null, (caught: unknown) => caught);
        expect(error, `${field} ${JSON.stringify(value)}`).toBeInstanceOf(MysqlSettingsError);
        const message = (error as Error).message;
        expect(message).toContain('integration "orders-my" resource "orders" permission "bad"');
        expect(message).toMatch(field === 'role' ? /\.roles\[0\]/ : field === 'privilege' ? /\.privileges\[0\]/ : /\.on/);
      }
    }
    for (const principal of principals) expect(await db.accountExists(principal)).toBe(false);
  });

  it('refuses system schemas, table-level-only mistakes, unknown keys and principals outside its prefix', async () => {
    const refuse = async (settings: Record<string, unknown>, pattern: RegExp) => {
      const target = integration({ permissions: { bad: settings } });
      const input = grantFor(target, { permission: 'bad', grantee: 'oscar@example.com' });
      await expect(provisioner.grant(input)).rejects.toThrow(pattern);
      expect(await db.accountExists(input.principal)).toBe(false);
    };
    await refuse({ grants: [{ privileges: ['SELECT'], on: 'mysql.*' }] }, /"mysql" is a system schema/);
    await refuse({ grants: [{ privileges: ['SELECT'], on: '*.*' }] }, /not a safe schema name/);
    await refuse({ grants: [{ privileges: ['EXECUTE'], on: `${db.database}.items` }] }, /EXECUTE can only be granted on a whole schema/);
    await refuse({ roles: [db.readRole], rols: ['x'] }, /Unrecognized key/i);
    await refuse({}, /say what the permission grants/);
    await refuse({ roles: ['none'] }, /reserved word/);

    const input = grantFor(config, { principal: "t'; DROP USER root; --" });
    await expect(provisioner.grant(input)).rejects.toThrow(/not a safe account name/);
    await expect(provisioner.grant(grantFor(config, { principal: 'someoneelse_alice_abc123' }))).rejects.toThrow(/does not start with "t/);
  });

  it('refuses roles that are accounts or carry administrator privileges, and on MariaDB more than one role', async () => {
    const refuse = async (settings: Record<string, unknown>, pattern: RegExp) => {
      const target = integration({ permissions: { bad: settings } });
      const input = grantFor(target, { permission: 'bad', grantee: 'peggy@example.com' });
      await expect(provisioner.grant(input)).rejects.toThrow(pattern);
      expect(await db.accountExists(input.principal)).toBe(false);
    };
    // A grant first, so that on MariaDB the provisioner has seen SET DEFAULT ROLE … FOR work and
    // makes new one-role accounts in its checked compound statement: these refusals go through it.
    const first = grantFor(config, { grantee: 'trent@example.com' });
    await provisioner.grant(first);
    await provisioner.revoke(first);
    await refuse({ roles: [db.adminRole] }, /holds CREATE USER globally; Latch refuses/);
    await refuse({ roles: [db.plainAccount] }, /is an account|does not exist/);
    await refuse({ roles: [`${db.prefix}_missing`] }, /does not exist/);
    if (db.flavour === 'mariadb') await refuse({ roles: [db.readRole, db.writeRole] }, /MariaDB activates only one default role per account/);
  });

  it('checks its connection settings and credentials with errors that name the integration and key', async () => {
    expect(() => open({ connection: { port: 'abc' } })).toThrow(/integration "orders-my": connection\.port: must be a number/);
    expect(() => open({ connection: { hots: 'x' } })).toThrow(/integration "orders-my": connection: .*hots/i);
    expect(() => open({ connection: { userHost: "%' OR 1=1" } })).toThrow(/connection\.userHost: .* is not a host pattern/);
    expect(() => open({ connection: { maxConnections: 0 } })).toThrow(/connection\.maxConnections: must be at least 1/);

    const missing = open({ credentials: { env: 'LATCH_TEST_NO_SUCH_VARIABLE' } }, {});
    await expect(missing.grant(grantFor(config))).rejects.toThrow(/integration "orders-my": environment variable LATCH_TEST_NO_SUCH_VARIABLE \(credentials\.env\) is not set/);
    const secret = open({ credentials: { secret: 'vault://kv/latch#mysql' } });
    await expect(secret.grant(grantFor(config))).rejects.toThrow(/secret references are not supported by the MySQL provisioner yet/);
    expect((await secret.health()).problems.join(' ')).toMatch(/not supported/);
  });
});

describe('MySQL/MariaDB provisioner: health and the least-privilege connector', () => {
  it('reports a healthy root connector', async () => {
    const report = await provisioner.health();
    expect(report.connector).toMatchObject({ canLogin: true, flavour: db.flavour });
    expect(report.privileges).toMatchObject({ createUser: true, process: true, killSessions: true, readGrantTables: true });
    expect(report.roles.map((role) => role.role).sort()).toEqual([db.readRole, db.writeRole].sort());
    expect(report.grants.every((grant) => grant.missing.length === 0)).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const generic = await provisioner.checkHealth();
    expect(generic.ok).toBe(true);
    expect(generic.checks.find((check) => check.name === 'connect')?.ok).toBe(true);
  });

  it('a connector made by scripts/mysql-connector-setup.sql can do everything: grant both forms, kill sessions, revoke', async () => {
    const connector = await db.createConnector();
    const least = open({ connection: { user: connector.user }, credentials: { env: 'LATCH_TEST_CONNECTOR_PASSWORD' } }, { LATCH_TEST_CONNECTOR_PASSWORD: connector.password });
    const target = integration({ connection: { user: connector.user } });

    const report = await least.health();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.privileges.systemUser).toBe(false);
    if (db.flavour === 'mariadb') expect(report.privileges.defaultRole).toBe('as-account');

    const read = grantFor(target, { permission: 'read', grantee: 'quinn@example.com' });
    const readConn = await loginAs(read.principal, (await least.grant(read)).secrets?.password ?? '');
    expect(await selectNotes(readConn)).toContain('first');
    await expect(readConn.query("INSERT INTO items (note) VALUES ('nope')")).rejects.toThrow(/denied/i);
    expect(await least.check(read)).toBe('present');

    const direct = grantFor(target, { permission: 'schema-write', grantee: 'rita@example.com' });
    const directConn = await loginAs(direct.principal, (await least.grant(direct)).secrets?.password ?? '');
    await directConn.query("INSERT INTO items (note) VALUES ('from rita')");
    expect(await least.check(direct)).toBe('present');
    // A retried grant (new password, privileges put back) works with the same privileges.
    const again = await least.grant(direct);
    await expect((await loginAs(direct.principal, again.secrets?.password ?? '')).query('SELECT 1')).resolves.toBeDefined();

    expect((await least.listManaged(target)).map((entry) => entry.principal)).toEqual(expect.arrayContaining([read.principal, direct.principal]));
    await least.revoke(read);
    await least.revoke(direct);
    await expect(readConn.query('SELECT 1')).rejects.toThrow();
    await expect(directConn.query('SELECT 1')).rejects.toThrow();
    expect(await db.accountExists(read.principal)).toBe(false);
    expect(await db.accountExists(direct.principal)).toBe(false);
  });

  it('reports a connector that lacks CREATE USER', async () => {
    const connector = await db.createConnector({ revoke: ['CREATE USER'] });
    const weak = open({ connection: { user: connector.user }, credentials: { env: 'LATCH_TEST_CONNECTOR_PASSWORD' } }, { LATCH_TEST_CONNECTOR_PASSWORD: connector.password });
    const report = await weak.health();
    expect(report.connector.canLogin).toBe(true);
    expect(report.privileges.createUser).toBe(false);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/lacks CREATE USER/);
    const generic = await weak.checkHealth();
    expect(generic.ok).toBe(false);
    expect(generic.checks.find((check) => check.name === 'create_user')).toMatchObject({ ok: false });
  });

  it('reports a connector that lacks the roles and grant options the config names', async () => {
    const connector = await db.createConnector();
    await rootQuery(`REVOKE ${'`'}${db.writeRole}${'`'} FROM ?@?`, [connector.user, '%']);
    const weak = open({
      connection: { user: connector.user },
      credentials: { env: 'LATCH_TEST_CONNECTOR_PASSWORD' },
      permissions: {
        write: { roles: [db.writeRole] },
        alter: { grants: [{ privileges: ['ALTER'], on: `${db.database}.*` }] },
      },
    }, { LATCH_TEST_CONNECTOR_PASSWORD: connector.password });
    const report = await weak.health();
    expect(report.ok).toBe(false);
    expect(report.roles).toEqual([{ role: db.writeRole, exists: true, adminOption: false }]);
    expect(report.grants).toEqual([{ on: `${db.database}.*`, privileges: ['ALTER'], missing: ['ALTER'] }]);
  });

  it('reports config mistakes it can only see against the server', async () => {
    const report = await open({ permissions: { both: { roles: [db.readRole, db.writeRole] }, typo: { rols: [db.readRole] } } }).health();
    expect(report.ok).toBe(false);
    expect(report.config.join('\n')).toMatch(/permission "typo": Unrecognized key/i);
    if (db.flavour === 'mariadb') expect(report.config.join('\n')).toMatch(/permission "both" names 2 roles .* only one default role/);
    const generic = await open({ permissions: { typo: { rols: [db.readRole] } } }).checkHealth();
    expect(generic.checks.find((check) => check.name === 'config')).toMatchObject({ ok: false });
  });

  it('reports a server it cannot reach', async () => {
    const report = await open({ connection: { port: 1 } }).health();
    expect(report.ok).toBe(false);
    expect(report.connector.canLogin).toBe(false);
    expect(report.problems[0]).toMatch(/cannot log in/);
  });

  it('is what the registry builds for type mysql', async () => {
    const registry = new ProvisionerRegistry(process.env).registerType('mysql', createMysqlProvisioner);
    const built = registry.for(config);
    expect(built).toBeInstanceOf(MysqlProvisioner);
    expect(built.type).toBe('mysql');
    await registry.close();
  });
});
