import { afterEach, describe, expect, it } from 'vitest';
import type { RemediationRecord } from '../../storage/discovery-store.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import type { Store } from '../../storage/store.js';
import { createTestStore, STORE_DIALECTS } from '../support/test-store.js';

// Access discovery's records on both store dialects: samples date a principal's last use,
// scans are compared newest-first, a remediation and its undo each commit with their audit
// event, and of two undos racing only one is recorded.

const record = (id: string, at: number): RemediationRecord => ({
  id, integration: 'cluster', principal: 'app_admin', actor: 'sec@example.com', createdAt: at, undoUntil: at + 60_000, undoneAt: null, undoneBy: null,
  changes: [{ privilege: 'SUPERUSER', revoke: 'ALTER ROLE "app_admin" NOSUPERUSER', restore: 'ALTER ROLE "app_admin" SUPERUSER' }, { privilege: 'SELECT on table db.public.t', database: 'db', revoke: 'REVOKE SELECT ON TABLE "public"."t" FROM "app_admin"', restore: 'GRANT SELECT ON TABLE "public"."t" TO "app_admin"' }],
});

describe.each(STORE_DIALECTS)('access discovery records on the %s store', (dialect) => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  const open = async (): Promise<{ store: Store; another(): Promise<Store> }> => {
    const created = await createTestStore(dialect);
    cleanup = created.cleanup;
    return created;
  };

  it('keeps samples: when watching began, how many, and the last sample each principal was seen in', async () => {
    const { store } = await open();
    const discovery = store.discovery!;
    expect(await discovery.activity('cluster')).toEqual({ watchedSince: null, samples: 0, lastSeen: new Map() });
    await discovery.recordSample('cluster', 1_000, new Map([['writer', 2], ['idle', 0]]));
    await discovery.recordSample('cluster', 2_000, new Map([['reader', 1]]));
    await discovery.recordSample('other', 3_000, new Map([['writer', 1]]));
    expect(await discovery.activity('cluster')).toEqual({ watchedSince: 1_000, samples: 2, lastSeen: new Map([['writer', 1_000], ['reader', 2_000]]) });
  });

  it('returns the newest scan before an instant', async () => {
    const { store } = await open();
    const discovery = store.discovery!;
    await discovery.recordScan(1_000, [{ integration: 'cluster', principal: 'a', score: 10, level: 'read', usage: 'active' }]);
    await discovery.recordScan(2_000, [{ integration: 'cluster', principal: 'a', score: 20, level: 'write', usage: 'active' }]);
    expect((await discovery.lastScan(2_000))?.summary[0]?.score).toBe(10);
    expect((await discovery.lastScan())?.scannedAt).toBe(2_000);
    expect(await discovery.lastScan(1_000)).toBeNull();
  });

  it('records a remediation and one undo with their audit events, the chain intact', async () => {
    const { store, another } = await open();
    const discovery = store.discovery!;
    await discovery.recordRemediation(record('DR-AAAABBBB', 5_000), [{ type: 'discovery.remediated', requestId: null, actor: 'sec@example.com', at: 5_000, data: { remediation: 'DR-AAAABBBB' } }]);
    expect(await discovery.remediation('DR-AAAABBBB')).toEqual(record('DR-AAAABBBB', 5_000));
    const second = (await another()).discovery!;
    const undo = (records: typeof discovery, by: string) => records.markUndone('DR-AAAABBBB', by, 6_000, [{ type: 'discovery.undone', requestId: null, actor: by, at: 6_000, data: { remediation: 'DR-AAAABBBB' } }]);
    const outcomes = await Promise.all([undo(discovery, 'sec@example.com'), undo(second, 'sec2@example.com')]);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const events = await store.auditEvents({});
    expect(events.map((event) => event.type)).toEqual(['discovery.remediated', 'discovery.undone']);
    expect((await discovery.remediation('DR-AAAABBBB'))?.undoneBy).toBe(events[1]!.actor);
    expect((await verifyStoreAudit(store)).ok).toBe(true);
  });
});
