import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Integration } from '../../config/schema.js';
import type { FoundPrivilege, ScannedPrincipal } from '../../core/discovery.js';
import { parseResource } from '../mysql/settings.js';
import { openMysqlConnection } from './mysql-connection.js';

// What every account and role of a MySQL or MariaDB server may do: global privileges,
// schema and table grants (information_schema, which shows every grantee to a connector
// with SELECT on mysql.*), roles granted to accounts and to other roles (mysql.roles_mapping
// on MariaDB, mysql.role_edges on MySQL 8) followed through every chain, whether the account
// is locked or its password expired, and who holds a connection now (PROCESSLIST, which
// needs PROCESS to show other accounts' threads).

export interface MysqlScanOptions {
  env: NodeJS.ProcessEnv;
  instance: string;
  managed: ReadonlySet<string>;
}

export interface MysqlScan {
  principals: ScannedPrincipal[];
  sessions: Map<string, number>;
  connector: string;
  mariadb: boolean;
}

/** Accounts the server itself owns and nobody logs in as. */
const SYSTEM_ACCOUNTS = new Set(['mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'mysql']);

/** `'user'@'host'` as information_schema writes a grantee; a MariaDB role has an empty host. */
function parseGrantee(grantee: string): { user: string; host: string } | null {
  const match = /^'((?:[^']|'')*)'@'((?:[^']|'')*)'$/.exec(grantee);
  return match ? { user: (match[1] ?? '').replace(/''/g, "'"), host: (match[2] ?? '').replace(/''/g, "'") } : null;
}

/** How the report names an account: `user@host`, a MariaDB role by its name alone. */
export function mysqlAccountName(user: string, host: string): string {
  return host === '' ? user : `${user}@${host}`;
}

interface AccountRow extends RowDataPacket {
  user: string;
  host: string;
  is_role: string | null;
  locked: number | string | null;
  password_expired: string | null;
}

interface EdgeRow extends RowDataPacket {
  user: string;
  host: string;
  role: string;
  role_host: string;
  admin_option: string;
}

function labelsBySchema(integration: Integration): Map<string, string[]> {
  const labels = new Map<string, string[]>();
  for (const resource of integration.resources) {
    let schema: string | undefined;
    try {
      schema = parseResource(integration, resource).database;
    } catch {
      continue;
    }
    if (schema) labels.set(schema, [...new Set([...(labels.get(schema) ?? []), ...resource.labels])]);
  }
  return labels;
}

/** Threads per user name now, ours left out (PROCESSLIST names the user, not the account's host). */
async function threadsByUser(conn: Connection): Promise<Map<string, number>> {
  const [threads] = await conn.query<RowDataPacket[]>(`SELECT USER AS user, COUNT(*) AS sessions FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER IS NOT NULL GROUP BY USER`);
  return new Map<string, number>(threads.map((row) => [String(row.user), Number(row.sessions)]));
}

/**
 * Only the activity sample, for the frequent discovery_sample job, keyed by account as a
 * scan names them: every account of a user name with a thread counts as in use.
 */
export async function sampleMysqlSessions(integration: Integration, env: NodeJS.ProcessEnv): Promise<Map<string, number>> {
  const { conn } = await openMysqlConnection(integration, env);
  try {
    const byUser = await threadsByUser(conn);
    const [accounts] = await conn.query<RowDataPacket[]>('SELECT User AS user, Host AS host FROM mysql.user');
    const sessions = new Map<string, number>();
    for (const account of accounts) {
      const open = byUser.get(String(account.user)) ?? 0;
      if (open > 0 && account.host !== '') sessions.set(mysqlAccountName(String(account.user), String(account.host)), open);
    }
    return sessions;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

export async function scanMysql(integration: Integration, options: MysqlScanOptions): Promise<MysqlScan> {
  const { conn, connection, mariadb } = await openMysqlConnection(integration, options.env);
  const labels = labelsBySchema(integration);
  try {
    const [[me]] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS me');
    const connector = String(me?.me ?? connection.user);
    const [accounts] = await conn.query<AccountRow[]>(mariadb
      ? `SELECT u.User AS user, u.Host AS host, u.is_role AS is_role, JSON_VALUE(g.Priv, '$.account_locked') AS locked, u.password_expired AS password_expired
           FROM mysql.user u LEFT JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host`
      : `SELECT u.User AS user, u.Host AS host, NULL AS is_role, u.account_locked AS locked, u.password_expired AS password_expired FROM mysql.user u`);
    const [edges] = await conn.query<EdgeRow[]>(mariadb
      ? `SELECT User AS user, Host AS host, Role AS role, '' AS role_host, Admin_option AS admin_option FROM mysql.roles_mapping`
      : `SELECT TO_USER AS user, TO_HOST AS host, FROM_USER AS role, FROM_HOST AS role_host, WITH_ADMIN_OPTION AS admin_option FROM mysql.role_edges`);
    const [globals] = await conn.query<RowDataPacket[]>(`SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE <> 'USAGE'`);
    const [schemas] = await conn.query<RowDataPacket[]>(`SELECT GRANTEE AS grantee, TABLE_SCHEMA AS db, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.SCHEMA_PRIVILEGES`);
    const [tables] = await conn.query<RowDataPacket[]>(`SELECT GRANTEE AS grantee, TABLE_SCHEMA AS db, TABLE_NAME AS tbl, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.TABLE_PRIVILEGES`);
    const sessionsByUser = await threadsByUser(conn);

    const direct = new Map<string, FoundPrivilege[]>();
    const add = (grantee: string, privilege: FoundPrivilege): void => {
      const parsed = parseGrantee(grantee);
      if (!parsed) return;
      const key = mysqlAccountName(parsed.user, parsed.host);
      direct.set(key, [...(direct.get(key) ?? []), { ...privilege, target: { ...privilege.target, user: parsed.user, host: parsed.host } }]);
    };
    for (const row of globals) add(String(row.grantee), { kind: 'global', name: String(row.privilege), on: '*.*', via: [], grantable: row.grantable === 'YES', target: {} });
    for (const row of schemas) {
      add(String(row.grantee), { kind: 'schema', name: String(row.privilege), on: `${row.db}.*`, via: [], grantable: row.grantable === 'YES', labels: labels.get(String(row.db)) ?? [], target: { schema: String(row.db) } });
    }
    for (const row of tables) {
      add(String(row.grantee), { kind: 'object', name: String(row.privilege), on: `${row.db}.${row.tbl}`, via: [], grantable: row.grantable === 'YES', labels: labels.get(String(row.db)) ?? [], target: { schema: String(row.db), object: String(row.tbl) } });
    }

    // Role graph: account or role → the roles granted to it.
    const granted = new Map<string, { role: string; admin: boolean; roleUser: string; roleHost: string }[]>();
    for (const edge of edges) {
      const from = mysqlAccountName(edge.user, edge.host);
      granted.set(from, [...(granted.get(from) ?? []), { role: mysqlAccountName(edge.role, edge.role_host), admin: edge.admin_option === 'Y', roleUser: edge.role, roleHost: edge.role_host }]);
    }

    const principals: ScannedPrincipal[] = [];
    const sessions = new Map<string, number>();
    for (const account of accounts) {
      const name = mysqlAccountName(account.user, account.host);
      if (SYSTEM_ACCOUNTS.has(account.user) || name === connector || options.managed.has(account.user) || options.managed.has(name) || account.user.startsWith(`${options.instance}_`)) continue;
      const isRole = account.is_role === 'Y';
      const privileges: FoundPrivilege[] = [...(direct.get(name) ?? [])];
      // Every role reachable through grants, with the chain; a role granted twice is followed once.
      const queue: { role: string; path: string[]; admin: boolean; roleUser: string; roleHost: string }[] = (granted.get(name) ?? []).map((g) => ({ ...g, path: [] }));
      const seen = new Set<string>([name]);
      while (queue.length > 0) {
        const next = queue.shift()!;
        if (seen.has(next.role)) continue;
        seen.add(next.role);
        privileges.push({ kind: 'membership', name: next.role, on: null, via: next.path, grantable: next.admin, target: next.path.length === 0 ? { user: account.user, host: account.host, role: next.roleUser, roleHost: next.roleHost } : {} });
        const through = [...next.path, next.role];
        for (const held of direct.get(next.role) ?? []) privileges.push({ ...held, via: through, target: {} });
        for (const more of granted.get(next.role) ?? []) queue.push({ ...more, path: through });
      }
      const locked = account.locked === 1 || account.locked === 'true' || account.locked === 'Y' || account.locked === '1';
      const open = isRole ? 0 : sessionsByUser.get(account.user) ?? 0;
      if (open > 0) sessions.set(name, open);
      principals.push({
        integration: integration.name, backend: 'mysql', principal: name, kind: isRole ? 'role' : 'user', canLogin: !isRole && !locked,
        privileges, locked, passwordExpired: account.password_expired === 'Y', lastUsedAt: null, watchedSince: null, activeNow: open > 0,
      });
    }
    return { principals, sessions, connector, mariadb };
  } finally {
    await conn.end().catch(() => undefined);
  }
}
