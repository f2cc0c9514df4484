// Session policies: what narrows a role session to the permission asked for. AWS checks
// their size only when AssumeRole is called, and then answers with a bare
// PackedPolicyTooLarge; Latch measures them first, so an over-large permission is refused
// when it is requested (with what to remove), not after someone approved it.

/** AssumeRole: the inline policy and the managed policy ARNs together, as plain text. */
export const MAX_SESSION_POLICY_CHARS = 2048;
/** AssumeRole: at most this many managed policy ARNs. */
export const MAX_POLICY_ARNS = 10;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface SessionPolicy {
  /** The inline session policy, minified as it is sent; null for none. */
  inline: string | null;
  /** Its statements, for saying which ones are large. */
  statements: { label: string; chars: number }[];
  arns: string[];
}

export class SessionPolicyError extends Error {
  override name = 'SessionPolicyError';
}

/** Statements as the config wrote them (an object or its JSON text), checked to be a policy. */
export function parsePolicyDocument(value: string | Record<string, unknown>, where: string): { Version?: unknown; Statement: Record<string, unknown>[] } {
  let document: unknown = value;
  if (typeof value === 'string') {
    try {
      document = JSON.parse(value);
    } catch (error) {
      throw new SessionPolicyError(`${where}: the policy is not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new SessionPolicyError(`${where}: the policy must be a JSON object with Version and Statement`);
  const { Version, Statement } = document as Record<string, unknown>;
  if (Version !== undefined && Version !== '2012-10-17') throw new SessionPolicyError(`${where}: the policy's Version must be "2012-10-17"`);
  const statements = Array.isArray(Statement) ? Statement : Statement !== undefined ? [Statement] : [];
  if (statements.length === 0) throw new SessionPolicyError(`${where}: the policy has no Statement`);
  for (const [index, statement] of statements.entries()) {
    if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) throw new SessionPolicyError(`${where}: Statement[${index}] is not an object`);
    const { Effect, Action, NotAction } = statement as Record<string, unknown>;
    if (Effect !== 'Allow' && Effect !== 'Deny') throw new SessionPolicyError(`${where}: Statement[${index}] needs Effect "Allow" or "Deny"`);
    if (Action === undefined && NotAction === undefined) throw new SessionPolicyError(`${where}: Statement[${index}] names no Action`);
  }
  return { Version, Statement: statements as Record<string, unknown>[] };
}

/** Joins statements into the one inline policy a session carries, minified. */
export function sessionPolicy(statements: readonly (PolicyStatement | Record<string, unknown>)[], arns: readonly string[] = []): SessionPolicy {
  const unique = [...new Set(arns)];
  if (statements.length === 0) return { inline: null, statements: [], arns: unique };
  const inline = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const labelled = statements.map((statement, index) => {
    const sid = typeof statement.Sid === 'string' ? statement.Sid : null;
    return { label: sid ? `statement "${sid}"` : `statement ${index + 1}`, chars: JSON.stringify(statement).length };
  });
  return { inline, statements: labelled, arns: unique };
}

/** The characters AWS counts against MAX_SESSION_POLICY_CHARS. */
export function policyChars(policy: SessionPolicy): number {
  return (policy.inline?.length ?? 0) + policy.arns.reduce((sum, arn) => sum + arn.length, 0);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Why AWS would refuse this session policy, with what to take out, or null when it fits.
 * The message is for the requester and the integration's owner.
 */
export function sessionPolicyProblem(policy: SessionPolicy, what: string): string | null {
  if (policy.arns.length > MAX_POLICY_ARNS) {
    const extra = policy.arns.length - MAX_POLICY_ARNS;
    return `${what} names ${policy.arns.length} managed policies, and AWS allows at most ${MAX_POLICY_ARNS} in one session: remove ${extra} of them (${policy.arns.slice(MAX_POLICY_ARNS).join(', ')}), or combine them into one managed policy.`;
  }
  // Characters outside what IAM accepts in a policy would make AWS reject it as malformed.
  if (policy.inline !== null && /[^\u0009\u000A\u000D\u0020-\u00FF]/.test(policy.inline)) {
    return `${what} has characters IAM does not accept in a policy (only \\u0020-\\u00FF, tab and line breaks): remove them.`;
  }
  const chars = policyChars(policy);
  if (chars <= MAX_SESSION_POLICY_CHARS) return null;
  const parts = [
    ...policy.statements.map((statement) => ({ label: statement.label, chars: statement.chars })),
    ...policy.arns.map((arn) => ({ label: `managed policy ${arn}`, chars: arn.length })),
  ].sort((a, b) => b.chars - a.chars).slice(0, 3);
  return `${what} needs a session policy of ${count(chars)} characters, and AWS allows ${count(MAX_SESSION_POLICY_CHARS)} for the inline policy and managed policy ARNs together: `
    + `remove at least ${count(chars - MAX_SESSION_POLICY_CHARS)} characters. The largest parts are ${parts.map((part) => `${part.label} (${count(part.chars)})`).join(', ')}. `
    + 'Ask for a narrower permission, or let the owner move statements into a managed policy.';
}
