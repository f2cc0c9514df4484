import type { Integration, Resource } from '../../config/schema.js';
import type { GrantInput, GrantOutput, HealthCheck, ManagedPrincipal, Provisioner, RevokeInput } from '../provisioner.js';
import { AwsClients, type AwsClientOptions } from './clients.js';
import { awsErrorMessage } from './errors.js';
import { RoleSessions } from './role-session.js';
import { SessionGrants, type SessionGrantPlan } from './session-grant.js';
import { AwsSettingsError, type AwsConnection } from './settings.js';
import { missingSessionActions } from './trust-policy.js';

// The shape every AWS backend that grants by role session shares (IAM roles, S3 buckets,
// RDS IAM connect): a grant is a session, refreshed with /access credentials, ended early by
// a deny on the role. Nothing is created in AWS per grant, so there is nothing to list or
// clean up: listManaged is empty and reconcile knows it. Each backend says only which role
// to assume with which session policy.

export interface AwsProvisionerOptions extends AwsClientOptions {
  now?: () => number;
  /** The federation endpoint is called with this (tests). */
  fetch?: typeof fetch;
}

export abstract class AwsSessionProvisioner implements Provisioner {
  abstract readonly type: string;
  readonly listsGrants = false;
  protected readonly clients: AwsClients;
  protected readonly sessions: RoleSessions;
  protected readonly grants: SessionGrants;
  protected readonly now: () => number;

  constructor(protected readonly integration: Integration, readonly connection: AwsConnection, options: AwsProvisionerOptions = {}) {
    if (!('none' in integration.credentials)) {
      throw new AwsSettingsError(`integration "${integration.name}": AWS credentials come from the standard provider chain (environment, web identity, instance or task role); leave credentials out or write credentials: { none: true }`);
    }
    this.now = options.now ?? Date.now;
    this.clients = new AwsClients(integration.name, connection, options);
    this.sessions = new RoleSessions(integration.name, this.clients, this.now);
    this.grants = new SessionGrants(integration.name, this.clients, this.sessions, options.fetch);
  }

  /** The role and session policy for a grant, read from AWS where needed (a bucket's key). */
  protected abstract grantPlan(resource: Resource, permission: string, settings: unknown): Promise<SessionGrantPlan>;
  /** The same from the config alone, sized for the worst AWS could add: what checkRequest measures. */
  protected abstract configPlan(resource: Resource, permission: string, settings: unknown): SessionGrantPlan;
  /** Health beyond the connector and the roles' trust policies. */
  protected async extraHealth(): Promise<HealthCheck[]> {
    return [];
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    return this.grants.issue(input, await this.grantPlan(input.resource, input.permission, input.permissionSettings));
  }

  /** A new session for what is left of the access: a refreshable grant's next credentials. */
  async resetCredentials(input: GrantInput): Promise<GrantOutput> {
    return this.grants.issue(input, await this.grantPlan(input.resource, input.permission, input.permissionSettings));
  }

  async revoke(input: RevokeInput): Promise<void> {
    const { target } = this.configPlan(input.resource, input.permission, input.permissionSettings);
    await this.grants.revoke(input, target.roleArn, this.now());
  }

  /** Sessions end on their own; an extension is served by the next `/access credentials`. */
  async extend(input: GrantInput): Promise<void> {
    this.configPlan(input.resource, input.permission, input.permissionSettings);
  }

  /** STS sessions cannot be looked up; an active grant's session is there until it expires or is denied. */
  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    this.configPlan(input.resource, input.permission, input.permissionSettings);
    return 'present';
  }

  async listManaged(): Promise<ManagedPrincipal[]> {
    return [];
  }

  checkRequest(resource: Resource, permission: string, settings: Record<string, unknown>): string | null {
    try {
      this.configPlan(resource, permission, settings);
      return null;
    } catch (error) {
      return awsErrorMessage(error);
    }
  }

  /** The connector's identity; per role: readable, its session limit, a trust policy that allows tagging; then the backend's own. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const checks: HealthCheck[] = [];
    try {
      const identity = await this.clients.connectorIdentity();
      const chained = await this.clients.chained();
      checks.push({ name: 'connector', ok: true, detail: `Latch calls AWS as ${identity.arn}${chained ? ' (a role session: the sessions it issues last at most one hour)' : ''}` });
    } catch (error) {
      return { ok: false, checks: [{ name: 'connector', ok: false, detail: awsErrorMessage(error) }] };
    }
    const roles = new Map<string, string>();
    // A permission AWS would refuse is listed, and refused when someone asks for it
    // (checkRequest); it does not make the integration's other permissions unavailable.
    const permissionChecks: HealthCheck[] = [];
    for (const resource of this.integration.resources) {
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          const { target } = this.configPlan(resource, permission, settings);
          if (!roles.has(target.roleArn)) roles.set(target.roleArn, resource.name);
        } catch (error) {
          permissionChecks.push({ name: `permission ${resource.name}/${permission}`, ok: false, detail: awsErrorMessage(error) });
        }
      }
    }
    for (const [roleArn, resource] of roles) checks.push(...await this.roleChecks(resource, roleArn));
    checks.push(...await this.extraHealth());
    return { ok: checks.every((check) => check.ok) && roles.size > 0, checks: [...checks, ...permissionChecks] };
  }

  async close(): Promise<void> {
    this.clients.destroy();
  }

  private async roleChecks(resource: string, roleArn: string): Promise<HealthCheck[]> {
    let facts;
    try {
      facts = await this.sessions.role(roleArn);
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
}
