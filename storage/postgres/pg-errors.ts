// PostgreSQL's SQLSTATE of an error, whether the driver's own or wrapped by drizzle (its
// DrizzleQueryError keeps the driver's error as `cause`).
export function pgErrorOf(error: unknown): { code: string; constraint?: string } | null {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return { code, constraint: (current as { constraint?: string }).constraint };
  }
  return null;
}

/** A unique index refused the row: 23505, on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pg = pgErrorOf(error);
  return pg?.code === '23505' && pg.constraint === constraint;
}

/** Deadlock detected or serialization failure: the transaction did nothing and may simply run again. */
export function isRetryableConflict(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  return code === '40P01' || code === '40001';
}
