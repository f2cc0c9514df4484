import {
  GetAccessKeyLastUsedCommand, GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetRolePolicyCommand, GetUserPolicyCommand,
  ListAccessKeysCommand, ListAttachedRolePoliciesCommand, ListAttachedUserPoliciesCommand, ListRolePoliciesCommand, ListRolesCommand,
  ListUserPoliciesCommand, ListUsersCommand, type IAMClient,
} from '@aws-sdk/client-iam';
import type { Integration } from '../../config/schema.js';
import type { FoundPrivilege, ScannedPrincipal } from '../../core/discovery.js';
import type { Instant } from '../../core/types.js';
import { AwsClients, type AwsClientOptions } from '../aws/clients.js';
import { describeAwsError } from '../aws/errors.js';
import { AwsConnection, parseAwsConnection, parseRoleResource } from '../aws/settings.js';

// The IAM users and roles of the account an aws-iam-role integration's connector reaches,
// with what their attached and inline policies allow and when they were last used
// (GetRole's RoleLastUsed, the access keys' and console password's last use). Read-only:
// the connector needs iam:List*, iam:Get* on users, roles and policies (docs/OPERATORS.md).
// The roles Latch itself hands out sessions of (the integration's resources) and roles or
// users carrying the instance prefix are Latch's, and are not reported.

export interface IamScanOptions {
  instance: string;
  managed: ReadonlySet<string>;
  now: Instant;
  /** Client options for AwsClients (credentials, attempts); tests pass fixed credentials. */
  clientOptions?: AwsClientOptions;
}

export interface IamScan {
  principals: ScannedPrincipal[];
  skipped: string[];
}

/** AWS tracks role use for 400 days: a role never used in that window shows no RoleLastUsed. */
const ROLE_TRACKING_MS = 400 * 86_400_000;

interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
}

/** The allowed actions of a policy document (URL-encoded JSON, as IAM returns it). */
export function allowedActions(document: string | undefined): { action: string; resource: string }[] {
  if (!document) return [];
  let parsed: { Statement?: Statement | Statement[] };
  try {
    parsed = JSON.parse(decodeURIComponent(document)) as { Statement?: Statement | Statement[] };
  } catch {
    return [];
  }
  const statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
  const found: { action: string; resource: string }[] = [];
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    const resources = statement.Resource === undefined ? ['*'] : Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    const resource = resources.length === 1 ? resources[0] ?? '*' : resources.join(', ');
    // NotAction with Allow grants everything but a few: as broad as `*` for risk.
    if (statement.NotAction !== undefined) found.push({ action: '*', resource });
    const actions = statement.Action === undefined ? [] : Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    for (const action of actions) found.push({ action, resource });
  }
  return found;
}

async function paged<T>(fetch: (marker: string | undefined) => Promise<{ items: T[]; marker: string | undefined }>): Promise<T[]> {
  const all: T[] = [];
  let marker: string | undefined;
  do {
    const page = await fetch(marker);
    all.push(...page.items);
    marker = page.marker;
  } while (marker);
  return all;
}

export async function scanAwsIam(integration: Integration, options: IamScanOptions): Promise<IamScan> {
  const connection = parseAwsConnection(integration, AwsConnection.passthrough());
  const clients = new AwsClients(integration.name, connection, options.clientOptions ?? {});
  const iam: IAMClient = clients.iam();
  const where = (what: string): string => `integration "${integration.name}": ${what}`;
  const call = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw describeAwsError(error, where(what), null);
    }
  };
  const latchRoles = new Set<string>();
  for (const resource of integration.resources) {
    try {
      latchRoles.add(parseRoleResource(integration, resource).roleArn);
    } catch {
      // A resource that does not parse lends nothing to recognise.
    }
  }
  const isLatch = (name: string, arn: string): boolean => latchRoles.has(arn) || options.managed.has(name) || options.managed.has(arn)
    || name.startsWith(`${options.instance}-`) || name.startsWith(`${options.instance}_`);

  const policyActions = new Map<string, { action: string; resource: string }[]>();
  const managedPolicy = async (arn: string): Promise<{ action: string; resource: string }[]> => {
    const known = policyActions.get(arn);
    if (known) return known;
    const policy = await call(`reading policy ${arn} (iam:GetPolicy)`, () => iam.send(new GetPolicyCommand({ PolicyArn: arn })));
    const version = await call(`reading policy ${arn} (iam:GetPolicyVersion)`, () => iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.Policy?.DefaultVersionId ?? 'v1' })));
    const actions = allowedActions(version.PolicyVersion?.Document);
    policyActions.set(arn, actions);
    return actions;
  };
  const privilegesOf = (policy: string, actions: { action: string; resource: string }[]): FoundPrivilege[] => actions.map(({ action, resource }) => ({
    kind: 'policy', name: action, on: resource === '*' ? null : resource, via: [policy], target: { policy },
  }));

  const principals: ScannedPrincipal[] = [];
  const skipped: string[] = [];
  const users = await paged(async (marker) => {
    const page = await call('listing users (iam:ListUsers)', () => iam.send(new ListUsersCommand({ Marker: marker })));
    return { items: page.Users ?? [], marker: page.IsTruncated ? page.Marker : undefined };
  });
  for (const user of users) {
    const name = user.UserName ?? '';
    const arn = user.Arn ?? name;
    if (isLatch(name, arn)) continue;
    const privileges: FoundPrivilege[] = [];
    const attached = await call(`listing ${name}'s policies (iam:ListAttachedUserPolicies)`, () => iam.send(new ListAttachedUserPoliciesCommand({ UserName: name })));
    for (const policy of attached.AttachedPolicies ?? []) privileges.push(...privilegesOf(policy.PolicyName ?? policy.PolicyArn ?? '', await managedPolicy(policy.PolicyArn ?? '')));
    const inline = await call(`listing ${name}'s inline policies (iam:ListUserPolicies)`, () => iam.send(new ListUserPoliciesCommand({ UserName: name })));
    for (const policyName of inline.PolicyNames ?? []) {
      const policy = await call(`reading ${name}'s policy ${policyName} (iam:GetUserPolicy)`, () => iam.send(new GetUserPolicyCommand({ UserName: name, PolicyName: policyName })));
      privileges.push(...privilegesOf(`${policyName} (inline)`, allowedActions(policy.PolicyDocument)));
    }
    let lastUsed = user.PasswordLastUsed?.getTime() ?? null;
    const keys = await call(`listing ${name}'s access keys (iam:ListAccessKeys)`, () => iam.send(new ListAccessKeysCommand({ UserName: name })));
    let activeKeys = 0;
    for (const key of keys.AccessKeyMetadata ?? []) {
      if (key.Status === 'Active') activeKeys += 1;
      const used = await call(`reading when ${name}'s access key was last used (iam:GetAccessKeyLastUsed)`, () => iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.AccessKeyId ?? '' })));
      const at = used.AccessKeyLastUsed?.LastUsedDate?.getTime();
      if (at !== undefined && (lastUsed === null || at > lastUsed)) lastUsed = at;
    }
    principals.push({
      integration: integration.name, backend: 'aws-iam', principal: arn, kind: 'user', canLogin: activeKeys > 0 || user.PasswordLastUsed !== undefined,
      privileges, lastUsedAt: lastUsed, watchedSince: user.CreateDate?.getTime() ?? null,
    });
  }

  const roles = await paged(async (marker) => {
    const page = await call('listing roles (iam:ListRoles)', () => iam.send(new ListRolesCommand({ Marker: marker })));
    return { items: page.Roles ?? [], marker: page.IsTruncated ? page.Marker : undefined };
  });
  for (const listed of roles) {
    const name = listed.RoleName ?? '';
    const arn = listed.Arn ?? name;
    // AWS's own service-linked roles are managed by AWS, not by anyone here.
    if (isLatch(name, arn) || (listed.Path ?? '').startsWith('/aws-service-role/')) continue;
    const privileges: FoundPrivilege[] = [];
    const attached = await call(`listing ${name}'s policies (iam:ListAttachedRolePolicies)`, () => iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name })));
    for (const policy of attached.AttachedPolicies ?? []) privileges.push(...privilegesOf(policy.PolicyName ?? policy.PolicyArn ?? '', await managedPolicy(policy.PolicyArn ?? '')));
    const inline = await call(`listing ${name}'s inline policies (iam:ListRolePolicies)`, () => iam.send(new ListRolePoliciesCommand({ RoleName: name })));
    for (const policyName of inline.PolicyNames ?? []) {
      const policy = await call(`reading ${name}'s policy ${policyName} (iam:GetRolePolicy)`, () => iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName })));
      privileges.push(...privilegesOf(`${policyName} (inline)`, allowedActions(policy.PolicyDocument)));
    }
    // ListRoles leaves RoleLastUsed out; only GetRole has it.
    const role = await call(`reading ${name} (iam:GetRole)`, () => iam.send(new GetRoleCommand({ RoleName: name })));
    const lastUsed = role.Role?.RoleLastUsed?.LastUsedDate?.getTime() ?? null;
    const created = listed.CreateDate?.getTime() ?? null;
    principals.push({
      integration: integration.name, backend: 'aws-iam', principal: arn, kind: 'role', canLogin: true, privileges, lastUsedAt: lastUsed,
      watchedSince: created === null ? null : Math.max(created, options.now - ROLE_TRACKING_MS),
    });
  }
  clients.destroy();
  return { principals, skipped };
}
