import { randomBytes } from 'node:crypto';

const SAFE = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A backend principal name that is safe in every SQL dialect without quoting surprises:
 * `<instance>_<person>_<random>`, lower-case letters, digits and `_` only, never raw chat
 * text, at most 32 characters (MySQL's user-name limit; PostgreSQL allows 63).
 */
export function principalName(instance: string, email: string): string {
  const person = email.split('@')[0]?.toLowerCase().replace(/[^a-z0-9]+/g, '').slice(0, 12) || 'user';
  const bytes = randomBytes(6);
  let suffix = '';
  for (const byte of bytes) suffix += SAFE[byte % SAFE.length];
  return `${instance}_${person}_${suffix}`.slice(0, 32);
}
