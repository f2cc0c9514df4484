import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions, Pool, PoolConnection, RowDataPacket, SslOptions } from 'mysql2/promise';
import type { Integration } from '../config/schema.js';
import type { Instant } from '../core/types.js';
import { canGrant, holdsGlobal, holdsOnSchema, parseShowGrants, type ConnectorGrants } from './mysql/grants.js';
import { generatePassword } from './mysql/password.js';
import { parseRetentionMarker, retentionMarker } from './mysql/retention.js';
import {
  assertId, assertPrincipal, MysqlSettingsError, parseConnection, parseResource, permissionPlan, PRIVILEGES, schemaPattern, show,
  type ConnectionSettings, type GrantTarget, type PermissionPlan,
} from './mysql/settings.js';
import type { GrantInput, GrantOutput, HealthCheck, ManagedPrincipal, Provisioner, ProvisionerFactory, RevokeInput } from './provisioner.js';

// MySQL 8 and MariaDB 10.x: every grant is an account of its own, `<principal>@<userHost>`,
// with a password Latch generates. A permission either names roles, which the database's
// owners fill with privileges like any other role, or lists privileges to grant directly.
//
// Neither server has a comment column for accounts that both share (MySQL 8's ATTRIBUTE has
// no MariaDB counterpart), so an account is Latch's by its name alone: `<instance>_...`,
// lower-case letters, digits and "_". Latch refuses to create, change or drop any account
// without that prefix (a kept account also carries a marker, see mysql/retention.ts).
// Neither server can end a login at a set time either (PASSWORD EXPIRE
// forces a password change, it does not lock anyone out), so expiry is Latch's revoke and
// nothing else; see docs/provisioners/mysql.md.
//
// Account statements are not transactional, so a grant is a sequence that is safe to run
// again from the top: a retry after a crash finds the account, gives it a new password and
// puts back exactly the privileges the config names. A named lock (GET_LOCK) per principal
// keeps a grant and a revoke of the same account from interleaving, across Latch processes.

export { MysqlSettingsError } from './mysql/settings.js';
export { generatePassword } from './mysql/password.js';

export type MysqlFlavour = 'mariadb' | 'mysql';

/** How long a call waits for another worker's lock on the same principal. */
const LOCK_WAIT_SECONDS = 30;
/** How long revoke waits for killed sessions to leave the process list. */
const SESSION_END_WAIT_MS = 5000;

/** Server errors that mean "you may not": the connector lacks a privilege. */
const ACCESS_DENIED = new Set([1044, 1045, 1142, 1227, 1698]);
const ER_NO_SUCH_THREAD = 1094;
const ER_KILL_DENIED = 1095;

/** Global privileges that turn a role into an administrator's; Latch never grants such a role. */
const ADMIN_COLUMNS = ['Super_priv', 'Grant_priv', 'Create_user_priv', 'File_priv', 'Shutdown_priv', 'Reload_priv'] as const;

/** What the checked compound statement signals when it writes nothing (createCheckedAccount). */
const STOOD_BACK = 'latch: checked account creation stood back';

/** How the people Latch grants access to log in, and how the connector itself does. */
export interface MysqlLoginOptions {
  /**
   * password (default): a generated password per grant. rds-iam: Amazon RDS IAM database
   * authentication: the account is IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' and
   * the person logs in with a token from `aws rds generate-db-auth-token` (provisioners/aws-rds.ts).
   */
  userAuth?: 'password' | 'rds-iam';
  /** The connector's password for each new connection (an RDS IAM token, sent in clear text over TLS); default: credentials.env. */
  connectorPassword?: () => Promise<string>;
}

/** RDS for MySQL and MariaDB: the plugin behind IAM database authentication. */
export const RDS_IAM_AUTHENTICATION = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'";
const ER_PLUGIN_IS_NOT_LOADED = 1524;

export class MysqlProvisionerError extends Error {
  override name = 'MysqlProvisionerError';
}

export interface MysqlHealth {
  integration: string;
  /** True when the connector can do everything this integration's config needs. */
  ok: boolean;
  checkedAt: Instant;
  connector: {
    user: string;
    /** CURRENT_USER(): the account the server matched, e.g. `latch_connector@%`. */
    account: string | null;
    canLogin: boolean;
    flavour: MysqlFlavour | null;
    serverVersion: string | null;
    error?: string;
  };
  privileges: {
    /** CREATE USER: create, change, lock and drop accounts (on MySQL also SET DEFAULT ROLE for them). */
    createUser: boolean;
    /** PROCESS: sees every account's sessions, so revoke can find them. */
    process: boolean;
    /** CONNECTION ADMIN (MariaDB), CONNECTION_ADMIN (MySQL) or SUPER: may KILL other accounts' sessions. */
    killSessions: boolean;
    /** SELECT on the mysql.* tables check, listManaged and revoke read. */
    readGrantTables: boolean;
    /** The grant tables that could not be read. */
    unreadableTables: string[];
    /**
     * How default roles get set. MariaDB lets the connector set another account's default
     * role only with UPDATE on the whole mysql schema ('for-account'); without it Latch logs
     * in once as the new account and sets it there ('as-account'). MySQL: CREATE USER suffices.
     */
    defaultRole: 'for-account' | 'as-account' | 'none';
    /** MySQL 8 SYSTEM_USER: not needed, and a connector without it cannot touch system accounts. */
    systemUser: boolean;
  };
  /** Every role a permission names: it must exist, be a role, and the connector must hold it WITH ADMIN OPTION (or ROLE_ADMIN on MySQL). */
  roles: { role: string; exists: boolean; adminOption: boolean; problem?: string }[];
  /** Every direct grant a permission names: the connector must hold each privilege WITH GRANT OPTION. */
  grants: { on: string; privileges: string[]; missing: string[] }[];
  /** Mistakes in the integration's own settings (also in `problems`). */
  config: string[];
  /** One sentence per problem, for people. Empty when ok. */
  problems: string[];
  /** Worth knowing, not wrong. */
  warnings: string[];
}

interface ServerFacts {
  flavour: MysqlFlavour;
  version: string;
}

interface CallPlan {
  principal: string;
  permission: PermissionPlan;
  database: string | null;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errno(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('errno' in error)) return null;
  return typeof error.errno === 'number' ? error.errno : null;
}

/** What may travel on as the cause of an error: never the driver's `sql`, which may hold a password. */
function safeCause(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const fields: Record<string, unknown> = {};
  for (const key of ['code', 'errno', 'sqlState']) if (key in error) fields[key] = (error as Record<string, unknown>)[key];
  return fields;
}

function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((result, secret) => (secret ? result.split(secret).join('<redacted>') : result), text);
}

async function select<T extends object>(conn: Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, values);
  return rows as unknown as T[];
}

async function run(conn: Connection, sql: string, values: unknown[] = []): Promise<void> {
  await conn.query(sql, values);
}

/** `schema.*` with the schema's wildcards escaped, or `schema`.`table`: exactly what the config names. */
function grantTarget(on: GrantTarget): string {
  if (on.table === null) return `${mysql.escapeId(schemaPattern(on.schema), true)}.*`;
  return `${mysql.escapeId(on.schema, true)}.${mysql.escapeId(on.table, true)}`;
}

/** A session id from the process list, checked to be the number KILL expects before it goes anywhere near SQL. */
function sessionId(value: unknown): number {
  const id = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw new MysqlProvisionerError(`the process list returned ${show(value)} as a session id`);
  return id;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class MysqlProvisioner implements Provisioner {
  readonly type = 'mysql';
  readonly connection: ConnectionSettings;
  private pool: Pool | null = null;
  private server: Promise<ServerFacts> | null = null;
  /** MariaDB: whether SET DEFAULT ROLE ... FOR works for this connector; learnt on first use. */
  private defaultRoleForAccount: boolean | null = null;
  private closed = false;
  /** Named locks still being released after their work answered (see withLock). */
  private readonly releasing = new Set<Promise<void>>();

  constructor(private readonly integration: Integration, private readonly env: NodeJS.ProcessEnv = process.env, private readonly login: MysqlLoginOptions = {}) {
    this.connection = parseConnection(integration);
  }

  private get iamUsers(): boolean {
    return this.login.userAuth === 'rds-iam';
  }

  // ---------------------------------------------------------------- grant

  async grant(input: GrantInput): Promise<GrantOutput> {
    const plan = this.plan(input, true);
    const { principal, permission } = plan;
    const host = this.connection.userHost;
    // A new password on every call, also on a retry after a crash: the one issued before
    // may never have reached the grantee, and Latch keeps no copy to send again. An RDS IAM
    // account has none: its tokens come from AWS.
    const password = this.iamUsers ? null : generatePassword();
    const secrets = password === null ? [] : [password];
    const identified = password === null ? { sql: RDS_IAM_AUTHENTICATION, values: [] } : { sql: 'IDENTIFIED BY ?', values: [password] };
    await this.withLock(principal, `granting ${input.permission} on ${input.resource.name} to ${principal}`, secrets, async (conn) => {
      const server = await this.serverFacts(conn);
      if (server.flavour === 'mariadb' && permission.roles.length > 1) {
        throw new MysqlSettingsError(`integration "${this.integration.name}" resource "${input.resource.name}" permission "${input.permission}": `
          + `MariaDB activates only one default role per account, and this permission names ${permission.roles.length} (${permission.roles.join(', ')}). `
          + 'Make one role that holds the others (CREATE ROLE x; GRANT a TO x; GRANT b TO x) and name that, or use grants:');
      }
      const account = { user: principal, host };
      const oneRole = server.flavour === 'mariadb' && this.defaultRoleForAccount === true && permission.roles.length === 1 && permission.grants.length === 0;
      if (oneRole && await this.createCheckedAccount(conn, permission.roles[0] ?? '', account, identified)) return;
      const exists = await this.assertRoles(conn, server, permission.roles, input.permission, account)
        ?? (await select<{ Host: string }>(conn, 'SELECT Host FROM mysql.user WHERE User = ? AND Host = ?', [principal, host])).length > 0;
      if (exists) {
        // A retry: the config may have changed since the first attempt, so the account is
        // emptied and then given exactly what the config says now.
        // REQUIRE NONE: an account kept after a revoke carries its marker there (mysql/retention.ts).
        await run(conn, `ALTER USER ?@? ${identified.sql} REQUIRE NONE ACCOUNT UNLOCK`, [principal, host, ...identified.values]);
        for (const held of await this.heldRoles(conn, server, principal, host)) {
          if (permission.roles.includes(held.role)) continue;
          if (server.flavour === 'mysql') await run(conn, 'REVOKE ?@? FROM ?@?', [held.role, held.host, principal, host]);
          else await run(conn, `REVOKE ${mysql.escapeId(held.role, true)} FROM ?@?`, [principal, host]);
        }
        await run(conn, 'REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [principal, host]);
      } else {
        await run(conn, `CREATE USER IF NOT EXISTS ?@? ${identified.sql}`, [principal, host, ...identified.values]);
      }

      for (const role of permission.roles) await run(conn, `GRANT ${mysql.escapeId(role, true)} TO ?@?`, [principal, host]);
      if (permission.roles.length > 0) await this.setDefaultRoles(conn, server, principal, host, password, permission.roles);
      for (const grant of permission.grants) {
        // The privilege words come from the allow-list in settings.ts, never from the config text.
        await run(conn, `GRANT ${grant.privileges.join(', ')} ON ${grantTarget(grant.on)} TO ?@?`, [principal, host]);
      }
    });
    return { principal, ...(password === null ? {} : { secrets: { password } }), details: this.details(principal, plan.database) };
  }

  /**
   * MySQL: SET DEFAULT ROLE ALL, which CREATE USER allows. MariaDB: one default role, set
   * FOR the account when the connector may write the mysql schema, otherwise by logging in
   * as the account once, which needs no privilege at all.
   */
  private async setDefaultRoles(conn: Connection, server: ServerFacts, principal: string, host: string, password: string | null, roles: string[]): Promise<void> {
    if (server.flavour === 'mysql') {
      await run(conn, 'SET DEFAULT ROLE ALL TO ?@?', [principal, host]);
      return;
    }
    const role = mysql.escapeId(roles[0] ?? '', true);
    if (this.defaultRoleForAccount !== false) {
      try {
        await run(conn, `SET DEFAULT ROLE ${role} FOR ?@?`, [principal, host]);
        this.defaultRoleForAccount = true;
        return;
      } catch (error) {
        const code = errno(error);
        if (code === null || !ACCESS_DENIED.has(code)) throw error;
        this.defaultRoleForAccount = false;
      }
    }
    if (password === null) {
      throw new MysqlProvisionerError(`integration "${this.integration.name}": cannot set the default role of ${principal}: MariaDB needs UPDATE on the mysql schema for SET DEFAULT ROLE ... FOR, `
        + 'and an RDS IAM account cannot be logged in as to set it itself; grant the connector UPDATE ON mysql.* (see docs/provisioners/mysql.md)');
    }
    let own: Connection;
    try {
      own = await mysql.createConnection({ ...this.connectionOptions(), user: principal, password });
    } catch (error) {
      throw new MysqlProvisionerError(`integration "${this.integration.name}": cannot set the default role of ${principal}: the connector may not `
        + `(MariaDB needs UPDATE on the mysql schema for SET DEFAULT ROLE ... FOR), and logging in as ${principal} to set it failed: ${errorText(error)}. `
        + `Make connection.userHost (${show(host)}) match the address Latch connects from, or see docs/provisioners/mysql.md`, { cause: safeCause(error) });
    }
    // A session the server ends must not become an unhandled 'error' event.
    own.on('error', () => undefined);
    try {
      await run(own, `SET DEFAULT ROLE ${role}`);
    } finally {
      await own.end().catch(() => own.destroy());
    }
  }

  // ---------------------------------------------------------------- extend

  /**
   * Nothing to move: neither MySQL nor MariaDB can end an account's access at a set time
   * (PASSWORD EXPIRE only forces a new password; there is no VALID UNTIL), so the expiry
   * lives in Latch's revoke job alone, which an extension already moved.
   */
  async extend(input: GrantInput): Promise<void> {
    this.plan(input, false);
  }

  // ---------------------------------------------------------------- credentials

  /** A new random password for the account, set as grant sets it; roles and privileges stay. */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    // The permission is read for the database name the DM shows, as grant reports it.
    const plan = this.plan(input, true);
    if (this.iamUsers) throw new MysqlProvisionerError(`integration "${this.integration.name}": ${plan.principal} logs in with RDS IAM tokens, not a password; there is no password to reset`);
    const { principal } = plan;
    const host = this.connection.userHost;
    const password = generatePassword();
    await this.withLock(principal, `resetting the password of ${principal}`, [password], async (conn) => {
      const existing = await select<{ Host: string }>(conn, 'SELECT Host FROM mysql.user WHERE User = ? AND Host = ?', [principal, host]);
      if (existing.length === 0) throw new MysqlProvisionerError(`integration "${this.integration.name}": account ${principal}@${host} does not exist, so it has no password to reset`);
      await run(conn, 'ALTER USER ?@? IDENTIFIED BY ?', [principal, host, password]);
    });
    return { principal, secrets: { password }, details: this.details(principal, plan.database) };
  }

  // ---------------------------------------------------------------- revoke

  /**
   * Takes the whole account away, or with `retainUntil` keeps it locked and empty until
   * then; the permission settings are not needed, so an edited config never holds up a revoke.
   */
  async revoke(input: RevokeInput): Promise<void> {
    const plan = this.plan(input, false);
    if (input.retainUntil !== undefined) return this.retainAccounts(plan.principal, input, input.retainUntil);
    await this.dropAccounts(plan.principal);
  }

  async removeOrphan(integration: Integration, principal: string): Promise<void> {
    assertPrincipal(integration, this.connection, principal);
    await this.dropAccounts(principal);
  }

  /**
   * The order matters:
   *  1. ACCOUNT LOCK every host of the principal: from here on no new session can start.
   *  2. KILL its sessions (a dropped account's open session would otherwise live on).
   *  3. DROP USER: the account and every privilege and role it held go at once.
   *  4. Kill again whatever slipped in between, and wait until the process list is empty:
   *     a revoke that cannot see the sessions end is not done and is retried.
   * An account that is already gone counts as revoked.
   */
  private async dropAccounts(principal: string): Promise<void> {
    await this.withLock(principal, `revoking ${principal}`, [], async (conn) => {
      const server = await this.serverFacts(conn);
      const hosts = (await select<{ Host: string }>(conn, "SELECT Host FROM mysql.user WHERE User = ? AND Host <> ''", [principal])).map((row) => row.Host);
      for (const host of hosts) await run(conn, 'ALTER USER ?@? ACCOUNT LOCK', [principal, host]);
      await this.killSessions(conn, server, principal);
      if (hosts.length > 0) await run(conn, `DROP USER IF EXISTS ${hosts.map(() => '?@?').join(', ')}`, hosts.flatMap((host) => [principal, host]));
      await this.sessionsEnded(conn, server, principal, 'the account is dropped');
    });
  }

  /**
   * Keeps the account after its revoke, until `retainUntil`, for whatever names it (MySQL
   * tables have no owner and survive DROP USER anyway, but views, routines and events
   * name their DEFINER, and an audit may want the account to still be there). The order
   * follows the drop's:
   *  1. For every host: a new random password nobody receives, ACCOUNT LOCK, and the
   *     retention marker (mysql/retention.ts). No new session from here on.
   *  2. KILL its sessions.
   *  3. Revoke every role it holds and every privilege (REVOKE ALL PRIVILEGES, GRANT OPTION).
   *  4. Kill what slipped in and wait until the process list is empty, as the drop does.
   * The first recorded retained-until wins, so a retried revoke does not move it. A later
   * revoke without `retainUntil`, or reconcile after the instant, drops the account as usual.
   */
  private async retainAccounts(principal: string, input: RevokeInput, retainUntil: Instant): Promise<void> {
    if (!Number.isFinite(retainUntil)) throw new MysqlProvisionerError(`integration "${this.integration.name}": grant ${input.grantId} has no valid retention instant`);
    const password = generatePassword();
    await this.withLock(principal, `retaining ${principal}`, [password], async (conn) => {
      const server = await this.serverFacts(conn);
      const accounts = await select<{ Host: string; issuer: unknown }>(conn, "SELECT Host, x509_issuer AS issuer FROM mysql.user WHERE User = ? AND Host <> ''", [principal]);
      if (accounts.length === 0) return;
      const recorded = accounts.map((account) => parseRetentionMarker(account.issuer)?.retainedUntil).find((until) => until !== undefined);
      const marker = retentionMarker(input.requestId, input.grantId, recorded ?? retainUntil);
      for (const { Host: host } of accounts) await run(conn, 'ALTER USER ?@? IDENTIFIED BY ? REQUIRE ISSUER ? ACCOUNT LOCK', [principal, host, password, marker]);
      await this.killSessions(conn, server, principal);
      for (const { Host: host } of accounts) {
        for (const held of await this.heldRoles(conn, server, principal, host)) {
          if (server.flavour === 'mysql') await run(conn, 'REVOKE ?@? FROM ?@?', [held.role, held.host, principal, host]);
          else await run(conn, `REVOKE ${mysql.escapeId(held.role, true)} FROM ?@?`, [principal, host]);
        }
        await run(conn, 'REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [principal, host]);
        await this.clearDefaultRoles(conn, server, principal, host);
      }
      await this.sessionsEnded(conn, server, principal, 'the account is locked and empty');
    });
  }

  /**
   * SET DEFAULT ROLE NONE, so the account names no role at all. MySQL allows it with CREATE
   * USER; MariaDB only with UPDATE on the mysql schema, which Latch does not ask for: there
   * the account keeps naming a default role it no longer holds, which activates nothing.
   */
  private async clearDefaultRoles(conn: Connection, server: ServerFacts, principal: string, host: string): Promise<void> {
    if (server.flavour === 'mysql') {
      await run(conn, 'SET DEFAULT ROLE NONE TO ?@?', [principal, host]);
      return;
    }
    if (this.defaultRoleForAccount === false) return;
    try {
      await run(conn, 'SET DEFAULT ROLE NONE FOR ?@?', [principal, host]);
      this.defaultRoleForAccount = true;
    } catch (error) {
      const code = errno(error);
      if (code === null || !ACCESS_DENIED.has(code)) throw error;
      this.defaultRoleForAccount = false;
    }
  }

  /** Kills what is left of `principal`'s sessions until none is; a revoke that cannot see them end is not done. */
  private async sessionsEnded(conn: Connection, server: ServerFacts, principal: string, state: string): Promise<void> {
    const deadline = Date.now() + SESSION_END_WAIT_MS;
    for (;;) {
      const left = await this.killSessions(conn, server, principal);
      if (left.length === 0) return;
      if (Date.now() > deadline) {
        throw new MysqlProvisionerError(`integration "${this.integration.name}": session(s) ${left.join(', ')} of ${principal} did not end within ${SESSION_END_WAIT_MS / 1000}s; ${state}, the revoke is retried`);
      }
      await sleep(100);
    }
  }

  /** Kills every session of `principal` still running; returns the ids that were still there. */
  private async killSessions(conn: Connection, server: ServerFacts, principal: string): Promise<number[]> {
    const rows = await select<{ ID: unknown; COMMAND: string | null }>(conn,
      'SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [principal]);
    const ids = rows.map((row) => sessionId(row.ID));
    for (const row of rows) {
      if (row.COMMAND === 'Killed') continue;
      const id = sessionId(row.ID);
      try {
        await run(conn, 'KILL CONNECTION ?', [id]);
      } catch (error) {
        const code = errno(error);
        if (code === ER_NO_SUCH_THREAD) continue; // it ended by itself
        if (code === ER_KILL_DENIED && server.flavour === 'mysql') {
          // Amazon RDS gives no CONNECTION_ADMIN to customers; its procedure does the same.
          try {
            await run(conn, 'CALL mysql.rds_kill(?)', [id]);
            continue;
          } catch {
            // Not RDS (or no EXECUTE on it): the KILL error below says what is missing.
          }
        }
        throw error;
      }
    }
    return ids;
  }

  // ---------------------------------------------------------------- check, list

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const { principal, permission } = this.plan(input, true);
    const host = this.connection.userHost;
    return this.withConnection(`checking ${principal}`, [], async (conn) => {
      const server = await this.serverFacts(conn);
      const account = await select<{ Host: string }>(conn, 'SELECT Host FROM mysql.user WHERE User = ? AND Host = ?', [principal, host]);
      if (account.length === 0) return 'absent';
      if (permission.roles.length > 0) {
        const held = new Set((await this.heldRoles(conn, server, principal, host)).map((row) => row.role));
        if (!permission.roles.every((role) => held.has(role))) return 'absent';
      }
      if (permission.grants.length > 0) {
        const dbRows = await select<Record<string, unknown>>(conn, 'SELECT * FROM mysql.db WHERE User = ? AND Host = ?', [principal, host]);
        const tableRows = await select<{ Db: string; Table_name: string; Table_priv: string | null }>(conn,
          'SELECT Db, Table_name, Table_priv FROM mysql.tables_priv WHERE User = ? AND Host = ?', [principal, host]);
        for (const grant of permission.grants) {
          const { schema, table } = grant.on;
          for (const privilege of grant.privileges) {
            const facts = PRIVILEGES[privilege];
            const present = table === null
              ? dbRows.some((row) => (row.Db === schemaPattern(schema) || row.Db === schema) && row[facts.dbColumn] === 'Y')
              : tableRows.some((row) => row.Db.toLowerCase() === schema.toLowerCase() && row.Table_name.toLowerCase() === table.toLowerCase()
                && facts.tableWord !== null && (row.Table_priv ?? '').toLowerCase().split(',').includes(facts.tableWord));
            if (!present) return 'absent';
          }
        }
      }
      return 'present';
    });
  }

  /**
   * Accounts whose name carries this instance's prefix. Neither server keeps a comment Latch
   * could read back on both, so no grant reference: reconcile reports unknown ones and
   * leaves them alone; revoke and removeOrphan take them away. Kept accounts are the
   * exception: their retention marker carries the request and `retainedUntil`.
   */
  async listManaged(integration: Integration): Promise<ManagedPrincipal[]> {
    if (integration.name !== this.integration.name) {
      throw new MysqlProvisionerError(`integration "${integration.name}" is not "${this.integration.name}", the one this provisioner serves`);
    }
    const prefix = `${this.connection.instance}_`;
    const rows = await this.withConnection('listing managed accounts', [], (conn) => select<{ name: string; issuer: unknown }>(conn,
      "SELECT User AS name, x509_issuer AS issuer FROM mysql.user WHERE LEFT(User, ?) = ? AND Host <> '' ORDER BY User, Host", [prefix.length, prefix]));
    const result = new Map<string, ManagedPrincipal>();
    for (const row of rows) {
      if (typeof row.name !== 'string' || !row.name.startsWith(prefix)) continue;
      const marker = parseRetentionMarker(row.issuer);
      const entry = result.get(row.name) ?? { principal: row.name, reference: null, expiresAt: null };
      // One host still unmarked (a retain cut short) means the account is not kept yet.
      if (result.has(row.name) && entry.retainedUntil === undefined) continue;
      result.set(row.name, marker ? { ...entry, reference: marker.request, retainedUntil: Math.max(marker.retainedUntil, entry.retainedUntil ?? 0) } : { principal: row.name, reference: null, expiresAt: null });
    }
    return [...result.values()];
  }

  // ---------------------------------------------------------------- health

  /** What the connector can and cannot do for this integration's config. Never throws. */
  async health(): Promise<MysqlHealth> {
    const report: MysqlHealth = {
      integration: this.integration.name, ok: false, checkedAt: Date.now(),
      connector: { user: this.connection.user, account: null, canLogin: false, flavour: null, serverVersion: null },
      privileges: { createUser: false, process: false, killSessions: false, readGrantTables: false, unreadableTables: [], defaultRole: 'none', systemUser: false },
      roles: [], grants: [], config: [], problems: [], warnings: [],
    };

    // What the config asks for, and whether it is well-formed.
    const roles = new Set<string>();
    const grants = new Map<string, { on: GrantTarget; privileges: Set<string> }>();
    const rolesPerPermission: { where: string; roles: string[] }[] = [];
    for (const resource of this.integration.resources) {
      try {
        parseResource(this.integration, resource);
      } catch (error) {
        report.config.push(errorText(error));
      }
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          const plan = permissionPlan(this.integration, resource, permission, settings);
          for (const role of plan.roles) roles.add(role);
          if (plan.roles.length > 1) rolesPerPermission.push({ where: `resource "${resource.name}" permission "${permission}"`, roles: plan.roles });
          for (const grant of plan.grants) {
            const entry = grants.get(grant.on.text) ?? { on: grant.on, privileges: new Set<string>() };
            for (const privilege of grant.privileges) entry.privileges.add(privilege);
            grants.set(grant.on.text, entry);
          }
        } catch (error) {
          report.config.push(errorText(error));
        }
      }
    }
    report.problems.push(...report.config);

    let conn: PoolConnection;
    try {
      conn = await this.connect();
    } catch (error) {
      report.connector.error = errorText(error);
      report.problems.push(`the connector cannot log in: ${errorText(error)}`);
      return report;
    }
    try {
      report.connector.canLogin = true;
      const server = await this.serverFacts(conn);
      report.connector.flavour = server.flavour;
      report.connector.serverVersion = server.version;
      const [me] = await select<{ account: string }>(conn, 'SELECT CURRENT_USER() AS account');
      report.connector.account = me?.account ?? null;

      const lines = (await select<Record<string, unknown>>(conn, 'SHOW GRANTS')).map((row) => String(Object.values(row)[0] ?? ''));
      const held = parseShowGrants(lines);
      const mariadb = server.flavour === 'mariadb';
      const { privileges } = report;
      privileges.createUser = holdsGlobal(held, 'CREATE USER');
      privileges.process = holdsGlobal(held, 'PROCESS');
      privileges.killSessions = holdsGlobal(held, mariadb ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN', 'SUPER');
      privileges.systemUser = !mariadb && holdsGlobal(held, 'SYSTEM_USER');

      const tables = mariadb ? ['user', 'db', 'tables_priv', 'roles_mapping'] : ['user', 'db', 'tables_priv', 'role_edges', 'global_grants'];
      for (const table of tables) {
        try {
          await run(conn, `SELECT 1 FROM ${mysql.escapeId('mysql', true)}.${mysql.escapeId(table, true)} LIMIT 0`);
        } catch (error) {
          if (!ACCESS_DENIED.has(errno(error) ?? 0)) throw error;
          privileges.unreadableTables.push(`mysql.${table}`);
        }
      }
      privileges.readGrantTables = privileges.unreadableTables.length === 0;

      if (!privileges.createUser) report.problems.push(`the connector ${report.connector.account ?? this.connection.user} lacks CREATE USER: it cannot create, change or drop accounts`);
      if (!privileges.process) report.problems.push('the connector lacks PROCESS: it cannot see the sessions it must end at revoke');
      if (!privileges.killSessions) report.problems.push(`the connector lacks ${mariadb ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN'} (or SUPER): it cannot end sessions at revoke`);
      if (!privileges.readGrantTables) report.problems.push(`the connector cannot read ${privileges.unreadableTables.join(', ')}: grant SELECT on them`);
      if (privileges.systemUser) report.warnings.push('the connector holds SYSTEM_USER, which it does not need: without it, it could never change or drop a system account');
      if (holdsGlobal(held, 'ALL') || held.global.has('SUPER')) report.warnings.push('the connector holds ALL PRIVILEGES or SUPER; scripts/mysql-connector-setup.sql shows the few it needs');

      if (roles.size > 0) {
        if (!mariadb) privileges.defaultRole = privileges.createUser ? 'for-account' : 'none';
        else if (holdsGlobal(held, 'UPDATE') || holdsOnSchema(held, 'UPDATE', 'mysql')) {
          privileges.defaultRole = 'for-account';
          report.warnings.push('the connector holds UPDATE on the mysql schema, which lets it rewrite every account\'s privileges; Latch does not need it (it sets default roles by logging in as the new account)');
        } else {
          privileges.defaultRole = 'as-account';
          if (!/[%_]/.test(this.connection.userHost)) report.warnings.push(`default roles are set by logging in as the new account, so connection.userHost ${show(this.connection.userHost)} must match the address Latch connects from`);
        }
        if (mariadb) {
          for (const entry of rolesPerPermission) {
            const problem = `${entry.where} names ${entry.roles.length} roles (${entry.roles.join(', ')}), but MariaDB activates only one default role per account`;
            report.config.push(problem);
            report.problems.push(problem);
          }
        }
      }

      const roleAdmin = !mariadb && holdsGlobal(held, 'ROLE_ADMIN', 'SUPER');
      const roleRows = roles.size > 0 && !privileges.unreadableTables.includes('mysql.user') ? await this.roleRows(conn, server, [...roles]) : null;
      for (const role of [...roles].sort()) {
        const adminOption = roleAdmin || held.roles.some((entry) => entry.role === role && entry.admin);
        const entry: MysqlHealth['roles'][number] = { role, exists: false, adminOption };
        if (roleRows) {
          const row = roleRows.get(role);
          entry.exists = row !== undefined;
          const problem = row ? this.roleProblem(server, row) : `role ${role} does not exist`;
          if (problem) entry.problem = problem;
        } else entry.problem = 'cannot tell whether it exists: mysql.user is not readable';
        if (entry.problem) report.problems.push(entry.problem);
        if (!adminOption) report.problems.push(`the connector does not hold role ${role} WITH ADMIN OPTION${mariadb ? '' : ' (nor ROLE_ADMIN)'}: it cannot grant it`);
        report.roles.push(entry);
      }

      for (const { on, privileges: wanted } of [...grants.values()].sort((a, b) => a.on.text.localeCompare(b.on.text))) {
        const missing = [...wanted].filter((privilege) => !canGrant(held, privilege, on.schema, on.table));
        report.grants.push({ on: on.text, privileges: [...wanted], missing });
        if (missing.length > 0) report.problems.push(`the connector cannot grant ${missing.join(', ')} on ${on.text}: it needs them WITH GRANT OPTION there`);
      }
      conn.release();
    } catch (error) {
      conn.destroy();
      report.problems.push(`health check failed: ${errorText(error)}`);
    }
    report.ok = report.problems.length === 0;
    return report;
  }

  /** The health report as the generic checks the bot's health endpoint shows. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const report = await this.health();
    const { connector, privileges } = report;
    const checks: HealthCheck[] = [{
      name: 'connect', ok: connector.canLogin,
      detail: connector.canLogin ? `${connector.account ?? connector.user} on ${connector.flavour ?? '?'} ${connector.serverVersion ?? ''}`.trim() : connector.error ?? 'cannot log in',
    }];
    if (connector.canLogin) {
      checks.push(
        { name: 'create_user', ok: privileges.createUser, detail: privileges.createUser ? 'CREATE USER' : 'missing CREATE USER' },
        { name: 'end_sessions', ok: privileges.process && privileges.killSessions, detail: privileges.process && privileges.killSessions ? 'PROCESS and CONNECTION ADMIN' : 'missing PROCESS or CONNECTION ADMIN' },
        { name: 'grant_tables', ok: privileges.readGrantTables, detail: privileges.readGrantTables ? 'readable' : `cannot read ${privileges.unreadableTables.join(', ')}` },
        ...report.roles.map((role) => ({ name: `role:${role.role}`, ok: role.exists && role.adminOption && !role.problem, detail: role.problem ?? (role.adminOption ? 'grantable' : 'no ADMIN OPTION') })),
        ...report.grants.map((grant) => ({ name: `grant:${grant.on}`, ok: grant.missing.length === 0, detail: grant.missing.length === 0 ? grant.privileges.join(', ') : `cannot grant ${grant.missing.join(', ')}` })),
      );
    }
    if (report.config.length > 0) checks.push({ name: 'config', ok: false, detail: report.config.join('; ') });
    if (!report.ok && checks.every((check) => check.ok)) checks.push({ name: 'problems', ok: false, detail: report.problems.join('; ') });
    if (report.warnings.length > 0) checks.push({ name: 'warnings', ok: true, detail: report.warnings.join('; ') });
    return { ok: report.ok, checks };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.releasing);
    const pool = this.pool;
    this.pool = null;
    this.server = null;
    if (pool) await pool.end().catch(() => undefined);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Checks everything a call needs before any SQL runs. Revoke and extend need no permission
   * settings, so a permission that has since been edited or removed never holds them up.
   */
  private plan(input: RevokeInput, needsPermission: boolean): CallPlan {
    if (input.integration.name !== this.integration.name) {
      throw new MysqlProvisionerError(`grant ${input.grantId} belongs to integration "${input.integration.name}", not "${this.integration.name}"`);
    }
    assertId(this.integration, 'request id', input.requestId);
    assertId(this.integration, 'grant id', input.grantId);
    const resource = needsPermission ? parseResource(this.integration, input.resource) : { database: undefined };
    const permission = needsPermission
      ? permissionPlan(this.integration, input.resource, input.permission, input.permissionSettings)
      : { roles: [], grants: [] };
    const principal = assertPrincipal(this.integration, this.connection, input.principal);
    return { principal, permission, database: resource.database ?? null };
  }

  private details(username: string, database: string | null): Record<string, string> {
    return { host: this.connection.host, port: String(this.connection.port), username, ...(database ? { database } : {}) };
  }

  /**
   * Roles Latch hands out must exist, be roles, and not carry an administrator's global
   * privileges. Says in the same query whether `account` exists (a grant waits on every
   * round trip); null when there were no roles to check.
   */
  private async assertRoles(conn: Connection, server: ServerFacts, roles: string[], permission: string, account?: { user: string; host: string }): Promise<boolean | null> {
    if (roles.length === 0) return null;
    const found = await this.roleRows(conn, server, roles, account);
    for (const role of roles) {
      const row = found.get(role);
      const problem = row ? this.roleProblem(server, row) : `role ${role} does not exist`;
      if (problem) throw new MysqlProvisionerError(`integration "${this.integration.name}" permission "${permission}": ${problem}`);
    }
    return [...found.values()].some((row) => Number(row.account_exists ?? 0) > 0);
  }

  private async roleRows(conn: Connection, server: ServerFacts, roles: string[], account?: { user: string; host: string }): Promise<Map<string, Record<string, unknown>>> {
    const admin = ADMIN_COLUMNS.join(', ');
    const exists = account ? ', EXISTS (SELECT 1 FROM mysql.user a WHERE a.User = ? AND a.Host = ?) AS account_exists' : '';
    const values = account ? [account.user, account.host, roles] : [roles];
    // MariaDB keeps roles as host-less rows marked is_role; MySQL 8 roles are locked accounts at '%'.
    const rows = server.flavour === 'mariadb'
      ? await select<Record<string, unknown>>(conn, `SELECT User, is_role AS role_flag, ${admin}${exists} FROM mysql.user WHERE User IN (?) AND Host = ''`, values)
      : await select<Record<string, unknown>>(conn, `SELECT u.User, u.account_locked AS role_flag, ${admin},
            EXISTS (SELECT 1 FROM mysql.global_grants g WHERE g.USER = u.User AND g.HOST = u.Host AND g.PRIV IN ('SYSTEM_USER', 'ROLE_ADMIN', 'CONNECTION_ADMIN')) AS admin_dynamic${exists}
          FROM mysql.user u WHERE u.User IN (?) AND u.Host = '%'`, values);
    return new Map(rows.map((row) => [String(row.User), row]));
  }

  /**
   * MariaDB, a new account for one role, on a server known to take SET DEFAULT ROLE … FOR:
   * the roles' check, the account's absence, CREATE USER, GRANT and SET DEFAULT ROLE in one
   * compound statement, one round trip where there were two (and three before that). The
   * check in it only admits what roleProblem admits (a role, holding none of ADMIN_COLUMNS)
   * and an account that does not exist yet; otherwise it signals before writing anything,
   * and the caller takes the statement-by-statement path, which says what is wrong or
   * renews the account. False when it stood back. A statement in it that fails ends it with
   * that statement's error, as on its own.
   */
  private async createCheckedAccount(conn: Connection, role: string, account: { user: string; host: string }, identified: { sql: string; values: unknown[] }): Promise<boolean> {
    const cleanRole = `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '' AND is_role = 'Y' AND ${ADMIN_COLUMNS.map((column) => `${column} = 'N'`).join(' AND ')}`;
    const quoted = mysql.escapeId(role, true);
    try {
      await run(conn, `BEGIN NOT ATOMIC
        IF NOT EXISTS (${cleanRole}) OR EXISTS (SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${STOOD_BACK}'; END IF;
        CREATE USER ?@? ${identified.sql}; GRANT ${quoted} TO ?@?; SET DEFAULT ROLE ${quoted} FOR ?@?;
      END`, [role, account.user, account.host, account.user, account.host, ...identified.values, account.user, account.host, account.user, account.host]);
      return true;
    } catch (error) {
      if (error instanceof Error && (error as { sqlState?: string }).sqlState === '45000' && error.message === STOOD_BACK) return false;
      throw error;
    }
  }

  private roleProblem(server: ServerFacts, row: Record<string, unknown>): string | null {
    const role = String(row.User);
    if (row.role_flag !== 'Y') {
      return server.flavour === 'mariadb'
        ? `${role} is an account, not a role`
        : `${role} is an account that can log in, not a role (CREATE ROLE makes a locked one); Latch grants only roles`;
    }
    const admin = ADMIN_COLUMNS.filter((column) => row[column] === 'Y').map((column) => column.replace(/_priv$/, '').replace(/_/g, ' ').toUpperCase());
    if (Number(row.admin_dynamic ?? 0) > 0) admin.push('SYSTEM_USER or another administrative dynamic privilege');
    if (admin.length > 0) return `role ${role} holds ${admin.join(', ')} globally; Latch refuses to hand out an administrator's role`;
    return null;
  }

  private async heldRoles(conn: Connection, server: ServerFacts, principal: string, host: string): Promise<{ role: string; host: string }[]> {
    return server.flavour === 'mariadb'
      ? select<{ role: string; host: string }>(conn, "SELECT Role AS role, '' AS host FROM mysql.roles_mapping WHERE User = ? AND Host = ?", [principal, host])
      : select<{ role: string; host: string }>(conn, 'SELECT FROM_USER AS role, FROM_HOST AS host FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = ?', [principal, host]);
  }

  private async serverFacts(conn: Connection): Promise<ServerFacts> {
    this.server ??= select<{ version: string }>(conn, 'SELECT VERSION() AS version').then(([row]) => {
      const version = String(row?.version ?? '');
      return { flavour: /mariadb/i.test(version) ? 'mariadb' as const : 'mysql' as const, version };
    }).catch((error: unknown) => {
      this.server = null;
      throw error;
    });
    return this.server;
  }

  private password(): string | undefined {
    const { credentials, name } = this.integration;
    if ('secret' in credentials) {
      throw new MysqlProvisionerError(`integration "${name}": secret references are not supported by the MySQL provisioner yet; use credentials: { env: VARIABLE }`);
    }
    if ('env' in credentials) {
      const password = this.env[credentials.env];
      if (password === undefined || password === '') throw new MysqlProvisionerError(`integration "${name}": environment variable ${credentials.env} (credentials.env) is not set`);
      return password;
    }
    return undefined;
  }

  private connectionOptions(): ConnectionOptions {
    const { host, port, ssl, sslCa } = this.connection;
    let tls: SslOptions | undefined;
    if (ssl === 'require') tls = { rejectUnauthorized: false };
    else if (ssl === true || ssl === 'verify-full') tls = { rejectUnauthorized: true, ...(sslCa ? { ca: readFileSync(sslCa, 'utf8') } : {}) };
    return { host, port, connectTimeout: 10_000, charset: 'utf8mb4', supportBigNumbers: true, ...(tls ? { ssl: tls } : {}) };
  }

  private getPool(): Pool {
    if (this.closed) throw new MysqlProvisionerError(`integration "${this.integration.name}": the provisioner is closed`);
    if (this.pool) return this.pool;
    const password = this.password();
    const token = this.login.connectorPassword;
    this.pool = mysql.createPool({
      ...this.connectionOptions(), user: this.connection.user, ...(password !== undefined ? { password } : {}),
      // RDS IAM: the server asks for the token in clear text (over TLS), fetched fresh for each new connection.
      ...(token ? { authPlugins: { mysql_clear_password: () => async () => Buffer.from(`${await token()}\0`) } } : {}),
      connectionLimit: this.connection.maxConnections, waitForConnections: true, queueLimit: 0,
      enableKeepAlive: true, idleTimeout: 30_000, maxIdle: this.connection.maxConnections,
    });
    return this.pool;
  }

  private async connect(): Promise<PoolConnection> {
    const pool = this.getPool();
    try {
      return await pool.getConnection();
    } catch (error) {
      const { host, port, user } = this.connection;
      throw new MysqlProvisionerError(`integration "${this.integration.name}": cannot connect to MySQL at ${host}:${port} as ${user}: ${errorText(error)}`, { cause: safeCause(error) });
    }
  }

  /** Runs `work` on a pooled connection; a connection that saw an error is closed, not reused. */
  private async withConnection<T>(what: string, secrets: readonly string[], work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.connect();
    try {
      const result = await work(conn);
      conn.release();
      return result;
    } catch (error) {
      // Closing also drops any named lock the connection held.
      conn.destroy();
      throw this.wrap(error, what, secrets);
    }
  }

  /**
   * `withConnection` holding the server-wide named lock of one principal. The caller has its
   * answer once the work is done: the lock is released after that, and the connection goes
   * back to the pool only then (closed instead if the release fails, which drops the lock too).
   */
  private async withLock<T>(principal: string, what: string, secrets: readonly string[], work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const lock = `latch:${principal}`;
    const conn = await this.connect();
    let result: T;
    try {
      const [row] = await select<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [lock, LOCK_WAIT_SECONDS]);
      if (Number(row?.got) !== 1) throw new MysqlProvisionerError(`integration "${this.integration.name}": another worker held ${principal} for more than ${LOCK_WAIT_SECONDS}s`);
      result = await work(conn);
    } catch (error) {
      // Closing also drops the named lock.
      conn.destroy();
      throw this.wrap(error, what, secrets);
    }
    const released: Promise<void> = run(conn, 'SELECT RELEASE_LOCK(?)', [lock])
      .then(() => conn.release(), () => conn.destroy())
      .finally(() => this.releasing.delete(released));
    this.releasing.add(released);
    return result;
  }

  /** Server errors get the integration and the step, with any secret cut out; Latch's own errors already say both. */
  private wrap(error: unknown, what: string, secrets: readonly string[]): Error {
    if (error instanceof MysqlProvisionerError || error instanceof MysqlSettingsError) return error;
    if (errno(error) === ER_PLUGIN_IS_NOT_LOADED && this.iamUsers) {
      return new MysqlProvisionerError(`integration "${this.integration.name}": ${what} failed: this server has no AWSAuthenticationPlugin, so it cannot authenticate with RDS IAM tokens `
        + `(only Amazon RDS for MySQL and MariaDB with IAM database authentication enabled have it): ${redact(errorText(error), secrets)}`, { cause: safeCause(error) });
    }
    return new MysqlProvisionerError(`integration "${this.integration.name}": ${what} failed: ${redact(errorText(error), secrets)}`, { cause: safeCause(error) });
  }
}

export const createMysqlProvisioner: ProvisionerFactory = (integration, env) => new MysqlProvisioner(integration, env);
