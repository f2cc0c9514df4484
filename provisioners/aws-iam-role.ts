import type { Integration, Resource } from '../config/schema.js';
import { AwsClients, type AwsClientOptions } from './aws/clients.js';
import { AwsProvisionerError, awsErrorMessage } from './aws/errors.js';
import { RoleSessions } from './aws/role-session.js';
import { SessionGrants, type SessionGrantPlan } from './aws/session-grant.js';
import { parsePolicyDocument, sessionPolicy, sessionPolicyProblem, SessionPolicyError } from './aws/session-policy.js';
import { AwsSettingsError, parseAwsConnection, parseRolePermission, parseRoleResource, type AwsConnection } from './aws/settings.js';
import { missingSessionActions } from './aws/trust-policy.js';
import type { GrantInput, GrantOutput, HealthCheck, ManagedPrincipal, Provisioner, ProvisionerFactory, RevokeInput } from './provisioner.js';

// AWS IAM roles: a resource is a role (ARN, optional external id); a permission is the
// session policies that narrow it (an inline policy, managed policy ARNs, or neither for
// the whole role). A grant is an STS role session for the grantee, tagged with who it is
// for and lasting as long as the access, delivered by DM with a console sign-in link.
// AWS enforces the end itself (the session expires); an early revoke denies the grant's
// sessions on the role (aws/revoke-sessions.ts). Nothing is created in AWS per grant, so
// there is nothing to list or clean up: listManaged is empty and reconcile knows it.

export interface AwsProvisionerOptions extends AwsClientOptions {
  now?: () => number;
  /** The federation endpoint is called with this (tests). */
  fetch?: typeof fetch;
}

export class AwsIamRoleProvisioner implements Provisioner {
  readonly type = 'aws-iam-role';
  readonly listsGrants = false;
  readonly connection: AwsConnection;
  private readonly clients: AwsClients;
  private readonly sessions: RoleSessions;
  private readonly grants: SessionGrants;
  private readonly now: () => number;

  constructor(private readonly integration: Integration, _env: NodeJS.ProcessEnv = process.env, options: AwsProvisionerOptions = {}) {
    this.connection = parseAwsConnection(integration);
    if (!('none' in integration.credentials)) {
      throw new AwsSettingsError(`integration "${integration.name}": AWS credentials come from the standard provider chain (environment, web identity, instance or task role); leave credentials out or write credentials: { none: true }`);
    }
    this.now = options.now ?? Date.now;
    this.clients = new AwsClients(integration.name, this.connection, options);
    this.sessions = new RoleSessions(integration.name, this.clients, this.now);
    this.grants = new SessionGrants(integration.name, this.clients, this.sessions, options.fetch);
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    return this.grants.issue(input, this.plan(input.resource, input.permission, input.permissionSettings));
  }

  /** A new session for what is left of the access: the refreshable grant's next credentials. */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    const expiresAt = (input as RevokeInput & { expiresAt?: number }).expiresAt;
    if (expiresAt === undefined) throw new AwsProvisionerError(`integration "${this.integration.name}": grant ${input.grantId} has no expiry to size the session by`);
    return this.grants.issue({ ...input, expiresAt }, this.plan(input.resource, input.permission, input.permissionSettings));
  }

  async revoke(input: RevokeInput): Promise<void> {
    const { roleArn } = parseRoleResource(this.integration, input.resource);
    await this.grants.revoke(input, roleArn, this.now());
  }

  /** Sessions end on their own; an extension is served by the next `/access credentials`. */
  async extend(input: GrantInput): Promise<void> {
    this.plan(input.resource, input.permission, input.permissionSettings);
  }

  /** STS sessions cannot be looked up; an active grant's session is there until it expires or is denied. */
  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    parseRoleResource(this.integration, input.resource);
    return 'present';
  }

  async listManaged(): Promise<ManagedPrincipal[]> {
    return [];
  }

  checkRequest(resource: Resource, permission: string, settings: Record<string, unknown>): string | null {
    try {
      this.plan(resource, permission, settings);
      return null;
    } catch (error) {
      return awsErrorMessage(error);
    }
  }

  /** The connector's identity, and per role: readable, its session limit, and a trust policy that allows tagging. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const checks: HealthCheck[] = [];
    try {
      const identity = await this.clients.connectorIdentity();
      const chained = await this.clients.chained();
      checks.push({ name: 'connector', ok: true, detail: `Latch calls AWS as ${identity.arn}${chained ? ' (a role session: the sessions it issues last at most one hour)' : ''}` });
    } catch (error) {
      return { ok: false, checks: [{ name: 'connector', ok: false, detail: awsErrorMessage(error) }] };
    }
    for (const resource of this.integration.resources) {
      let roleArn: string;
      try {
        roleArn = parseRoleResource(this.integration, resource).roleArn;
        for (const [permission, settings] of Object.entries(resource.permissions)) this.plan(resource, permission, settings);
      } catch (error) {
        checks.push({ name: `resource ${resource.name}`, ok: false, detail: awsErrorMessage(error) });
        continue;
      }
      checks.push(...await roleChecks(this.sessions, resource.name, roleArn));
    }
    return { ok: checks.every((check) => check.ok), checks };
  }

  async close(): Promise<void> {
    this.clients.destroy();
  }

  private plan(resource: Resource, permission: string, settings: unknown): SessionGrantPlan {
    const role = parseRoleResource(this.integration, resource);
    const parsed = parseRolePermission(this.integration, resource, permission, settings);
    const where = `integration "${this.integration.name}" resource "${resource.name}" permission "${permission}"`;
    let statements: Record<string, unknown>[] = [];
    try {
      if (parsed.policy !== undefined) statements = parsePolicyDocument(parsed.policy, where).Statement;
    } catch (error) {
      if (error instanceof SessionPolicyError) throw new AwsSettingsError(error.message);
      throw error;
    }
    const policy = sessionPolicy(statements, parsed.policyArns ?? []);
    const problem = sessionPolicyProblem(policy, `${permission} on ${resource.name}`);
    if (problem) throw new AwsSettingsError(problem);
    return { target: { roleArn: role.roleArn, externalId: role.externalId, maxSessionDuration: role.maxSessionDuration }, policy };
  }
}

/** Health of one role: readable with iam:GetRole, and a trust policy that lets Latch tag sessions. */
export async function roleChecks(sessions: RoleSessions, resource: string, roleArn: string): Promise<HealthCheck[]> {
  let facts;
  try {
    facts = await sessions.role(roleArn);
  } catch (error) {
    return [{ name: `role ${resource}`, ok: false, detail: awsErrorMessage(error) }];
  }
  const checks: HealthCheck[] = [{ name: `role ${resource}`, ok: true, detail: `${roleArn} allows sessions of up to ${facts.maxSessionDuration} s` }];
  const missing = facts.trustPolicy === null ? null : missingSessionActions(facts.trustPolicy);
  if (missing === null) checks.push({ name: `trust policy ${resource}`, ok: false, detail: `the trust policy of ${roleArn} could not be read` });
  else if (missing.length > 0) {
    checks.push({
      name: `trust policy ${resource}`, ok: false,
      detail: `the trust policy of ${roleArn} does not allow ${missing.join(' and ')}: AssumeRole with Latch's session tags and SourceIdentity fails with AccessDenied. Add ${missing.map((action) => `"${action}"`).join(', ')} to the Action of the statement that lets the connector assume the role`,
    });
  } else checks.push({ name: `trust policy ${resource}`, ok: true, detail: `the trust policy of ${roleArn} allows sts:TagSession and sts:SetSourceIdentity` });
  return checks;
}

export const createAwsIamRoleProvisioner: ProvisionerFactory = (integration, env) => new AwsIamRoleProvisioner(integration, env);
