import { GetRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, awsErrorMessage, describeAwsError, isAccessDenied, isCode } from './errors.js';
import { roleSessionName, sessionTags, sourceIdentity } from './session-identity.js';
import { sessionPolicyProblem, type SessionPolicy } from './session-policy.js';
import { roleParts } from './settings.js';

// One role session for one grant: AssumeRole with the session policy of the permission,
// tagged with who it is for, lasting exactly as long as the access has left, within what
// AWS allows (at least 15 minutes, at most the role's MaxSessionDuration, one hour when
// chained). Access that lasts longer than one session is refreshable: the person asks for
// the next session with `/access credentials ID` and gets one for what is left then.

/** AWS's shortest role session. */
export const MIN_SESSION_SECONDS = 900;
/** The cap on a session assumed by a role session (role chaining). */
export const CHAINED_SESSION_SECONDS = 3600;
/** How long a role's MaxSessionDuration read with iam:GetRole is trusted. */
const ROLE_FACTS_TTL_MS = 10 * 60_000;

export interface SessionTarget {
  roleArn: string;
  externalId?: string | undefined;
  /** The role's MaxSessionDuration from the config; read with iam:GetRole when absent. */
  maxSessionDuration?: number | undefined;
}

export interface SessionFor {
  grantee: string;
  requestId: string;
  grantId: string;
  expiresAt: number;
  /** The resource and permission, for messages. */
  what: string;
}

export interface RoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** When these credentials stop working. */
  expiresAt: number;
  durationSeconds: number;
  /** The access lasts longer than this session: the person fetches the next one. */
  refreshable: boolean;
  assumedRoleArn: string;
  /** Whether the session was assumed by a role session (one-hour cap, no console SessionDuration). */
  chained: boolean;
}

/** DurationSeconds for what is left of the access: clamped to [900, max]. */
export function sessionSeconds(remainingMs: number, maxSeconds: number): number {
  const remaining = Math.ceil(Math.max(0, remainingMs) / 1000);
  return Math.max(MIN_SESSION_SECONDS, Math.min(remaining, Math.max(MIN_SESSION_SECONDS, maxSeconds)));
}

export class RoleSessions {
  private readonly roleFacts = new Map<string, { at: number; facts: Promise<{ maxSessionDuration: number; trustPolicy: string | null }> }>();

  constructor(private readonly integration: string, private readonly clients: AwsClients, private readonly now: () => number = Date.now) {}

  /** The role's MaxSessionDuration and trust policy (iam:GetRole), cached for a while. */
  async role(roleArn: string): Promise<{ maxSessionDuration: number; trustPolicy: string | null }> {
    const cached = this.roleFacts.get(roleArn);
    if (cached && this.now() - cached.at < ROLE_FACTS_TTL_MS) return cached.facts;
    const facts = this.clients.iam().send(new GetRoleCommand({ RoleName: roleParts(roleArn).name })).then((answer) => ({
      maxSessionDuration: answer.Role?.MaxSessionDuration ?? CHAINED_SESSION_SECONDS,
      trustPolicy: answer.Role?.AssumeRolePolicyDocument ? decodeURIComponent(answer.Role.AssumeRolePolicyDocument) : null,
    }), (error: unknown) => {
      this.roleFacts.delete(roleArn);
      if (isAccessDenied(error)) {
        throw new AwsProvisionerError(`integration "${this.integration}": Latch may not read role ${roleArn} (iam:GetRole was denied), so it cannot tell the role's MaxSessionDuration. Allow iam:GetRole on the role, or set the resource's settings.maxSessionDuration (${awsErrorMessage(error)})`, 'AccessDenied', { cause: error });
      }
      throw describeAwsError(error, `integration "${this.integration}": reading role ${roleArn} (iam:GetRole)`, null);
    });
    this.roleFacts.set(roleArn, { at: this.now(), facts });
    return facts;
  }

  /** The longest session Latch may ask for on this role now. */
  async maxSeconds(target: SessionTarget): Promise<{ seconds: number; chained: boolean; source: string }> {
    const chained = await this.clients.chained();
    const configured = target.maxSessionDuration;
    const roleMax = configured ?? (await this.role(target.roleArn)).maxSessionDuration;
    const source = configured !== undefined ? 'settings.maxSessionDuration' : "the role's MaxSessionDuration";
    if (chained && roleMax > CHAINED_SESSION_SECONDS) return { seconds: CHAINED_SESSION_SECONDS, chained, source: 'the one-hour limit of role chaining' };
    return { seconds: roleMax, chained, source };
  }

  /** AssumeRole for one grant. The policy was measured by the caller; it is measured again here, before AWS sees it. */
  async issue(target: SessionTarget, policy: SessionPolicy, grant: SessionFor): Promise<RoleSession> {
    const where = `integration "${this.integration}": assuming ${target.roleArn} for ${grant.what}`;
    const problem = sessionPolicyProblem(policy, grant.what);
    if (problem) throw new AwsProvisionerError(`integration "${this.integration}": ${problem}`, 'PackedPolicyTooLarge');
    const remainingMs = grant.expiresAt - this.now();
    if (!Number.isFinite(remainingMs) || remainingMs <= 0) throw new AwsProvisionerError(`${where}: the access has already ended`);
    const max = await this.maxSeconds(target);
    const durationSeconds = sessionSeconds(remainingMs, max.seconds);
    let answer;
    try {
      answer = await this.clients.sts().send(new AssumeRoleCommand({
        RoleArn: target.roleArn,
        RoleSessionName: roleSessionName(grant.grantee),
        DurationSeconds: durationSeconds,
        ...(target.externalId ? { ExternalId: target.externalId } : {}),
        ...(policy.inline ? { Policy: policy.inline } : {}),
        ...(policy.arns.length > 0 ? { PolicyArns: policy.arns.map((arn) => ({ arn })) } : {}),
        Tags: sessionTags(grant.grantee, grant.requestId, grant.grantId),
        SourceIdentity: sourceIdentity(grant.grantee),
      }));
    } catch (error) {
      throw this.assumeError(error, where, target, durationSeconds, max);
    }
    const credentials = answer.Credentials;
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) throw new AwsProvisionerError(`${where}: AWS returned no credentials`);
    const expiresAt = credentials.Expiration?.getTime() ?? this.now() + durationSeconds * 1000;
    return {
      accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, sessionToken: credentials.SessionToken,
      expiresAt, durationSeconds, refreshable: grant.expiresAt > expiresAt, assumedRoleArn: answer.AssumedRoleUser?.Arn ?? target.roleArn, chained: max.chained,
    };
  }

  private assumeError(error: unknown, where: string, target: SessionTarget, asked: number, max: { seconds: number; source: string }): AwsProvisionerError {
    const text = awsErrorMessage(error);
    if (isCode(error, 'ValidationError') && /DurationSeconds exceeds/i.test(text)) {
      const chaining = /role chaining/i.test(text);
      const fix = chaining
        ? 'The connector reaches the role through another role session, which AWS caps at one hour; Latch will ask for one hour from now on.'
        : `Latch asked for ${asked} s because ${max.source} said ${max.seconds} s. Lower the resource's settings.maxSessionDuration, or raise the role's MaxSessionDuration (IAM > Roles > Maximum session duration).`;
      if (chaining) this.clients.markChained();
      return new AwsProvisionerError(`${where}: the role allows shorter sessions than Latch asked for (${asked} s). ${fix} (${text})`, 'ValidationError', { cause: error });
    }
    if (isCode(error, 'PackedPolicyTooLarge')) {
      return new AwsProvisionerError(`${where}: AWS refused the session policy as too large after packing (${text}). Ask for a narrower permission, or let the owner move statements into a managed policy.`, 'PackedPolicyTooLarge', { cause: error });
    }
    if (isCode(error, 'MalformedPolicyDocument')) {
      return new AwsProvisionerError(`${where}: AWS refused the session policy as malformed (${text}); fix the permission's policy in the config.`, 'MalformedPolicyDocument', { cause: error });
    }
    if (isAccessDenied(error)) {
      const action = /sts:(TagSession|SetSourceIdentity)/.exec(text)?.[0];
      const side = action
        ? `the role's trust policy lets the connector assume it but not ${action}; add "${action}" to the Action of the trust policy statement that names the connector (Latch tags every session and sets SourceIdentity)`
        : `either the connector's own IAM policy does not allow sts:AssumeRole on ${target.roleArn}, or the role's trust policy does not name the connector${target.externalId ? ' with this external id' : ''}, or it lacks sts:TagSession / sts:SetSourceIdentity`;
      return new AwsProvisionerError(`${where} was denied: ${side} (${text})`, 'AccessDenied', { cause: error });
    }
    return describeAwsError(error, where, this.clients.connection.region);
  }
}
