import type { Instant } from '../../core/types.js';

// Where a kept (revoked, locked, stripped) account records how long it is kept.
//
// Latch recognises its accounts by their name (`<instance>_...`), which cannot carry an
// instant, and neither server has a comment both share: MySQL 8.0.21+ has COMMENT/ATTRIBUTE,
// MariaDB has nothing of the kind, and a side table would need write access to some schema
// and could disagree with the grant tables. What both servers do store per account, that
// the connector may set with CREATE USER alone and already reads in mysql.user, is the TLS
// requirement: `REQUIRE ISSUER '<text>'` (mysql.user.x509_issuer). Latch writes its marker
// there. The choice also locks the door twice: on top of ACCOUNT LOCK, a login would need a
// client certificate issued by a "latch-managed ..." authority, which does not exist.
// A grant of the account (a retry) sets REQUIRE NONE again, as it was created.

const MARKER = 'latch-managed';

export interface RetentionMarker {
  request: string | null;
  grant: string | null;
  retainedUntil: Instant;
}

export function retentionMarker(requestId: string, grantId: string, retainedUntil: Instant): string {
  return `${MARKER} request=${requestId} grant=${grantId} retained-until=${new Date(retainedUntil).toISOString()}`;
}

/** The marker of a kept account from mysql.user.x509_issuer (a string on MariaDB, a BLOB on MySQL); null for any other account. */
export function parseRetentionMarker(issuer: unknown): RetentionMarker | null {
  const text = Buffer.isBuffer(issuer) ? issuer.toString('utf8') : typeof issuer === 'string' ? issuer : '';
  if (!text.startsWith(`${MARKER} `)) return null;
  const retainedUntil = Date.parse(/\bretained-until=(\S+)/.exec(text)?.[1] ?? '');
  if (!Number.isFinite(retainedUntil)) return null;
  return { request: /\brequest=(\S+)/.exec(text)?.[1] ?? null, grant: /\bgrant=(\S+)/.exec(text)?.[1] ?? null, retainedUntil };
}
