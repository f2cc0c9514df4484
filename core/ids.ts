import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O, U, so ids read aloud and typed from a screen survive.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let token = '';
  for (const byte of bytes) token += ALPHABET[byte & 31];
  return token;
}

/** Request ids are what people type (`/access revoke AR-7K3M9QX2`). */
export function newRequestId(): string {
  return `AR-${randomToken(8)}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomToken(16)}`;
}

/** Accepts what people type: any case, with or without the prefix, I/L/O read as 1/1/0. */
export function normalizeRequestId(text: string): string | null {
  // Strip the prefix only when an id follows it: an id typed bare may itself start with "AR".
  const compact = text.trim().toUpperCase().replace(/^AR-?(?=.{8}$)/, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return /^[0-9A-HJKMNP-TV-Z]{8}$/.test(compact) ? `AR-${compact}` : null;
}
