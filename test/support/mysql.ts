import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';

// Real MariaDB/MySQL for the provisioner tests (127.0.0.1:3306, root, empty password unless
// LATCH_TEST_MYSQL_PASSWORD says otherwise). Every run works in a database, roles and
// accounts of its own, all named with one random suffix, so a leftover of an earlier run
// never collides and cleanup finds everything by that suffix. No server means a failing
// test, not a skip: the connection error surfaces in beforeAll (also when CI=true).

export const MY_HOST = process.env.LATCH_TEST_MYSQL_HOST ?? '127.0.0.1';
export const MY_PORT = Number(process.env.LATCH_TEST_MYSQL_PORT ?? 3306);
export const MY_ROOT = process.env.LATCH_TEST_MYSQL_USER ?? 'root';
/** Set it to run against a root with a password; the tests then pass it as credentials: { env: LATCH_TEST_MYSQL_PASSWORD }. */
export const MY_ROOT_PASSWORD = process.env.LATCH_TEST_MYSQL_PASSWORD ?? '';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomSuffix(length = 8): string {
  let text = '';
  for (const byte of randomBytes(length)) text += ALPHABET[byte % ALPHABET.length];
  return text;
}

/** A connection as `user` (default: root); end it yourself. */
export async function connectAs(options: { user?: string; password?: string; database?: string } = {}): Promise<Connection> {
  const conn = await mysql.createConnection({
    host: MY_HOST, port: MY_PORT, user: options.user ?? MY_ROOT, password: options.password ?? (options.user ? '' : MY_ROOT_PASSWORD),
    ...(options.database ? { database: options.database } : {}), connectTimeout: 10_000,
  });
  // A session the server kills (revoke does) must not crash the test process.
  conn.on('error', () => undefined);
  return conn;
}

export async function asRoot<T>(work: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await connectAs();
  try {
    return await work(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

export async function rootQuery<R extends object = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> {
  return asRoot(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>(sql, values);
    return rows as unknown as R[];
  });
}

/** `_` and `%` escaped, as a schema-level GRANT needs them. */
export function schemaPattern(schema: string): string {
  return schema.replace(/[_%]/g, (wildcard) => `\\${wildcard}`);
}

export interface TestDatabase {
  suffix: string;
  /** `latch_t_<suffix>`: the database, and the prefix of every role and connector the test makes. */
  database: string;
  /** `latchxtx<suffix>`: what `latch_t_<suffix>.*` would also match if "_" were left a wildcard. */
  decoy: string;
  prefix: string;
  /** Latch's instance for this run; principals are `<instance>_<person>_<random>`. */
  instance: string;
  /** A second instance, for tests that count every account of their instance. */
  bulkInstance: string;
  /** SELECT on the database. */
  readRole: string;
  /** SELECT and INSERT on the database. */
  writeRole: string;
  /** A role with CREATE USER globally: Latch must refuse to hand it out. */
  adminRole: string;
  /** An ordinary account that someone might name where a role goes. */
  plainAccount: string;
  flavour: 'mariadb' | 'mysql';
  /** Accounts (any host, roles excluded) whose name starts with `start`. */
  accountsStartingWith(start: string): Promise<string[]>;
  accountExists(name: string): Promise<boolean>;
  /**
   * A connector made by scripts/mysql-connector-setup.sql: the common part and this server's
   * part, with the example names replaced by this run's. `revoke` then takes privileges away
   * again (to prove the health check notices).
   */
  createConnector(options?: { revoke?: string[] }): Promise<{ user: string; password: string }>;
  cleanup(): Promise<void>;
}

/** The statements of the setup script for one server, example names replaced. */
export function setupStatements(flavour: 'mariadb' | 'mysql', names: Record<string, string>): string[] {
  const other = flavour === 'mariadb' ? 'mysql' : 'mariadb';
  const text = readFileSync(new URL('../../scripts/mysql-connector-setup.sql', import.meta.url), 'utf8');
  const kept: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (line.trim() === `-- BEGIN ${other}`) skipping = true;
    if (!skipping && !/^\s*--/.test(line)) kept.push(line);
    if (line.trim() === `-- END ${other}`) skipping = false;
  }
  let sql = kept.join('\n');
  for (const [example, actual] of Object.entries(names)) sql = sql.split(example).join(actual);
  return sql.split(';').map((statement) => statement.trim()).filter((statement) => statement.length > 0);
}

/** A fresh database with tables `items` and `secrets`, roles `<prefix>_ro` (SELECT) and `<prefix>_rw` (SELECT, INSERT). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const suffix = randomSuffix();
  const database = `latch_t_${suffix}`;
  const decoy = `latchxtx${suffix}`;
  const prefix = database;
  const instance = `t${suffix}`;
  const bulkInstance = `b${suffix}`;
  const readRole = `${prefix}_ro`;
  const writeRole = `${prefix}_rw`;
  const adminRole = `${prefix}_adm`;
  const plainAccount = `${prefix}_acct`;
  const id = (name: string) => mysql.escapeId(name, true);
  const pattern = id(schemaPattern(database));

  const flavour = await asRoot(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS version');
    const found = /mariadb/i.test(String(rows[0]?.version ?? '')) ? 'mariadb' as const : 'mysql' as const;
    for (const statement of [
      `CREATE DATABASE ${id(database)}`,
      `CREATE TABLE ${id(database)}.items (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200) NOT NULL)`,
      `INSERT INTO ${id(database)}.items (note) VALUES ('first')`,
      `CREATE TABLE ${id(database)}.secrets (id INT PRIMARY KEY)`,
      `CREATE DATABASE ${id(decoy)}`,
      `CREATE TABLE ${id(decoy)}.items (id INT PRIMARY KEY)`,
      `CREATE ROLE ${id(readRole)}`,
      `GRANT SELECT ON ${pattern}.* TO ${id(readRole)}`,
      `CREATE ROLE ${id(writeRole)}`,
      `GRANT SELECT, INSERT ON ${pattern}.* TO ${id(writeRole)}`,
      `CREATE ROLE ${id(adminRole)}`,
      `GRANT CREATE USER ON *.* TO ${id(adminRole)}`,
    ]) await conn.query(statement);
    await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [plainAccount, '%', randomSuffix(24)]);
    return found;
  });

  const accountsStartingWith = async (start: string) => (await rootQuery<{ name: string }>(
    "SELECT DISTINCT User AS name FROM mysql.user WHERE LEFT(User, ?) = ? AND Host <> '' ORDER BY User", [start.length, start])).map((row) => row.name);

  return {
    suffix, database, decoy, prefix, instance, bulkInstance, readRole, writeRole, adminRole, plainAccount, flavour,
    accountsStartingWith,
    async accountExists(name) {
      return (await rootQuery('SELECT 1 FROM mysql.user WHERE User = ?', [name])).length > 0;
    },
    async createConnector(options = {}) {
      const user = `${prefix}_c${randomSuffix(4)}`;
      const password = `Pw-${randomSuffix(24)}`;
      const statements = setupStatements(flavour, {
        latch_connector: user,
        'CHANGE-ME-connector-password': password,
        app_readonly: readRole,
        app_readwrite: writeRole,
        '`appdb`': pattern,
      });
      await asRoot(async (conn) => {
        for (const statement of statements) await conn.query(statement);
        for (const privilege of options.revoke ?? []) await conn.query(`REVOKE ${privilege} ON *.* FROM ?@?`, [user, '%']);
      });
      return { user, password };
    },
    async cleanup() {
      await asRoot(async (conn) => {
        // Everything this run made carries the suffix: databases, roles, connectors, principals.
        const [accounts] = await conn.query<RowDataPacket[]>('SELECT User AS name, Host AS host FROM mysql.user WHERE LOCATE(?, User) > 0', [suffix]);
        const names = new Set(accounts.map((row) => String(row.name)));
        const [sessions] = await conn.query<RowDataPacket[]>('SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST');
        for (const session of sessions) {
          if (names.has(String(session.user))) await conn.query('KILL CONNECTION ?', [Number(session.id)]).catch(() => undefined);
        }
        for (const account of accounts) {
          const host = String(account.host);
          // MariaDB keeps roles host-less; MySQL 8 roles are accounts DROP USER also removes.
          if (host === '') {
            await conn.query(`DROP ROLE IF EXISTS ${id(String(account.name))}`);
          } else {
            await conn.query('DROP USER IF EXISTS ?@?', [String(account.name), host]);
          }
        }
        await conn.query(`DROP DATABASE IF EXISTS ${id(database)}`);
        await conn.query(`DROP DATABASE IF EXISTS ${id(decoy)}`);
      });
    },
  };
}
