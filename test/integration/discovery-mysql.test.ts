import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchConfig } from '../../config/schema.js';
import type { ScoredPrincipal } from '../../core/discovery.js';
import { discover, type DiscoveryReport } from '../../handlers/discover.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { asRoot, connectAs, randomSuffix } from '../support/mysql.js';

// A MariaDB (or MySQL) server with accounts and roles of this run's own: an account with
// every global privilege and the grant option, a dormant reader, a writer connected while
// the scan samples, a locked account, one whose password expired, a role chain a → b → c,
// and an account with Latch's instance prefix.

const suffix = randomSuffix(6);
const p = `dm${suffix}`;
const schema = `${p}shop`;
const instance = `lm${suffix}`;
const users = { superuser: `${p}_super`, reader: `${p}_reader`, writer: `${p}_writer`, locked: `${p}_locked`, expired: `${p}_expired`, a: `${p}_a`, managed: `${instance}_bob_q1w2e3` };
const roles = { b: `${p}_role_b`, c: `${p}_role_c` };
const at = (user: string): string => `${user}@%`;

function configFor(): LatchConfig {
  return LatchConfig.parse({
    version: 1,
    settings: { admins: ['sec@example.com'], instance },
    integrations: [{
      name: 'shopdb', type: 'mysql', owner: 'sec@example.com', labels: ['production'],
      connection: { host: '127.0.0.1', port: 3306, user: 'root', instance },
      resources: [{ name: 'shop', settings: { database: schema }, permissions: { read: { roles: [roles.c] } } }],
    }],
  });
}

let writerSession: Connection;
let report: DiscoveryReport;
let store: SqliteStore;
const mine = (name: string): ScoredPrincipal => {
  const found = report.principals.find((principal) => principal.integration === 'shopdb' && principal.principal === name);
  if (!found) throw new Error(`${name} is not in the report`);
  return found;
};

beforeAll(async () => {
  await asRoot(async (conn) => {
    await conn.query(`CREATE DATABASE \`${schema}\``);
    await conn.query(`CREATE TABLE \`${schema}\`.orders (id int)`);
    for (const user of Object.values(users)) await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', 'Pw-1-disc']);
    await conn.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [users.superuser, '%']);
    await conn.query(`GRANT SELECT ON \`${schema}\`.* TO ?@?`, [users.reader, '%']);
    await conn.query(`GRANT INSERT, UPDATE ON \`${schema}\`.* TO ?@?`, [users.writer, '%']);
    await conn.query(`GRANT SELECT ON \`${schema}\`.orders TO ?@?`, [users.locked, '%']);
    await conn.query('ALTER USER ?@? ACCOUNT LOCK', [users.locked, '%']);
    await conn.query('ALTER USER ?@? PASSWORD EXPIRE', [users.expired, '%']);
    await conn.query(`GRANT SELECT ON \`${schema}\`.* TO ?@?`, [users.managed, '%']);
    await conn.query(`CREATE ROLE \`${roles.c}\``);
    await conn.query(`CREATE ROLE \`${roles.b}\``);
    await conn.query(`GRANT DELETE ON \`${schema}\`.* TO \`${roles.c}\``);
    await conn.query(`GRANT \`${roles.c}\` TO \`${roles.b}\``);
    await conn.query(`GRANT \`${roles.b}\` TO ?@?`, [users.a, '%']);
  });
  writerSession = await connectAs({ user: users.writer, password: 'Pw-1-disc', database: schema });
  store = new SqliteStore({ path: ':memory:' });
  store.migrate();
  report = await discover({ config: configFor(), env: {}, now: Date.now(), store: store.discovery, recordScan: true });
}, 60_000);

afterAll(async () => {
  await writerSession?.end().catch(() => undefined);
  await store?.close();
  await asRoot(async (conn) => {
    for (const user of Object.values(users)) await conn.query('DROP USER IF EXISTS ?@?', [user, '%']);
    for (const role of Object.values(roles)) await conn.query(`DROP ROLE IF EXISTS \`${role}\``);
    await conn.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  });
});

describe('scanning MySQL/MariaDB for standing access', () => {
  it('reads the server and leaves the connector out', () => {
    expect(report.integrations).toEqual([expect.objectContaining({ integration: 'shopdb', ok: true })]);
    expect(report.principals.some((principal) => principal.principal === report.integrations[0]!.connector)).toBe(false);
  });

  it('classes every global privilege with the grant option as identity control', () => {
    const superuser = mine(at(users.superuser));
    expect(superuser.level).toBe('identity');
    expect(superuser.privileges).toContainEqual(expect.objectContaining({ kind: 'global', name: 'CREATE USER', on: '*.*', grantable: true }));
  });

  it('finds the reader reading and dormant, the writer writing and active', () => {
    const reader = mine(at(users.reader));
    expect(reader.level).toBe('read');
    expect(reader.usage).toBe('dormant');
    expect(reader.privileges).toContainEqual(expect.objectContaining({ kind: 'schema', name: 'SELECT', on: `${schema}.*` }));
    const writer = mine(at(users.writer));
    expect(writer.level).toBe('write');
    expect(writer.usage).toBe('active');
  });

  it('says which account is locked and whose password expired', () => {
    const locked = mine(at(users.locked));
    expect(locked.locked).toBe(true);
    expect(locked.canLogin).toBe(false);
    expect(locked.privileges).toContainEqual(expect.objectContaining({ kind: 'object', name: 'SELECT', on: `${schema}.orders` }));
    expect(mine(at(users.expired)).passwordExpired).toBe(true);
  });

  it('follows roles: a holds b, c through b, and c\'s DELETE through both', () => {
    const a = mine(at(users.a));
    const roleName = (role: string): string => report.principals.find((principal) => principal.principal === role || principal.principal === `${role}@%`)!.principal;
    const b = roleName(roles.b);
    const c = roleName(roles.c);
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'membership', name: b, via: [] }));
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'membership', name: c, via: [b] }));
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'schema', name: 'DELETE', via: [b, c] }));
    expect(a.level).toBe('write');
    expect(mine(b).kind).toBe('role');
  });

  it('never reports an account with Latch\'s instance prefix', () => {
    expect(report.principals.some((principal) => principal.principal.startsWith(`${instance}_`))).toBe(false);
  });

  it('ranks the all-powerful account first among this run\'s, the dormant reader below the writer', () => {
    const order = report.principals.filter((principal) => principal.principal.startsWith(p)).map((principal) => principal.principal);
    expect(order[0]).toBe(at(users.superuser));
    expect(order.indexOf(at(users.writer))).toBeLessThan(order.indexOf(at(users.reader)));
    expect(mine(at(users.superuser)).reasons).toContain('sensitive: production');
  });
});
