// `npm run latch -- migrate` on PostgreSQL and `store copy` from SQLite to PostgreSQL, run
// as the real script: every table arrives, the audit chain verifies on the target with the
// source's last hash, new rows continue after the copied ids, and a non-empty target is refused.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { openStore } from '../../storage/open-store.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { asSuperuser } from '../support/postgres.js';
import { createPostgresDatabase } from '../support/test-store.js';

const ROOT = resolve(import.meta.dirname, '../..');
const T0 = 1_800_000_000_000;

function latch(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, timeout: 80_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir = '';
const drops: (() => Promise<void>)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-copy-'));
});
afterEach(async () => {
  for (const drop of drops.splice(0)) await drop();
  rmSync(dir, { recursive: true, force: true });
});

async function populatedSqlite(): Promise<string> {
  const path = join(dir, 'latch.db');
  const store = new SqliteStore({ path });
  store.migrate();
  const request = {
    id: 'req_1', kind: 'access' as const, parentId: null, flow: 'db', bundle: null, requester: 'alice@example.com', grantee: 'alice@example.com', reason: 'INC-9',
    durationMs: 3_600_000, state: 'active' as const, version: 4, step: 0, createdAt: T0, updatedAt: T0 + 10, timeoutAt: null, decidedAt: T0 + 5, decidedBy: 'mia@example.com',
    expiresAt: T0 + 3_600_000, endedAt: null, endedBy: null, outcome: null, policy: 'sha', context: { automatic: { rule: 'r', verdict: 'approve' as const } }, startAt: null,
  };
  await store.commit({
    insertRequest: { request, grants: [{ id: 'g_1', requestId: 'req_1', integration: 'pg', resource: 'orders', permission: 'read', state: 'active', principal: 'latch_alice_x', grantedAt: T0 + 6, revokedAt: null, lastError: null }] },
    insertDecisions: [{ id: 'd_1', requestId: 'req_1', step: 0, approver: 'mia@example.com', verdict: 'approve', comment: 'ok', at: T0 + 5 }],
    audit: [{ type: 'request.created', requestId: 'req_1', actor: 'alice@example.com', data: { reason: 'INC-9' }, at: T0 }, { type: 'access.granted', requestId: 'req_1', actor: 'latch', data: {}, at: T0 + 6 }],
    enqueue: [{ kind: 'revoke', requestId: 'req_1', runAt: T0 + 3_600_000, dedupeKey: 'revoke:req_1' }, { kind: 'notify', requestId: 'req_1', runAt: T0 }],
    deliveryId: 'slack:Ev1',
  });
  await store.observeIdentity({ platform: 'slack', platformUserId: 'U1', emails: ['alice@example.com'], at: T0 });
  await store.observeIdentity({ platform: 'slack', platformUserId: 'U1', emails: ['alice.new@example.com'], at: T0 + 1 });
  await store.recordMessage({ requestId: 'req_1', platform: 'slack', channel: 'C1', messageId: '1.1', recipient: null, purpose: 'card', createdAt: T0 });
  await store.openAuditCursor('siem', 'beginning', T0);
  await store.identitySnapshots.replaceSnapshot('entra', {
    people: [{ id: 'o1', email: 'alice@example.com', login: 'alice@corp', name: 'Alice', active: true, manager: null }, { id: 'o2', email: 'bob@example.com', name: null, active: false, manager: 'alice@example.com', deleted: true }],
    groups: [{ id: 'g1', name: 'DBAs', members: ['o1'] }],
  }, T0, []);
  await store.close();
  return path;
}

describe('latch store copy and migrate on PostgreSQL', () => {
  it('migrates an empty PostgreSQL database', async () => {
    const target = await createPostgresDatabase('latch_cli');
    drops.push(target.drop);
    const run = await latch(['migrate', '--database', target.url]);
    expect(run).toMatchObject({ code: 0, stdout: `migrations applied to ${target.url}\n` });
    const tables = await asSuperuser((client) => client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'requests'"), target.database);
    expect(tables.rows[0]).toEqual({ n: 1 });
  });

  it('moves every table with the audit chain intact, then refuses to copy into the now non-empty database', async () => {
    const source = await populatedSqlite();
    const target = await createPostgresDatabase('latch_cli');
    drops.push(target.drop);
    const before = new SqliteStore({ path: source });
    const sourceAudit = await verifyStoreAudit(before);
    const sourceRequest = await before.getRequest('req_1');
    const sourceJobs = await before.jobsFor('req_1');
    const sourceIdentities = await before.listIdentities();
    const sourceSnapshots = await before.identitySnapshots.snapshots();
    const sourceSyncs = await before.identitySnapshots.syncs();
    await before.close();
    if (!sourceAudit.ok) throw new Error('source audit broken');

    const run = await latch(['store', 'copy', '--from', `sqlite:${source}`, '--to', target.url]);
    expect(run.stderr).toContain('  requests: 1 row\n');
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain(`audit chain OK on the target: 3 events, last hash ${sourceAudit.lastHash}`);

    const copied = await openStore(target.url);
    try {
      expect(copied.dialect).toBe('postgres');
      expect(await copied.getRequest('req_1')).toEqual(sourceRequest);
      expect(await copied.jobsFor('req_1')).toEqual(sourceJobs);
      expect(await copied.listIdentities()).toEqual(sourceIdentities);
      expect(await copied.messagesFor('req_1')).toHaveLength(1);
      expect(await copied.identitySnapshots?.snapshots()).toEqual(sourceSnapshots);
      expect(await copied.identitySnapshots?.syncs()).toEqual(sourceSyncs);
      expect(await copied.openAuditCursor('siem', 'now', T0)).toMatchObject({ deliveredSeq: 0 });
      // The delivery is remembered: a Slack retry after the move still acts once.
      expect(await copied.commit({ deliveryId: 'slack:Ev1' })).toEqual({ ok: false, conflict: 'duplicate_delivery', deliveryId: 'slack:Ev1' });
      // New jobs continue after the copied ids; new events continue the chain.
      await copied.commit({ enqueue: [{ kind: 'notify', requestId: 'req_1', runAt: T0 }], audit: [{ type: 'after.copy', requestId: null, actor: 'latch', data: {}, at: T0 + 20 }] });
      const ids = (await copied.jobsFor('req_1')).map((job) => job.id);
      expect(ids).toEqual([1, 2, 3]);
      expect(await verifyStoreAudit(copied)).toMatchObject({ ok: true, count: 4 });
    } finally {
      await copied.close();
    }

    // The CLI reads the PostgreSQL store as it reads a SQLite file.
    const verified = await latch(['audit', 'verify', '--database', target.url]);
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.stdout).toMatch(/^audit chain OK: 4 events, last hash [0-9a-f]{64}\n$/);

    const again = await latch(['store', 'copy', '--from', `sqlite:${source}`, '--to', target.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/the target database is not empty: requests \(1 rows\)/);
  });

  it('refuses a --to that is not PostgreSQL and a --from that does not exist, and masks a password in what it prints', async () => {
    const wrong = await latch(['store', 'copy', '--from', 'sqlite:./x.db', '--to', 'sqlite:./y.db']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--to must name a PostgreSQL database');
    const missing = await latch(['store', 'copy', '--from', `sqlite:${join(dir, 'none.db')}`, '--to', 'postgres://latch:hunter2@127.0.0.1:1/latch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no SQLite store at');
    expect(`${missing.stdout}${missing.stderr}`).not.toContain('hunter2');
  });
});
