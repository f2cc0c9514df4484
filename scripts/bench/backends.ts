// The real servers the bench grants in: the local PostgreSQL (127.0.0.1:5432, trust, user
// postgres) and MariaDB (127.0.0.1:3306, root, no password). Each run makes a database and a
// read role of its own on both, named with one random suffix, and Latch's principals carry an
// instance prefix of their own; all of it is dropped again by the registered cleanup.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { onCleanup } from './cleanup.js';

export const PG = {
  host: process.env.BENCH_PG_HOST ?? '127.0.0.1',
  port: Number(process.env.BENCH_PG_PORT ?? 5432),
  user: process.env.BENCH_PG_USER ?? 'postgres',
};
export const MY = {
  host: process.env.BENCH_MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.BENCH_MYSQL_PORT ?? 3306),
  user: process.env.BENCH_MYSQL_USER ?? 'root',
};

export interface BenchBackends {
  /** `latch_bench_<suffix>`: the database on both servers. */
  database: string;
  /** The group role (PostgreSQL) and role (MariaDB) a read grant hands out. */
  readRole: string;
  /** Latch's `settings.instance` for this run: every principal Latch creates starts with `<instance>_`. */
  instance: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
function suffix(length: number): string {
  let text = '';
  for (const byte of randomBytes(length)) text += ALPHABET[byte % ALPHABET.length];
  return text;
}

export async function pgAdmin<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ ...PG, database, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function myAdmin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({ ...MY, password: process.env.BENCH_MYSQL_PASSWORD ?? '', connectTimeout: 10_000 });
  conn.on('error', () => undefined);
  try {
    return await work(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Creates the run's databases and roles on both servers and registers their removal. */
export async function createBackends(): Promise<BenchBackends> {
  const tag = suffix(6);
  const backends: BenchBackends = { database: `latch_bench_${tag}`, readRole: `latch_bench_${tag}_ro`, instance: `bn${tag}` };
  const { database, readRole } = backends;
  const id = pg.escapeIdentifier;
  onCleanup(`PostgreSQL database ${database} and its roles`, () => dropPostgres(backends));
  await pgAdmin(async (client) => {
    await client.query(`CREATE DATABASE ${id(database)}`);
    await client.query(`CREATE ROLE ${id(readRole)} NOLOGIN`);
  });
  await pgAdmin((client) => client.query(`
    CREATE TABLE public.items (id serial PRIMARY KEY, note text NOT NULL);
    INSERT INTO public.items (note) VALUES ('first');
    GRANT USAGE ON SCHEMA public TO ${id(readRole)};
    GRANT SELECT ON public.items TO ${id(readRole)};`), database);

  onCleanup(`MariaDB database ${database} and its accounts`, () => dropMysql(backends));
  await myAdmin(async (conn) => {
    const my = (name: string) => mysql.escapeId(name, true);
    await conn.query(`CREATE DATABASE ${my(database)}`);
    await conn.query(`CREATE TABLE ${my(database)}.items (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200) NOT NULL)`);
    await conn.query(`INSERT INTO ${my(database)}.items (note) VALUES ('first')`);
    await conn.query(`CREATE ROLE ${my(readRole)}`);
    await conn.query(`GRANT SELECT ON ${my(database.replace(/_/g, '\\_'))}.* TO ${my(readRole)}`);
  });
  return backends;
}

/** Roles of this run: Latch's principals, the floor's roles and the read role. */
async function dropPostgres(backends: BenchBackends): Promise<void> {
  await pgAdmin(async (client) => {
    const { rows } = await client.query<{ name: string }>(
      'SELECT rolname::text AS name FROM pg_roles WHERE starts_with(rolname::text, $1) OR rolname = $2', [`${backends.instance}_`, backends.readRole]);
    const names = rows.map((row) => row.name);
    if (names.length > 0) await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1::name[])', [names]);
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(backends.database)} WITH (FORCE)`);
    for (let start = 0; start < names.length; start += 500) {
      const chunk = names.slice(start, start + 500).map(pg.escapeIdentifier).join(', ');
      await client.query(`DROP OWNED BY ${chunk}`);
      await client.query(`DROP ROLE IF EXISTS ${chunk}`);
    }
  });
}

async function dropMysql(backends: BenchBackends): Promise<void> {
  await myAdmin(async (conn) => {
    const [accounts] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT User AS name, Host AS host FROM mysql.user WHERE LEFT(User, ?) = ? OR User = ?', [backends.instance.length + 1, `${backends.instance}_`, backends.readRole]);
    const names = new Set(accounts.map((row) => String(row.name)));
    const [sessions] = await conn.query<mysql.RowDataPacket[]>('SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST');
    for (const session of sessions) if (names.has(String(session.user))) await conn.query('KILL CONNECTION ?', [Number(session.id)]).catch(() => undefined);
    for (const account of accounts) {
      if (String(account.host) === '') await conn.query(`DROP ROLE IF EXISTS ${mysql.escapeId(String(account.name), true)}`);
      else await conn.query('DROP USER IF EXISTS ?@?', [String(account.name), String(account.host)]);
    }
    await conn.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(backends.database, true)}`);
  });
}

/** Logs in as a granted principal and reads the table: what "usable" means. Throws when refused. */
export async function pgLogin(user: string, password: string | undefined, database: string): Promise<void> {
  const client = new pg.Client({ ...PG, user, password, database, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT note FROM public.items LIMIT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function mysqlLogin(user: string, password: string, database: string): Promise<void> {
  const conn = await mysql.createConnection({ ...MY, user, password, database, connectTimeout: 5_000 });
  conn.on('error', () => undefined);
  try {
    await conn.query('SELECT note FROM items LIMIT 1');
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
