import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessRecords, toCsv } from '../../storage/audit-export.js';
import { verifyAuditChain } from '../../storage/audit-chain.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditInput } from '../../storage/store.js';

let dir: string;
let file: string;
let store: SqliteStore;
const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-chain-'));
  file = join(dir, 'latch.db');
  store = new SqliteStore({ path: file });
  store.migrate();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (minutes: number, type: string, requestId: string | null, actor: string, data: Record<string, unknown> = {}): AuditInput => ({ at: T0 + minutes * 60_000, type, requestId, actor, data });

async function seed(): Promise<void> {
  for (const entry of [
    event(0, 'request.created', 'AR-AAAAAAAA', 'alice@example.com', { flow: 'prod-read', grantee: 'alice@example.com', reason: 'INC-42' }),
    event(1, 'request.approved', 'AR-AAAAAAAA', 'lead@example.com', { step: 0 }),
    event(1, 'grant.granted', 'AR-AAAAAAAA', 'latch', { integration: 'orders', resource: 'orders-prod', permission: 'read', principal: 'latch_alice_a1b2c3' }),
    event(2, 'request.created', 'AR-BBBBBBBB', 'bob@example.com', { flow: 'prod-write', grantee: 'bob@example.com', reason: '=HYPERLINK("http://evil")' }),
    event(3, 'request.denied', 'AR-BBBBBBBB', 'sec@example.com', { step: 1, comment: 'use staging, "please"' }),
    event(61, 'grant.revoked', 'AR-AAAAAAAA', 'latch', {}),
    event(61, 'request.expired', 'AR-AAAAAAAA', 'latch', {}),
  ]) await store.commit({ audit: [entry] });
}

describe('audit chain verification', () => {
  it('passes an untouched chain', async () => {
    await seed();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: true, count: 7 });
  });

  it('names the event whose content was edited', async () => {
    await seed();
    new Database(file).prepare("UPDATE audit_events SET data = json_set(data, '$.reason', 'nothing to see') WHERE seq = 4").run();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, firstBroken: { seq: 4, type: 'request.created', reason: 'its content was changed after it was written' } });
  });

  it('names the event after one that was removed', async () => {
    await seed();
    new Database(file).prepare('DELETE FROM audit_events WHERE seq = 5').run();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, firstBroken: { seq: 6, reason: 'event #5 is missing' } });
  });

  it('accepts a chain shortened by retention, and refuses one whose beginning was cut without a record', async () => {
    await seed();
    await store.pruneAudit(T0 + 2 * 60_000, T0 + 100 * 60_000);
    expect(await verifyAuditChain(store)).toMatchObject({ ok: true, count: 5 });
    new Database(file).prepare("DELETE FROM audit_events WHERE type = 'audit.pruned'").run();
    const first = (await store.auditEvents({}))[0];
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, firstBroken: { seq: first?.seq, reason: `events before #${first?.seq ?? 0} are missing and no retention record accounts for them` } });
  });
});

describe('the access review export', () => {
  it('says who asked, why, who decided, what was granted where, and how it ended', async () => {
    await seed();
    const records = accessRecords(await store.auditEvents({}));
    expect(records).toEqual([
      expect.objectContaining({ requestId: 'AR-AAAAAAAA', requester: 'alice@example.com', reason: 'INC-42', decision: 'approved', decidedBy: 'lead@example.com (step 1)', granted: 'read on orders/orders-prod as latch_alice_a1b2c3', ended: 'expired', endedAt: T0 + 61 * 60_000 }),
      expect.objectContaining({ requestId: 'AR-BBBBBBBB', requester: 'bob@example.com', decision: 'denied: use staging, "please"', decidedBy: 'sec@example.com', granted: '', ended: 'denied' }),
    ]);
    const csv = toCsv(records).split('\r\n');
    expect(csv[0]).toBe('request,requester,grantee,flow,reason,requested_at,decision,decided_by,decided_at,granted,granted_at,ended,ended_at');
    expect(csv[1]).toBe('AR-AAAAAAAA,alice@example.com,alice@example.com,prod-read,INC-42,2026-11-20T09:00:00.000Z,approved,lead@example.com (step 1),2026-11-20T09:01:00.000Z,read on orders/orders-prod as latch_alice_a1b2c3,2026-11-20T09:01:00.000Z,expired,2026-11-20T10:01:00.000Z');
    // A reason that a spreadsheet would run as a formula stays text.
    expect(csv[2]).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(csv[2]).toContain('"denied: use staging, ""please"""');
    expect(accessRecords(await store.auditEvents({}), T0 + 30 * 60_000).map((record) => record.requestId)).toEqual(['AR-AAAAAAAA']);
  });
});
