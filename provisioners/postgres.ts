import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Integration, Resource } from '../config/schema.js';
import type { Instant } from '../core/types.js';
import { databasesWithDirectPrivileges, listDirectPrivileges, remainingDirectPrivileges, revokeDirectPrivileges } from './postgres/direct-privileges.js';
import { describeFindings, readClosure, readFindingsIn, type ReadFinding } from './postgres/read-audit.js';
import { generatePassword, scramSha256Verifier } from './postgres/scram.js';
import {
  assertId, assertPrincipal, parseConnection, permissionRoles, PostgresSettingsError, resourcePlan, SAFE_NAME, SAFE_PRINCIPAL, show,
  type ConnectionSettings, type ResourcePlan,
} from './postgres/settings.js';
import type { GrantInput, GrantOutput, HeldPermission, ManagedPrincipal, Provisioner, ProvisionerFactory, RevokeInput, HealthCheck } from './provisioner.js';

// PostgreSQL: every grant is a login role of its own, made a MEMBER of the group roles the
// permission names. Privileges live on the group roles, which the database's owners manage
// like any other role (GRANT SELECT ON ... TO orders_readonly), so:
//  - a grant or a revoke is a handful of role statements, not a walk over every table, and
//    cannot miss a table created after the grant;
//  - the connector needs no privileges on the data at all: CREATEROLE, ADMIN OPTION on the
//    group roles and CONNECT on the databases (scripts/postgres-connector-setup.sql);
//  - what "read" means is visible in one place, the group role, and audited there.
// Nothing here ever sends a plaintext password to the server: the SCRAM verifier is
// computed in Latch (postgres/scram.ts).

const { escapeIdentifier, escapeLiteral } = pg;

export { PostgresSettingsError } from './postgres/settings.js';
export { generatePassword, scramSha256Verifier, verifyScramPassword } from './postgres/scram.js';

/**
 * Every role Latch creates carries `latch-managed request=<id> grant=<id>` as its comment; a
 * role kept after its revoke also `retained-until=<ISO instant>`.
 */
export const MANAGED_MARKER = 'latch-managed';
/** First key of the advisory locks that serialise work on one principal ('LATC'). */
const LOCK_CLASS = 0x4c415443;
/** How long pg_terminate_backend waits for a session to end. */
const TERMINATE_WAIT_MS = 5000;
const DEFAULT_BATCH_SIZE = 25;

export class PostgresProvisionerError extends Error {
  override name = 'PostgresProvisionerError';
}

/** How the people Latch grants access to log in, and how the connector itself does. */
export interface PostgresLoginOptions {
  /**
   * password (default): a generated password per grant. rds-iam: Amazon RDS IAM database
   * authentication: the login role gets no password and is made a member of rds_iam, and
   * the person logs in with a token from `aws rds generate-db-auth-token` (provisioners/aws-rds.ts).
   */
  userAuth?: 'password' | 'rds-iam';
  /** The connector's password for each new connection (an RDS IAM token, valid 15 minutes); default: credentials.env. */
  connectorPassword?: () => Promise<string>;
}

/** The RDS role whose members log in with IAM tokens only. */
export const RDS_IAM_ROLE = 'rds_iam';

export interface RevokeManyOptions {
  /** Principals dropped per batch (default 25). */
  batchSize?: number;
}

export type RevokeManyResult =
  | { grantId: string; principal: string; ok: true; batched: boolean }
  | { grantId: string; principal: string; ok: false; error: string };

export interface PostgresHealth {
  integration: string;
  /** True when the connector can do everything the configured resources need. */
  ok: boolean;
  checkedAt: Instant;
  connector: {
    user: string;
    canLogin: boolean;
    superuser: boolean;
    createRole: boolean;
    serverVersion: string | null;
    error?: string;
  };
  /** Every group role a permission names: it must exist, must not be a superuser role, and the connector must be able to grant it. */
  groupRoles: { role: string; exists: boolean; superuser: boolean; adminOption: boolean; canGrant: boolean }[];
  /** Every database a resource covers: the connector needs CONNECT to clean up there on revoke. */
  databases: { database: string; exists: boolean; connect: boolean }[];
  /** Login roles mapped by existing_role resources. */
  existingRoles: { role: string; exists: boolean; canLogin: boolean }[];
  /**
   * With `maxLevel: read`: per read permission, what its group roles (or roles they
   * inherit) hold beyond reading in the resource's databases. Empty findings: read only.
   */
  readLevel: { resource: string; permission: string; findings: string[] }[];
  /** One sentence per problem, for people. Empty when ok. */
  problems: string[];
}

interface RoleRow {
  oid: string;
  name: string;
  superuser: boolean;
  can_login: boolean;
  comment: string | null;
  member_of: string[];
  valid_until_ms: number | null;
}

interface GrantPlan {
  resource: ResourcePlan;
  roles: string[];
}

/** A login role to drop; grantId null for an orphan (any Latch marker will do). */
interface DropTarget {
  principal: string;
  grantId: string | null;
}

const ROLE_INFO_SQL = `
  SELECT r.oid::text AS oid, r.rolname::text AS name, r.rolsuper AS superuser, r.rolcanlogin AS can_login,
         shobj_description(r.oid, 'pg_authid') AS comment,
         COALESCE((SELECT array_agg(DISTINCT g.rolname::text) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '{}') AS member_of,
         CASE WHEN isfinite(r.rolvaliduntil) THEN round(extract(epoch FROM r.rolvaliduntil) * 1000)::float8 END AS valid_until_ms
    FROM pg_roles r
   WHERE r.rolname = ANY($1::name[])`;

/** A name Latch put through its safe pattern, quoted by the driver. Refuses anything else. */
function ident(name: string): string {
  if (!SAFE_NAME.test(name) && !SAFE_PRINCIPAL.test(name)) throw new PostgresSettingsError(`refusing to put ${show(name)} into SQL: not a safe name`);
  return escapeIdentifier(name);
}

function managedComment(requestId: string, grantId: string, retainedUntil?: Instant): string {
  const retained = retainedUntil === undefined ? '' : ` retained-until=${new Date(retainedUntil).toISOString()}`;
  return `${MANAGED_MARKER} request=${requestId} grant=${grantId}${retained}`;
}

interface ManagedMarker {
  request: string | null;
  grant: string | null;
  /** Set on a role kept after its revoke; null when absent or unreadable. */
  retainedUntil: Instant | null;
}

function parseManagedComment(comment: string | null): ManagedMarker | null {
  if (comment === null || !(comment === MANAGED_MARKER || comment.startsWith(`${MANAGED_MARKER} `))) return null;
  const retained = Date.parse(/\bretained-until=(\S+)/.exec(comment)?.[1] ?? '');
  return {
    request: /\brequest=(\S+)/.exec(comment)?.[1] ?? null,
    grant: /\bgrant=(\S+)/.exec(comment)?.[1] ?? null,
    retainedUntil: Number.isFinite(retained) ? retained : null,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function roleInfo(client: pg.ClientBase, names: string[]): Promise<Map<string, RoleRow>> {
  const { rows } = await client.query<RoleRow>(ROLE_INFO_SQL, [names]);
  return new Map(rows.map((row) => [row.name, row]));
}

/** Runs `work` in one transaction on `client`, rolling back on any error. */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export class PostgresProvisioner implements Provisioner {
  readonly type = 'postgresql';
  readonly connection: ConnectionSettings;
  private readonly pools = new Map<string, pg.Pool>();
  private connector: Promise<{ superuser: boolean; version: number }> | null = null;
  private closed = false;

  constructor(private readonly integration: Integration, private readonly env: NodeJS.ProcessEnv = process.env, private readonly login: PostgresLoginOptions = {}) {
    this.connection = parseConnection(integration);
  }

  private get iamUsers(): boolean {
    return this.login.userAuth === 'rds-iam';
  }

  // ---------------------------------------------------------------- grant

  async grant(input: GrantInput): Promise<GrantOutput> {
    const plan = this.plan(input, 'grant');
    if (!Number.isFinite(input.expiresAt)) throw new PostgresProvisionerError(`integration "${this.integration.name}": grant ${input.grantId} has no valid expiry`);
    await this.assertReadOnly(input.resource, input.permission, plan);
    if (plan.resource.mode === 'existing_role') return this.grantExistingRole(input, plan);

    const principal = input.principal;
    // A new password on every call, also on a retry after a crash: the one issued before
    // may never have reached the grantee, and Latch keeps no copy to send again. An RDS IAM
    // login has none at all (PASSWORD NULL): its tokens come from AWS, and rds_iam refuses passwords.
    const password = this.iamUsers ? null : generatePassword();
    // The verifier's PBKDF2 runs on libuv's thread pool while the lock and the catalog read go to the server.
    const secret = password === null ? Promise.resolve('NULL') : scramSha256Verifier(password).then(escapeLiteral);
    secret.catch(() => undefined);
    const roles = this.iamUsers ? [...plan.roles, RDS_IAM_ROLE] : plan.roles;
    const validUntil = escapeLiteral(new Date(input.expiresAt).toISOString());
    // Three round trips, not seven: BEGIN with the lock, the catalog read, and every change
    // with COMMIT in one simple query (PostgreSQL stops at the first statement that fails and
    // the transaction is rolled back). The person is waiting for these credentials.
    await this.withClient(this.connection.database, async (client) => {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(${escapeLiteral(principal)}))`);
      try {
        const found = await roleInfo(client, [principal, ...roles]);
        if (this.iamUsers && !found.has(RDS_IAM_ROLE)) {
          throw new PostgresProvisionerError(`integration "${this.integration.name}": role ${RDS_IAM_ROLE} does not exist, so this server has no RDS IAM database authentication (only Amazon RDS and Aurora PostgreSQL do); use password authentication for it`);
        }
        this.assertGroupRoles(found, roles, input.permission);
        const existing = found.get(principal);
        const login = `LOGIN PASSWORD ${await secret} VALID UNTIL ${validUntil}`;
        const changes: string[] = [];
        if (existing) {
          this.assertManaged(existing, input.grantId);
          changes.push(`ALTER ROLE ${ident(principal)} WITH ${login}`);
          // The config may have changed since the first attempt: hold exactly what it says now.
          const stale = existing.member_of.filter((role) => !roles.includes(role));
          if (stale.length > 0) changes.push(`REVOKE ${stale.map(escapeIdentifier).join(', ')} FROM ${ident(principal)}`);
        } else {
          changes.push(`CREATE ROLE ${ident(principal)} WITH ${login} INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
        }
        changes.push(`COMMENT ON ROLE ${ident(principal)} IS ${escapeLiteral(managedComment(input.requestId, input.grantId))}`);
        changes.push(`GRANT ${roles.map(ident).join(', ')} TO ${ident(principal)}`);
        await client.query([...changes, 'COMMIT'].join(';\n'));
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }, `granting ${input.permission} on ${input.resource.name} to ${principal}`);
    return { principal, ...(password === null ? {} : { secrets: { password } }), details: this.details(plan.resource, principal) };
  }

  private async grantExistingRole(input: GrantInput, plan: GrantPlan): Promise<GrantOutput> {
    const role = this.mappedRole(plan.resource, input.grantee);
    await this.withClient(this.connection.database, (client) => inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, role]);
      const found = await roleInfo(client, [role, ...plan.roles]);
      this.assertGroupRoles(found, plan.roles, input.permission);
      if (!found.has(role)) throw new PostgresProvisionerError(`integration "${this.integration.name}" resource "${plan.resource.resource}": the existing role "${role}" mapped to ${input.grantee} does not exist`);
      await client.query(`GRANT ${plan.roles.map(ident).join(', ')} TO ${ident(role)}`);
    }), `granting ${input.permission} on ${input.resource.name} to existing role ${role}`);
    // The person logs in as they always do; there is no secret to hand over.
    return { principal: role, details: this.details(plan.resource, role) };
  }

  // ---------------------------------------------------------------- extend

  async extend(input: GrantInput): Promise<void> {
    const plan = this.plan(input, 'extend');
    // An existing role is the person's own login: its VALID UNTIL is not Latch's to move.
    if (plan.resource.mode === 'existing_role') return;
    if (!Number.isFinite(input.expiresAt)) throw new PostgresProvisionerError(`integration "${this.integration.name}": grant ${input.grantId} has no valid expiry`);
    await this.withClient(this.connection.database, (client) => inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, input.principal]);
      const existing = (await roleInfo(client, [input.principal])).get(input.principal);
      if (!existing) throw new PostgresProvisionerError(`integration "${this.integration.name}": role "${input.principal}" does not exist, so its expiry cannot be moved`);
      this.assertManaged(existing, input.grantId);
      await client.query(`ALTER ROLE ${ident(input.principal)} VALID UNTIL ${escapeLiteral(new Date(input.expiresAt).toISOString())}`);
    }), `extending ${input.principal}`);
  }

  // ---------------------------------------------------------------- credentials

  /**
   * A new password for the login role: a new SCRAM verifier, nothing else changes (group
   * roles, VALID UNTIL, open sessions stay). An existing role is the person's own login,
   * whose password Latch never set and does not hold.
   */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    const plan = this.plan(input, 'reset');
    if (plan.resource.mode === 'existing_role') {
      throw new PostgresProvisionerError(`integration "${this.integration.name}" resource "${plan.resource.resource}" gives access to the person's existing role, whose password is theirs, not Latch's: there are no Latch credentials to reset`);
    }
    if (this.iamUsers) throw new PostgresProvisionerError(`integration "${this.integration.name}": ${input.principal} logs in with RDS IAM tokens, not a password; there is no password to reset`);
    const principal = input.principal;
    const password = generatePassword();
    const verifier = await scramSha256Verifier(password);
    await this.withClient(this.connection.database, (client) => inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, principal]);
      const existing = (await roleInfo(client, [principal])).get(principal);
      if (!existing) throw new PostgresProvisionerError(`integration "${this.integration.name}": role "${principal}" does not exist, so it has no password to reset`);
      this.assertManaged(existing, input.grantId);
      await client.query(`ALTER ROLE ${ident(principal)} WITH PASSWORD ${escapeLiteral(verifier)}`);
    }), `resetting the password of ${principal}`);
    return { principal, secrets: { password }, details: this.details(plan.resource, principal) };
  }

  // ---------------------------------------------------------------- revoke

  /**
   * existing_role: takes the memberships away that no other grant of the person needs. A
   * login role is dropped, or with `retainUntil` kept, locked and stripped, until then.
   */
  async revoke(input: RevokeInput): Promise<void> {
    const plan = this.plan(input, 'revoke');
    if (plan.resource.mode === 'existing_role') return this.revokeExistingRole(input, plan);
    if (input.retainUntil !== undefined) return this.retainLoginRole(input, input.retainUntil);
    await this.dropLoginRoles([{ principal: input.principal, grantId: input.grantId }], plan.resource.databases);
  }

  /**
   * Revokes many grants with one set of statements per batch (the expiry sweep after an
   * outage, an emergency revoke of everyone). A batch that fails is retried one grant at a
   * time, so one stubborn principal cannot hold the others' revocation hostage. Expected
   * failures come back as values, in the order of `inputs`.
   */
  async revokeMany(inputs: readonly RevokeInput[], options: RevokeManyOptions = {}): Promise<RevokeManyResult[]> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE));
    const results: (RevokeManyResult | undefined)[] = new Array(inputs.length);
    const fail = (index: number, input: RevokeInput, error: unknown) => {
      results[index] = { grantId: input.grantId, principal: input.principal, ok: false, error: errorText(error) };
    };
    const batchable: { index: number; input: RevokeInput; plan: GrantPlan }[] = [];
    const single: { index: number; input: RevokeInput }[] = [];
    // A grant revoked in this same call keeps nothing for the others: two grants of one
    // person sharing an existing role would otherwise each keep the other's memberships.
    const ending = new Set(inputs.map((input) => input.grantId));
    inputs.forEach((given, index) => {
      const input = given.stillHeld ? { ...given, stillHeld: given.stillHeld.filter((held) => !ending.has(held.grantId)) } : given;
      try {
        const plan = this.plan(input, 'revoke');
        // Dropping is what batches are for; a role to keep takes the single path.
        if (plan.resource.mode === 'login_role' && input.retainUntil === undefined) batchable.push({ index, input, plan });
        else single.push({ index, input });
      } catch (error) {
        fail(index, input, error);
      }
    });
    // The same principal twice in one batch would only confuse the statements: keep one per batch.
    const batches: (typeof batchable)[] = [];
    for (const entry of batchable) {
      const batch = batches.find((candidate) => candidate.length < batchSize && !candidate.some((other) => other.input.principal === entry.input.principal));
      if (batch) batch.push(entry);
      else batches.push([entry]);
    }
    for (const batch of batches) {
      try {
        const databases = [...new Set(batch.flatMap((entry) => entry.plan.resource.databases))];
        await this.dropLoginRoles(batch.map((entry) => ({ principal: entry.input.principal, grantId: entry.input.grantId })), databases);
        for (const { index, input } of batch) results[index] = { grantId: input.grantId, principal: input.principal, ok: true, batched: true };
      } catch {
        for (const { index, input } of batch) single.push({ index, input });
      }
    }
    for (const { index, input } of single) {
      try {
        await this.revoke(input);
        results[index] = { grantId: input.grantId, principal: input.principal, ok: true, batched: false };
      } catch (error) {
        fail(index, input, error);
      }
    }
    return results.map((result, index) => result ?? { grantId: inputs[index]?.grantId ?? '', principal: inputs[index]?.principal ?? '', ok: false, error: 'not revoked' });
  }

  async removeOrphan(integration: Integration, principal: string): Promise<void> {
    assertPrincipal(integration, principal);
    const databases = new Set<string>([this.connection.database]);
    for (const resource of integration.resources) {
      try {
        for (const database of resourcePlan(integration, this.connection, resource).databases) databases.add(database);
      } catch {
        // A resource with broken settings names no database; pg_shdepend still finds them.
      }
    }
    await this.dropLoginRoles([{ principal, grantId: null }], [...databases]);
  }

  /**
   * Takes login roles away completely. The order matters:
   *  1. NOLOGIN, no password, no group roles, in one transaction: from its commit on no new
   *     session can start and open sessions lose the group privileges at their next statement.
   *  2. End the open sessions, in every database (pg_stat_activity is cluster-wide). A
   *     session that ran SET ROLE to a group role would otherwise keep that role's rights,
   *     and a live session could create objects while step 3 runs. Ended only after 1, so
   *     nobody can log in again in between.
   *  3. In every database the resource covers, and every other one pg_shdepend says the role
   *     owns or holds something in: REASSIGN OWNED to the connector (whatever the person
   *     built, a table of query results, survives for its owners to judge) and DROP OWNED
   *     (revokes privileges granted to the role directly; a connector that is not a
   *     superuser can only revoke those on objects it owns or that it granted). Ownership
   *     and grants are per database, so this cannot be done from one connection.
   *  4. DROP ROLE. It fails while anything still depends on the role, in practice a
   *     privilege another role granted it directly; then the revoke fails honestly and is
   *     retried, though the role can no longer log in nor use a group role. A last sweep
   *     ends any session that slipped in around the drop.
   * A principal that is already gone counts as revoked. One that is not Latch's (no
   * latch-managed comment, or another grant's) is never dropped.
   */
  private async dropLoginRoles(targets: DropTarget[], databases: string[]): Promise<void> {
    const principals = [...new Set(targets.map((target) => target.principal))].sort();
    for (const principal of principals) assertPrincipal(this.integration, principal);
    const connector = await this.connectorFacts();
    const admin = await this.connect(this.connection.database);
    let healthy = true;
    try {
      // Session-level locks: held across the transactions below and the other databases,
      // so a grant retry for the same principal waits until the role is gone.
      // One round trip for all of them, taken in the sorted order every other path uses.
      await admin.query('SELECT pg_advisory_lock($1, hashtext(principal)) FROM unnest($2::text[]) AS principal', [LOCK_CLASS, principals]);

      const roles = await inTransaction(admin, async () => {
        const found = await roleInfo(admin, principals);
        for (const target of targets) {
          const role = found.get(target.principal);
          if (role) this.assertManaged(role, target.grantId);
        }
        // Sent as one multi-statement query: a batch costs one round trip here, not two per role.
        const cutOff = [...found.values()].flatMap((role) => [
          `ALTER ROLE ${ident(role.name)} WITH NOLOGIN PASSWORD NULL`,
          ...(role.member_of.length > 0 ? [`REVOKE ${role.member_of.map(escapeIdentifier).join(', ')} FROM ${ident(role.name)}`] : []),
        ]);
        if (cutOff.length > 0) await admin.query(cutOff.join(';\n'));
        // REASSIGN/DROP OWNED and ending sessions need the role's privileges; a connector
        // that is not a superuser gets them by membership, which DROP ROLE removes again.
        if (!connector.superuser && found.size > 0) {
          const inherit = connector.version >= 160000 ? ' WITH INHERIT TRUE' : '';
          await admin.query(`GRANT ${[...found.keys()].map(ident).join(', ')} TO CURRENT_USER${inherit}`);
        }
        return [...found.values()];
      });
      if (roles.length === 0) return;
      const oids = roles.map((role) => role.oid);
      const names = roles.map((role) => ident(role.name)).join(', ');

      await this.endSessions(admin, oids);

      const { rows } = await admin.query<{ name: string }>(
        `SELECT DISTINCT d.datname::text AS name FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
          WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = ANY($1::oid[])`, [oids]);
      const everywhere = [...new Set([...databases, ...rows.map((row) => row.name)])];
      for (const database of everywhere) {
        const cleanUp = (client: pg.ClientBase) => inTransaction(client, async () => {
          await client.query(`REASSIGN OWNED BY ${names} TO CURRENT_USER`);
          await client.query(`DROP OWNED BY ${names}`);
        });
        if (database === this.connection.database) await this.describe(cleanUp(admin), `cleaning up after ${names} in database ${database}`);
        else await this.withClient(database, cleanUp, `cleaning up after ${names} in database ${database}`);
      }

      await this.endSessions(admin, oids);
      try {
        await admin.query(`DROP ROLE IF EXISTS ${names}`);
      } catch (error) {
        if (error instanceof pg.DatabaseError && error.code === '2BP01') {
          throw new PostgresProvisionerError(`integration "${this.integration.name}": cannot drop ${names} yet: ${error.message}${error.detail ? ` (${error.detail.replace(/\n/g, '; ')})` : ''}. `
            + 'It can no longer log in and holds no group roles. What is left is most likely a privilege granted to the role directly '
            + 'by another role, which only that role, the object\'s owner or a superuser can revoke (DROP OWNED warns "no privileges '
            + 'could be revoked"). The revoke is retried and finishes once that is gone.');
        }
        throw error;
      }
      await this.endSessions(admin, oids);
    } catch (error) {
      healthy = error instanceof pg.DatabaseError || error instanceof PostgresProvisionerError || error instanceof PostgresSettingsError;
      throw this.wrap(error, `revoking ${principals.join(', ')}`);
    } finally {
      try {
        if (healthy) await admin.query('SELECT pg_advisory_unlock_all()');
        admin.release();
      } catch {
        // A connection that cannot unlock is closed instead, which releases its locks too.
        admin.release(true);
      }
    }
  }

  /**
   * Keeps a login role after its revoke, for a person whose objects (a table of results)
   * must outlive the access, and takes away everything it could do. The order is the drop's:
   *  1. In one transaction: NOLOGIN; PASSWORD NULL; VALID UNTIL in the past; every group
   *     role taken away, and every role someone made a member of this one (a member could
   *     act as the owner of what it built); the comment records `retained-until`. PASSWORD NULL rather than a fresh random
   *     verifier: with no verifier there is no secret at all, not even one nobody knows, so
   *     even a role someone turned back to LOGIN cannot pass password authentication.
   *  2. End its sessions, as the drop does (SET ROLE in an open session outlives the rest).
   *  3. Revoke the privileges granted to it directly, in every database that holds any, but
   *     NOT with DROP OWNED, which would drop what it owns: each object it is granted on is
   *     found in pg_shdepend and revoked one by one (postgres/direct-privileges.ts). What
   *     the role owns stays its own, with the grants it made on it, so colleagues it shared
   *     a table with keep reading it; nothing is reassigned until the role is dropped.
   *  4. Check that no direct privilege and no member is left; otherwise fail like the drop
   *     (the revoke is retried), since a privilege another role granted only that role, the
   *     object's owner or a superuser can take back.
   * The first recorded retained-until wins, so a retried revoke does not move it. A later
   * revoke without `retainUntil`, or reconcile after the instant, drops the role as usual.
   */
  private async retainLoginRole(input: RevokeInput, retainUntil: Instant): Promise<void> {
    const principal = assertPrincipal(this.integration, input.principal);
    if (!Number.isFinite(retainUntil)) throw new PostgresProvisionerError(`integration "${this.integration.name}": grant ${input.grantId} has no valid retention instant`);
    const connector = await this.connectorFacts();
    const admin = await this.connect(this.connection.database);
    let healthy = true;
    let borrowed = false;
    try {
      await admin.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, principal]);
      const role = await inTransaction(admin, async () => {
        const found = (await roleInfo(admin, [principal])).get(principal);
        if (!found) return null;
        this.assertManaged(found, input.grantId);
        const until = parseManagedComment(found.comment)?.retainedUntil ?? retainUntil;
        const now = Date.now();
        const validUntil = found.valid_until_ms !== null && found.valid_until_ms <= now ? found.valid_until_ms : now;
        await admin.query(`ALTER ROLE ${ident(principal)} WITH NOLOGIN PASSWORD NULL VALID UNTIL ${escapeLiteral(new Date(validUntil).toISOString())}`);
        if (found.member_of.length > 0) await admin.query(`REVOKE ${found.member_of.map(escapeIdentifier).join(', ')} FROM ${ident(principal)}`);
        const members = await this.membersOf(admin, found.oid);
        if (members.length > 0) await admin.query(`REVOKE ${ident(principal)} FROM ${members.map(escapeIdentifier).join(', ')} CASCADE`);
        await admin.query(`COMMENT ON ROLE ${ident(principal)} IS ${escapeLiteral(managedComment(input.requestId, input.grantId, until))}`);
        // Ending its sessions needs the role's privileges, borrowed by membership as the
        // drop does; given back below, since here no DROP ROLE takes it away.
        if (!connector.superuser) {
          const inherit = connector.version >= 160000 ? ' WITH INHERIT TRUE' : '';
          await admin.query(`GRANT ${ident(principal)} TO CURRENT_USER${inherit}`);
        }
        return found;
      });
      if (!role) return;
      borrowed = !connector.superuser;
      await this.endSessions(admin, [role.oid]);

      for (const database of await databasesWithDirectPrivileges(admin, role.oid)) {
        // '' is the cluster's shared objects (databases, tablespaces, parameters): any connection reaches them.
        const where = database === '' ? this.connection.database : database;
        const strip = (client: pg.ClientBase) => inTransaction(client, async () => {
          const privileges = await listDirectPrivileges(client, role.oid, { includeShared: database === '', version: connector.version });
          await revokeDirectPrivileges(client, principal, privileges);
        });
        const what = `revoking the direct privileges of ${principal} in ${database === '' ? 'the cluster' : `database ${database}`}`;
        if (where === this.connection.database) await this.describe(strip(admin), what);
        else await this.withClient(where, strip, what);
      }

      if (borrowed) {
        await admin.query(`REVOKE ${ident(principal)} FROM CURRENT_USER`);
        borrowed = false;
      }
      const left = await remainingDirectPrivileges(admin, role.oid);
      const members = await this.membersOf(admin, role.oid);
      if (left.length > 0 || members.length > 0) {
        const what = [...(left.length > 0 ? [`privileges granted to it directly (${left.join(', ')})`] : []), ...(members.length > 0 ? [`members (${members.join(', ')})`] : [])];
        throw new PostgresProvisionerError(`integration "${this.integration.name}": ${principal} is locked and holds no group roles, but still has ${what.join(' and ')}, `
          + 'which only the role that granted them, the object\'s owner or a superuser can revoke. The revoke is retried and finishes once they are gone.');
      }
    } catch (error) {
      healthy = error instanceof pg.DatabaseError || error instanceof PostgresProvisionerError || error instanceof PostgresSettingsError;
      throw this.wrap(error, `retaining ${principal}`);
    } finally {
      try {
        if (borrowed && healthy) await admin.query(`REVOKE ${ident(principal)} FROM CURRENT_USER`).catch(() => undefined);
        if (healthy) await admin.query('SELECT pg_advisory_unlock_all()');
        admin.release();
      } catch {
        admin.release(true);
      }
    }
  }

  /** Roles that are members of role `oid`, the connector itself left out. */
  private async membersOf(client: pg.ClientBase, oid: string): Promise<string[]> {
    const { rows } = await client.query<{ name: string }>(
      `SELECT DISTINCT r.rolname::text AS name FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
        WHERE m.roleid = $1::oid AND r.rolname <> current_user ORDER BY 1`, [oid]);
    return rows.map((row) => row.name);
  }

  private async endSessions(client: pg.ClientBase, oids: string[]): Promise<void> {
    await client.query(`SELECT pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}) FROM pg_stat_activity WHERE usesysid = ANY($1::oid[]) AND pid <> pg_backend_pid()`, [oids]);
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE usesysid = ANY($1::oid[]) AND pid <> pg_backend_pid()', [oids]);
    if (rows.length > 0) throw new PostgresProvisionerError(`integration "${this.integration.name}": session(s) ${rows.map((row) => row.pid).join(', ')} did not end within ${TERMINATE_WAIT_MS / 1000}s`);
  }

  private async revokeExistingRole(input: RevokeInput, plan: GrantPlan): Promise<void> {
    // Only the memberships go; the role is the person's own and stays. The principal Latch
    // recorded is included in case the mapping changed since the grant.
    const candidates = new Set<string>();
    const mapped = plan.resource.existingRoles.get(input.grantee.toLowerCase());
    if (mapped) candidates.add(mapped);
    if (SAFE_NAME.test(input.principal)) candidates.add(input.principal);
    if (candidates.size === 0) return;
    await this.withClient(this.connection.database, (client) => inTransaction(client, async () => {
      for (const role of [...candidates].sort()) await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, role]);
      const found = await roleInfo(client, [...candidates]);
      for (const role of found.values()) {
        const kept = this.neededByOthers(input.grantee, role.name, input.stillHeld ?? []);
        const held = role.member_of.filter((group) => plan.roles.includes(group) && !kept.has(group));
        if (held.length > 0) await client.query(`REVOKE ${held.map(ident).join(', ')} FROM ${ident(role.name)}`);
      }
    }), `revoking ${input.permission} on ${input.resource.name} from ${[...candidates].join(', ')}`);
  }

  /**
   * The group roles `role` must keep for the person's other active grants: those of
   * existing_role resources that map the person to this same role (a login_role grant has
   * a principal of its own). A held permission whose settings no longer parse is left out:
   * it can be neither granted nor checked any more, and keeping a membership for it would
   * be standing access nobody can account for.
   */
  private neededByOthers(grantee: string, role: string, stillHeld: readonly HeldPermission[]): Set<string> {
    const kept = new Set<string>();
    for (const held of stillHeld) {
      try {
        const plan = resourcePlan(this.integration, this.connection, held.resource);
        if (plan.mode !== 'existing_role' || plan.existingRoles.get(grantee.toLowerCase()) !== role) continue;
        for (const group of permissionRoles(this.integration, held.resource, held.permission, held.permissionSettings)) kept.add(group);
      } catch {
        // See above: a broken held permission keeps nothing.
      }
    }
    return kept;
  }

  // ---------------------------------------------------------------- check, list

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const plan = this.plan(input, 'check');
    const role = plan.resource.mode === 'existing_role' ? plan.resource.existingRoles.get(input.grantee.toLowerCase()) : input.principal;
    if (!role) return 'absent';
    const found = await this.withClient(this.connection.database, (client) => roleInfo(client, [role]), `checking ${role}`);
    const row = found.get(role);
    const needed = this.iamUsers && plan.resource.mode === 'login_role' ? [...plan.roles, RDS_IAM_ROLE] : plan.roles;
    return row && needed.every((group) => row.member_of.includes(group)) ? 'present' : 'absent';
  }

  /**
   * Roles with the instance prefix (reported by reconcile as unknown when the comment is
   * missing). A role with Latch's comment but another prefix belongs to another Latch
   * instance sharing the server, and is never listed, so never taken for an orphan. Without
   * connection.instance every commented role counts, and the prefixes are taken from them. Existing roles of existing_role resources are listed
   * while they hold one of the resource's group roles: that membership is what Latch grants.
   */
  async listManaged(integration: Integration): Promise<ManagedPrincipal[]> {
    const groupRoles = new Set<string>();
    const existing = new Map<string, Set<string>>();
    for (const resource of integration.resources) {
      let plan: ResourcePlan;
      try {
        plan = resourcePlan(integration, this.connection, resource);
      } catch {
        continue;
      }
      const roles = new Set<string>();
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          for (const role of permissionRoles(integration, resource, permission, settings)) roles.add(role);
        } catch {
          // Broken permission settings fail the grant with their own message.
        }
      }
      for (const role of roles) groupRoles.add(role);
      if (plan.mode === 'existing_role') for (const role of plan.existingRoles.values()) existing.set(role, new Set([...(existing.get(role) ?? []), ...roles]));
    }

    const rows = await this.withClient(this.connection.database, async (client) => {
      const managed = await client.query<{ name: string; comment: string | null; valid_until_ms: number | null }>(`
        WITH roles AS (
          SELECT r.rolname::text AS name, shobj_description(r.oid, 'pg_authid') AS comment,
                 CASE WHEN isfinite(r.rolvaliduntil) THEN round(extract(epoch FROM r.rolvaliduntil) * 1000)::float8 END AS valid_until_ms
            FROM pg_roles r
           WHERE r.rolname <> current_user AND NOT (r.rolname = ANY($1::name[]))
        ), prefixes AS (
          SELECT unnest($2::text[]) AS prefix
          UNION
          SELECT split_part(name, '_', 1) || '_' FROM roles WHERE $3 AND comment LIKE '${MANAGED_MARKER}%' AND position('_' in name) > 1
        )
        SELECT name, comment, valid_until_ms FROM roles r
         WHERE (NOT $3 AND EXISTS (SELECT 1 FROM prefixes p WHERE starts_with(r.name, p.prefix)))
            OR ($3 AND (r.comment LIKE '${MANAGED_MARKER}%' OR EXISTS (SELECT 1 FROM prefixes p WHERE starts_with(r.name, p.prefix))))
         ORDER BY name`,
      [[...groupRoles], this.connection.instance ? [`${this.connection.instance}_`] : [], !this.connection.instance]);
      const mapped = existing.size > 0 ? await roleInfo(client, [...existing.keys()]) : new Map<string, RoleRow>();
      return { managed: managed.rows, mapped };
    }, 'listing managed roles');

    const result = new Map<string, ManagedPrincipal>();
    for (const row of rows.managed) {
      const marker = parseManagedComment(row.comment);
      result.set(row.name, {
        principal: row.name, reference: marker?.request ?? null, expiresAt: row.valid_until_ms,
        ...(marker?.retainedUntil != null ? { retainedUntil: marker.retainedUntil } : {}),
      });
    }
    for (const [name, groups] of existing) {
      const role = rows.mapped.get(name);
      if (role && !result.has(name) && role.member_of.some((group) => groups.has(group))) result.set(name, { principal: name, reference: null, expiresAt: null });
    }
    return [...result.values()];
  }

  // ---------------------------------------------------------------- health

  /** What the connector can and cannot do for this integration's config. Never throws. */
  /** The health report in the shape every provisioner shares: one check per problem, or one that says all is well. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const report = await this.health();
    const checks: HealthCheck[] = report.problems.map((problem) => ({ name: 'privileges', ok: false, detail: problem }));
    if (checks.length === 0) checks.push({ name: 'connector', ok: report.ok, detail: `${report.connector.user} can log in${report.connector.serverVersion ? ` (PostgreSQL ${report.connector.serverVersion})` : ''} and holds what the resources need` });
    return { ok: report.ok, checks };
  }

  async health(): Promise<PostgresHealth> {
    const report: PostgresHealth = {
      integration: this.integration.name, ok: false, checkedAt: Date.now(),
      connector: { user: this.connection.user, canLogin: false, superuser: false, createRole: false, serverVersion: null },
      groupRoles: [], databases: [], existingRoles: [], readLevel: [], problems: [],
    };
    const groupRoles = new Set<string>(this.iamUsers ? [RDS_IAM_ROLE] : []);
    const databases = new Set<string>();
    const existingRoles = new Set<string>();
    const readTargets: { resource: string; permission: string; roles: string[]; databases: string[] }[] = [];
    for (const resource of this.integration.resources) {
      let plan: ResourcePlan | null = null;
      try {
        plan = resourcePlan(this.integration, this.connection, resource);
        for (const database of plan.databases) databases.add(database);
        for (const role of plan.existingRoles.values()) existingRoles.add(role);
      } catch (error) {
        report.problems.push(errorText(error));
      }
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          const roles = permissionRoles(this.integration, resource, permission, settings);
          for (const role of roles) groupRoles.add(role);
          if (plan && this.readOnly(resource, permission)) readTargets.push({ resource: resource.name, permission, roles, databases: plan.databases });
        } catch (error) {
          report.problems.push(errorText(error));
        }
      }
    }

    let client: pg.PoolClient;
    try {
      client = await this.connect(this.connection.database);
    } catch (error) {
      report.connector.error = errorText(error);
      report.problems.push(`the connector cannot log in: ${errorText(error)}`);
      return report;
    }
    try {
      report.connector.canLogin = true;
      const me = await client.query<{ superuser: boolean; createrole: boolean; version: string; version_num: number }>(
        `SELECT rolsuper AS superuser, rolcreaterole AS createrole, current_setting('server_version') AS version,
                current_setting('server_version_num')::int AS version_num
           FROM pg_roles WHERE rolname = current_user`);
      const facts = me.rows[0];
      if (facts) {
        report.connector.superuser = facts.superuser;
        report.connector.createRole = facts.createrole || facts.superuser;
        report.connector.serverVersion = facts.version;
      }
      if (!report.connector.createRole) report.problems.push(`the connector ${this.connection.user} lacks CREATEROLE: it cannot create, change or drop login roles`);

      const roles = await client.query<{ role: string; exists: boolean; superuser: boolean; admin: boolean }>(`
        SELECT wanted.role, r.oid IS NOT NULL AS exists, COALESCE(r.rolsuper, false) AS superuser,
               COALESCE(CASE WHEN r.oid IS NOT NULL THEN pg_has_role(current_user, r.oid, 'USAGE WITH ADMIN OPTION') END, false) AS admin
          FROM unnest($1::text[]) AS wanted(role) LEFT JOIN pg_roles r ON r.rolname = wanted.role
         ORDER BY wanted.role`, [[...groupRoles]]);
      for (const row of roles.rows) {
        // Before PostgreSQL 16, CREATEROLE alone may grant any role that is not a superuser.
        const canGrant = row.exists && !row.superuser && (report.connector.superuser || row.admin || (report.connector.createRole && (facts?.version_num ?? 0) < 160000));
        report.groupRoles.push({ role: row.role, exists: row.exists, superuser: row.superuser, adminOption: row.admin, canGrant });
        if (!row.exists) report.problems.push(`group role ${row.role} does not exist`);
        else if (row.superuser) report.problems.push(`group role ${row.role} is a superuser role; Latch refuses to grant membership in it`);
        else if (!row.admin) report.problems.push(`the connector has no ADMIN OPTION on group role ${row.role}${canGrant ? ' (CREATEROLE suffices before PostgreSQL 16, not after)' : ': it cannot grant it'}`);
      }

      const dbs = await client.query<{ database: string; exists: boolean; connect: boolean }>(`
        SELECT wanted.database, d.oid IS NOT NULL AS exists,
               COALESCE(d.datallowconn AND has_database_privilege(current_user, d.oid, 'CONNECT'), false) AS connect
          FROM unnest($1::text[]) AS wanted(database) LEFT JOIN pg_database d ON d.datname = wanted.database
         ORDER BY wanted.database`, [[...databases]]);
      for (const row of dbs.rows) {
        report.databases.push(row);
        if (!row.exists) report.problems.push(`database ${row.database} does not exist`);
        else if (!row.connect) report.problems.push(`the connector cannot CONNECT to database ${row.database}, where revoke cleans up`);
      }

      if (readTargets.length > 0) {
        const audit = await this.readAudit(readTargets.flatMap((target) => target.roles), [...new Set(readTargets.flatMap((target) => target.databases))]);
        for (const target of readTargets) {
          const findings = target.roles.flatMap((group) => describeFindings(group, audit.reaches.get(group) ?? new Set([group]),
            audit.findings.filter((finding) => finding.database === null || target.databases.includes(finding.database))));
          report.readLevel.push({ resource: target.resource, permission: target.permission, findings });
          for (const finding of findings) report.problems.push(`resource "${target.resource}" permission "${target.permission}" is a read permission (maxLevel read), but ${finding}`);
        }
      }

      if (existingRoles.size > 0) {
        const found = await roleInfo(client, [...existingRoles]);
        for (const role of [...existingRoles].sort()) {
          const row = found.get(role);
          report.existingRoles.push({ role, exists: row !== undefined, canLogin: row?.can_login ?? false });
          if (!row) report.problems.push(`existing role ${role} does not exist`);
        }
      }
      client.release();
    } catch (error) {
      client.release(true);
      report.problems.push(`health check failed: ${errorText(error)}`);
    }
    report.ok = report.problems.length === 0;
    return report;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.end()));
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Checks everything a call needs before any SQL runs. Taking a login role away needs no
   * group role names (it removes every membership and the role), so a permission that has
   * since been edited or dropped from the config can never hold up a revoke or an extension.
   */
  private plan(input: RevokeInput, purpose: 'grant' | 'check' | 'extend' | 'revoke' | 'reset'): GrantPlan {
    if (input.integration.name !== this.integration.name) {
      throw new PostgresProvisionerError(`grant ${input.grantId} belongs to integration "${input.integration.name}", not "${this.integration.name}"`);
    }
    assertId(this.integration, 'request id', input.requestId);
    assertId(this.integration, 'grant id', input.grantId);
    const resource = resourcePlan(this.integration, this.connection, input.resource);
    const login = resource.mode === 'login_role';
    const needsRoles = purpose === 'grant' || purpose === 'check' || (purpose === 'revoke' && !login);
    const roles = needsRoles ? permissionRoles(this.integration, input.resource, input.permission, input.permissionSettings) : [];
    if (login) assertPrincipal(this.integration, input.principal);
    else if (purpose === 'grant') this.mappedRole(resource, input.grantee);
    return { resource, roles };
  }

  /** Whether a permission must be held to reading: the integration's maxLevel is read (a permission without a level counts as read). */
  private readOnly(resource: Resource, permission: string): boolean {
    return this.integration.maxLevel === 'read' && (resource.levels[permission] ?? 'read') === 'read';
  }

  /** The group roles with everything they inherit, and what all of those hold beyond reading (postgres/read-audit.ts). */
  private async readAudit(groups: string[], databases: string[]): Promise<{ reaches: Map<string, Set<string>>; findings: ReadFinding[] }> {
    const closure = await this.withClient(this.connection.database, (client) => readClosure(client, [...new Set(groups)]), 'reading what the group roles inherit');
    const roles = [...new Set([...closure.reaches.values()].flatMap((reached) => [...reached]))];
    const findings = [...closure.findings];
    for (const database of databases) {
      findings.push(...await this.withClient(database, (client) => readFindingsIn(client, roles), `checking the group roles in database ${database}`));
    }
    return { reaches: closure.reaches, findings };
  }

  /** A read permission under maxLevel read is granted only while its group roles hold nothing beyond reading. */
  private async assertReadOnly(resource: Resource, permission: string, plan: GrantPlan): Promise<void> {
    if (!this.readOnly(resource, permission) || plan.roles.length === 0) return;
    const { reaches, findings } = await this.readAudit(plan.roles, plan.resource.databases);
    const problems = plan.roles.flatMap((group) => describeFindings(group, reaches.get(group) ?? new Set([group]), findings));
    if (problems.length > 0) {
      throw new PostgresProvisionerError(`integration "${this.integration.name}" resource "${resource.name}" permission "${permission}" is a read permission (the integration's maxLevel is read), `
        + `but ${problems.join('; ')}. Latch refuses to grant it until the group roles hold nothing beyond reading.`);
    }
  }

  private mappedRole(resource: ResourcePlan, grantee: string): string {
    const role = resource.existingRoles.get(grantee.toLowerCase());
    if (!role) throw new PostgresProvisionerError(`integration "${this.integration.name}" resource "${resource.resource}": no existing role is mapped to ${grantee} in settings.existingRoles`);
    return role;
  }

  private details(resource: ResourcePlan, username: string): Record<string, string> {
    return { host: this.connection.host, port: String(this.connection.port), database: resource.databases[0] ?? this.connection.database, username };
  }

  private assertGroupRoles(found: Map<string, RoleRow>, roles: string[], permission: string): void {
    for (const role of roles) {
      const row = found.get(role);
      if (!row) throw new PostgresProvisionerError(`integration "${this.integration.name}" permission "${permission}": group role "${role}" does not exist`);
      // Membership in a superuser role lets the member SET ROLE to it: never hand that out.
      if (row.superuser) throw new PostgresProvisionerError(`integration "${this.integration.name}" permission "${permission}": group role "${role}" is a superuser role; Latch refuses to grant membership in it`);
    }
  }

  /** A role Latch touches must carry its marker (and this grant's id, when known): never take over someone else's role. */
  private assertManaged(role: RoleRow, grantId: string | null): void {
    const marker = parseManagedComment(role.comment);
    if (!marker) throw new PostgresProvisionerError(`integration "${this.integration.name}": role "${role.name}" exists but is not managed by Latch (no ${MANAGED_MARKER} comment); refusing to change or drop it`);
    if (role.superuser) throw new PostgresProvisionerError(`integration "${this.integration.name}": role "${role.name}" has become a superuser; refusing to touch it`);
    if (grantId !== null && marker.grant !== null && marker.grant !== grantId) {
      throw new PostgresProvisionerError(`integration "${this.integration.name}": role "${role.name}" belongs to grant ${marker.grant}, not ${grantId}; refusing to change or drop it`);
    }
  }

  private async connectorFacts(): Promise<{ superuser: boolean; version: number }> {
    this.connector ??= this.withClient(this.connection.database, async (client) => {
      const { rows } = await client.query<{ superuser: boolean; version: number }>(
        "SELECT rolsuper AS superuser, current_setting('server_version_num')::int AS version FROM pg_roles WHERE rolname = current_user");
      return { superuser: rows[0]?.superuser ?? false, version: rows[0]?.version ?? 0 };
    }, 'reading the connector role').catch((error: unknown) => {
      this.connector = null;
      throw error;
    });
    return this.connector;
  }

  private pool(database: string): pg.Pool {
    if (this.closed) throw new PostgresProvisionerError(`integration "${this.integration.name}": the provisioner is closed`);
    const existing = this.pools.get(database);
    if (existing) return existing;
    const { credentials, name } = this.integration;
    let password: string | undefined;
    if ('secret' in credentials) {
      throw new PostgresProvisionerError(`integration "${name}": secret references are not supported by this provisioner yet; use credentials: { env: VARIABLE }`);
    }
    if ('env' in credentials) {
      password = this.env[credentials.env];
      if (password === undefined || password === '') throw new PostgresProvisionerError(`integration "${name}": environment variable ${credentials.env} is not set`);
    }
    const { host, port, user, ssl, sslRootCert, maxConnections } = this.connection;
    let tls: pg.PoolConfig['ssl'] = false;
    if (ssl === 'require') tls = { rejectUnauthorized: false };
    else if (ssl === true || ssl === 'verify-full') tls = { rejectUnauthorized: true, ...(sslRootCert ? { ca: readFileSync(sslRootCert, 'utf8') } : {}) };
    const pool = new pg.Pool({
      // pg calls a password function for every new connection: a token is checked only at login.
      host, port, database, user, password: this.login.connectorPassword ?? password, ssl: tls, max: maxConnections,
      application_name: 'latch', connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, statement_timeout: 60_000,
    });
    // An idle connection the server drops must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    this.pools.set(database, pool);
    return pool;
  }

  private async connect(database: string): Promise<pg.PoolClient> {
    try {
      return await this.pool(database).connect();
    } catch (error) {
      if (error instanceof PostgresProvisionerError) throw error;
      const { host, port, user } = this.connection;
      throw new PostgresProvisionerError(`integration "${this.integration.name}": cannot connect to PostgreSQL at ${host}:${port}, database ${database}, as ${user}: ${errorText(error)}`);
    }
  }

  /** Runs `work` on a pooled connection; a connection that saw an error is closed, not reused. */
  private async withClient<T>(database: string, work: (client: pg.PoolClient) => Promise<T>, what: string): Promise<T> {
    const client = await this.connect(database);
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (error) {
      client.release(true);
      throw this.wrap(error, what);
    }
  }

  private async describe<T>(work: Promise<T>, what: string): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw this.wrap(error, what);
    }
  }

  /** Server errors get the integration and the step; Latch's own errors already say both. */
  private wrap(error: unknown, what: string): Error {
    if (error instanceof PostgresProvisionerError || error instanceof PostgresSettingsError) return error;
    return new PostgresProvisionerError(`integration "${this.integration.name}": ${what} failed: ${errorText(error)}`, { cause: error });
  }
}

export const createPostgresProvisioner: ProvisionerFactory = (integration, env) => new PostgresProvisioner(integration, env);

/**
 * One health check with a provisioner of its own (for `config check` and start-up): the
 * report also covers connection settings the provisioner refuses to start with.
 */
export async function postgresHealth(integration: Integration, env: NodeJS.ProcessEnv = process.env): Promise<PostgresHealth> {
  let provisioner: PostgresProvisioner;
  try {
    provisioner = new PostgresProvisioner(integration, env);
  } catch (error) {
    const user = typeof integration.connection.user === 'string' ? integration.connection.user : '';
    return {
      integration: integration.name, ok: false, checkedAt: Date.now(),
      connector: { user, canLogin: false, superuser: false, createRole: false, serverVersion: null, error: errorText(error) },
      groupRoles: [], databases: [], existingRoles: [], readLevel: [], problems: [errorText(error)],
    };
  }
  try {
    return await provisioner.health();
  } finally {
    await provisioner.close();
  }
}

