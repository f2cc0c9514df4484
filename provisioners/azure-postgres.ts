import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import pg from 'pg';
import type { Integration } from '../config/schema.js';
import { PostgresProvisioner, inTransaction } from './postgres.js';
import { assertId, parseSettings, permissionRoles, PostgresSettingsError, show, ConnectionSettings as PostgresConnection } from './postgres/settings.js';
import {
  AzureConnectionSettings, entraPrincipal, entraResourcePlan, loginName, parseAzureConnection, type EntraResourcePlan,
} from './azure-postgres/settings.js';
import { AzureTokenError, buildCredential, describeIdentity, TokenSource } from './azure-postgres/token.js';
import type { GrantInput, GrantOutput, HealthCheck, ManagedPrincipal, Provisioner, ProvisionerFactory, RevokeInput } from './provisioner.js';

// Azure Database for PostgreSQL with Microsoft Entra authentication.
//  - entra mode (default): the grantee logs in as their own Entra principal with their own
//    token (`az account get-access-token --resource-type oss-rdbms`); Latch makes sure the
//    principal exists as a role (pgaadauth_create_principal, only in the `postgres` database,
//    only for an Entra admin) and makes it a member of the permission's group roles. No secret
//    is issued. Revoke takes away the memberships none of the person's other active grants
//    needs (`stillHeld`) and ends the principal's sessions; the Entra role itself stays (it
//    is the person's identity, not a Latch artefact).
//  - password mode: the plain PostgreSQL provisioner does the work (a generated login role
//    per grant); only the connector logs in with an Entra token.
// Either way the connector's password is an Entra access token, fetched for each new
// connection through pg's async password function and replaced shortly before it expires.

const { escapeIdentifier } = pg;

export { AzureTokenError } from './azure-postgres/token.js';
export { AZURE_PG_SCOPE, AzureConnectionSettings } from './azure-postgres/settings.js';

const LOCK_CLASS = 0x4c415443;
const TERMINATE_WAIT_MS = 5000;
/** The env key the password-mode delegate reads its connector password (the token) from. */
const TOKEN_ENV = 'LATCH_AZURE_PG_TOKEN';

export class AzurePostgresProvisionerError extends Error {
  override name = 'AzurePostgresProvisionerError';
}

export interface AzurePostgresOptions {
  /** A ready credential (tests, custom chains); default: the one `connection.auth` describes. */
  credential?: TokenCredential;
}

interface DelegateSlot {
  token: string;
  delegate: PostgresProvisioner;
  users: number;
  retired: boolean;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


export class AzurePostgresProvisioner implements Provisioner {
  readonly type = 'azure-postgresql';
  readonly connection: AzureConnectionSettings;
  private readonly tokens: TokenSource;
  private pool: pg.Pool | null = null;
  private current: DelegateSlot | null = null;
  private readonly delegates = new Set<DelegateSlot>();
  private closed = false;

  constructor(private readonly integration: Integration, private readonly env: NodeJS.ProcessEnv = process.env, options: AzurePostgresOptions = {}) {
    this.connection = parseAzureConnection(integration);
    if ('secret' in integration.credentials) {
      throw new AzurePostgresProvisionerError(`integration "${integration.name}": secret references are not supported by this provisioner yet; use credentials: { env: VARIABLE } (service principal) or { none: true }`);
    }
    const ready = options.credential ? { credential: options.credential, describe: describeIdentity(this.connection) } : undefined;
    this.tokens = new TokenSource(`integration "${integration.name}"`, this.connection.scope, () => buildCredential(integration, this.connection, env), ready);
  }

  /** The connector's password: a current Entra token. pg calls this for every new connection. */
  async connectorPassword(): Promise<string> {
    return this.tokens.get();
  }

  /** The user name the connector logs in with (`name@server` on Single Server). */
  get connectorLogin(): string {
    return loginName(this.connection, this.connection.user);
  }

  // ---------------------------------------------------------------- grant

  async grant(input: GrantInput): Promise<GrantOutput> {
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.grant(input));
    const { plan, principal, roles } = this.entraPlan(input);
    await this.withClient((client) => inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, principal]);
      await this.assertGroupRoles(client, roles, input.permission);
      let role = await this.roleFacts(client, principal);
      if (!role) {
        await client.query('SAVEPOINT create_principal');
        try {
          await client.query('SELECT * FROM pgaadauth_create_principal($1, false, false)', [principal]);
          await client.query('RELEASE SAVEPOINT create_principal');
        } catch (error) {
          // Someone (or an earlier attempt) created it in between: that is what we wanted.
          if (!/already exists/i.test(errorText(error))) throw error;
          await client.query('ROLLBACK TO SAVEPOINT create_principal');
        }
        role = await this.roleFacts(client, principal);
        if (!role) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": pgaadauth_create_principal did not create a role for ${show(principal)}`);
      }
      if (role.superuser) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": role ${show(principal)} is a superuser; refusing to touch it`);
      await client.query(`GRANT ${roles.map(escapeIdentifier).join(', ')} TO ${escapeIdentifier(principal)}`);
    }), `granting ${input.permission} on ${input.resource.name} to Entra principal ${principal}`, principal);
    return { principal, details: this.entraDetails(plan, principal) };
  }

  async extend(input: GrantInput): Promise<void> {
    // Memberships carry no expiry in PostgreSQL; Latch's revoke job ends them. The person's
    // Entra role is not Latch's to give a VALID UNTIL.
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.extend(input));
    this.entraPlan(input);
  }

  // ---------------------------------------------------------------- revoke

  async revoke(input: RevokeInput): Promise<void> {
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.revoke(input));
    const { principal, roles } = this.entraPlan(input);
    // The person's Entra role carries all their grants here: take only what no other active grant needs.
    const kept = this.rolesStillHeld(input, principal);
    const taken = roles.filter((role) => !kept.has(role));
    await this.revokeRoles(principal, taken, `revoking ${input.permission} on ${input.resource.name} from Entra principal ${principal}`);
  }

  /**
   * The group roles the grantee's other active grants (`stillHeld`) need on this same Entra
   * principal, parsed as grant parses them. A resource's principals mapping can give one
   * person different names, so a grant held under another name protects nothing here. A
   * held permission whose settings no longer parse protects nothing either: revoking too
   * much (reconcile then reports the other grant absent) is the safe side of that mistake.
   */
  private rolesStillHeld(input: RevokeInput, principal: string): Set<string> {
    const kept = new Set<string>();
    for (const held of input.stillHeld ?? []) {
      if (held.grantId === input.grantId) continue;
      let roles: string[];
      try {
        const plan = entraResourcePlan(this.integration, this.connection, held.resource);
        if (entraPrincipal(this.integration, plan, input.grantee) !== principal) continue;
        roles = permissionRoles(this.integration, held.resource, held.permission, held.permissionSettings);
      } catch {
        continue;
      }
      for (const role of roles) kept.add(role);
    }
    return kept;
  }

  async removeOrphan(integration: Integration, principal: string): Promise<void> {
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.removeOrphan(this.delegateIntegration(), principal));
    const name = entraPrincipal(this.integration, { resource: '(orphan)', database: this.connection.database, principals: new Map() }, principal);
    await this.revokeRoles(name, [...this.allGroupRoles(integration)], `removing Latch's memberships from Entra principal ${name}`);
  }

  /**
   * Revokes the memberships (only those present), then ends the principal's sessions
   * everywhere, also when other grants keep it some access: PostgreSQL cannot tell which
   * session uses which role, and one that ran SET ROLE to a revoked role keeps that role's
   * rights until it ends; the person reconnects with what they still hold. Only a revoke
   * that takes no role at all (each one is still needed) leaves the sessions alone. A retry
   * after a crash between commit and termination finds the memberships gone and still ends them.
   */
  private async revokeRoles(principal: string, roles: string[], what: string): Promise<void> {
    if (roles.length === 0) return;
    await this.withClient(async (client) => {
      await inTransaction(client, async () => {
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, principal]);
        const { rows } = await client.query<{ role: string }>(`
          SELECT g.rolname::text AS role FROM pg_auth_members m
            JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
           WHERE r.rolname = $1 AND g.rolname = ANY($2::name[])`, [principal, roles]);
        if (rows.length > 0) await client.query(`REVOKE ${rows.map((row) => escapeIdentifier(row.role)).join(', ')} FROM ${escapeIdentifier(principal)}`);
      });
      // After the commit, so no new session can pick the roles up again in between.
      const { rows } = await client.query<{ pid: number; ended: boolean }>(
        'SELECT pid, pg_terminate_backend(pid, $2) AS ended FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [principal, TERMINATE_WAIT_MS]);
      const stuck = rows.filter((row) => !row.ended);
      if (stuck.length > 0) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": session(s) ${stuck.map((row) => row.pid).join(', ')} of ${principal} did not end within ${TERMINATE_WAIT_MS / 1000}s`);
    }, what, principal);
  }

  // ---------------------------------------------------------------- check, list

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.check(input));
    const { principal, roles } = this.entraPlan(input);
    return this.withClient(async (client) => {
      const { rows } = await client.query<{ n: number }>(`
        SELECT count(DISTINCT g.rolname)::int AS n FROM pg_auth_members m
          JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
         WHERE r.rolname = $1 AND g.rolname = ANY($2::name[])`, [principal, roles]);
      return (rows[0]?.n ?? 0) === roles.length ? 'present' : 'absent';
    }, `checking ${principal}`, principal);
  }

  /**
   * Entra mode: every role holding a configured group role through a grant the connector
   * made. Latch cannot tell which grant it belongs to, so the reference is null: reconcile
   * reports such principals, it never removes them on its own.
   */
  async listManaged(integration: Integration): Promise<ManagedPrincipal[]> {
    if (this.connection.mode === 'password') return this.withDelegate((delegate) => delegate.listManaged(this.delegateIntegration()));
    const roles = [...this.allGroupRoles(integration)];
    return this.withClient(async (client) => {
      const { rows } = await client.query<{ name: string }>(`
        SELECT DISTINCT r.rolname::text AS name FROM pg_auth_members m
          JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
         WHERE g.rolname = ANY($1::name[]) AND m.grantor = (SELECT oid FROM pg_roles WHERE rolname = current_user)
         ORDER BY 1`, [roles]);
      return rows.map((row) => ({ principal: row.name, reference: null, expiresAt: null }));
    }, 'listing managed memberships');
  }

  // ---------------------------------------------------------------- health

  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const checks = await this.health();
    return { ok: checks.every((check) => check.ok), checks };
  }

  /** One check per requirement, each saying what is missing. Never throws. */
  async health(): Promise<HealthCheck[]> {
    const checks: HealthCheck[] = [];
    try {
      await this.connectorPassword();
      checks.push({ name: 'token', ok: true, detail: `an Entra token for ${this.connection.scope} was obtained (${this.connection.auth})` });
    } catch (error) {
      checks.push({ name: 'token', ok: false, detail: errorText(error) });
      return checks;
    }
    if (this.connection.mode === 'password') {
      try {
        const report = await this.withDelegate((delegate) => delegate.checkHealth());
        checks.push(...report.checks);
      } catch (error) {
        return [...checks, { name: 'login', ok: false, detail: errorText(error) }];
      }
      try {
        checks.push(await this.withClient((client) => this.terminateCheck(client), 'checking the right to end sessions'));
      } catch (error) {
        checks.push({ name: 'terminate-sessions', ok: false, detail: errorText(error) });
      }
      return checks;
    }
    let client: pg.PoolClient;
    try {
      client = await this.connect();
      checks.push({ name: 'login', ok: true, detail: `${this.connectorLogin} can log in to ${this.connection.host}:${this.connection.port}` });
    } catch (error) {
      checks.push({ name: 'login', ok: false, detail: errorText(error) });
      return checks;
    }
    try {
      const { rows } = await client.query<{ database: string; superuser: boolean; admin: boolean; pgaadauth: boolean; version: number; createrole: boolean }>(`
        SELECT current_database()::text AS database, r.rolsuper AS superuser, r.rolcreaterole AS createrole,
               CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'azure_pg_admin') THEN pg_has_role(current_user, 'azure_pg_admin', 'MEMBER') ELSE false END AS admin,
               to_regprocedure('pgaadauth_create_principal(text, boolean, boolean)') IS NOT NULL AS pgaadauth,
               current_setting('server_version_num')::int AS version
          FROM pg_roles r WHERE r.rolname = current_user`);
      const facts = rows[0];
      const database = facts?.database ?? '?';
      checks.push(database === 'postgres'
        ? { name: 'database', ok: true, detail: 'connected to the postgres database' }
        : { name: 'database', ok: false, detail: `connected to database ${database}; Entra mode must connect to the postgres database, the only one with pgaadauth_create_principal (set connection.database: postgres)` });
      checks.push(facts?.pgaadauth
        ? { name: 'entra', ok: true, detail: 'pgaadauth_create_principal is available' }
        : { name: 'entra', ok: false, detail: `pgaadauth_create_principal is missing in database ${database}: enable Microsoft Entra authentication on the server and connect to the postgres database` });
      checks.push(facts?.admin || facts?.superuser
        ? { name: 'entra-admin', ok: true, detail: `${this.connection.user} is ${facts.superuser ? 'a superuser' : 'a member of azure_pg_admin'}` }
        : { name: 'entra-admin', ok: false, detail: `${this.connection.user} is not a member of azure_pg_admin: set the connector's identity as a Microsoft Entra administrator of the server` });
      const roles = [...this.allGroupRoles(this.integration, checks)];
      const found = await client.query<{ role: string; exists: boolean; superuser: boolean; admin: boolean }>(`
        SELECT wanted.role, r.oid IS NOT NULL AS exists, COALESCE(r.rolsuper, false) AS superuser,
               COALESCE(CASE WHEN r.oid IS NOT NULL THEN pg_has_role(current_user, r.oid, 'USAGE WITH ADMIN OPTION') END, false) AS admin
          FROM unnest($1::text[]) AS wanted(role) LEFT JOIN pg_roles r ON r.rolname = wanted.role ORDER BY 1`, [roles]);
      for (const row of found.rows) {
        const canGrant = row.admin || (facts?.superuser ?? false) || ((facts?.createrole ?? false) && (facts?.version ?? 0) < 160000);
        if (!row.exists) checks.push({ name: `group-role ${row.role}`, ok: false, detail: `group role ${row.role} does not exist` });
        else if (row.superuser) checks.push({ name: `group-role ${row.role}`, ok: false, detail: `group role ${row.role} is a superuser role; Latch refuses to grant it` });
        else if (!canGrant) checks.push({ name: `group-role ${row.role}`, ok: false, detail: `the connector cannot grant ${row.role}: give it ADMIN OPTION on the role` });
        else checks.push({ name: `group-role ${row.role}`, ok: true });
      }
      checks.push(await this.terminateCheck(client));
      client.release();
    } catch (error) {
      client.release(true);
      checks.push({ name: 'health', ok: false, detail: `health check failed: ${errorText(error)}` });
    }
    return checks;
  }

  /**
   * Revoke ends the grantee's sessions, so the connector must be allowed to: as a superuser,
   * or with the privileges of pg_signal_backend (it never holds the grantee's own role, and
   * from PostgreSQL 16 on, the ADMIN OPTION a role's creator gets does not inherit). Azure
   * does not document this for azure_pg_admin or Entra administrators, so it is checked.
   * USAGE, not MEMBER: a NOINHERIT member would have to SET ROLE first, which Latch does not.
   */
  private async terminateCheck(client: pg.ClientBase): Promise<HealthCheck> {
    const { rows } = await client.query<{ superuser: boolean; usage: boolean; member: boolean }>(`
      SELECT r.rolsuper AS superuser, pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS usage,
             pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS member
        FROM pg_roles r WHERE r.rolname = current_user`);
    const facts = rows[0];
    const user = this.connection.user;
    const name = 'terminate-sessions';
    if (facts?.superuser) return { name, ok: true, detail: `${user} is a superuser and can end the grantees' sessions` };
    if (facts?.usage) return { name, ok: true, detail: `${user} has the privileges of pg_signal_backend and can end the grantees' sessions` };
    if (facts?.member) {
      return { name, ok: false, detail: `${user} is a member of pg_signal_backend without its privileges (NOINHERIT), so revoke cannot end the grantees' sessions: make the membership inherit (ALTER ROLE ${escapeIdentifier(user)} INHERIT, or on PostgreSQL 16+ GRANT pg_signal_backend TO ${escapeIdentifier(user)} WITH INHERIT TRUE)` };
    }
    return { name, ok: false, detail: `${user} lacks pg_signal_backend, so revoke cannot end the grantees' open sessions (one that ran SET ROLE keeps a revoked role's rights): as the server admin, GRANT pg_signal_backend TO ${escapeIdentifier(user)}` };
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = null;
    const slots = [...this.delegates];
    this.delegates.clear();
    this.current = null;
    await Promise.allSettled([pool?.end(), ...slots.map((slot) => slot.delegate.close())]);
  }

  // ---------------------------------------------------------------- helpers

  /** Everything a call needs, checked before any token is fetched or SQL runs. */
  private entraPlan(input: RevokeInput): { plan: EntraResourcePlan; principal: string; roles: string[] } {
    if (input.integration.name !== this.integration.name) {
      throw new AzurePostgresProvisionerError(`grant ${input.grantId} belongs to integration "${input.integration.name}", not "${this.integration.name}"`);
    }
    assertId(this.integration, 'request id', input.requestId);
    assertId(this.integration, 'grant id', input.grantId);
    const plan = entraResourcePlan(this.integration, this.connection, input.resource);
    const principal = entraPrincipal(this.integration, plan, input.grantee);
    if (principal === this.connection.user) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": ${show(principal)} is the connector itself; refusing to change its memberships`);
    const roles = permissionRoles(this.integration, input.resource, input.permission, input.permissionSettings);
    return { plan, principal, roles };
  }

  private allGroupRoles(integration: Integration, problems?: HealthCheck[]): Set<string> {
    const roles = new Set<string>();
    for (const resource of integration.resources) {
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          for (const role of permissionRoles(integration, resource, permission, settings)) roles.add(role);
        } catch (error) {
          problems?.push({ name: 'config', ok: false, detail: errorText(error) });
        }
      }
    }
    return roles;
  }

  private entraDetails(plan: EntraResourcePlan, principal: string): Record<string, string> {
    const username = loginName(this.connection, principal);
    return {
      host: this.connection.host, port: String(this.connection.port), database: plan.database, username, sslmode: 'verify-full',
      passwordHint: 'your own Entra access token: az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv (valid about an hour, checked only at login)',
      connect: `PGPASSWORD="$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)" psql "host=${this.connection.host} port=${this.connection.port} dbname=${plan.database} user=${username} sslmode=verify-full"`,
    };
  }

  private async roleFacts(client: pg.ClientBase, name: string): Promise<{ superuser: boolean } | null> {
    const { rows } = await client.query<{ superuser: boolean }>('SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = $1', [name]);
    return rows[0] ?? null;
  }

  private async assertGroupRoles(client: pg.ClientBase, roles: string[], permission: string): Promise<void> {
    const { rows } = await client.query<{ name: string; superuser: boolean }>('SELECT rolname::text AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = ANY($1::name[])', [roles]);
    for (const role of roles) {
      const row = rows.find((candidate) => candidate.name === role);
      if (!row) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}" permission "${permission}": group role "${role}" does not exist`);
      if (row.superuser || role === 'azure_pg_admin') throw new AzurePostgresProvisionerError(`integration "${this.integration.name}" permission "${permission}": group role "${role}" is an administrator role; Latch refuses to grant membership in it`);
    }
  }

  /** The integration as the plain PostgreSQL provisioner sees it: same resources, the token as the password. */
  private delegateIntegration(): Integration {
    const { host, port, database, user, ssl, sslRootCert, maxConnections, instance } = this.connection;
    const connection: Record<string, string | number | boolean> = { host, port, database, user, ssl: ssl === true || ssl === 'verify-full' ? 'verify-full' : false, maxConnections };
    if (sslRootCert) connection.sslRootCert = sslRootCert;
    if (instance) connection.instance = instance;
    parseSettings(PostgresConnection, connection, `integration "${this.integration.name}": connection (password mode)`);
    return { ...this.integration, type: 'postgresql', connection, credentials: { env: TOKEN_ENV } };
  }

  /**
   * Password mode: a PostgreSQL provisioner per token. When the token is replaced, the old
   * delegate finishes what it is doing and is closed; new work gets a delegate whose new
   * connections log in with the new token.
   */
  private async withDelegate<T>(work: (delegate: PostgresProvisioner) => Promise<T>): Promise<T> {
    if (this.closed) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": the provisioner is closed`);
    const token = await this.connectorPassword();
    let slot = this.current;
    if (!slot || slot.token !== token) {
      if (slot) this.retire(slot);
      slot = { token, delegate: new PostgresProvisioner(this.delegateIntegration(), { [TOKEN_ENV]: token }), users: 0, retired: false };
      this.current = slot;
      this.delegates.add(slot);
    }
    slot.users += 1;
    try {
      return await work(slot.delegate);
    } finally {
      slot.users -= 1;
      if (slot.retired && slot.users === 0) this.retire(slot);
    }
  }

  private retire(slot: DelegateSlot): void {
    slot.retired = true;
    if (slot.users > 0) return;
    this.delegates.delete(slot);
    void slot.delegate.close();
  }

  private getPool(): pg.Pool {
    if (this.closed) throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": the provisioner is closed`);
    if (this.pool) return this.pool;
    const { host, port, database, ssl, sslRootCert, maxConnections, searchPath } = this.connection;
    const tls: pg.PoolConfig['ssl'] = ssl === true || ssl === 'verify-full'
      ? { rejectUnauthorized: true, ...(sslRootCert ? { ca: readFileSync(sslRootCert, 'utf8') } : {}) }
      : false;
    const pool = new pg.Pool({
      host, port, database, user: this.connectorLogin, ssl: tls, max: maxConnections,
      // Called for every new connection: the token is checked only at login.
      password: () => this.connectorPassword(),
      ...(searchPath ? { options: `-c search_path=${searchPath},public` } : {}),
      application_name: 'latch', connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, statement_timeout: 60_000,
    });
    pool.on('error', () => undefined);
    this.pool = pool;
    return pool;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.getPool().connect();
    } catch (error) {
      if (error instanceof AzurePostgresProvisionerError || error instanceof AzureTokenError) throw error;
      const { host, port, database } = this.connection;
      throw new AzurePostgresProvisionerError(`integration "${this.integration.name}": cannot connect to Azure PostgreSQL at ${host}:${port}, database ${database}, as ${this.connectorLogin}: ${errorText(error)}`, { cause: error });
    }
  }

  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>, what: string, principal?: string): Promise<T> {
    const client = await this.connect();
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (error) {
      client.release(true);
      throw this.wrap(error, what, principal);
    }
  }

  /** The seeds' errors, said plainly; other server errors get the integration and the step. */
  private wrap(error: unknown, what: string, principal?: string): Error {
    if (error instanceof AzurePostgresProvisionerError || error instanceof PostgresSettingsError || error instanceof AzureTokenError) return error;
    const text = errorText(error);
    const prefix = `integration "${this.integration.name}": ${what} failed`;
    if (/could not validate AAD user/i.test(text)) {
      return new AzurePostgresProvisionerError(`${prefix}: the grantee's Entra principal ${show(principal ?? '?')} was not found in the tenant; check the UPN (or map it in settings.principals) and that it belongs to the server's tenant (${text})`, { cause: error });
    }
    if (/permission denied to terminate process|must be a member of the role whose process is being terminated/i.test(text)) {
      return new AzurePostgresProvisionerError(`${prefix}: the connector ${this.connection.user} may not end the sessions of ${show(principal ?? '?')}: it needs pg_signal_backend (GRANT pg_signal_backend TO ${escapeIdentifier(this.connection.user)}); the memberships are already revoked, the sessions stay open until a retry ends them (${text})`, { cause: error });
    }
    if (/pgaadauth_create_principal.*does not exist|no function matches/i.test(text)) {
      return new AzurePostgresProvisionerError(`${prefix}: pgaadauth_create_principal is not available: the connector must connect to the postgres database (connection.database: postgres) as a Microsoft Entra administrator, with Entra authentication enabled on the server (${text})`, { cause: error });
    }
    return new AzurePostgresProvisionerError(`${prefix}: ${text}`, { cause: error });
  }
}

export const createAzurePostgresProvisioner: ProvisionerFactory = (integration, env) => new AzurePostgresProvisioner(integration, env);
