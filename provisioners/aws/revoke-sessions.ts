import { GetRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, describeAwsError, isCode } from './errors.js';
import { TAG_GRANT } from './session-identity.js';
import type { PolicyDocument, PolicyStatement } from './session-policy.js';
import { roleParts } from './settings.js';

// STS credentials cannot be recalled. What AWS offers instead ("revoke older sessions") is
// an inline deny on the role for every session whose token was issued before a moment; IAM
// applies it to calls already signed with those credentials, within minutes (IAM is
// eventually consistent). Latch narrows each deny to one grant with the session tag it put
// on every session (aws:PrincipalTag/latch-grant), so revoking one person leaves the other
// sessions on a shared role alone. A statement is dropped once every session it could
// match has expired anyway; if the role's inline policies would grow past IAM's limit,
// the policy falls back to AWS's own form, a deny for every session issued before now,
// which fails closed (everyone else fetches new credentials with /access credentials).

/** Sessions never outlive this (AWS's longest MaxSessionDuration), plus clock slack. */
const LONGEST_SESSION_MS = 43_200_000 + 5 * 60_000;
/** IAM: the inline policies of one role together (we keep ours well under it). */
const MAX_ROLE_POLICY_CHARS = 10_240;
const SID_PREFIX = 'LatchRevoked';

export function revocationPolicyName(instance: string): string {
  return `${instance}-revoked-sessions`;
}

/** A moment as IAM compares it: whole seconds, UTC. */
export function issueTime(at: number): string {
  return `${new Date(Math.floor(at / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

export function revocationStatement(grantId: string, at: number): PolicyStatement {
  return {
    Sid: `${SID_PREFIX}${grantId.replace(/[^A-Za-z0-9]/g, '')}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      DateLessThan: { 'aws:TokenIssueTime': issueTime(at) },
      StringEquals: { [`aws:PrincipalTag/${TAG_GRANT}`]: grantId },
    },
  };
}

/** AWS's own revoke-older-sessions statement: every session issued before `at`. */
export function revokeAllStatement(at: number): PolicyStatement {
  return { Sid: `${SID_PREFIX}All`, Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': issueTime(at) } } };
}

function issuedBefore(statement: PolicyStatement): number {
  const value = statement.Condition?.DateLessThan?.['aws:TokenIssueTime'];
  const at = Date.parse(typeof value === 'string' ? value : '');
  return Number.isFinite(at) ? at : 0;
}

/**
 * The policy after revoking `grantId` at `at`: the grant's statement added (or moved to the
 * later time), statements no session can match any more removed.
 */
export function nextRevocationPolicy(current: PolicyDocument | null, grantId: string, at: number): PolicyDocument {
  const fresh = revocationStatement(grantId, at);
  const kept = (current?.Statement ?? []).filter((statement) => statement.Sid !== fresh.Sid && issuedBefore(statement) > at - LONGEST_SESSION_MS);
  const next: PolicyDocument = { Version: '2012-10-17', Statement: [...kept, fresh] };
  if (JSON.stringify(next).length <= MAX_ROLE_POLICY_CHARS / 2) return next;
  return { Version: '2012-10-17', Statement: [revokeAllStatement(at)] };
}

function parseDocument(text: string | undefined): PolicyDocument | null {
  if (!text) return null;
  try {
    const parsed = JSON.parse(decodeURIComponent(text)) as { Statement?: unknown };
    const statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
    return { Version: '2012-10-17', Statement: statements as PolicyStatement[] };
  } catch {
    // Not ours to understand: replace it with a policy that still denies what must be denied.
    return null;
  }
}

/**
 * Revokes on one role, one at a time: the policy is read, changed and written back, and two
 * revokes interleaving would each write the other's statement away. Keyed by the policy
 * (instance and role), so revokes on different roles still go side by side.
 */
const queues = new Map<string, Promise<void>>();

function serially(key: string, work: () => Promise<void>): Promise<void> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(work);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** Denies every session of `grantId` on the role issued before `at`. Idempotent. */
export function revokeOlderSessions(clients: AwsClients, integration: string, roleArn: string, grantId: string, at: number): Promise<void> {
  return serially(`${clients.connection.instance}:${roleArn}`, () => writeRevocation(clients, integration, roleArn, grantId, at));
}

/** How often a revocation is written again when another writer's policy replaced it. */
const WRITE_ATTEMPTS = 3;

async function readPolicy(clients: AwsClients, roleName: string, policyName: string, where: string): Promise<PolicyDocument | null> {
  try {
    const answer = await clients.iam().send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
    return parseDocument(answer.PolicyDocument);
  } catch (error) {
    if (isCode(error, 'NoSuchEntity')) return null;
    throw describeAwsError(error, `${where}: reading it (iam:GetRolePolicy)`, null);
  }
}

/** Whether the policy denies the grant's sessions issued before `at` (its own statement, or the blanket one). */
function denies(policy: PolicyDocument | null, grantId: string, at: number): boolean {
  const own = revocationStatement(grantId, at).Sid;
  return (policy?.Statement ?? []).some((statement) => (statement.Sid === own || statement.Sid === `${SID_PREFIX}All`) && issuedBefore(statement) >= Math.floor(at / 1000) * 1000);
}

/**
 * Read, add, write, and read again: another Latch process revoking on the same role at the
 * same moment could have written its version over ours. The revoke is done only once the
 * policy is seen to hold the deny.
 */
async function writeRevocation(clients: AwsClients, integration: string, roleArn: string, grantId: string, at: number): Promise<void> {
  const roleName = roleParts(roleArn).name;
  const policyName = revocationPolicyName(clients.connection.instance);
  const where = `integration "${integration}": revoking the sessions of grant ${grantId} on ${roleArn} (inline policy ${policyName})`;
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt += 1) {
    const next = nextRevocationPolicy(await readPolicy(clients, roleName, policyName, where), grantId, at);
    try {
      await clients.iam().send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(next) }));
    } catch (error) {
      if (isCode(error, 'NoSuchEntity')) return; // The role is gone, and every session of it with it.
      const described = describeAwsError(error, `${where}: writing it (iam:PutRolePolicy)`, null);
      throw new AwsProvisionerError(`${described.message} Until it is written, the grant's credentials keep working until they expire.`, described.code, { cause: error });
    }
    if (denies(await readPolicy(clients, roleName, policyName, where), grantId, at)) return;
  }
  throw new AwsProvisionerError(`${where}: another writer kept replacing the policy, ${WRITE_ATTEMPTS} times; the revoke is retried. Until it holds, the grant's credentials keep working until they expire.`);
}
