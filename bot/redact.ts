// What keeps secrets out of the logs. Three nets, each catching what the others cannot:
// field names (a `password` or `token` field is blanked wherever it is nested), patterns
// (tokens, JWTs, connection strings with a password, SQL password literals, found in any
// string: messages, error texts, URLs), and literals (the values of Latch's own secret
// environment variables, which have no recognisable shape: a Slack signing secret is 32
// hex digits, a Teams app password random text).
import { stdSerializers } from 'pino';
import type { LatchConfig } from '../config/schema.js';
import { sinkSecretEnv } from '../jobs/audit-sinks/create.js';

export const REDACTED = '[REDACTED]';

/**
 * A field is secret when its name, lower-cased without `-` and `_`, ends in one of these
 * (`password`, `dbPassword`, `client_secret`, `x-slack-signature`, `botToken`...). Numbers
 * and booleans stay: `withSecrets: 2` is a count, not a secret.
 */
const SECRET_KEY_ENDINGS = ['password', 'passwd', 'pwd', 'secret', 'secrets', 'token', 'tokens', 'apikey', 'privatekey', 'credential', 'credentials', 'signature', 'connectionstring', 'accesskey', 'sessionkey'];
const SECRET_KEYS = new Set(['authorization', 'proxyauthorization', 'cookie', 'setcookie', 'dsn', 'pass']);

export function isSecretKey(key: string): boolean {
  const normal = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.has(normal) || SECRET_KEY_ENDINGS.some((ending) => normal.endsWith(ending));
}

/** Environment variables whose value is a secret, by name: SLACK_BOT_TOKEN, MICROSOFT_APP_PASSWORD, ORDERS_PG_PASSWORD... */
const SECRET_ENV_NAME = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SECRET_?ACCESS_?KEY|CREDENTIALS?|CONNECTION_?STRING)$/i;
/** Shorter values would blank ordinary words; none of the secrets Latch holds is this short. */
const MIN_LITERAL = 8;

// No replacement removes a double quote, or a backslash that escapes one, so the patterns
// are as safe on a finished JSON line as on a plain string: the line stays valid JSON.
const PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host (postgres, postgresql, mysql, mariadb, mongodb, redis, amqp, https...).
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'\\]*:)[^\s"'\\]+@/gi, `$1${REDACTED}@`],
  // key=value: libpq and ADO.NET connection strings, query strings (PGPASSWORD=, client_secret=, sig=).
  [/\b([\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|session[_-]?key)|sig)(=)([^\s"'\\&;,]+)/gi, `$1$2${REDACTED}`],
  // "key": "value" with the value quoted (JSON quoted in an error text); unquoted values are left, so JSON stays JSON.
  [/\b([\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|session[_-]?key))((?:\\?["'])?\s*:\s*\\?["'])([^"'\\]+)/gi, `$1$2${REDACTED}`],
  // SQL password literals: PASSWORD '...', IDENTIFIED BY '...', and SCRAM verifiers.
  [/\b(PASSWORD|IDENTIFIED\s+(?:WITH\s+\S+\s+)?BY)(\s+)'(?:[^'"\\]|'')*'/gi, `$1$2'${REDACTED}'`],
  [/SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+/g, REDACTED],
  // Bearer tokens in a header that reached a message.
  [/\b(bearer\s+)[A-Za-z0-9\-._~+/]{20,}=*/gi, `$1${REDACTED}`],
  // JWTs: three base64url parts, the first two JSON objects ("eyJ").
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Slack: bot, user, app-level, refresh and configuration tokens; incoming webhook URLs.
  [/\bxox(?:[abposre]|e\.xox[a-z])-[A-Za-z0-9-]{8,}/g, REDACTED],
  [/\bxapp-[0-9]+-[A-Za-z0-9-]{8,}/g, REDACTED],
  [/(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9/_-]+/g, `$1${REDACTED}`],
  // Microsoft Entra (Azure AD) client secrets, which Teams app passwords are: "abc8Q~..." .
  [/\b[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}/g, REDACTED],
  // AWS STS session tokens, whatever they are labelled (a role session's third credential).
  [/\b(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9+/=]{16,}/g, REDACTED],
  // PEM private keys (in a JSON line their newlines are \n escapes).
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
];

/** Secret values known by their source rather than their shape, longest first so a secret containing another goes whole. */
const literals = new Set<string>();
let ordered: string[] = [];

export function rememberSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_LITERAL || literals.has(value)) return;
  literals.add(value);
  ordered = [...literals].sort((a, b) => b.length - a.length);
}

/** Every environment variable named like a secret, and the password of every URL among the values. */
export function rememberSecretsFrom(env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (SECRET_ENV_NAME.test(name)) rememberSecret(value);
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:([^\s@]+)@/i.exec(value)?.[1];
    if (password) {
      rememberSecret(password);
      try {
        rememberSecret(decodeURIComponent(password));
      } catch {
        // not percent-encoded
      }
    }
  }
}

/** The values of the variables a config names as credentials (`credentials: { env: ORDERS_PG_PASSWORD }`, an audit sink's key or token), whatever they are called. */
export function rememberConfigSecrets(config: LatchConfig, env: NodeJS.ProcessEnv): void {
  for (const integration of config.integrations) {
    if ('env' in integration.credentials) rememberSecret(env[integration.credentials.env]);
  }
  for (const sink of config.auditSinks) {
    for (const name of sinkSecretEnv(sink)) rememberSecret(env[name]);
  }
  for (const source of config.identitySources) {
    const named = source.type === 'entra' ? source.clientSecret : source.type === 'okta' ? (source.token ?? source.oauth?.privateKey) : source.type === 'scim' ? source.token : source.type === 'google' ? source.serviceAccountKey : undefined;
    if (named) rememberIdentitySecret(env[named.env]);
  }
}

/** A Google service account key is JSON: its private key is scrubbed on its own too, wherever it appears. */
function rememberIdentitySecret(value: string | undefined): void {
  rememberSecret(value);
  const privateKey = value?.includes('private_key') ? /"private_key"\s*:\s*"([^"]+)"/.exec(value)?.[1] : undefined;
  if (privateKey) {
    rememberSecret(privateKey);
    rememberSecret(privateKey.replaceAll('\\n', '\n'));
  }
}

/** Blanks every known secret and every secret-shaped run in `text`. */
export function scrubText(text: string): string {
  let scrubbed = text;
  for (const secret of ordered) {
    if (scrubbed.includes(secret)) scrubbed = scrubbed.split(secret).join(REDACTED);
    // The same secret as it appears inside a JSON string (quotes and backslashes escaped).
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && scrubbed.includes(escaped)) scrubbed = scrubbed.split(escaped).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) scrubbed = scrubbed.replace(pattern, replacement);
  return scrubbed;
}

const MAX_DEPTH = 10;

/**
 * A copy of `value` fit for a log line: secret fields blanked at any depth, strings
 * scrubbed, errors turned into { type, message, stack, ... } first so their texts are
 * scrubbed too. A circular reference is cut rather than followed.
 */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Object]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactValue(stdSerializers.err(value), depth, seen);
    if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      copy[key] = isSecretKey(key) && item !== null && item !== undefined && typeof item !== 'number' && typeof item !== 'boolean'
        ? REDACTED
        : redactValue(item, depth + 1, seen);
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}
