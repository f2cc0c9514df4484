// Many writes at once, as a mass expiry makes them: on SQLite the writes of one event-loop
// turn share one transaction (group commit), on PostgreSQL each is its own. Either way every
// caller gets the result of its own change, and one change that fails takes no other with it.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessRequest, Grant } from '../../core/types.js';
import { sqlitePathOf } from '../../storage/open-store.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import type { Change, Store } from '../../storage/store.js';
import { createTestStore, STORE_DIALECTS, type StoreDialect } from '../support/test-store.js';

const T0 = 1_800_000_000_000;

function newRequest(): { request: AccessRequest; grants: Grant[] } {
  const id = `req_${randomUUID().slice(0, 8)}`;
  const request: AccessRequest = {
    id, kind: 'access', parentId: null, flow: 'db', bundle: null, requester: 'alice@example.com', grantee: 'alice@example.com', reason: 'INC-1',
    durationMs: 3_600_000, state: 'active', version: 1, step: 0, createdAt: T0, updatedAt: T0, timeoutAt: null, decidedAt: T0, decidedBy: 'latch',
    expiresAt: T0 + 1000, endedAt: null, endedBy: null, outcome: null, policy: 'abc', context: null, startAt: null,
  };
  const grants: Grant[] = [{ id: `${id}_g1`, requestId: id, integration: 'pg', resource: 'orders', permission: 'read', state: 'active', principal: `latch_${id}`, grantedAt: T0, revokedAt: null, lastError: null }];
  return { request, grants };
}

/** What a revoke job commits when the access has expired: the request ends, its grant is revoked, the requester is told. */
function expire(created: { request: AccessRequest; grants: Grant[] }, by = 'latch'): Change {
  const { request, grants } = created;
  return {
    updateRequests: [{ id: request.id, expectState: 'active', expectVersion: request.version, set: { state: 'expired', endedAt: T0 + 1000, endedBy: by, updatedAt: T0 + 1000 } }],
    updateGrants: grants.map((grant) => ({ id: grant.id, set: { state: 'revoked' as const, revokedAt: T0 + 1000 } })),
    audit: [{ type: 'request.expired', requestId: request.id, actor: by, at: T0 + 1000, data: {} }],
    enqueue: [{ kind: 'notify', requestId: request.id, runAt: T0 + 1000, payload: { event: 'expired' }, dedupeKey: `notify:${request.id}:expired:` }],
  };
}

async function seed(store: Store, count: number): Promise<{ request: AccessRequest; grants: Grant[] }[]> {
  const made = Array.from({ length: count }, () => newRequest());
  await Promise.all(made.map((created) => store.commit({ insertRequest: created })));
  return made;
}

describe.each(STORE_DIALECTS)('writes side by side on %s', (dialect: StoreDialect) => {
  let cleanup: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await cleanup?.();
    cleanup = null;
  });
  const open = async () => {
    const made = await createTestStore(dialect);
    cleanup = made.cleanup;
    return made;
  };

  it('gives each of many simultaneous commits its own result: the one that lost a race reports its conflict, the others commit', async () => {
    const { store, another } = await open();
    const second = await another();
    const requests = await seed(store, 40);
    const contested = requests[7] as (typeof requests)[number];
    const results = await Promise.all([
      ...requests.map((created) => store.commit(expire(created))),
      // A person revokes the same request at the same moment: one of the two ends it.
      store.commit(expire(contested, 'bob@example.com')),
    ]);
    expect(results.filter((result) => result.ok)).toHaveLength(40);
    expect(results.filter((result) => !result.ok)).toEqual([{ ok: false, conflict: 'version', requestId: contested.request.id }]);
    for (const { request } of requests) expect((await second.getRequest(request.id))?.request).toMatchObject({ state: 'expired', version: 2 });
    // The loser wrote nothing: one ending, one audit event and one notification for the contested request.
    expect(await second.auditEvents({ requestId: contested.request.id })).toHaveLength(1);
    expect((await second.jobsFor(contested.request.id)).filter((job) => job.kind === 'notify')).toHaveLength(1);
    expect(await verifyStoreAudit(second)).toMatchObject({ ok: true, count: 40 });
  });

  it('keeps the other changes when one throws, and the lost one leaves nothing behind', async () => {
    const { store, another } = await open();
    const requests = await seed(store, 10);
    await store.commit({ enqueue: [{ kind: 'revoke', requestId: null, runAt: T0 }] });
    const [claimed] = await store.claimJobs({ now: T0, limit: 1, owner: 'me', leaseMs: 60_000 });
    if (!claimed) throw new Error('nothing claimed');
    const duplicate = requests[3] as (typeof requests)[number];
    const outcomes = await Promise.allSettled([
      store.commit({ ...expire(requests[0] as (typeof requests)[number]), finishJob: { id: claimed.id, claimedBy: 'me' } }),
      // Inserting a request that exists breaks a unique key: an error, not a conflict the store can name.
      store.commit({ insertRequest: duplicate, audit: [{ type: 'request.created', requestId: duplicate.request.id, actor: 'latch', at: T0, data: {} }] }),
      ...requests.slice(1).map((created) => store.commit(expire(created))),
      store.finishJob(claimed.id, 'someone-else', T0),
      store.recordMessage({ requestId: duplicate.request.id, platform: 'slack', channel: 'C1', messageId: '1.1', recipient: null, purpose: 'card', createdAt: T0 }),
    ]);
    expect(outcomes[1]).toMatchObject({ status: 'rejected' });
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled' && typeof outcome.value === 'object' && outcome.value !== null).map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value))
      .toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    const reader = await another();
    for (const { request } of requests) expect((await reader.getRequest(request.id))?.request.state).toBe('expired');
    expect(await reader.jobsFor(duplicate.request.id)).toHaveLength(1);
    expect(await reader.messagesFor(duplicate.request.id)).toHaveLength(1);
    expect((await reader.auditEvents({})).map((event) => event.type)).toEqual(Array.from({ length: 10 }, () => 'request.expired'));
    expect(await verifyStoreAudit(reader)).toMatchObject({ ok: true, count: 10 });
    // The job was finished by its owner; the other worker's finish changed nothing.
    expect((await store.stats()).jobsRunning).toBe(0);
  });
});

describe('group commit on sqlite', () => {
  let cleanup: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await cleanup?.();
    cleanup = null;
  });

  it('shows another connection nothing of a turn\'s writes before their shared commit, and all of them once the first caller hears back', async () => {
    const made = await createTestStore('sqlite');
    cleanup = made.cleanup;
    const { store, location } = made;
    const requests = await seed(store, 1);
    const more = Array.from({ length: 30 }, () => newRequest());
    const outside = new Database(sqlitePathOf(location.url), { readonly: true });
    try {
      const count = (): number => (outside.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n;
      const commits = more.map((created) => store.commit({ insertRequest: created }));
      const ending = store.commit(expire(requests[0] as (typeof requests)[number]));
      expect(count()).toBe(1);
      expect(await commits[0]).toEqual({ ok: true });
      expect(count()).toBe(31);
      expect((outside.prepare('SELECT state FROM requests WHERE id = ?').get(requests[0]?.request.id) as { state: string }).state).toBe('expired');
      expect(await Promise.all([...commits, ending])).toEqual(Array.from({ length: 31 }, () => ({ ok: true })));
    } finally {
      outside.close();
    }
  });

  it('commits what was asked for before the store closes', async () => {
    const made = await createTestStore('sqlite');
    cleanup = made.cleanup;
    const { store, location } = made;
    const created = newRequest();
    const committed = store.commit({ insertRequest: created });
    await store.close();
    expect(await committed).toEqual({ ok: true });
    const reopened = await location.open();
    try {
      expect((await reopened.getRequest(created.request.id))?.request.state).toBe('active');
    } finally {
      await reopened.close();
    }
  });
});
