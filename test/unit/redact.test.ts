import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, toggleDebug } from '../../bot/logger.js';
import { REDACTED, isSecretKey, redactValue, rememberSecret, scrubText } from '../../bot/redact.js';

/** A logger writing to memory, with the secrets of `env` known by value. */
function capturedLogger(env: NodeJS.ProcessEnv = {}, level = 'debug') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level, destination, env });
  return { log, lines, text: () => lines.join('\n'), parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

// Shaped like the real thing, made up for the test.
const SLACK_BOT = 'xoxb-2837465019-3948572615-AbCdEfGhIjKlMnOpQrStUvWx';
const SLACK_USER = 'xoxp-2837465019-3948572615-9182736450-0a1b2c3d4e5f';
const SLACK_APP = 'xapp-1-A0123456789-1234567890123-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYXVkIjoibGF0Y2gifQ.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu';
const ENTRA_SECRET = 'Xy78Q~aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z';

describe('scrubText', () => {
  it.each([
    ['a Slack bot token', `posting with ${SLACK_BOT} failed`, SLACK_BOT],
    ['a Slack user token', `token ${SLACK_USER}`, SLACK_USER],
    ['a Slack app-level token', `socket mode with ${SLACK_APP}`, SLACK_APP],
    ['a Slack webhook', 'POST https://hooks.slack.com/services/T0001/B0002/XXXXsecretpathYYYY', 'XXXXsecretpathYYYY'],
    ['a bearer token', 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789', 'abcdefghijklmnopqrstuvwxyz0123456789'],
    ['a JWT', `invalid token ${JWT} for audience latch`, JWT],
    ['a PostgreSQL URL', 'cannot connect to postgres://latch_admin:S3cr3t-Pa55@db.internal:5432/orders', 'S3cr3t-Pa55'],
    ['a postgresql:// URL with an @ in the password', 'postgresql://admin:p@ss@db.internal/orders', 'p@ss'],
    ['a MySQL URL', 'mysql://root:hunter2hunter2@127.0.0.1:3306/app', 'hunter2hunter2'],
    ['a libpq connection string', 'host=db.internal user=latch password=Sup3rS3cret dbname=orders', 'Sup3rS3cret'],
    ['an ADO.NET connection string', 'Server=tcp:x.database.windows.net;User ID=latch;Password=AdoSecret123;Encrypt=true', 'AdoSecret123'],
    ['an environment assignment', 'PGPASSWORD=EnvSecret99 psql -h db', 'EnvSecret99'],
    ['a query string', 'GET /callback?code=abc&client_secret=QuerySecret42&state=1', 'QuerySecret42'],
    ['JSON quoted in an error text', 'backend answered {"ok":true,"secrets":{"password":"JsonPassword77"}}', 'JsonPassword77'],
    ['a SQL password literal', `ALTER ROLE latch_alice_1 WITH LOGIN PASSWORD 'SqlSecret''s1' VALID UNTIL '2026-12-01'`, "SqlSecret''s1"],
    ['a MySQL IDENTIFIED BY', `CREATE USER 'latch_bob'@'%' IDENTIFIED BY 'MySqlSecret5'`, 'MySqlSecret5'],
    ['a SCRAM verifier', 'PASSWORD SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5:c2VydmVya2V5', 'c3RvcmVka2V5'],
    ['a Microsoft app password', `MSAL: invalid client secret ${ENTRA_SECRET}`, ENTRA_SECRET],
    ['a private key', 'key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- end', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'],
  ])('removes %s', (_what, text, secret) => {
    const scrubbed = scrubText(text);
    expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain(REDACTED);
  });

  it('leaves what is not a secret as it was', () => {
    const text = 'request AR-7K3M9QX2 by alice@example.com approved by bob@example.com at 2026-11-03T10:00:00.000Z; '
      + 'config sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08; see https://latch.example.com/healthz?details=1 '
      + 'and postgres://db.internal:5432/orders; role latch_alice_7k3m; 3 secrets delivered; token expired';
    expect(scrubText(text)).toBe(text);
  });

  it('removes a remembered secret wherever it appears, also escaped inside JSON', () => {
    rememberSecret('4f1c9a7e2b6d8035e1a4c7b9d2f60813');
    rememberSecret('quote"and\\backslash');
    expect(scrubText('signature v0=... with 4f1c9a7e2b6d8035e1a4c7b9d2f60813')).toBe(`signature v0=... with ${REDACTED}`);
    expect(scrubText(JSON.stringify({ note: 'x quote"and\\backslash y' }))).toBe(JSON.stringify({ note: `x ${REDACTED} y` }));
  });

  it('keeps a JSON line valid JSON', () => {
    const line = JSON.stringify({ msg: `using ${SLACK_BOT} and postgres://u:pw12345678@h/db`, token: 5, password: null, dsn: 'mysql://a:b@c/d', nested: { note: `"password":"x1234567"` } });
    expect(() => JSON.parse(scrubText(line)) as unknown).not.toThrow();
    expect(JSON.parse(scrubText(line))).toMatchObject({ token: 5, password: null });
  });
});

describe('redactValue', () => {
  it('blanks secret fields at any depth, keeps counts and flags, and scrubs errors', () => {
    const error = Object.assign(new Error('connect to postgres://latch:ErrPass123@db/orders failed'), { code: 'ECONNREFUSED' });
    const value = redactValue({
      delivery: { items: [{ title: 'orders', secrets: { password: 'DeepSecret1' }, details: 'psql -U latch_a' }] },
      headers: { Authorization: 'Basic dXNlcjpwYXNz', 'x-slack-signature': 'v0=abc', cookie: 'sid=1' },
      connection: { host: 'db', dbPassword: 'CamelSecret2', client_secret: 'SnakeSecret3', apiKey: 'KeySecret4' },
      withSecrets: 2, tokenExpiresAt: 1_700_000_000_000, hasToken: true,
      err: error,
    }) as Record<string, any>;
    expect(JSON.stringify(value)).not.toMatch(/DeepSecret1|dXNlcjpwYXNz|v0=abc|sid=1|CamelSecret2|SnakeSecret3|KeySecret4|ErrPass123/);
    expect(value.delivery.items[0]).toMatchObject({ title: 'orders', secrets: REDACTED, details: 'psql -U latch_a' });
    expect(value).toMatchObject({ withSecrets: 2, tokenExpiresAt: 1_700_000_000_000, hasToken: true, connection: { host: 'db', dbPassword: REDACTED } });
    expect(value.err).toMatchObject({ type: 'Error', code: 'ECONNREFUSED', message: `connect to postgres://latch:${REDACTED}@db/orders failed` });
    expect(value.err.stack).not.toContain('ErrPass123');
  });

  it('names the fields it treats as secret by their ending', () => {
    expect(['password', 'PGPASSWORD', 'db_password', 'clientSecret', 'signing-secret', 'botToken', 'access_token', 'apiKey', 'x-api-key', 'privateKey', 'credentials', 'x-slack-signature', 'authorization', 'cookie'].filter((key) => !isSecretKey(key))).toEqual([]);
    expect(['grantee', 'principal', 'tokenEndpoint', 'passwordSetAt', 'host', 'requestId', 'details'].filter(isSecretKey)).toEqual([]);
  });

  it('cuts circular references', () => {
    const loop: Record<string, unknown> = { name: 'a' };
    loop.self = loop;
    expect(redactValue(loop)).toEqual({ name: 'a', self: '[Circular]' });
  });
});

describe('the logger', () => {
  it('writes JSON lines with secrets gone from fields, messages, arguments and errors', () => {
    const env = { SLACK_SIGNING_SECRET: '8f14e45fceea167a5a36dedd4bea2543', MICROSOFT_APP_PASSWORD: 'plain-looking-app-password', ORDERS_DB_URL: 'postgres://latch:UrlOnlySecret@db/orders' };
    const { log, text, parsed } = capturedLogger(env);
    log.info({ password: 'TopLevel1', nested: { deeper: { token: SLACK_BOT } }, headers: { authorization: `Bearer ${JWT}` } }, 'fields');
    log.warn(`message with ${SLACK_USER} and ${env.SLACK_SIGNING_SECRET}`);
    log.info('interpolated %s and %j', 'mysql://root:ArgSecret8@db/x', { password: 'ObjectArg9' });
    log.error({ err: new Error(`teams said ${env.MICROSOFT_APP_PASSWORD} is wrong`) }, 'an error');
    log.error(new Error(`bare error with ${JWT}`));
    log.debug({ url: 'https://x/y?sig=SasSig123456&se=2026' }, 'a SAS URL; the DB at UrlOnlySecret');
    for (const secret of ['TopLevel1', SLACK_BOT, JWT, SLACK_USER, env.SLACK_SIGNING_SECRET, 'ArgSecret8', 'ObjectArg9', env.MICROSOFT_APP_PASSWORD, 'SasSig123456', 'UrlOnlySecret']) {
      expect(text()).not.toContain(secret);
    }
    const lines = parsed();
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ service: 'latch', msg: 'fields', password: REDACTED, nested: { deeper: { token: REDACTED } }, headers: { authorization: REDACTED } });
    expect(lines[3]).toMatchObject({ msg: 'an error', err: { type: 'Error', message: `teams said ${REDACTED} is wrong` } });
  });

  it('turns debug on and back off', () => {
    const { log, parsed } = capturedLogger({}, 'info');
    log.debug('hidden');
    expect(toggleDebug(log)).toBe('debug');
    log.debug('shown');
    expect(toggleDebug(log)).toBe('info');
    log.debug('hidden again');
    expect(parsed().map((line) => line.msg)).toEqual(['shown']);
  });
});
