import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { auditHash, GENESIS_HASH } from '../../storage/audit-hash.js';
import { auditReportFromStore, buildAuditReport, reportToCsv, reportToJson } from '../../storage/audit-report.js';
import { verifyAuditChain, verifyStoreAudit } from '../../storage/audit-verify.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditEvent, AuditInput, Store } from '../../storage/store.js';
import { orgConfig } from '../support/configs.js';
import { createHarness, type Harness } from '../support/harness.js';
import { asSuperuser } from '../support/postgres.js';
import { createTestStore, STORE_DIALECTS, type StoreDialect } from '../support/test-store.js';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const MIN = 60_000;
const iso = (minutes: number): string => new Date(T0 + minutes * MIN).toISOString();
const event = (minutes: number, type: string, requestId: string | null, actor: string, data: Record<string, unknown> = {}): AuditInput => ({ at: T0 + minutes * MIN, type, requestId, actor, data });

/**
 * A realistic stretch of log: an access approved, granted, extended and expired; a
 * two-step request denied at the second step; an auto-approved one revoked early by an
 * admin; one whose grant failed; one timed out; one cancelled. Interleaved, as in life.
 */
const LOG: AuditInput[] = [
  event(0, 'config.loaded', null, 'latch', { file: 'latch.yaml', sha256: 'f00d', flows: 3, integrations: 1 }),
  event(0, 'request.created', 'AR-AAAAAAAA', 'alice@example.com', { flow: 'prod-read', grantee: 'alice@example.com', reason: 'INC-42 checking orders', durationMs: 60 * MIN, bundle: null, items: [{ integration: 'orders', resource: 'orders-prod', permission: 'read' }], via: 'slack' }),
  event(1, 'request.approved', 'AR-AAAAAAAA', 'lead@example.com', { step: 0, comment: null, via: 'slack', configHash: 'f00d' }),
  event(1, 'grant.granted', 'AR-AAAAAAAA', 'latch', { grant: 'g_1', integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3', grantee: 'alice@example.com', expiresAt: T0 + 61 * MIN }),
  event(2, 'request.created', 'AR-BBBBBBBB', 'bob@example.com', { flow: 'prod-write', grantee: 'bob@example.com', reason: '=HYPERLINK("http://evil.example")', durationMs: 30 * MIN, via: 'teams' }),
  event(3, 'request.step_approved', 'AR-BBBBBBBB', 'mia@example.com', { step: 0, comment: null, via: 'teams' }),
  event(4, 'request.denied', 'AR-BBBBBBBB', 'sec@example.com', { step: 1, comment: 'use staging, "please"', via: 'teams' }),
  event(5, 'request.created', 'AR-CCCCCCCC', 'alice@example.com', { flow: 'staging', grantee: 'alice@example.com', reason: null, durationMs: 120 * MIN, via: 'slack' }),
  event(5, 'request.approved', 'AR-CCCCCCCC', 'latch', { automatic: true, flow: 'staging' }),
  event(5, 'grant.granted', 'AR-CCCCCCCC', 'latch', { grant: 'g_2', integration: 'orders', resource: 'orders-staging', permission: 'write', principal: 'latch_alice_d4e5f6', grantee: 'alice@example.com', expiresAt: T0 + 125 * MIN }),
  event(6, 'request.refused', null, 'eve@example.com', { reason: 'not_a_requester', message: 'no' }),
  event(7, 'decision.refused', 'AR-AAAAAAAA', 'alice@example.com', { verdict: 'approve', reason: 'already_decided' }),
  event(30, 'extension.created', 'AR-DDDDDDDD', 'alice@example.com', { parent: 'AR-AAAAAAAA', byMs: 30 * MIN, reason: 'still digging', via: 'slack' }),
  event(31, 'request.approved', 'AR-DDDDDDDD', 'lead@example.com', { step: 0, comment: null, via: 'slack' }),
  event(31, 'request.extended', 'AR-AAAAAAAA', 'lead@example.com', { extension: 'AR-DDDDDDDD', previousExpiry: T0 + 61 * MIN, expiresAt: T0 + 91 * MIN, byMs: 30 * MIN }),
  event(40, 'request.revoke_requested', 'AR-CCCCCCCC', 'sec@example.com', { via: 'teams', comment: '@alice done early', expiresAt: T0 + 125 * MIN }),
  event(40, 'grant.revoked', 'AR-CCCCCCCC', 'latch', { grant: 'g_2', integration: 'orders', resource: 'orders-staging', permission: 'write', principal: 'latch_alice_d4e5f6', how: 'revoked' }),
  event(40, 'request.revoked', 'AR-CCCCCCCC', 'sec@example.com', { expiresAt: T0 + 125 * MIN, lagMs: -85 * MIN }),
  event(50, 'request.created', 'AR-EEEEEEEE', 'bob@example.com', { flow: 'prod-read', grantee: 'bob@example.com', reason: '+1 on the incident', durationMs: 60 * MIN, via: 'slack' }),
  event(51, 'request.approved', 'AR-EEEEEEEE', 'lead@example.com', { step: 0, comment: null, via: 'slack' }),
  event(52, 'request.failed', 'AR-EEEEEEEE', 'latch', { error: '-ERR connection refused' }),
  event(60, 'request.created', 'AR-FFFFFFFF', 'carol@example.com', { flow: 'prod-read', grantee: 'carol@example.com', reason: 'quarterly check', durationMs: 60 * MIN, via: 'teams' }),
  event(70, 'request.created', 'AR-GGGGGGGG', 'bob@example.com', { flow: 'prod-read', grantee: 'bob@example.com', reason: 'wrong flow', durationMs: 60 * MIN, via: 'slack' }),
  event(72, 'request.cancelled', 'AR-GGGGGGGG', 'bob@example.com', { via: 'slack' }),
  event(91, 'grant.revoked', 'AR-AAAAAAAA', 'latch', { grant: 'g_1', integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3', how: 'expired' }),
  event(91, 'request.expired', 'AR-AAAAAAAA', 'latch', { expiresAt: T0 + 91 * MIN, lagMs: 0 }),
  event(180, 'request.timed_out', 'AR-FFFFFFFF', 'latch', { timeoutAt: T0 + 180 * MIN }),
];

let dir = '';
let file = '';
let store: Store;
let closeStore: () => Promise<void> = async () => {};
/** Tampering as someone with access to the database would: straight SQL (`?` parameters), behind Latch's back. */
let tamper: (sql: string, ...params: unknown[]) => Promise<void>;

function useSqlite(): void {
  dir = mkdtempSync(join(tmpdir(), 'latch-audit-'));
  file = join(dir, 'latch.db');
  const sqliteStore = new SqliteStore({ path: file });
  sqliteStore.migrate();
  store = sqliteStore;
  closeStore = async () => {
    await sqliteStore.close();
    rmSync(dir, { recursive: true, force: true });
  };
  tamper = async (sql, ...params) => {
    const db = new Database(file);
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  };
}

async function useStore(dialect: StoreDialect): Promise<void> {
  if (dialect === 'sqlite') return useSqlite();
  const made = await createTestStore(dialect);
  store = made.store;
  closeStore = made.cleanup;
  const database = new URL(made.location.url).pathname.slice(1);
  tamper = async (sql, ...params) => {
    let n = 0;
    await asSuperuser((client) => client.query(sql.replace(/\?/g, () => `$${++n}`), params), database);
  };
}

afterEach(async () => {
  await closeStore();
  closeStore = async () => {};
});

/** Writes the log in several commits, some with more than one event, as the handlers do. */
async function seed(events: readonly AuditInput[] = LOG): Promise<AuditEvent[]> {
  for (let index = 0; index < events.length; index += 3) await store.commit({ audit: events.slice(index, index + 3) });
  return store.auditEvents({});
}

describe.each(STORE_DIALECTS)('audit chain verification on the %s store', (dialect) => {
  beforeEach(() => useStore(dialect));

  it('passes an untouched chain, read in pages or all at once', async () => {
    const stored = await seed();
    const last = stored.at(-1);
    const expected = { ok: true, count: LOG.length, lastHash: last?.hash, firstSeq: 1, lastSeq: LOG.length, prunedThroughSeq: null };
    expect(await verifyStoreAudit(store)).toEqual(expected);
    // Pages of 4 split commits and pages in every possible place.
    expect(await verifyStoreAudit(store, 4)).toEqual(expected);
    expect(await verifyAuditChain(stored)).toEqual(expected);
  });

  it('passes an empty log', async () => {
    expect(await verifyStoreAudit(store)).toEqual({ ok: true, count: 0, lastHash: GENESIS_HASH, firstSeq: null, lastSeq: null, prunedThroughSeq: null });
  });

  it('names the event whose content was edited', async () => {
    await seed();
    await tamper(dialect === 'sqlite'
      ? "UPDATE audit_events SET data = json_set(data, '$.reason', 'nothing to see') WHERE seq = 5"
      : "UPDATE audit_events SET data = jsonb_set(data::jsonb, '{reason}', '\"nothing to see\"')::text WHERE seq = 5");
    const result = await verifyStoreAudit(store, 4);
    expect(result).toEqual({
      ok: false, count: 4,
      firstBroken: { seq: 5, type: 'request.created', at: T0 + 2 * MIN, reason: 'hash_mismatch', message: 'its content does not match its hash: the event was edited after it was written' },
    });
  });

  it('names the first of several edited events, whatever column was edited', async () => {
    await seed();
    await tamper("UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 20");
    await tamper('UPDATE audit_events SET at = at + 1 WHERE seq = 9');
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: false, count: 8, firstBroken: { seq: 9, reason: 'hash_mismatch' } });
  });

  it('names the event after one that was removed', async () => {
    await seed();
    await tamper('DELETE FROM audit_events WHERE seq = 6');
    expect(await verifyStoreAudit(store)).toEqual({
      ok: false, count: 5,
      firstBroken: { seq: 7, type: 'request.denied', at: T0 + 4 * MIN, reason: 'seq_gap', message: 'event #6 is missing: the log jumps from #5 to #7' },
    });
  });

  it('names the event after one whose hash was recomputed to hide an edit', async () => {
    const stored = await seed();
    // The edited event verifies on its own, but the next one still links to its old hash.
    const target = stored[2] as AuditEvent;
    const data = { ...target.data, comment: 'approved, obviously' };
    await tamper('UPDATE audit_events SET data = ?, hash = ? WHERE seq = 3', JSON.stringify(data), auditHash(target.prevHash, target.seq, { ...target, data }));
    expect(await verifyStoreAudit(store)).toMatchObject({
      ok: false, count: 3,
      firstBroken: { seq: 4, type: 'grant.granted', reason: 'prev_hash_mismatch', message: 'its prevHash does not match the hash of event #3: an event was removed, reordered or rewritten' },
    });
  });

  it('names an event that no longer links to the one before it (removed and renumbered)', async () => {
    const stored = await seed();
    // Event #6 removed and the rest renumbered: no gap, but #7 (now #6) links to the old #6.
    const renumbered = [...stored.slice(0, 5), ...stored.slice(6).map((item) => ({ ...item, seq: item.seq - 1 }))];
    expect(await verifyAuditChain(renumbered)).toMatchObject({ ok: false, count: 5, firstBroken: { seq: 6, type: 'request.denied', reason: 'prev_hash_mismatch' } });
    // Two events swapped.
    const swapped = [...stored];
    [swapped[3], swapped[4]] = [swapped[4] as AuditEvent, swapped[3] as AuditEvent];
    expect(await verifyAuditChain(swapped)).toMatchObject({ ok: false, firstBroken: { seq: 5, reason: 'seq_gap' } });
  });

  it('names the first event when the oldest events were removed without a retention record', async () => {
    await seed();
    await tamper('DELETE FROM audit_events WHERE seq <= 2');
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: false, count: 0, firstBroken: { seq: 3, type: 'request.approved', reason: 'unanchored_start' } });
  });

  it('names the first event when the genesis link itself was rewritten', async () => {
    await seed();
    await tamper("UPDATE audit_events SET prev_hash = ? WHERE seq = 1", 'f'.repeat(64));
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: false, count: 0, firstBroken: { seq: 1, reason: 'prev_hash_mismatch' } });
  });

  it('accepts a log shortened by retention, anchored on its audit.pruned record, and no forged anchor', async () => {
    const stored = await seed();
    expect(await store.pruneAudit(T0 + 30 * MIN, T0 + 400 * MIN)).toBe(12);
    const after = await verifyStoreAudit(store, 5);
    expect(after).toMatchObject({ ok: true, count: LOG.length - 12 + 1, firstSeq: 13, lastSeq: LOG.length + 1, prunedThroughSeq: 12 });

    // A second prune anchors on its own record, the first one having gone with the rest.
    expect(await store.pruneAudit(T0 + 100 * MIN, T0 + 500 * MIN)).toBe(14);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, firstSeq: 27, prunedThroughSeq: 26 });

    // Without its prune records, the same shortened log is refused at its first event.
    await tamper("DELETE FROM audit_events WHERE type = 'audit.pruned' AND seq = (SELECT max(seq) FROM audit_events)");
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: false, firstBroken: { seq: 27, reason: 'unanchored_start' } });

    // An anchor whose own content was edited vouches for nothing.
    const edited = [...stored.slice(12)];
    const prune = { type: 'audit.pruned', requestId: null, actor: 'latch', at: T0, data: { throughSeq: 12, lastHash: stored[11]?.hash ?? '', before: 0, removed: 12 } };
    const last = edited.at(-1) as AuditEvent;
    edited.push({ ...prune, seq: last.seq + 1, prevHash: last.hash, hash: 'not the hash' });
    expect(await verifyAuditChain(edited)).toMatchObject({ ok: false, firstBroken: { seq: 13, reason: 'unanchored_start' } });
  });

  it('finds the real life cycle of the handlers intact, and reports it as the store records it', async () => {
    const harness: Harness = await createHarness(orgConfig(), { dialect });
    try {
      const { ctx } = harness;
      const asked = async (who: string, input: Parameters<typeof requestAccess>[2]): Promise<string> => {
        const result = await requestAccess(ctx, harness.as(who), input);
        if (!result.ok) throw new Error(result.message);
        return result.record.request.id;
      };
      const expired = await asked('alice@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 3_600_000, reason: 'INC-42' });
      const denied = await asked('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 3_600_000, reason: 'curious' });
      const revoked = await asked('alice@example.com', { resource: 'orders-staging', permission: 'write', durationMs: 7_200_000 });
      expect((await decide(ctx, harness.as('lead@example.com'), expired, 'approve', 'ok for INC-42')).ok).toBe(true);
      expect((await decide(ctx, harness.as('lead@example.com'), denied, 'deny', 'not without a ticket')).ok).toBe(true);
      await harness.drain();
      expect((await revokeAccess(ctx, harness.as('sec@example.com'), revoked, 'done early')).ok).toBe(true);
      await harness.drain();
      harness.advance(2 * 3_600_000);
      await harness.drain();
      const timedOut = await asked('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 3_600_000, reason: 'later' });
      harness.advance(3 * 3_600_000);
      await harness.drain();

      expect(await verifyStoreAudit(harness.store, 3)).toMatchObject({ ok: true });
      const rows = await auditReportFromStore(harness.store);
      expect(rows.map((row) => row.requestId)).toEqual([expired, denied, revoked, timedOut]);
      for (const row of rows) {
        const record = await harness.store.getRequest(row.requestId);
        expect(row.state).toBe(record?.request.state);
        expect(row).toMatchObject({ requester: record?.request.requester, grantee: record?.request.grantee, flow: record?.request.flow, reason: record?.request.reason, createdAt: record?.request.createdAt, partial: false });
        expect(row.grants.map((grant) => grant.principal)).toEqual(record?.grants.filter((grant) => grant.grantedAt !== null).map((grant) => grant.principal));
      }
      expect(rows[0]).toMatchObject({ decision: 'approved', decidedBy: 'lead@example.com', votes: [{ step: 1, by: 'lead@example.com', verdict: 'approve', comment: 'ok for INC-42' }], ended: 'expired', endedBy: 'latch' });
      expect(rows[1]).toMatchObject({ decision: 'denied', decidedBy: 'lead@example.com', note: 'not without a ticket', grants: [], ended: null });
      expect(rows[2]).toMatchObject({ decision: 'approved', automatic: true, ended: 'revoked', endedBy: 'sec@example.com', note: 'done early' });
      expect(rows[3]).toMatchObject({ decision: 'timed out', decidedBy: 'latch', state: 'timed_out' });
    } finally {
      await harness.close();
    }
  });
});

describe('the audit report', () => {
  beforeEach(useSqlite);

  it('gives one row per request: who asked, why, who decided, what was granted where, how it ended', async () => {
    const rows = buildAuditReport(await seed());
    expect(rows.map((row) => row.requestId)).toEqual(['AR-AAAAAAAA', 'AR-BBBBBBBB', 'AR-CCCCCCCC', 'AR-DDDDDDDD', 'AR-EEEEEEEE', 'AR-FFFFFFFF', 'AR-GGGGGGGG']);
    expect(rows[0]).toEqual({
      requestId: 'AR-AAAAAAAA', kind: 'access', parentId: null, requester: 'alice@example.com', grantee: 'alice@example.com', flow: 'prod-read',
      reason: 'INC-42 checking orders', reasonLink: null, policy: null, rule: null, durationMs: 60 * MIN, createdAt: T0,
      votes: [{ step: 1, by: 'lead@example.com', verdict: 'approve', at: T0 + MIN, comment: null }],
      decision: 'approved', automatic: false, decidedBy: 'lead@example.com', decidedAt: T0 + MIN,
      grants: [{ grant: 'g_1', integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3', grantedAt: T0 + MIN, revokedAt: T0 + 91 * MIN, revokedHow: 'expired' }],
      grantedAt: T0 + MIN, expiresAt: T0 + 91 * MIN, extensions: ['AR-DDDDDDDD'],
      ended: 'expired', endedAt: T0 + 91 * MIN, endedBy: 'latch', note: null, error: null, state: 'expired',
      firstEventAt: T0, lastEventAt: T0 + 91 * MIN, partial: false,
    });
    expect(rows[1]).toMatchObject({
      decision: 'denied', decidedBy: 'sec@example.com', decidedAt: T0 + 4 * MIN, grants: [], ended: null, state: 'denied',
      votes: [{ step: 1, by: 'mia@example.com', verdict: 'approve' }, { step: 2, by: 'sec@example.com', verdict: 'deny', comment: 'use staging, "please"' }],
    });
    expect(rows[2]).toMatchObject({ automatic: true, decidedBy: 'latch', votes: [], ended: 'revoked', endedBy: 'sec@example.com', endedAt: T0 + 40 * MIN, note: '@alice done early', state: 'revoked' });
    expect(rows[2]?.grants[0]).toMatchObject({ resource: 'orders-staging', permission: 'write', revokedAt: T0 + 40 * MIN, revokedHow: 'revoked' });
    expect(rows[3]).toMatchObject({ kind: 'extension', parentId: 'AR-AAAAAAAA', grantee: 'alice@example.com', flow: 'prod-read', durationMs: 30 * MIN, decision: 'approved', ended: null });
    expect(rows[4]).toMatchObject({ decision: 'approved', ended: 'failed', endedAt: T0 + 52 * MIN, error: '-ERR connection refused', grants: [], state: 'failed' });
    expect(rows[5]).toMatchObject({ decision: 'timed out', decidedBy: 'latch', decidedAt: T0 + 180 * MIN, state: 'timed_out' });
    expect(rows[6]).toMatchObject({ decision: 'cancelled', decidedBy: 'bob@example.com', state: 'cancelled' });
  });

  it('writes RFC 4180 CSV with ISO times, and keeps formula-like cells as text', async () => {
    const csv = reportToCsv(buildAuditReport(await seed()));
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.split('\r\n')).toEqual([
      'request_id,kind,parent_id,requester,grantee,flow,reason,duration,created_at,approvals,decision,decided_by,decided_at,granted,granted_at,expires_at,ended,ended_at,note,error,state,history,reason_link,policy',
      `AR-AAAAAAAA,access,,alice@example.com,alice@example.com,prod-read,INC-42 checking orders,1h,${iso(0)},step 1 approved by lead@example.com at ${iso(1)},approved,lead@example.com,${iso(1)},orders/orders-prod read as latch_alice_a1b2c3,${iso(1)},${iso(91)},expired,${iso(91)},,,expired,complete,,`,
      `AR-BBBBBBBB,access,,bob@example.com,bob@example.com,prod-write,"'=HYPERLINK(""http://evil.example"")",30m,${iso(2)},"step 1 approved by mia@example.com at ${iso(3)}; step 2 denied by sec@example.com at ${iso(4)} (use staging, ""please"")",denied,sec@example.com,${iso(4)},,,,,,"use staging, ""please""",,denied,complete,,`,
      `AR-CCCCCCCC,access,,alice@example.com,alice@example.com,staging,,2h,${iso(5)},approved automatically by the flow,approved,latch,${iso(5)},orders/orders-staging write as latch_alice_d4e5f6,${iso(5)},${iso(125)},revoked by sec@example.com,${iso(40)},'@alice done early,,revoked,complete,,`,
      `AR-DDDDDDDD,extension,AR-AAAAAAAA,alice@example.com,alice@example.com,prod-read,still digging,30m,${iso(30)},step 1 approved by lead@example.com at ${iso(31)},approved,lead@example.com,${iso(31)},,,,,,,,approved,complete,,`,
      `AR-EEEEEEEE,access,,bob@example.com,bob@example.com,prod-read,'+1 on the incident,1h,${iso(50)},step 1 approved by lead@example.com at ${iso(51)},approved,lead@example.com,${iso(51)},,,,failed,${iso(52)},,'-ERR connection refused,failed,complete,,`,
      `AR-FFFFFFFF,access,,carol@example.com,carol@example.com,prod-read,quarterly check,1h,${iso(60)},,timed out,latch,${iso(180)},,,,,,,,timed_out,complete,,`,
      `AR-GGGGGGGG,access,,bob@example.com,bob@example.com,prod-read,wrong flow,1h,${iso(70)},,cancelled,bob@example.com,${iso(72)},,,,,,,,cancelled,complete,,`,
      '',
    ]);
    expect(iso(91)).toBe('2026-11-20T10:31:00.000Z');
  });

  it('keeps the requests with any event at or after --since, with their whole history', async () => {
    const events = await seed();
    const rows = buildAuditReport(events, { since: T0 + 90 * MIN });
    expect(rows.map((row) => row.requestId)).toEqual(['AR-AAAAAAAA', 'AR-FFFFFFFF']);
    expect(rows[0]).toMatchObject({ createdAt: T0, decidedBy: 'lead@example.com', partial: false });
    expect(buildAuditReport(events, { since: T0 + 91 * MIN }).map((row) => row.requestId)).toEqual(['AR-AAAAAAAA', 'AR-FFFFFFFF']);
    expect(buildAuditReport(events, { since: T0 + 91 * MIN + 1 }).map((row) => row.requestId)).toEqual(['AR-FFFFFFFF']);
    expect(await auditReportFromStore(store, { since: T0 + 90 * MIN })).toEqual(rows);
  });

  it('marks a request whose beginning retention removed as partial', async () => {
    await seed();
    await store.pruneAudit(T0 + 1 * MIN, T0 + 400 * MIN);
    const [first] = await auditReportFromStore(store);
    expect(first).toMatchObject({ requestId: 'AR-AAAAAAAA', requester: null, createdAt: null, partial: true, ended: 'expired' });
    expect(reportToCsv([first as NonNullable<typeof first>]).split('\r\n')[1]).toMatch(/,expired,partial: earlier events were removed by retention,,$/);
  });

  it('writes JSON with ISO times', async () => {
    const json = JSON.parse(reportToJson(buildAuditReport(await seed()))) as Record<string, unknown>[];
    expect(json).toHaveLength(7);
    expect(json[0]).toMatchObject({
      requestId: 'AR-AAAAAAAA', createdAt: iso(0), decidedAt: iso(1), expiresAt: iso(91), endedAt: iso(91), durationMs: 60 * MIN,
      votes: [{ at: iso(1), by: 'lead@example.com' }], grants: [{ grantedAt: iso(1), revokedAt: iso(91) }],
    });
    expect(json[1]).toMatchObject({ reason: '=HYPERLINK("http://evil.example")', endedAt: null });
  });
});
