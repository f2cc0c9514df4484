// Many writes at once, as a mass expiry makes them: on SQLite the writes of one event-loop
// turn share one transaction (group commit), on PostgreSQL each commit is its own and a batch
// handed to commitEach shares one. Either way every caller gets the result of its own change,
// and one change that fails takes no other with it.
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

  it('commits a batch with commitEach in one transaction, each change whole or not at all with its own result', async () => {
    const { store, another } = await open();
    const requests = await seed(store, 30);
    await store.commit({ enqueue: [{ kind: 'revoke', requestId: null, runAt: T0 }, { kind: 'revoke', requestId: null, runAt: T0 }] });
    const [mine, lost] = await store.claimJobs({ now: T0, limit: 2, owner: 'me', leaseMs: 60_000 });
    if (!mine || !lost) throw new Error('nothing claimed');
    const contested = requests[5] as (typeof requests)[number];
    const duplicate = requests[9] as (typeof requests)[number];
    // A person ended one of them first: the batch's change for it must find the request moved on.
    expect(await store.commit(expire(contested, 'bob@example.com'))).toEqual({ ok: true });
    const changes: Change[] = [
      ...requests.map((created, index) => (index === 0 ? { ...expire(created), finishJob: { id: mine.id, claimedBy: 'me' } } : expire(created))),
      // Another worker's job: the lease conflict refuses this change whole, its request untouched.
      { ...expire(newRequest()), finishJob: { id: lost.id, claimedBy: 'someone-else' } },
      // A unique key broken: an error for this change alone.
      { insertRequest: duplicate, audit: [{ type: 'request.created', requestId: duplicate.request.id, actor: 'latch', at: T0, data: {} }] },
    ];
    const outcomes = await Promise.allSettled(store.commitEach(changes));
    expect(outcomes).toHaveLength(changes.length);
    const values = outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected'));
    expect(values[5]).toEqual({ ok: false, conflict: 'version', requestId: contested.request.id });
    expect(values[30]).toEqual({ ok: false, conflict: 'lease', jobId: lost.id });
    expect(values[31]).toBe('rejected');
    expect(values.filter((value) => typeof value === 'object' && value.ok)).toHaveLength(29);

    const reader = await another();
    for (const { request } of requests) expect((await reader.getRequest(request.id))?.request).toMatchObject({ state: 'expired', version: 2 });
    expect((await reader.getRequest(contested.request.id))?.request.endedBy).toBe('bob@example.com');
    // Only what committed is in the audit chain: one ending per request (bob's for the contested one), nothing of the refused changes.
    const events = await reader.auditEvents({});
    expect(events.map((event) => event.type)).toEqual(Array.from({ length: 30 }, () => 'request.expired'));
    expect(events.filter((event) => event.requestId === contested.request.id).map((event) => event.actor)).toEqual(['bob@example.com']);
    expect(await verifyStoreAudit(reader)).toMatchObject({ ok: true, count: 30 });
    expect((await reader.jobsFor(contested.request.id)).filter((job) => job.kind === 'notify')).toHaveLength(1);
    expect((await reader.stats()).jobsRunning).toBe(1);

  });

  it('commits a batch of job results with commitEach, and still checks every condition of each', async () => {
    const { store, another } = await open();
    const requests = await seed(store, 12);
    const ids = requests.map(({ request }) => request.id);
    // Each request has its revoke job claimed, and a warning job the ending cancels.
    await store.commit({ enqueue: ids.flatMap((id) => [{ kind: 'revoke' as const, requestId: id, runAt: T0 }, { kind: 'expiry_warning' as const, requestId: id, runAt: T0 + 60_000 }]) });
    const claimed = await store.claimJobs({ now: T0, limit: 100, owner: 'me', leaseMs: 60_000, kinds: ['revoke'] });
    expect(claimed).toHaveLength(12);
    const jobOf = new Map(claimed.map((job) => [job.requestId, job.id]));
    const result = (created: (typeof requests)[number], owner = 'me'): Change => ({
      ...expire(created),
      cancelJobs: [{ requestId: created.request.id, kinds: ['expiry_warning', 'extend'] }],
      finishJob: { id: jobOf.get(created.request.id) as number, claimedBy: owner },
    });

    // All hold: every result commits.
    const first = requests.slice(0, 6);
    expect(await Promise.all(store.commitEach(first.map((created) => result(created))))).toEqual(first.map(() => ({ ok: true })));

    // One request moved on meanwhile and one job went to another worker: those two are refused, the rest commit.
    const second = requests.slice(6);
    const [moved, lost] = second as [(typeof requests)[number], (typeof requests)[number]];
    expect(await store.commit(expire(moved, 'bob@example.com'))).toEqual({ ok: true });
    const results = await Promise.all(store.commitEach(second.map((created) => result(created, created === lost ? 'someone-else' : 'me'))));
    expect(results[0]).toEqual({ ok: false, conflict: 'version', requestId: moved.request.id });
    expect(results[1]).toEqual({ ok: false, conflict: 'lease', jobId: jobOf.get(lost.request.id) });
    expect(results.slice(2)).toEqual(second.slice(2).map(() => ({ ok: true })));

    const reader = await another();
    for (const created of requests) {
      const id = created.request.id;
      const record = await reader.getRequest(id);
      const jobs = await reader.jobsFor(id);
      const stateOf = (kind: string) => jobs.filter((job) => job.kind === kind).map((job) => job.state);
      if (created === lost) {
        expect(record?.request).toMatchObject({ state: 'active', version: 1 });
        expect(record?.grants[0]?.state).toBe('active');
        expect(stateOf('revoke')).toEqual(['running']);
        expect(stateOf('expiry_warning')).toEqual(['pending']);
        expect(stateOf('notify')).toEqual([]);
        continue;
      }
      expect(record?.request).toMatchObject({ state: 'expired', version: 2, endedBy: created === moved ? 'bob@example.com' : 'latch' });
      expect(record?.grants[0]).toMatchObject({ state: 'revoked', revokedAt: T0 + 1000 });
      expect(stateOf('notify')).toEqual(['pending']);
      expect(stateOf('revoke')).toEqual([created === moved ? 'running' : 'done']);
      expect(stateOf('expiry_warning')).toEqual([created === moved ? 'pending' : 'cancelled']);
    }
    const events = await reader.auditEvents({});
    expect(events.map((event) => event.requestId).sort()).toEqual(ids.filter((id) => id !== lost.request.id).sort());
    expect(await verifyStoreAudit(reader)).toMatchObject({ ok: true, count: 11 });
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
