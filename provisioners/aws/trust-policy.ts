// What a role's trust policy lets its callers do besides assuming it. Latch tags every
// session and sets SourceIdentity; AWS refuses AssumeRole with AccessDenied unless the
// statement that lets the connector in also allows sts:TagSession and sts:SetSourceIdentity.
// The connector may not be named literally (an account root, a condition on the org), so
// this reads every Allow statement that grants sts:AssumeRole.

export const SESSION_ACTIONS = ['sts:TagSession', 'sts:SetSourceIdentity'] as const;

function actions(statement: Record<string, unknown>): string[] {
  const value = statement.Action;
  return (Array.isArray(value) ? value : [value]).filter((action): action is string => typeof action === 'string').map((action) => action.toLowerCase());
}

function allows(granted: string[], action: string): boolean {
  const wanted = action.toLowerCase();
  return granted.some((pattern) => pattern === '*' || pattern === 'sts:*' || pattern === wanted);
}

/** The session actions the trust policy's AssumeRole statements do not allow; null when it cannot be read. */
export function missingSessionActions(trustPolicy: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(trustPolicy);
  } catch {
    return null;
  }
  const raw = (parsed as { Statement?: unknown }).Statement;
  const statements = (Array.isArray(raw) ? raw : [raw]).filter((statement): statement is Record<string, unknown> => typeof statement === 'object' && statement !== null);
  const assume = statements.filter((statement) => statement.Effect === 'Allow' && allows(actions(statement), 'sts:AssumeRole'));
  if (assume.length === 0) return [...SESSION_ACTIONS];
  return SESSION_ACTIONS.filter((action) => !assume.some((statement) => allows(actions(statement), action)));
}
