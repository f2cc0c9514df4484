import { randomBytes } from 'node:crypto';

// 64 symbols, so one random byte masked to 6 bits picks one without bias. URL-safe and free
// of quotes and backslashes, so the password survives connection strings, shells and any
// sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) unchanged.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LENGTH = 32; // 32 × 6 = 192 random bits

/**
 * A fresh password for one grant: 192 bits from the operating system's CSPRNG. It always
 * holds an upper-case letter, a lower-case letter, a digit and a symbol, so MySQL's
 * validate_password component (MEDIUM policy) accepts it; the few draws without them are
 * thrown away, which costs less than two bits of the 192.
 */
export function generatePassword(): string {
  for (;;) {
    let password = '';
    for (const byte of randomBytes(LENGTH)) password += ALPHABET[byte & 63];
    if (/[A-Z]/.test(password) && /[a-z]/.test(password) && /[0-9]/.test(password) && /[-_]/.test(password)) return password;
  }
}
