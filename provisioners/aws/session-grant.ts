import type { GrantInput, GrantOutput, RevokeInput } from '../provisioner.js';
import type { AwsClients } from './clients.js';
import { consoleSignInUrl } from './console-url.js';
import { revokeOlderSessions } from './revoke-sessions.js';
import type { RoleSession, RoleSessions, SessionTarget } from './role-session.js';
import type { SessionPolicy } from './session-policy.js';
import { roleParts } from './settings.js';

// What the three AWS provisioners share once they know which role to assume with which
// session policy: issue the session, turn it into the grantee's DM (credentials, a console
// link, how to use them, when they end and how to get the next ones), and revoke it.

export interface SessionGrantPlan {
  target: SessionTarget;
  policy: SessionPolicy;
  /** Extra lines for the DM (the S3 bucket, how to get an RDS token). */
  instructions?: string[];
  /** Extra non-secret facts for the access-details template. */
  details?: Record<string, string>;
  /** Include a console sign-in link (default true; pointless where the session only signs database tokens). */
  console?: boolean;
}

function when(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export class SessionGrants {
  constructor(
    private readonly integration: string,
    private readonly clients: AwsClients,
    private readonly sessions: RoleSessions,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** A fresh session for the grant, as the grantee's DM shows it. Also what `/access credentials` sends. */
  async issue(input: GrantInput, plan: SessionGrantPlan): Promise<GrantOutput> {
    const what = `${input.permission} on ${input.resource.name}`;
    const session = await this.sessions.issue(plan.target, plan.policy, {
      grantee: input.grantee, requestId: input.requestId, grantId: input.grantId, expiresAt: input.expiresAt, what,
    });
    const { connection } = this.clients;
    const consoleUrl = plan.console === false ? null : await consoleSignInUrl(roleParts(plan.target.roleArn).partition, session, connection.consoleDestination, `latch-${connection.instance}`, this.fetcher);
    return {
      principal: session.assumedRoleArn,
      secrets: {
        AWS_ACCESS_KEY_ID: session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
        AWS_SESSION_TOKEN: session.sessionToken,
        ...(consoleUrl === null ? {} : { 'Console sign-in (valid 15 minutes)': consoleUrl }),
      },
      details: {
        roleArn: plan.target.roleArn,
        region: connection.region,
        profile: connection.profile,
        credentialsExpire: new Date(session.expiresAt).toISOString(),
        ...plan.details,
      },
      instructions: this.instructions(input, session, plan),
    };
  }

  /** The DM's text: how to use the credentials, when they end, what an early revoke means. */
  instructions(input: { requestId: string; expiresAt: number }, session: RoleSession, plan: SessionGrantPlan): string {
    const { profile, region } = this.clients.connection;
    const lines = [
      `Role session ${session.assumedRoleArn} in ${region}.`,
      `Use it: aws configure set aws_access_key_id <AWS_ACCESS_KEY_ID> --profile ${profile}; the same for aws_secret_access_key and aws_session_token; then aws --profile ${profile} sts get-caller-identity.`,
      `These credentials work until ${when(session.expiresAt)}.`,
      session.refreshable
        ? `Your access lasts until ${when(input.expiresAt)}, longer than AWS allows one session${session.chained ? ' (one hour when reached through another role)' : ''}: get the next credentials with /access credentials ${input.requestId} when these run out.`
        : `They end with your access; if it is extended, get credentials for the added time with /access credentials ${input.requestId}.`,
      `If the access is revoked early, AWS stops these credentials${plan.console === false ? '' : ' (and the console session)'} within a few minutes, not at once.`,
      ...(plan.instructions ?? []),
    ];
    return lines.join('\n');
  }

  async revoke(input: RevokeInput, roleArn: string, at: number): Promise<void> {
    await revokeOlderSessions(this.clients, this.integration, roleArn, input.grantId, at);
  }
}
