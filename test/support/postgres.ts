import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import pg from 'pg';

// Real PostgreSQL for the provisioner tests (127.0.0.1:5432, trust auth, user postgres).
// Every run works in a database and roles of its own, named with a random suffix, so a
// leftover of an earlier run never collides. No server means a failing test, not a skip:
// the connection error surfaces in beforeAll.

export const PG_HOST = process.env.LATCH_TEST_PG_HOST ?? '127.0.0.1';
export const PG_PORT = Number(process.env.LATCH_TEST_PG_PORT ?? 5432);
export const PG_SUPERUSER = process.env.LATCH_TEST_PG_USER ?? 'postgres';

/** A server and how its superuser logs in; every helper here defaults to the machine's server. */
export interface PgServer {
  host: string;
  port: number;
  user: string;
  password?: string;
}

export const localServer: PgServer = { host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER };

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomSuffix(length = 8): string {
  let text = '';
  for (const byte of randomBytes(length)) text += ALPHABET[byte % ALPHABET.length];
  return text;
}

/** A client as `user` (default: the superuser, with the server's password); attach it to a test, end it yourself. */
export async function connectAs(options: { user?: string; password?: string; database?: string; server?: PgServer } = {}): Promise<pg.Client> {
  const server = options.server ?? localServer;
  const client = new pg.Client({
    host: server.host, port: server.port, user: options.user ?? server.user, password: options.password ?? (options.user === undefined ? server.password : undefined),
    database: options.database ?? 'postgres', connectionTimeoutMillis: 10_000,
  });
  // A session the server ends (revoke terminates it) must not crash the test process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function asSuperuser<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres', server: PgServer = localServer): Promise<T> {
  const client = await connectAs({ database, server });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface RoleFacts {
  name: string;
  canLogin: boolean;
  superuser: boolean;
  createRole: boolean;
  validUntilMs: number | null;
  comment: string | null;
  memberOf: string[];
  /** pg_authid.rolpassword: the stored SCRAM verifier. */
  password: string | null;
}

export interface TestDatabase {
  suffix: string;
  /** `latch_t_<suffix>`: the database, and the prefix of every role the test makes itself. */
  database: string;
  prefix: string;
  /** Latch's instance for this run; principals are `<instance>_<person>_<random>`. */
  instance: string;
  readRole: string;
  writeRole: string;
  /** A schema grantees get CREATE on in the tests that build objects. */
  scratchSchema: string;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
  role(name: string): Promise<RoleFacts | null>;
  /** Roles whose name starts with `prefix`. */
  rolesStartingWith(prefix: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** A fresh database with a table `items`, group roles `<prefix>_ro` (SELECT) and `<prefix>_rw` (SELECT, INSERT). */
export async function createTestDatabase(server: PgServer = localServer): Promise<TestDatabase> {
  const suffix = randomSuffix();
  const database = `latch_t_${suffix}`;
  const prefix = database;
  const instance = `t${suffix}`;
  const readRole = `${prefix}_ro`;
  const writeRole = `${prefix}_rw`;
  const id = pg.escapeIdentifier;

  await asSuperuser(async (client) => {
    await client.query(`CREATE DATABASE ${id(database)}`);
    await client.query(`CREATE ROLE ${id(readRole)} NOLOGIN`);
    await client.query(`CREATE ROLE ${id(writeRole)} NOLOGIN`);
  }, 'postgres', server);
  await asSuperuser(async (client) => {
    await client.query(`
      CREATE TABLE public.items (id serial PRIMARY KEY, note text NOT NULL);
      INSERT INTO public.items (note) VALUES ('first');
      GRANT USAGE ON SCHEMA public TO ${id(readRole)}, ${id(writeRole)};
      GRANT SELECT ON public.items TO ${id(readRole)};
      GRANT SELECT, INSERT ON public.items TO ${id(writeRole)};
      GRANT USAGE ON SEQUENCE public.items_id_seq TO ${id(writeRole)};
      CREATE SCHEMA scratch;`);
  }, database, server);

  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], where = 'postgres'): Promise<R[]> =>
    asSuperuser(async (client) => (await client.query<R>(sql, params)).rows, where, server);

  return {
    suffix, database, prefix, instance, readRole, writeRole, scratchSchema: 'scratch',
    query,
    async role(name) {
      const rows = await query<{ name: string; can_login: boolean; superuser: boolean; create_role: boolean; valid_until_ms: number | null; comment: string | null; member_of: string[]; password: string | null }>(`
        SELECT a.rolname::text AS name, a.rolcanlogin AS can_login, a.rolsuper AS superuser, a.rolcreaterole AS create_role,
               CASE WHEN isfinite(a.rolvaliduntil) THEN round(extract(epoch FROM a.rolvaliduntil) * 1000)::float8 END AS valid_until_ms,
               shobj_description(a.oid, 'pg_authid') AS comment, a.rolpassword AS password,
               COALESCE((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid), '{}') AS member_of
          FROM pg_authid a WHERE a.rolname = $1`, [name]);
      const row = rows[0];
      if (!row) return null;
      return { name: row.name, canLogin: row.can_login, superuser: row.superuser, createRole: row.create_role, validUntilMs: row.valid_until_ms, comment: row.comment, memberOf: row.member_of, password: row.password };
    },
    async rolesStartingWith(start) {
      const rows = await query<{ name: string }>('SELECT rolname::text AS name FROM pg_roles WHERE starts_with(rolname::text, $1) ORDER BY 1', [start]);
      return rows.map((row) => row.name);
    },
    async cleanup() {
      await asSuperuser(async (client) => {
        const { rows } = await client.query<{ name: string }>(
          'SELECT rolname::text AS name FROM pg_roles WHERE starts_with(rolname::text, $1) OR starts_with(rolname::text, $2)', [`${prefix}`, `${instance}_`]);
        const roles = rows.map((row) => id(row.name));
        if (roles.length > 0) {
          await client.query(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = ANY($1::name[])`, [rows.map((row) => row.name)]);
        }
        await client.query(`DROP DATABASE IF EXISTS ${id(database)} WITH (FORCE)`);
        if (roles.length > 0) {
          await client.query(`DROP OWNED BY ${roles.join(', ')}`);
          await client.query(`DROP ROLE IF EXISTS ${roles.join(', ')}`);
        }
      }, 'postgres', server);
    },
  };
}

/**
 * Runs a psql script the way `psql -v name=value -f file` would, for the parts our scripts
 * use: `:'name'` becomes a quoted literal and `:"name"` a quoted identifier; backslash
 * meta-commands and whole-line comments are left out.
 */
export async function runPsqlScript(path: string, variables: Record<string, string>, database = 'postgres'): Promise<void> {
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => !/^\s*(--|\\)/.test(line));
  const sql = lines.join('\n').replace(/:(['"])([A-Za-z_][A-Za-z0-9_]*)\1/g, (_match, quote: string, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`${path}: variable ${name} is not set`);
    return quote === "'" ? pg.escapeLiteral(value) : pg.escapeIdentifier(value);
  });
  await asSuperuser((client) => client.query(sql), database);
}

/**
 * Where the server writes its log. LATCH_TEST_PG_LOG wins; then the logging collector's
 * current file; then Debian's pg_ctlcluster file, /var/log/postgresql/postgresql-15-main.log.
 */
export async function serverLogFile(): Promise<string | null> {
  if (process.env.LATCH_TEST_PG_LOG) return process.env.LATCH_TEST_PG_LOG;
  const facts = await asSuperuser(async (client) => (await client.query<{ current: string | null; data: string; cluster: string; major: number }>(
    `SELECT pg_current_logfile() AS current, current_setting('data_directory') AS data, current_setting('cluster_name') AS cluster,
            current_setting('server_version_num')::int / 10000 AS major`)).rows[0]);
  if (!facts) return null;
  if (facts.current) return isAbsolute(facts.current) ? facts.current : join(facts.data, facts.current);
  const directory = '/var/log/postgresql';
  const named = join(directory, `postgresql-${facts.cluster.replace('/', '-')}.log`);
  if (facts.cluster && existsSync(named)) return named;
  if (!existsSync(directory)) return null;
  const candidates = readdirSync(directory).filter((file) => file.startsWith(`postgresql-${facts.major}-`) && file.endsWith('.log'));
  return candidates.length > 0 && candidates[0] ? join(directory, candidates[0]) : null;
}

export async function logSize(path: string): Promise<number> {
  try {
    return statSync(path).size;
  } catch {
    return asSuperuser(async (client) => Number((await client.query<{ size: string }>('SELECT (pg_stat_file($1)).size::text AS size', [path])).rows[0]?.size ?? 0));
  }
}

/** What the server logged from byte `offset` on (through the server when the file is not readable here). */
export async function readLogFrom(path: string, offset: number): Promise<string> {
  try {
    return (await readFile(path)).subarray(offset).toString('utf8');
  } catch {
    return asSuperuser(async (client) => (await client.query<{ text: string }>(
      "SELECT convert_from(pg_read_binary_file($1, $2, (pg_stat_file($1)).size - $2), 'UTF8') AS text", [path, offset])).rows[0]?.text ?? '');
  }
}
