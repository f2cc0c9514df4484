import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

// PostgreSQL accepts a pre-computed SCRAM-SHA-256 verifier in CREATE/ALTER ROLE ... PASSWORD
// and stores it as it is. Computing it here means the plaintext password never travels to
// the server, so it cannot end up in the server log (log_statement = ddl), in
// pg_stat_statements or in a replica's stream: only Latch and the grantee ever see it.

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's own default (scram_iterations in PG 16+). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScramVerifierParts {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** 24 random bytes (192 bits), base64url: safe in a shell, a URI and a libpq connection string. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` as RFC 5802 / RFC 7677 define
 * it and PostgreSQL stores it in pg_authid.rolpassword. SASLprep is the identity for the
 * ASCII passwords Latch generates, so the password bytes are used as they are.
 */
export async function scramSha256Verifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): Promise<string> {
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const { storedKey, serverKey } = await scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

async function scramKeys(password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return { storedKey, serverKey };
}

/** Splits a stored verifier into its parts; null when it is not a SCRAM-SHA-256 verifier. */
export function parseScramVerifier(verifier: string): ScramVerifierParts | null {
  const match = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!match?.[1] || !match[2] || !match[3] || !match[4]) return null;
  return { iterations: Number(match[1]), salt: Buffer.from(match[2], 'base64'), storedKey: Buffer.from(match[3], 'base64'), serverKey: Buffer.from(match[4], 'base64') };
}

/** Whether `password` is the one a stored verifier was made from (what the server checks at login). */
export async function verifyScramPassword(verifier: string, password: string): Promise<boolean> {
  const parts = parseScramVerifier(verifier);
  if (!parts) return false;
  const { storedKey, serverKey } = await scramKeys(password, parts.salt, parts.iterations);
  return storedKey.length === parts.storedKey.length && timingSafeEqual(storedKey, parts.storedKey) && timingSafeEqual(serverKey, parts.serverKey);
}
