// `npm run latch -- ...` end to end: each test runs the real script with tsx in a child
// process, against a temp SQLite file named by DATABASE_URL.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigRefused, startLatch } from '../../bot/latch.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditInput } from '../../storage/store.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DAY = 86_400_000;
/** tsx starts in 1-2 s; a loaded CI machine running the whole suite may take several times that. */
const SLOW = { timeout: 90_000 };

interface Run { code: number; stdout: string; stderr: string }

/**
 * Runs `tsx scripts/latch.ts ARGS`, which is what `npm run latch -- ARGS` runs, with tsx
 * from node_modules/.bin as npm (and npx) would find it, minus npm's own second of start-up.
 */
function latch(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 80_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let databases = 0;
/** A database of its own for each test, so the tests can run at the same time. */
async function database(events: readonly AuditInput[]): Promise<{ file: string; env: NodeJS.ProcessEnv }> {
  databases += 1;
  const file = join(dir, `latch-${databases}.db`);
  const store = new SqliteStore({ path: file });
  store.migrate();
  for (const event of events) await store.commit({ audit: [event] });
  await store.close();
  return { file, env: { DATABASE_URL: `sqlite:${file}` } };
}

function sql(file: string, statement: string): void {
  const db = new Database(file);
  try {
    db.prepare(statement).run();
  } finally {
    db.close();
  }
}

const now = Date.now();
/** An old request, finished a month ago, and a recent one: approved, granted, revoked early. */
const EVENTS: AuditInput[] = [
  { type: 'request.created', requestId: 'AR-OLD00000', actor: 'carol@example.com', at: now - 30 * DAY, data: { flow: 'prod-read', grantee: 'carol@example.com', reason: 'old', durationMs: 3_600_000 } },
  { type: 'request.denied', requestId: 'AR-OLD00000', actor: 'lead@example.com', at: now - 30 * DAY + 60_000, data: { step: 0, comment: 'no' } },
  { type: 'request.created', requestId: 'AR-AAAAAAAA', actor: 'alice@example.com', at: now - 120_000, data: { flow: 'prod-read', grantee: 'alice@example.com', reason: '=cmd|"/c calc"!A1', durationMs: 3_600_000 } },
  { type: 'request.approved', requestId: 'AR-AAAAAAAA', actor: 'lead@example.com', at: now - 110_000, data: { step: 0, comment: null } },
  { type: 'grant.granted', requestId: 'AR-AAAAAAAA', actor: 'latch', at: now - 100_000, data: { grant: 'g_1', integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3', grantee: 'alice@example.com', expiresAt: now + 3_500_000 } },
  { type: 'request.revoke_requested', requestId: 'AR-AAAAAAAA', actor: 'sec@example.com', at: now - 50_000, data: { comment: 'done', expiresAt: now + 3_500_000 } },
  { type: 'grant.revoked', requestId: 'AR-AAAAAAAA', actor: 'latch', at: now - 49_000, data: { grant: 'g_1', integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3', how: 'revoked' } },
  { type: 'request.revoked', requestId: 'AR-AAAAAAAA', actor: 'sec@example.com', at: now - 49_000, data: { expiresAt: now + 3_500_000, lagMs: -3_549_000 } },
];
const iso = (at: number): string => new Date(at).toISOString();

describe.concurrent('npm run latch', () => {
  it('config check: OK with the counts', SLOW, async () => {
    expect(await latch(['config', 'check', 'latch.config.example.yaml'])).toMatchObject({ code: 0, stdout: 'latch.config.example.yaml: OK (3 flows, 1 integrations)\n' });
  });

  it('config check: exit 1 with exactly the report the server refuses to start with', SLOW, async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nflows:\n  - name: x\n    requsters: []\n');
    const report = await latch(['config', 'check', bad]);
    expect(report.code).toBe(1);
    expect(report.stdout.split('\n')).toContain(`${bad}:4:5 flows[0].requsters: unknown key "requsters"`);
    expect(report.stdout.split('\n')).toContain(`${bad}:3:5 flows[0].requesters: is required`);
    const refused = await startLatch({ configFile: bad, databaseUrl: `sqlite:${join(dir, 'never.db')}` }).then(() => null, (error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigRefused);
    expect((refused as ConfigRefused).message).toBe(`Latch will not start: the config has errors.\n${report.stdout.trimEnd()}`);
    expect(existsSync(join(dir, 'never.db'))).toBe(false);

    expect(await latch(['config', 'check', join(dir, 'missing.yaml')])).toMatchObject({ code: 1, stdout: `${join(dir, 'missing.yaml')}:0:0 the file does not exist\n` });
  });

  it('audit verify: OK with the count and the last hash', SLOW, async () => {
    const { file, env } = await database(EVENTS);
    const db = new Database(file, { readonly: true });
    const { hash } = db.prepare('SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { hash: string };
    db.close();
    expect(await latch(['audit', 'verify'], env)).toMatchObject({ code: 0, stdout: `audit chain OK: ${EVENTS.length} events, last hash ${hash}\n` });
  });

  it('audit verify: exit 1 naming the event whose content was edited', SLOW, async () => {
    const { file, env } = await database(EVENTS);
    sql(file, "UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 4");
    expect(await latch(['audit', 'verify'], env)).toMatchObject({
      code: 1, stdout: `audit chain BROKEN at event #4 (request.approved at ${iso(now - 110_000)}): its content does not match its hash: the event was edited after it was written\n`,
    });
  });

  it('audit verify: exit 1 naming the event after one that was removed (--database wins over DATABASE_URL)', SLOW, async () => {
    const { file } = await database(EVENTS);
    sql(file, 'DELETE FROM audit_events WHERE seq = 5');
    expect(await latch(['audit', 'verify', '--database', `sqlite:${file}`], { DATABASE_URL: 'sqlite:/nonexistent/latch.db' })).toMatchObject({
      code: 1, stdout: `audit chain BROKEN at event #6 (request.revoke_requested at ${iso(now - 50_000)}): event #5 is missing: the log jumps from #4 to #6\n`,
    });
  });

  it('audit verify: exit 1 when there is no database, without creating one', SLOW, async () => {
    const missing = join(dir, 'nowhere', 'latch.db');
    const result = await latch(['audit', 'verify'], { DATABASE_URL: `sqlite:${missing}` });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`there is no database at ${missing}`);
    expect(existsSync(missing)).toBe(false);
  });

  it('audit export --format csv --since 7d: the header and the recent requests', SLOW, async () => {
    const { env } = await database(EVENTS);
    const result = await latch(['audit', 'export', '--format', 'csv', '--since', '7d'], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\r\n');
    expect(lines).toEqual([
      'request_id,kind,parent_id,requester,grantee,flow,reason,duration,created_at,approvals,decision,decided_by,decided_at,granted,granted_at,expires_at,ended,ended_at,note,error,state,history,reason_link,policy',
      `AR-AAAAAAAA,access,,alice@example.com,alice@example.com,prod-read,"'=cmd|""/c calc""!A1",1h,${iso(now - 120_000)},step 1 approved by lead@example.com at ${iso(now - 110_000)},approved,lead@example.com,${iso(now - 110_000)},orders/orders-prod read as latch_alice_a1b2c3,${iso(now - 100_000)},${iso(now + 3_500_000)},revoked by sec@example.com,${iso(now - 49_000)},done,,revoked,complete,,`,
      '',
    ]);
    expect(result.stderr).toContain('1 request with events since');
  });

  it('audit export --format json --since DATE: every request since then', SLOW, async () => {
    const { env } = await database(EVENTS);
    const result = await latch(['audit', 'export', '--since', '2020-01-01', '--format', 'json'], env);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({ requestId: 'AR-OLD00000', requester: 'carol@example.com', decision: 'denied', createdAt: iso(now - 30 * DAY) }),
      expect.objectContaining({ requestId: 'AR-AAAAAAAA', requester: 'alice@example.com', decision: 'approved', ended: 'revoked', endedBy: 'sec@example.com' }),
    ]);
  });

  it('exit 2 with the usage for a format, a --since or a command it does not understand', SLOW, async () => {
    const usage = 'Usage: npm run latch -- <command>';
    const [xml, since, unknown, option, misplaced, none] = await Promise.all([
      latch(['audit', 'export', '--since', '7d', '--format', 'xml']),
      latch(['audit', 'export', '--since', 'last tuesday']),
      latch(['frobnicate']),
      latch(['audit', 'verify', '--colour']),
      latch(['audit', 'verify', '--since', '7d']),
      latch([]),
    ]);
    expect(xml).toMatchObject({ code: 2, stdout: '' });
    expect(xml.stderr).toContain('latch: --format must be csv or json, not "xml".');
    expect(xml.stderr).toContain(usage);
    expect(since).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('"last tuesday" is neither a date nor a duration.') });
    expect(since.stderr).toContain(usage);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command "frobnicate".') });
    expect(option).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--colour'") });
    expect(misplaced).toMatchObject({ code: 2, stderr: expect.stringContaining('audit verify takes no --since option') });
    expect(none).toMatchObject({ code: 2, stderr: expect.stringContaining(usage) });
  });

  it('help: the usage on stdout, exit 0', SLOW, async () => {
    const help = await latch(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run latch -- <command>/);
    for (const command of ['config check', 'audit verify', 'audit export', 'migrate', 'help']) expect(help.stdout).toContain(command);
  });

  it('migrate: applies the migrations to a new database, which then verifies', SLOW, async () => {
    const fresh = `sqlite:${join(dir, 'fresh', 'latch.db')}`;
    expect(await latch(['migrate', '--database', fresh])).toMatchObject({ code: 0, stdout: `migrations applied to ${fresh}\n` });
    expect(await latch(['migrate', '--database', fresh])).toMatchObject({ code: 0 });
    expect(await latch(['audit', 'verify', '--database', fresh])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit chain OK: 0 events, last hash 0{64}\n$/) });
  });

  it('never prints the password of a database URL', SLOW, async () => {
    const url = 'postgres://latch:hunter2-secret@db.example.com:5432/latch';
    for (const args of [['migrate', '--database', url], ['audit', 'verify'], ['audit', 'export', '--since', '1d']]) {
      const result = await latch(args, { DATABASE_URL: url });
      expect(result.code).toBe(1);
      expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2');
      expect(result.stderr).toContain('PostgreSQL');
    }
  });
});
