import type pg from 'pg';
import type { Integration } from '../../config/schema.js';
import type { FoundPrivilege, ScannedPrincipal } from '../../core/discovery.js';
import { MANAGED_MARKER } from '../postgres.js';
import { resourcePlan, type ConnectionSettings } from '../postgres/settings.js';
import { openPostgresClient } from './postgres-connection.js';

// What every role of a PostgreSQL cluster may do, read from the catalogs: role attributes,
// memberships (through every chain of roles that passes privileges on), privileges granted
// on tables, schemas and databases (aclexplode of the ACLs, so grants to a role show even
// where information_schema hides them from a non-owner), what each role owns, and who is
// connected now. The connector needs pg_read_all_stats (or pg_monitor) to see other roles'
// sessions, and CONNECT on each database to read its tables' ACLs (docs/OPERATORS.md).

export interface PostgresScanOptions {
  env: NodeJS.ProcessEnv;
  /** settings.instance: `<instance>_...` roles are Latch's. */
  instance: string;
  /** Principals the provisioner's listManaged reports. */
  managed: ReadonlySet<string>;
}

export interface PostgresScan {
  principals: ScannedPrincipal[];
  /** Sessions per role seen in pg_stat_activity when the scan ran (this scan's activity sample). */
  sessions: Map<string, number>;
  /** pg_stat_database per database: connected backends and committed transactions since stats_reset. */
  databases: { database: string; backends: number; commits: number; statsReset: string | null }[];
  /** Databases the connector could not read (no CONNECT), with why. */
  skipped: string[];
  /** The connector itself, never scored: it is Latch's own login. */
  connector: string;
}

interface RoleRow {
  name: string;
  superuser: boolean;
  createrole: boolean;
  createdb: boolean;
  bypassrls: boolean;
  replication: boolean;
  can_login: boolean;
  valid_until_finite: boolean;
  comment: string | null;
}

interface ChainRow {
  member: string;
  role: string;
  path: string[];
  admin_option: boolean;
  inherits: boolean;
}

interface AclRow {
  grantee: string;
  privilege: string;
  grantable: boolean;
  schema: string | null;
  object: string;
  object_type: string;
}

interface OwnedRow {
  owner: string;
  schema: string | null;
  object: string;
  object_type: string;
}

const ROLES_SQL = `
  SELECT r.rolname::text AS name, r.rolsuper AS superuser, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
         r.rolbypassrls AS bypassrls, r.rolreplication AS replication, r.rolcanlogin AS can_login,
         (r.rolvaliduntil IS NOT NULL AND isfinite(r.rolvaliduntil)) AS valid_until_finite,
         shobj_description(r.oid, 'pg_authid') AS comment
    FROM pg_roles r
   WHERE r.rolname !~ '^pg_' AND r.rolname <> current_user
   ORDER BY r.rolname`;

// Every chain member → ... → role. A chain passes privileges on when every role along it
// but the last has INHERIT (PostgreSQL 16's per-grant INHERIT option is read where it exists).
const CHAINS_SQL = (perGrantInherit: boolean) => `
  WITH RECURSIVE chain(member, roleid, path, admin_option, inherits) AS (
    SELECT m.member, m.roleid, ARRAY[m.roleid], m.admin_option, ${perGrantInherit ? 'm.inherit_option' : 'r.rolinherit'}
      FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
    UNION ALL
    SELECT c.member, m.roleid, c.path || m.roleid, m.admin_option, c.inherits AND ${perGrantInherit ? 'm.inherit_option' : 'i.rolinherit'}
      FROM chain c
      JOIN pg_auth_members m ON m.member = c.roleid
      JOIN pg_roles i ON i.oid = c.roleid
     WHERE NOT m.roleid = ANY(c.path) AND array_length(c.path, 1) < 32
  )
  SELECT pg_get_userbyid(member)::text AS member, pg_get_userbyid(roleid)::text AS role,
         ARRAY(SELECT pg_get_userbyid(p)::text FROM unnest(path) WITH ORDINALITY AS u(p, n) ORDER BY n) AS path,
         admin_option, inherits
    FROM chain`;

const RELATION_TYPES = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END`;
const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'`;

const OBJECT_ACL_SQL = `
  SELECT pg_get_userbyid(a.grantee)::text AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable,
         n.nspname::text AS schema, c.relname::text AS object, ${RELATION_TYPES} AS object_type
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
   WHERE c.relacl IS NOT NULL AND a.grantee <> 0 AND a.grantee <> c.relowner AND ${USER_SCHEMAS}
  UNION ALL
  SELECT pg_get_userbyid(a.grantee)::text, a.privilege_type, a.is_grantable, NULL, n.nspname::text, 'schema'
    FROM pg_namespace n, aclexplode(n.nspacl) a
   WHERE n.nspacl IS NOT NULL AND a.grantee <> 0 AND a.grantee <> n.nspowner AND ${USER_SCHEMAS} AND n.nspname <> 'public'`;

const DATABASE_ACL_SQL = `
  SELECT pg_get_userbyid(a.grantee)::text AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable,
         NULL AS schema, d.datname::text AS object, 'database' AS object_type
    FROM pg_database d, aclexplode(d.datacl) a
   WHERE d.datacl IS NOT NULL AND a.grantee <> 0 AND a.grantee <> d.datdba AND NOT d.datistemplate`;

const OWNED_SQL = `
  SELECT pg_get_userbyid(c.relowner)::text AS owner, n.nspname::text AS schema, c.relname::text AS object, ${RELATION_TYPES} AS object_type
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMAS}
  UNION ALL
  SELECT pg_get_userbyid(n.nspowner)::text, NULL, n.nspname::text, 'schema' FROM pg_namespace n WHERE ${USER_SCHEMAS} AND n.nspname <> 'public'`;

/** Objects listed one by one per role and database before they are summed up, so a report stays readable. */
const OWNED_LISTED = 10;

function labelsByDatabase(integration: Integration, connection: ConnectionSettings): Map<string, string[]> {
  const labels = new Map<string, string[]>();
  for (const resource of integration.resources) {
    try {
      const plan = resourcePlan(integration, connection, resource);
      for (const database of plan.databases) labels.set(database, [...new Set([...(labels.get(database) ?? []), ...resource.labels])]);
    } catch {
      // A resource whose settings do not parse says so when it is granted; here it only lends no labels.
    }
  }
  return labels;
}

function isLatchManaged(role: RoleRow, options: PostgresScanOptions): boolean {
  return options.managed.has(role.name) || role.name.startsWith(`${options.instance}_`) || (role.comment ?? '').startsWith(MANAGED_MARKER);
}

// Who holds a session now. Our own backend is not a use of anyone's access.
const SESSIONS_SQL = `SELECT usename::text AS name, count(*)::int AS sessions FROM pg_stat_activity WHERE usename IS NOT NULL AND pid <> pg_backend_pid() GROUP BY usename`;

async function sessionsNow(client: pg.Client): Promise<Map<string, number>> {
  return new Map((await client.query<{ name: string; sessions: number }>(SESSIONS_SQL)).rows.map((row) => [row.name, row.sessions]));
}

/** Only the activity sample, for the frequent discovery_sample job: one query, no catalog walk. */
export async function samplePostgresSessions(integration: Integration, env: NodeJS.ProcessEnv): Promise<Map<string, number>> {
  const { client } = await openPostgresClient(integration, env);
  try {
    return await sessionsNow(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function scanPostgres(integration: Integration, options: PostgresScanOptions): Promise<PostgresScan> {
  const { client, connection } = await openPostgresClient(integration, options.env);
  const labels = labelsByDatabase(integration, connection);
  let roles: RoleRow[];
  let chains: ChainRow[];
  const acl: (AclRow & { database: string | null })[] = [];
  const owned: (OwnedRow & { database: string })[] = [];
  const sessions = new Map<string, number>();
  const databases: PostgresScan['databases'] = [];
  const skipped: string[] = [];
  let databaseNames: string[];
  try {
    const version = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v ?? 0);
    roles = (await client.query<RoleRow>(ROLES_SQL)).rows;
    chains = (await client.query<ChainRow>(CHAINS_SQL(version >= 160000))).rows;
    for (const row of (await client.query<AclRow>(DATABASE_ACL_SQL)).rows) acl.push({ ...row, database: null });
    for (const row of (await client.query<OwnedRow>(`SELECT pg_get_userbyid(datdba)::text AS owner, NULL AS schema, datname::text AS object, 'database' AS object_type FROM pg_database WHERE NOT datistemplate`)).rows) {
      owned.push({ ...row, database: row.object });
    }
    for (const [name, open] of await sessionsNow(client)) sessions.set(name, open);
    for (const row of (await client.query<{ database: string; backends: number; commits: string; stats_reset: Date | null }>(
      `SELECT datname::text AS database, numbackends AS backends, xact_commit::text AS commits, stats_reset FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY datname`,
    )).rows) databases.push({ database: row.database, backends: row.backends, commits: Number(row.commits), statsReset: row.stats_reset ? row.stats_reset.toISOString() : null });
    databaseNames = (await client.query<{ name: string; can: boolean }>(
      `SELECT datname::text AS name, has_database_privilege(datname, 'CONNECT') AS can FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`,
    )).rows.flatMap((row) => {
      if (!row.can) skipped.push(`${row.name}: the connector has no CONNECT there`);
      return row.can ? [row.name] : [];
    });
  } finally {
    await client.end().catch(() => undefined);
  }

  for (const database of databaseNames) {
    let inner: pg.Client;
    try {
      inner = (await openPostgresClient(integration, options.env, database)).client;
    } catch (error) {
      skipped.push(`${database}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    try {
      for (const row of (await inner.query<AclRow>(OBJECT_ACL_SQL)).rows) acl.push({ ...row, database });
      for (const row of (await inner.query<OwnedRow>(OWNED_SQL)).rows) owned.push({ ...row, database });
    } finally {
      await inner.end().catch(() => undefined);
    }
  }

  // What each role holds itself, before inheritance.
  const direct = new Map<string, FoundPrivilege[]>();
  const add = (role: string, privilege: FoundPrivilege): void => {
    direct.set(role, [...(direct.get(role) ?? []), privilege]);
  };
  for (const row of acl) {
    const where = row.database === null ? row.object : row.schema === null ? `${row.database}.${row.object}` : `${row.database}.${row.schema}.${row.object}`;
    add(row.grantee, {
      kind: 'object', name: row.privilege, on: `${row.object_type} ${where}`, via: [], grantable: row.grantable, labels: labels.get(row.database ?? row.object) ?? [],
      target: { database: row.database ?? row.object, objectType: row.object_type, object: row.object, ...(row.schema !== null ? { schema: row.schema } : {}) },
    });
  }
  const ownedBy = new Map<string, (OwnedRow & { database: string })[]>();
  for (const row of owned) ownedBy.set(row.owner, [...(ownedBy.get(row.owner) ?? []), row]);
  for (const [owner, rows] of ownedBy) {
    const byDatabase = new Map<string, typeof rows>();
    for (const row of rows) byDatabase.set(row.database, [...(byDatabase.get(row.database) ?? []), row]);
    for (const [database, objects] of byDatabase) {
      for (const row of objects.slice(0, OWNED_LISTED)) {
        const where = row.object_type === 'database' ? row.object : row.schema === null ? `${database}.${row.object}` : `${database}.${row.schema}.${row.object}`;
        add(owner, { kind: 'ownership', name: row.object_type, on: where, via: [], labels: labels.get(database) ?? [], target: { database, objectType: row.object_type, object: row.object, ...(row.schema ? { schema: row.schema } : {}) } });
      }
      if (objects.length > OWNED_LISTED) add(owner, { kind: 'ownership', name: `${objects.length - OWNED_LISTED} more objects`, on: database, via: [], labels: labels.get(database) ?? [] });
    }
  }

  const managed = new Set(roles.filter((role) => isLatchManaged(role, options)).map((role) => role.name));
  const principals: ScannedPrincipal[] = [];
  for (const role of roles) {
    if (managed.has(role.name)) continue;
    const privileges: FoundPrivilege[] = [];
    for (const [attribute, held] of [['SUPERUSER', role.superuser], ['CREATEROLE', role.createrole], ['CREATEDB', role.createdb], ['BYPASSRLS', role.bypassrls], ['REPLICATION', role.replication]] as const) {
      if (held) privileges.push({ kind: 'attribute', name: attribute, on: null, via: [], target: {} });
    }
    privileges.push(...(direct.get(role.name) ?? []));
    for (const chain of chains.filter((c) => c.member === role.name)) {
      const via = chain.path.slice(0, -1);
      // The membership itself, direct or through the chain; revocable only where it is direct.
      privileges.push({ kind: 'membership', name: chain.role, on: null, via, grantable: chain.admin_option, target: via.length === 0 ? { role: chain.role } : {} });
      if (!chain.inherits) continue;
      for (const held of direct.get(chain.role) ?? []) privileges.push({ ...held, via: chain.path, target: {} });
    }
    principals.push({
      integration: integration.name, backend: 'postgresql', principal: role.name, kind: role.can_login ? 'login' : 'group', canLogin: role.can_login,
      privileges, passwordNeverExpires: role.can_login && !role.valid_until_finite, lastUsedAt: null, watchedSince: null, activeNow: (sessions.get(role.name) ?? 0) > 0,
    });
  }
  return { principals, sessions, databases, skipped, connector: connection.user };
}
