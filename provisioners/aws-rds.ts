import { Signer } from '@aws-sdk/rds-signer';
import type { Integration } from '../config/schema.js';
import { AwsClients } from './aws/clients.js';
import { AwsProvisionerError, awsErrorMessage } from './aws/errors.js';
import { describeInstance, readConnectorSecret, type RdsInstance } from './aws/rds-instance.js';
import { RoleSessions } from './aws/role-session.js';
import { SessionGrants, type SessionGrantPlan } from './aws/session-grant.js';
import { sessionPolicy } from './aws/session-policy.js';
import type { AwsProvisionerOptions } from './aws/session-provisioner.js';
import { AwsSettingsError, parseAwsConnection, RdsConnection, type RdsConnection as RdsConnectionSettings } from './aws/settings.js';
import { missingSessionActions } from './aws/trust-policy.js';
import { MysqlProvisioner } from './mysql.js';
import { PostgresProvisioner } from './postgres.js';
import type { GrantInput, GrantOutput, HealthCheck, ManagedPrincipal, Provisioner, ProvisionerFactory, RevokeInput } from './provisioner.js';

// Amazon RDS for PostgreSQL, MySQL and MariaDB. The database work is the database
// provisioners' (postgres.ts, mysql.ts: a login role or account per grant, group roles or
// grants per permission); what RDS adds is how everyone logs in:
//  - iam-auth: the connector logs in with an IAM token it signs itself (rds-signer, a fresh
//    one per connection). Each grant's user is a member of rds_iam (PostgreSQL) or
//    IDENTIFIED WITH AWSAuthenticationPlugin (MySQL/MariaDB), has no password, and the
//    grantee gets an STS session allowed only rds-db:connect as that user on this
//    instance (the ARN names the DbiResourceId, not the instance name), with how to turn
//    it into a token. An early revoke drops the user and denies the session.
//  - user-password: the connector's username and password come from Secrets Manager (the
//    secret's ARN in the config, or the instance's latch-secret tag); grants get passwords
//    as on any other server.

/** The env key the delegate reads the connector's password from in password mode. */
const SECRET_ENV = 'LATCH_RDS_CONNECTOR_PASSWORD';
/** How long DescribeDBInstances answers are trusted. */
const INSTANCE_TTL_MS = 10 * 60_000;
/** The tags that may name the connector's secret, ours first, the seed's for those migrating. */
export const SECRET_TAGS = ['latch-secret', 'apono-secret'];

/** The database provisioner for the instance, with the integration it was made for. */
interface Delegate {
  provisioner: PostgresProvisioner | MysqlProvisioner;
  integration: Integration;
}

export class AwsRdsProvisioner implements Provisioner {
  readonly type = 'aws-rds';
  readonly connection: RdsConnectionSettings;
  private readonly clients: AwsClients;
  private readonly sessions: RoleSessions;
  private readonly grants: SessionGrants;
  private readonly now: () => number;
  private instance: { at: number; value: Promise<RdsInstance> } | null = null;
  private delegate: Promise<Delegate> | null = null;

  constructor(private readonly integration: Integration, _env: NodeJS.ProcessEnv = process.env, options: AwsProvisionerOptions = {}) {
    this.connection = parseAwsConnection(integration, RdsConnection) as RdsConnectionSettings;
    if (!('none' in integration.credentials)) {
      throw new AwsSettingsError(`integration "${integration.name}": the connector's database credentials come from IAM tokens (iam-auth) or Secrets Manager (user-password, connection.secretArn or the instance's latch-secret tag); leave credentials out or write credentials: { none: true }`);
    }
    this.now = options.now ?? Date.now;
    this.clients = new AwsClients(integration.name, this.connection, options);
    this.sessions = new RoleSessions(integration.name, this.clients, this.now);
    this.grants = new SessionGrants(integration.name, this.clients, this.sessions, options.fetch);
  }

  private get iam(): boolean {
    return this.connection.authType === 'iam';
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    const created = await (await this.database()).provisioner.grant(input);
    if (!this.iam) return created;
    const session = await this.grants.issue(input, await this.connectPlan(created.principal));
    return this.iamOutput(created, session);
  }

  /** iam-auth: a new session for the same user (its tokens); user-password: a new password. */
  async resetCredentials(input: GrantInput): Promise<GrantOutput> {
    const { provisioner } = await this.database();
    if (!this.iam) return provisioner.resetCredentials(input);
    const session = await this.grants.issue(input, await this.connectPlan(input.principal));
    return this.iamOutput({ principal: input.principal, details: await this.userDetails(input.principal) }, session);
  }

  /** The user goes first (no new logins from then on), then the session is denied. */
  async revoke(input: RevokeInput): Promise<void> {
    await (await this.database()).provisioner.revoke(input);
    if (this.iam && this.connection.roleArn) await this.grants.revoke(input, this.connection.roleArn, this.now());
  }

  /** A mass expiry: the users in the database provisioner's batches, then each grant's session denied. */
  async revokeMany(inputs: readonly RevokeInput[], options?: { batchSize?: number }): Promise<({ ok: true } | { ok: false; error: string })[]> {
    const provisioner: Provisioner = (await this.database()).provisioner;
    const dropped: ({ ok: true } | { ok: false; error: string })[] = provisioner.revokeMany
      ? await provisioner.revokeMany(inputs, options)
      : await Promise.all(inputs.map((input) => provisioner.revoke(input).then(() => ({ ok: true as const }), (error: unknown) => ({ ok: false as const, error: awsErrorMessage(error) }))));
    const results: ({ ok: true } | { ok: false; error: string })[] = [];
    for (const [index, input] of inputs.entries()) {
      const result = dropped[index] ?? { ok: false as const, error: 'not revoked' };
      if (!result.ok || !this.iam || !this.connection.roleArn) {
        results.push(result.ok ? { ok: true } : { ok: false, error: result.error });
        continue;
      }
      try {
        await this.grants.revoke(input, this.connection.roleArn, this.now());
        results.push({ ok: true });
      } catch (error) {
        results.push({ ok: false, error: awsErrorMessage(error) });
      }
    }
    return results;
  }

  async extend(input: GrantInput): Promise<void> {
    await (await this.database()).provisioner.extend(input);
  }

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    return (await this.database()).provisioner.check(input);
  }

  async listManaged(): Promise<ManagedPrincipal[]> {
    const { provisioner, integration } = await this.database();
    return provisioner.listManaged(integration);
  }

  async removeOrphan(_integration: Integration, principal: string): Promise<void> {
    const { provisioner, integration } = await this.database();
    await provisioner.removeOrphan(integration, principal);
  }

  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const checks: HealthCheck[] = [];
    let instance: RdsInstance;
    try {
      instance = await this.currentInstance();
    } catch (error) {
      return { ok: false, checks: [{ name: 'instance', ok: false, detail: awsErrorMessage(error) }] };
    }
    checks.push({ name: 'instance', ok: instance.engine !== null, detail: `${instance.identifier}: ${instance.engineName} at ${instance.endpoint}:${instance.port}, ${instance.resourceId}, ${instance.status}` });
    if (this.iam && !instance.iamAuth) {
      checks.push({ name: 'iam-auth', ok: false, detail: `the integration says iam-auth, but ${instance.identifier} has IAM database authentication off: aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --enable-iam-database-authentication --apply-immediately` });
    }
    try {
      checks.push(...(await (await this.database()).provisioner.checkHealth()).checks);
    } catch (error) {
      checks.push({ name: 'connector', ok: false, detail: awsErrorMessage(error) });
    }
    if (this.iam && this.connection.roleArn) {
      try {
        const facts = await this.sessions.role(this.connection.roleArn);
        const missing = facts.trustPolicy === null ? null : missingSessionActions(facts.trustPolicy);
        checks.push(missing !== null && missing.length === 0
          ? { name: 'trust policy', ok: true, detail: `the trust policy of ${this.connection.roleArn} allows sts:TagSession and sts:SetSourceIdentity` }
          : { name: 'trust policy', ok: false, detail: `the trust policy of ${this.connection.roleArn} does not allow ${(missing ?? ['sts:TagSession', 'sts:SetSourceIdentity']).join(' and ')}; add them to the statement that lets the connector assume it` });
      } catch (error) {
        checks.push({ name: 'trust policy', ok: false, detail: awsErrorMessage(error) });
      }
    }
    return { ok: checks.every((check) => check.ok), checks };
  }

  async close(): Promise<void> {
    const delegate = this.delegate;
    this.delegate = null;
    if (delegate) await delegate.then((opened) => opened.provisioner.close(), () => undefined);
    this.clients.destroy();
  }

  /** The session policy of one grant: rds-db:connect as its database user on this instance, nothing else. */
  async connectPlan(user: string): Promise<SessionGrantPlan> {
    const instance = await this.currentInstance();
    const { roleArn, externalId, maxSessionDuration } = this.connection;
    if (!roleArn) throw new AwsSettingsError(`integration "${this.integration.name}": iam-auth needs connection.roleArn`);
    const resource = dbUserArn(instance, user);
    const policy = sessionPolicy([{ Sid: 'ConnectAsGrantUser', Effect: 'Allow', Action: 'rds-db:connect', Resource: resource }]);
    return { target: { roleArn, externalId, maxSessionDuration }, policy, console: false, instructions: this.tokenInstructions(instance, user, resource), details: { dbUserArn: resource } };
  }

  private tokenInstructions(instance: RdsInstance, user: string, resource: string): string[] {
    const { profile } = this.connection;
    const token = `aws rds generate-db-auth-token --hostname ${instance.endpoint} --port ${instance.port} --region ${instance.region} --username ${user} --profile ${profile}`;
    const database = this.connection.database ?? 'postgres';
    const connect = instance.engine === 'postgres'
      ? `PGPASSWORD="$(${token})" psql "host=${instance.endpoint} port=${instance.port} dbname=${database} user=${user} sslmode=verify-full sslrootcert=global-bundle.pem"`
      : `mysql -h ${instance.endpoint} -P ${instance.port} -u ${user} --enable-cleartext-plugin --ssl-mode=VERIFY_IDENTITY --ssl-ca=global-bundle.pem --password="$(${token})"`;
    return [
      `Database user ${user} logs in with IAM tokens, not a password. A token is valid for 15 minutes, for new connections, over TLS only (the RDS CA bundle global-bundle.pem).`,
      `Get one: ${token}`,
      `Connect: ${connect}`,
      `These credentials allow only rds-db:connect as ${user} on ${instance.identifier} (${resource}).`,
    ];
  }

  private iamOutput(created: GrantOutput, session: GrantOutput): GrantOutput {
    return {
      principal: created.principal,
      ...(session.secrets ? { secrets: session.secrets } : {}),
      details: { ...created.details, ...session.details, username: created.principal },
      ...(session.instructions ? { instructions: session.instructions } : {}),
    };
  }

  private async userDetails(user: string): Promise<Record<string, string>> {
    const instance = await this.currentInstance();
    return { host: instance.endpoint, port: String(instance.port), username: user, ...(this.connection.database ? { database: this.connection.database } : {}) };
  }

  private currentInstance(): Promise<RdsInstance> {
    if (this.instance && this.now() - this.instance.at < INSTANCE_TTL_MS) return this.instance.value;
    const value = describeInstance(this.clients, this.integration.name, this.connection.instanceId, this.connection.region);
    const entry = { at: this.now(), value };
    this.instance = entry;
    value.catch(() => {
      if (this.instance === entry) this.instance = null;
    });
    return value;
  }

  /** The database provisioner for this instance, opened once: its connector logs in with a token or the secret. */
  private database(): Promise<Delegate> {
    this.delegate ??= this.openDatabase().catch((error: unknown) => {
      this.delegate = null;
      throw error;
    });
    return this.delegate;
  }

  private async openDatabase(): Promise<Delegate> {
    const instance = await this.currentInstance();
    if (instance.engine === null) throw new AwsProvisionerError(`integration "${this.integration.name}": ${instance.identifier} runs ${instance.engineName}; Latch provisions RDS for PostgreSQL, MySQL and MariaDB`);
    if (this.iam && !instance.iamAuth) {
      throw new AwsProvisionerError(`integration "${this.integration.name}": the integration says iam-auth, but ${instance.identifier} has IAM database authentication off; enable it (aws rds modify-db-instance --db-instance-identifier ${instance.identifier} --enable-iam-database-authentication --apply-immediately) or use user-password`);
    }
    const integration = this.delegateIntegration(instance);
    if (this.iam) {
      const user = this.connection.user ?? '';
      const signer = new Signer({ hostname: instance.endpoint, port: instance.port, region: instance.region, username: user, ...(this.clients.credentials() ? { credentials: this.clients.credentials() } : {}) });
      const connectorPassword = () => signer.getAuthToken();
      const login = { userAuth: 'rds-iam' as const, connectorPassword };
      return { integration, provisioner: instance.engine === 'postgres' ? new PostgresProvisioner(integration, {}, login) : new MysqlProvisioner(integration, {}, login) };
    }
    const secretArn = this.connection.secretArn ?? SECRET_TAGS.map((key) => instance.tags[key]).find((value) => value);
    if (!secretArn) throw new AwsSettingsError(`integration "${this.integration.name}": user-password needs the connector's secret: set connection.secretArn or tag ${instance.identifier} with latch-secret = the secret's ARN`);
    const secret = await readConnectorSecret(this.clients, this.integration.name, secretArn);
    const withUser = { ...integration, connection: { ...integration.connection, user: secret.username }, credentials: { env: SECRET_ENV } };
    const env = { [SECRET_ENV]: secret.password };
    return { integration: withUser, provisioner: instance.engine === 'postgres' ? new PostgresProvisioner(withUser, env) : new MysqlProvisioner(withUser, env) };
  }

  /** The integration as the database provisioner reads it: its own type and connection keys. */
  private delegateIntegration(instance: RdsInstance): Integration {
    const { host, port, user, database, ssl, sslRootCert, maxConnections, userHost, instance: latch } = this.connection;
    const common = { host: host ?? instance.endpoint, port: port ?? instance.port, ...(user ? { user } : {}), instance: latch, ...(maxConnections ? { maxConnections } : {}) };
    const connection = instance.engine === 'postgres'
      ? { ...common, database: database ?? 'postgres', ssl, ...(sslRootCert ? { sslRootCert } : {}) }
      : { ...common, ssl, ...(sslRootCert ? { sslCa: sslRootCert } : {}), ...(userHost ? { userHost } : {}) };
    return { ...this.integration, type: instance.engine === 'postgres' ? 'postgresql' : 'mysql', connection, credentials: { none: true } };
  }
}

/** arn:aws:rds-db:REGION:ACCOUNT:dbuser:DBI_RESOURCE_ID/USER: the instance's resource id, the user by name. */
export function dbUserArn(instance: RdsInstance, user: string): string {
  return `arn:${instance.partition}:rds-db:${instance.region}:${instance.account}:dbuser:${instance.resourceId}/${user}`;
}

export const createAwsRdsProvisioner: ProvisionerFactory = (integration, env) => new AwsRdsProvisioner(integration, env);
