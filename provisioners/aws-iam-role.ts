import type { Integration, Resource } from '../config/schema.js';
import type { SessionGrantPlan } from './aws/session-grant.js';
import { parsePolicyDocument, sessionPolicy, sessionPolicyProblem, SessionPolicyError } from './aws/session-policy.js';
import { AwsSessionProvisioner, type AwsProvisionerOptions } from './aws/session-provisioner.js';
import { AwsSettingsError, parseAwsConnection, parseRolePermission, parseRoleResource } from './aws/settings.js';
import type { ProvisionerFactory } from './provisioner.js';

// AWS IAM roles: a resource is a role (ARN, optional external id); a permission is the
// session policies that narrow it (an inline policy, managed policy ARNs, or neither for
// the whole role). A grant is an STS role session for the grantee, tagged with who it is
// for and lasting as long as the access, delivered by DM with a console sign-in link.
// AWS enforces the end itself (the session expires); an early revoke denies the grant's
// sessions on the role (aws/revoke-sessions.ts).

export type { AwsProvisionerOptions } from './aws/session-provisioner.js';

export class AwsIamRoleProvisioner extends AwsSessionProvisioner {
  readonly type = 'aws-iam-role';

  constructor(integration: Integration, _env: NodeJS.ProcessEnv = process.env, options: AwsProvisionerOptions = {}) {
    super(integration, parseAwsConnection(integration), options);
  }

  protected async grantPlan(resource: Resource, permission: string, settings: unknown): Promise<SessionGrantPlan> {
    return this.configPlan(resource, permission, settings);
  }

  protected configPlan(resource: Resource, permission: string, settings: unknown): SessionGrantPlan {
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

export const createAwsIamRoleProvisioner: ProvisionerFactory = (integration, env) => new AwsIamRoleProvisioner(integration, env);
