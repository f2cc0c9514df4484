import type { Integration, Resource } from '../config/schema.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { AccountAssignments, type Assignment, type PollOptions } from './aws/account-assignments.js';
import { AwsClients, type AwsClientOptions } from './aws/clients.js';
import { AwsProvisionerError, awsErrorMessage } from './aws/errors.js';
import {
  accountScope, parseIdentityCenterConnection, permissionSetOf, resourceAccount, type AccountScope, type IdentityCenterConnection,
} from './aws/identity-center-settings.js';
import { IdentityStoreUserNotFound, identityStoreUserId } from './aws/identity-store-user.js';
import { findAccount, outsideScope, readAccounts, Refreshing, type OrgAccount } from './aws/organization-accounts.js';
import { findPermissionSet, isoHours, lowerSessionDuration, readPermissionSets, type PermissionSet } from './aws/permission-sets.js';
import { AwsSettingsError } from './aws/settings.js';
import type { GrantInput, GrantOutput, HealthCheck, HeldPermission, ManagedPrincipal, Provisioner, ProvisionerFactory, ResourceOffer, RevokeInput } from './provisioner.js';

// AWS IAM Identity Center: a resource is an account of the organization, a permission is a
// permission set; a grant assigns the permission set to the grantee's Identity Center user
// in that account for as long as the access lasts, and the revoke removes the assignment.
// An assignment the person had before (standing access) is theirs, not Latch's: it is
// answered at request time and never removed. The principal Latch records says which:
// ACCOUNT/PERMISSION-SET/USER-ID for an assignment Latch made, with "standing:" in front for
// one it found.

export interface IdentityCenterOptions extends AwsClientOptions {
  now?: () => number;
  poll?: PollOptions;
  /**
   * How long the request-time check may take (default 1.5 s): a Slack modal is answered
   * within 3 s, so a slower AWS lets the request through and the grant checks again. The
   * lookups go on and fill the caches for the next request.
   */
  checkBudgetMs?: number;
}

const STANDING = 'standing:';

interface Target {
  account: OrgAccount;
  set: PermissionSet;
  latchManaged: boolean;
}

export class AwsIdentityCenterProvisioner implements Provisioner {
  readonly type = 'aws-identity-center';
  /**
   * Reconcile lists only the assignments of Latch-managed permission sets (others mix with
   * standing access Latch must not judge), so it can tell a grant missing only when every
   * permission set of the integration is Latch-managed.
   */
  readonly listsGrants: boolean;
  private readonly connection: IdentityCenterConnection;
  private readonly scope: AccountScope;
  private readonly clients: AwsClients;
  private readonly assignments: AccountAssignments;
  private readonly accounts: Refreshing<OrgAccount[]>;
  private readonly permissionSets: Refreshing<PermissionSet[]>;
  private readonly now: () => number;
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;
  private readonly checkBudgetMs: number;

  constructor(private readonly integration: Integration, _env: NodeJS.ProcessEnv = process.env, options: IdentityCenterOptions = {}) {
    if (!('none' in integration.credentials)) {
      throw new AwsSettingsError(`integration "${integration.name}": AWS credentials come from the standard provider chain (environment, web identity, instance or task role); leave credentials out or write credentials: { none: true }`);
    }
    this.connection = parseIdentityCenterConnection(integration);
    this.scope = accountScope(this.connection);
    // A permission the config gets wrong fails on its own (at request time); it does not stop the rest.
    const managed = (resource: Resource, permission: string, settings: unknown): boolean => {
      try {
        return permissionSetOf(integration, resource, permission, settings).latchManaged;
      } catch {
        return false;
      }
    };
    this.listsGrants = integration.resources.every((resource) => Object.entries(resource.permissions).every(([permission, settings]) => managed(resource, permission, settings)));
    this.now = options.now ?? Date.now;
    this.sleep = options.poll?.sleep;
    this.checkBudgetMs = options.checkBudgetMs ?? 1_500;
    // Every Identity Center call goes to the instance's home region; Organizations is global.
    this.clients = new AwsClients(integration.name, { ...this.connection, region: this.connection.ssoRegion ?? this.connection.region }, options);
    this.assignments = new AccountAssignments(this.clients, integration.name, this.connection.instanceArn, options.poll);
    const ttl = parseDuration(this.connection.refreshEvery) ?? 15 * 60_000;
    this.accounts = new Refreshing(() => readAccounts(this.clients, integration.name, this.scope), ttl, this.now);
    this.permissionSets = new Refreshing(() => readPermissionSets(this.clients, integration.name, this.connection.instanceArn), ttl, this.now);
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    const target = await this.target(input.resource, input.permission, input.permissionSettings);
    const userId = await this.userId(input.grantee);
    const assignment: Assignment = { accountId: target.account.id, permissionSetArn: target.set.arn, userId };
    const principal = principalOf(target, userId);
    const label = this.label(target, input.grantee);
    // A permission set only Latch assigns has no standing access: an assignment found is this
    // grant's own, from an attempt that stopped before it was recorded.
    if (await this.assignments.exists(assignment)) {
      if (!target.latchManaged) return { principal: `${STANDING}${principal}`, details: this.details(target), instructions: this.instructions(target, input.expiresAt, true) };
    } else {
      await this.shortenSessions(target, input.expiresAt);
      await this.assignments.create(assignment, label);
    }
    return { principal, details: this.details(target), instructions: this.instructions(target, input.expiresAt, false) };
  }

  async revoke(input: RevokeInput): Promise<void> {
    // Standing access was there before Latch and stays after it.
    if (input.principal.startsWith(STANDING)) return;
    const parsed = parsePrincipal(input.principal);
    if (parsed) {
      // What was assigned, wherever the config points the resource now.
      const set = await this.permissionSetNamed(parsed.permissionSet);
      // A deleted permission set took its assignments with it.
      if (!set) return;
      if (await this.heldElsewhere(input.stillHeld, parsed.accountId, set)) return;
      const account = findAccount(await this.accounts.get(), parsed.accountId);
      const label = `${set.name} in account ${account ? `${account.name} (${account.id})` : parsed.accountId} to ${input.grantee}`;
      await this.assignments.delete({ accountId: parsed.accountId, permissionSetArn: set.arn, userId: parsed.userId }, label);
      return;
    }
    // A grant that failed before it was recorded: only a Latch-managed permission set's
    // assignment is surely Latch's (any other may be standing access).
    const target = await this.target(input.resource, input.permission, input.permissionSettings, false);
    if (!target.latchManaged) return;
    const userId = await this.userIdOrNull(input.grantee);
    if (userId === null || await this.heldElsewhere(input.stillHeld, target.account.id, target.set)) return;
    await this.assignments.delete({ accountId: target.account.id, permissionSetArn: target.set.arn, userId }, this.label(target, input.grantee));
  }

  /** The assignment has no end of its own; the revoke job moves with the extension. */
  async extend(input: GrantInput): Promise<void> {
    const target = await this.target(input.resource, input.permission, input.permissionSettings, false);
    if (!input.principal.startsWith(STANDING)) await this.shortenSessions(target, input.expiresAt);
  }

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const target = await this.target(input.resource, input.permission, input.permissionSettings, false);
    const userId = parsePrincipal(input.principal.replace(STANDING, ''))?.userId ?? await this.userIdOrNull(input.grantee);
    if (userId === null) return 'absent';
    return await this.assignments.exists({ accountId: target.account.id, permissionSetArn: target.set.arn, userId }) ? 'present' : 'absent';
  }

  /** Every user assignment of the Latch-managed permission sets, in the accounts they are provisioned to. */
  async listManaged(): Promise<ManagedPrincipal[]> {
    const sets = await this.permissionSets.get();
    const managedNames = new Set<string>();
    for (const resource of this.integration.resources) {
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        const named = permissionSetOf(this.integration, resource, permission, settings);
        const set = named.latchManaged ? findPermissionSet(sets, named.name, named.exact) : null;
        if (set) managedNames.add(set.name);
      }
    }
    const found: ManagedPrincipal[] = [];
    for (const set of sets.filter((candidate) => managedNames.has(candidate.name))) {
      for (const accountId of await this.assignments.provisionedAccounts(set.arn)) {
        for (const userId of await this.assignments.list(accountId, set.arn)) {
          found.push({ principal: `${accountId}/${set.name}/${userId}`, reference: `latch-managed permission set ${set.name}`, expiresAt: null });
        }
      }
    }
    return found;
  }

  /** An assignment of a Latch-managed permission set the store does not know: Latch's to remove. */
  async removeOrphan(_integration: Integration, principal: string): Promise<void> {
    const parsed = parsePrincipal(principal);
    if (!parsed) throw new AwsProvisionerError(`integration "${this.integration.name}": ${principal} is not an Identity Center assignment Latch manages`);
    const set = (await this.permissionSets.get()).find((candidate) => candidate.name === parsed.permissionSet);
    if (!set) return;
    await this.assignments.delete({ accountId: parsed.accountId, permissionSetArn: set.arn, userId: parsed.userId }, `${set.name} in account ${parsed.accountId} from user ${parsed.userId}`);
  }

  checkRequest(resource: Resource, permission: string, settings: Record<string, unknown>): string | null {
    try {
      resourceAccount(this.integration, resource);
      permissionSetOf(this.integration, resource, permission, settings);
      return null;
    } catch (error) {
      return awsErrorMessage(error);
    }
  }

  async checkExisting(grantee: string, resource: Resource, permission: string, settings: Record<string, unknown>): Promise<{ kind: 'held' | 'refused'; message: string } | null> {
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.checkBudgetMs);
    });
    const checking = this.existing(grantee, resource, permission, settings);
    checking.catch(() => undefined);
    try {
      return await Promise.race([checking, outOfTime]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async existing(grantee: string, resource: Resource, permission: string, settings: Record<string, unknown>): Promise<{ kind: 'held' | 'refused'; message: string } | null> {
    let target: Target;
    let userId: string;
    try {
      target = await this.target(resource, permission, settings);
      userId = await this.userId(grantee);
    } catch (error) {
      if (error instanceof AwsSettingsError || error instanceof IdentityStoreUserNotFound) return { kind: 'refused', message: error.message };
      throw error;
    }
    if (!await this.assignments.exists({ accountId: target.account.id, permissionSetArn: target.set.arn, userId })) return null;
    return { kind: 'held', message: `${target.set.name} in AWS account ${target.account.name} (${target.account.id}) is assigned to you in IAM Identity Center outside Latch; sign in at ${this.connection.portalUrl}.` };
  }

  /**
   * Every account in scope with every permission set, named as the config names them: a
   * configured account by its resource, with its permissions whose permission set exists;
   * the rest by the names a config would give them (lower case), to copy from.
   */
  async listResources(): Promise<ResourceOffer[]> {
    const [accounts, sets] = await Promise.all([this.accounts.get(), this.permissionSets.get()]);
    const configName = (text: string): string => text.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
    const offers: ResourceOffer[] = [];
    for (const account of accounts.filter((candidate) => outsideScope(this.scope, candidate) === null)) {
      const resource = this.integration.resources.find((candidate) => {
        try {
          return findAccount([account], resourceAccount(this.integration, candidate)) !== null;
        } catch {
          return false;
        }
      });
      const named = new Map<string, string>();
      for (const [permission, settings] of Object.entries(resource?.permissions ?? {})) {
        try {
          const wanted = permissionSetOf(this.integration, resource as Resource, permission, settings);
          const set = findPermissionSet(sets, wanted.name, wanted.exact);
          if (set) named.set(set.name, permission);
        } catch {
          // A permission the config gets wrong is not offered; the health check names it.
        }
      }
      offers.push({
        name: resource?.name ?? configName(account.name), description: `AWS account ${account.id} (${account.name})`,
        permissions: [...named.values(), ...sets.filter((set) => !named.has(set.name)).map((set) => configName(set.name))],
      });
    }
    return offers;
  }

  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    const checks: HealthCheck[] = [];
    try {
      const identity = await this.clients.connectorIdentity();
      checks.push({ name: 'connector', ok: true, detail: `Latch calls AWS as ${identity.arn}` });
    } catch (error) {
      return { ok: false, checks: [{ name: 'connector', ok: false, detail: awsErrorMessage(error) }] };
    }
    for (const resource of this.integration.resources) {
      for (const [permission, settings] of Object.entries(resource.permissions)) {
        try {
          const target = await this.target(resource, permission, settings);
          checks.push({ name: `${resource.name}/${permission}`, ok: true, detail: `${target.set.name} in ${target.account.name} (${target.account.id}); sessions last ${formatDuration(target.set.sessionDurationMs)}` });
        } catch (error) {
          checks.push({ name: `${resource.name}/${permission}`, ok: false, detail: awsErrorMessage(error) });
        }
      }
    }
    return { ok: checks.every((check) => check.ok), checks };
  }

  async close(): Promise<void> {
    this.clients.destroy();
  }

  /** The account and permission set of a grant, looked up (again, once, when the cache does not know them). */
  private async target(resource: Resource, permission: string, settings: unknown, inScope = true): Promise<Target> {
    const wanted = resourceAccount(this.integration, resource);
    const named = permissionSetOf(this.integration, resource, permission, settings);
    let account = findAccount(await this.accounts.get(), wanted);
    if (!account) account = findAccount(await this.accounts.fresh(), wanted);
    if (!account) throw new AwsSettingsError(`integration "${this.integration.name}" resource "${resource.name}": the organization has no account ${JSON.stringify(wanted)} (by id or name)`);
    // A revoke still takes away what Latch gave in an account that has left the scope since.
    const outside = inScope ? outsideScope(this.scope, account) : null;
    if (outside) throw new AwsSettingsError(`integration "${this.integration.name}" resource "${resource.name}": ${outside}`);
    let set = findPermissionSet(await this.permissionSets.get(), named.name, named.exact);
    if (!set) set = findPermissionSet(await this.permissionSets.fresh(), named.name, named.exact);
    if (!set) throw new AwsSettingsError(`integration "${this.integration.name}" resource "${resource.name}" permission "${permission}": Identity Center instance ${this.connection.instanceArn} has no permission set named ${JSON.stringify(named.name)}`);
    return { account, set, latchManaged: named.latchManaged };
  }

  /** Whether another active grant of the person needs the same assignment (same account, same permission set). */
  private async heldElsewhere(stillHeld: readonly HeldPermission[] | undefined, accountId: string, set: PermissionSet): Promise<boolean> {
    if (!stillHeld || stillHeld.length === 0) return false;
    const accounts = await this.accounts.get();
    return stillHeld.some((held) => {
      try {
        const named = permissionSetOf(this.integration, held.resource, held.permission, held.permissionSettings);
        const sameSet = named.exact ? named.name === set.name : named.name.toLowerCase() === set.name.toLowerCase();
        return sameSet && findAccount(accounts, resourceAccount(this.integration, held.resource))?.id === accountId;
      } catch {
        return false;
      }
    });
  }

  private async permissionSetNamed(name: string): Promise<PermissionSet | null> {
    const cached = (await this.permissionSets.get()).find((set) => set.name === name);
    if (cached) return cached;
    return (await this.permissionSets.fresh()).find((set) => set.name === name) ?? null;
  }

  private userId(email: string): Promise<string> {
    return identityStoreUserId(this.clients, this.integration.name, this.connection.identityStoreId, email);
  }

  private async userIdOrNull(email: string): Promise<string | null> {
    try {
      return await this.userId(email);
    } catch (error) {
      if (error instanceof IdentityStoreUserNotFound) return null;
      throw error;
    }
  }

  /** A Latch-managed permission set whose sessions would outlive the access is shortened, when the config allows. */
  private async shortenSessions(target: Target, expiresAt: number): Promise<void> {
    const left = expiresAt - this.now();
    if (!this.connection.lowerSessionDuration || !target.latchManaged || target.set.sessionDurationMs <= left) return;
    const duration = isoHours(left);
    if (duration === target.set.sessionDuration) return;
    await lowerSessionDuration(this.clients, this.integration.name, this.connection.instanceArn, target.set, duration, this.sleep);
  }

  private label(target: Target, grantee: string): string {
    return `${target.set.name} in account ${target.account.name} (${target.account.id}) to ${grantee}`;
  }

  private profileName(target: Target): string {
    return `${this.connection.profile}-${target.account.name}-${target.set.name}`.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 64);
  }

  private details(target: Target): Record<string, string> {
    return {
      accountId: target.account.id, accountName: target.account.name, permissionSet: target.set.name, portalUrl: this.connection.portalUrl,
      region: this.connection.region, profile: this.profileName(target), sessionDuration: formatDuration(target.set.sessionDurationMs),
    };
  }

  private instructions(target: Target, expiresAt: number, standing: boolean): string {
    const until = new Date(expiresAt).toISOString().slice(0, 16).replace('T', ' ');
    const profile = this.profileName(target);
    const left = expiresAt - this.now();
    const lines = [
      standing
        ? `You already had ${target.set.name} in AWS account ${target.account.name} (${target.account.id}) through IAM Identity Center; Latch added nothing and will not remove it.`
        : `${target.set.name} in AWS account ${target.account.name} (${target.account.id}) through IAM Identity Center, until ${until} UTC.`,
      `Sign in at the AWS access portal: ${this.connection.portalUrl} (choose ${target.account.name}, then ${target.set.name}), or with the AWS CLI: add this to ~/.aws/config`,
      '```',
      `[profile ${profile}]`,
      `sso_session = ${this.connection.profile}`,
      `sso_account_id = ${target.account.id}`,
      `sso_role_name = ${target.set.name}`,
      `region = ${this.connection.region}`,
      '',
      `[sso-session ${this.connection.profile}]`,
      `sso_start_url = ${this.connection.portalUrl}`,
      `sso_region = ${this.connection.ssoRegion ?? this.connection.region}`,
      'sso_registration_scopes = sso:account:access',
      '```',
      `then run \`aws sso login --profile ${profile}\` and use \`--profile ${profile}\` with every command.`,
      `Sessions of ${target.set.name} last ${formatDuration(target.set.sessionDurationMs)}.`,
    ];
    if (!standing && target.set.sessionDurationMs > left) {
      lines.push(`That is longer than your access: a session you start near the end keeps working until its own end (at most ${formatDuration(target.set.sessionDurationMs)} after you start it), even after the assignment is removed.`);
    }
    return lines.join('\n');
  }
}

function principalOf(target: Target, userId: string): string {
  return `${target.account.id}/${target.set.name}/${userId}`;
}

/** ACCOUNT/PERMISSION-SET/USER-ID, or null for anything else (a name Latch generated before the grant landed). */
function parsePrincipal(principal: string): { accountId: string; permissionSet: string; userId: string } | null {
  const match = /^(\d{12})\/([\w+=,.@-]{1,32})\/([\w-]{1,64})$/.exec(principal);
  return match ? { accountId: match[1] ?? '', permissionSet: match[2] ?? '', userId: match[3] ?? '' } : null;
}

export const createAwsIdentityCenterProvisioner: ProvisionerFactory = (integration, env) => new AwsIdentityCenterProvisioner(integration, env);
