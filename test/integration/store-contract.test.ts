// The Store contract, run on both dialects: what handlers and workers rely on, including
// under concurrency from several connections (several Latch instances on one PostgreSQL
// database, or several processes on one SQLite file).
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessRequest, Grant } from '../../core/types.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import type { Store } from '../../storage/store.js';
import { createTestStore, STORE_DIALECTS } from '../support/test-store.js';

const T0 = 1_800_000_000_000;

function newRequest(overrides: Partial<AccessRequest> = {}): { request: AccessRequest; grants: Grant[] } {
  const id = `req_${randomUUID().slice(0, 8)}`;
  const request: AccessRequest = {
    id, kind: 'access', parentId: null, flow: 'db', bundle: null, requester: 'alice@example.com', grantee: 'alice@example.com', reason: 'INC-1',
    durationMs: 3_600_000, state: 'pending', version: 1, step: 0, createdAt: T0, updatedAt: T0, timeoutAt: T0 + 86_400_000, decidedAt: null, decidedBy: null,
    expiresAt: null, endedAt: null, endedBy: null, outcome: null, policy: 'abc', context: { automatic: { rule: 'r', verdict: 'approve' } }, startAt: null, ...overrides,
  };
  const grants: Grant[] = [{ id: `${id}_g1`, requestId: id, integration: 'pg', resource: 'orders', permission: 'read', state: 'pending', principal: null, grantedAt: null, revokedAt: null, lastError: null }];
  return { request, grants };
}

const audit = (type: string, requestId: string | null = null, at = T0) => ({ type, requestId, actor: 'latch', data: { n: 1 }, at });

describe.each(STORE_DIALECTS)('store contract on %s', (dialect) => {
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

  it('round-trips a request with its grants, context and decisions, timestamps as exact numbers', async () => {
    const { store } = await open();
    expect(store.dialect).toBe(dialect);
    const created = newRequest({ expiresAt: 8_000_000_000_000 });
    expect(await store.commit({ insertRequest: created, audit: [audit('request.created', created.request.id)] })).toEqual({ ok: true });
    const decision = { id: 'd1', requestId: created.request.id, step: 0, approver: 'mia@example.com', verdict: 'approve' as const, comment: 'ok', at: T0 + 5 };
    expect(await store.commit({ insertDecisions: [decision] })).toEqual({ ok: true });
    const record = await store.getRequest(created.request.id);
    expect(record).toEqual({ request: created.request, grants: created.grants, decisions: [decision] });
    expect(typeof record?.request.expiresAt).toBe('number');
    expect(await store.listRequests({ involving: 'alice@example.com', states: ['pending'] })).toHaveLength(1);
    expect(await store.listRequests({ states: ['active'] })).toHaveLength(0);
  });

  it('applies a conditional update once: the loser of a race gets a version conflict and nothing of its change is written', async () => {
    const { store, another } = await open();
    const others = [store, await another(), await another()];
    const created = newRequest();
    await store.commit({ insertRequest: created });
    const results = await Promise.all(others.flatMap((each, index) => [0, 1, 2].map((n) => each.commit({
      updateRequests: [{ id: created.request.id, expectState: 'pending', expectVersion: 1, set: { state: 'approved', decidedBy: `approver${index}-${n}` } }],
      audit: [audit('request.approved', created.request.id)],
      enqueue: [{ kind: 'grant', requestId: created.request.id, runAt: T0 }],
    }))));
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok)).toEqual(Array.from({ length: 8 }, () => ({ ok: false, conflict: 'version', requestId: created.request.id })));
    expect((await store.getRequest(created.request.id))?.request).toMatchObject({ state: 'approved', version: 2 });
    expect(await store.jobsFor(created.request.id)).toHaveLength(1);
    expect((await store.auditEvents({ requestId: created.request.id })).map((event) => event.type)).toEqual(['request.approved']);
  });

  it('refuses a repeated delivery and a second decision by the same approver, whole', async () => {
    const { store, another } = await open();
    const second = await another();
    const created = newRequest();
    await store.commit({ insertRequest: created });
    const delivered = await Promise.all([store, second, store, second].map((each) => each.commit({ deliveryId: 'slack:evt-1', audit: [audit('x', created.request.id)] })));
    expect(delivered.filter((result) => result.ok)).toHaveLength(1);
    expect(delivered.filter((result) => !result.ok)).toEqual([1, 2, 3].map(() => ({ ok: false, conflict: 'duplicate_delivery', deliveryId: 'slack:evt-1' })));
    const decision = { id: 'd1', requestId: created.request.id, step: 0, approver: 'mia@example.com', verdict: 'approve' as const, comment: null, at: T0 };
    expect(await store.commit({ insertDecisions: [decision] })).toEqual({ ok: true });
    expect(await second.commit({ insertDecisions: [{ ...decision, id: 'd2' }], audit: [audit('y')] })).toEqual({ ok: false, conflict: 'duplicate_decision', requestId: created.request.id });
    expect((await store.auditEvents({})).map((event) => event.type)).toEqual(['x']);
    expect(await store.pruneDeliveries(Date.now() + 1000)).toBe(1);
  });

  it('keeps one audit chain without gaps or forks while many connections append at once, and prunes it with an anchor', async () => {
    const { store, another } = await open();
    const writers = [store, await another(), await another()];
    await Promise.all(Array.from({ length: 60 }, (_, index) => (writers[index % writers.length] as Store).commit({ audit: [audit(`e${index}`), audit(`e${index}b`, null, T0 + 10)] })));
    const events = await store.auditEvents({});
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));
    // Each commit's two events are adjacent: appends were serialised, not interleaved.
    for (let index = 0; index < events.length; index += 2) expect(events[index + 1]?.type).toBe(`${events[index]?.type ?? ''}b`);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, count: 120 });
    expect(await store.auditBacklog(118)).toEqual({ events: 2, oldestAt: events[118]?.at });
    // Everything up to the last event before the cut goes; the last commit's second event stays, then the anchor.
    expect(await store.pruneAudit(T0 + 5, T0 + 20)).toBe(119);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, count: 2, prunedThroughSeq: 119 });
    expect((await store.auditEvents({})).map((event) => [event.seq, event.type])).toEqual([[120, events[119]?.type], [121, 'audit.pruned']]);
  });

  it('claims each due job for one owner only while several claim at once, and hands an expired lease to another', async () => {
    const { store, another } = await open();
    const claimers = [store, await another(), await another()];
    await store.commit({ enqueue: Array.from({ length: 90 }, (_, index) => ({ kind: 'notify' as const, requestId: null, runAt: T0 + index, payload: { index } })) });
    await store.commit({ enqueue: [{ kind: 'notify', requestId: null, runAt: T0, dedupeKey: 'once' }, { kind: 'notify', requestId: null, runAt: T0, dedupeKey: 'once' }] });
    expect(await store.nextJobAt()).toBe(T0);
    const batches = await Promise.all(Array.from({ length: 12 }, (_, index) => (claimers[index % 3] as Store).claimJobs({ now: T0 + 1000, limit: 10, owner: `owner${index}`, leaseMs: 5000 })));
    const ids = batches.flat().map((job) => job.id);
    expect(ids).toHaveLength(91);
    expect(new Set(ids).size).toBe(91);
    const first = batches[0]?.[0];
    if (!first) throw new Error('nothing claimed');
    expect(first).toMatchObject({ state: 'running', attempts: 1, claimedBy: 'owner0', leaseUntil: T0 + 6000 });
    // Nothing more is due until the leases end; then the jobs are claimed again, attempt 2.
    expect(await store.claimJobs({ now: T0 + 5999, limit: 100, owner: 'late', leaseMs: 5000 })).toEqual([]);
    expect(await store.nextJobAt()).toBe(T0 + 6000);
    await store.renewLeases([first.id], 'owner0', T0 + 20_000);
    const retaken = await claimers[1]?.claimJobs({ now: T0 + 6000, limit: 100, owner: 'heir', leaseMs: 5000 }) ?? [];
    expect(retaken).toHaveLength(90);
    expect(retaken.every((job) => job.attempts === 2 && job.claimedBy === 'heir')).toBe(true);
    // The old owner's results are refused; the heir's are taken.
    const lost = retaken[0];
    if (!lost) throw new Error('nothing retaken');
    expect(await store.commit({ finishJob: { id: lost.id, claimedBy: lost.id === first.id ? 'nobody' : 'owner1' } })).toMatchObject({ ok: false, conflict: 'lease', jobId: lost.id });
    expect(await store.commit({ finishJob: { id: lost.id, claimedBy: 'heir' }, audit: [audit('done')] })).toEqual({ ok: true });
    expect(await store.jobClaimants()).toEqual(expect.arrayContaining(['heir', 'owner0']));
    expect(await store.endLeases('owner0', T0 + 7000)).toBe(1);
    expect(await store.claimJobs({ now: T0 + 7000, limit: 10, owner: 'third', leaseMs: 5000 })).toMatchObject([{ id: first.id, attempts: 2 }]);
    await store.releaseJobs('heir');
    const stats = await store.stats();
    expect(stats).toMatchObject({ jobsPending: 89, jobsRunning: 1 });
  });

  it('inserts a job already claimed when the change asks, returns it from the commit, and claims nothing the dedupe key already holds', async () => {
    const { store, another } = await open();
    const claim = { owner: 'approver-side', leaseUntil: T0 + 30_000 };
    const committed = await store.commit({
      enqueue: [{ kind: 'grant', requestId: 'r9', runAt: T0, dedupeKey: 'grant:r9', claim }, { kind: 'notify', requestId: 'r9', runAt: T0, payload: { event: 'approved' } }],
    });
    if (!committed.ok || !committed.claimed) throw new Error(`nothing claimed: ${JSON.stringify(committed)}`);
    expect(committed.claimed).toHaveLength(1);
    const [job] = committed.claimed;
    expect(job).toMatchObject({ kind: 'grant', requestId: 'r9', runAt: T0, state: 'running', attempts: 1, claimedBy: 'approver-side', leaseUntil: T0 + 30_000, payload: {} });
    const stored = (await store.jobsFor('r9')).find((each) => each.kind === 'grant');
    expect(stored).toEqual(job);
    // Another worker claims only the notification; the grant is held until its lease ends, then it is anyone's (attempt 2).
    const other = await another();
    expect((await other.claimJobs({ now: T0 + 1, limit: 10, owner: 'runner', leaseMs: 60_000 })).map((each) => each.kind)).toEqual(['notify']);
    expect(await other.claimJobs({ now: T0 + 30_000, limit: 10, owner: 'heir', leaseMs: 1000 })).toMatchObject([{ id: job?.id, attempts: 2, claimedBy: 'heir' }]);
    // The same key again: the job exists, so nothing is claimed and the commit says so.
    expect(await store.commit({ enqueue: [{ kind: 'grant', requestId: 'r9', runAt: T0, dedupeKey: 'grant:r9', claim }] })).toEqual({ ok: true });
    // commitEach hands back the claimed jobs of each change too.
    const [first, second] = store.commitEach([
      { enqueue: [{ kind: 'grant', requestId: 'r10', runAt: T0, dedupeKey: 'grant:r10', claim }] },
      { enqueue: [{ kind: 'notify', requestId: 'r10', runAt: T0 }] },
    ]);
    expect(await first).toMatchObject({ ok: true, claimed: [{ kind: 'grant', requestId: 'r10', claimedBy: 'approver-side', state: 'running' }] });
    expect(await second).toEqual({ ok: true });
  });

  it('judges a change\'s conditions in their order (delivery, lease, version, decision) and writes nothing of a refused one', async () => {
    const { store } = await open();
    const created = newRequest();
    await store.commit({ insertRequest: created, deliveryId: 'slack:seen' });
    const id = created.request.id;
    const decision = { id: 'd1', requestId: id, step: 0, approver: 'mia@example.com', verdict: 'approve' as const, comment: null, at: T0 };
    await store.commit({ insertDecisions: [decision] });
    await store.commit({ enqueue: [{ kind: 'timeout', requestId: id, runAt: T0 }] });
    const [held] = await store.claimJobs({ now: T0, limit: 1, owner: 'w1', leaseMs: 60_000 });
    if (!held) throw new Error('no job to hold');
    // Every condition fails at once: each refusal names the first of them, as they are checked in order.
    const everything = {
      deliveryId: 'slack:seen',
      finishJob: { id: held.id, claimedBy: 'someone-else' },
      updateRequests: [{ id, expectState: 'pending' as const, expectVersion: 7, set: { state: 'approved' as const } }],
      insertDecisions: [{ ...decision, id: 'd2' }],
      updateGrants: [{ id: `${id}_g1`, set: { principal: 'should_not_land' } }],
      cancelJobs: [{ requestId: id, kinds: ['timeout' as const] }],
      enqueue: [{ kind: 'grant' as const, requestId: id, runAt: T0, claim: { owner: 'w1', leaseUntil: T0 + 1000 } }],
      audit: [audit('should.not.land', id)],
    };
    expect(await store.commit(everything)).toEqual({ ok: false, conflict: 'duplicate_delivery', deliveryId: 'slack:seen' });
    expect(await store.commit({ ...everything, deliveryId: 'slack:new' })).toEqual({ ok: false, conflict: 'lease', jobId: held.id });
    expect(await store.commit({ ...everything, deliveryId: 'slack:new', finishJob: { id: held.id, claimedBy: 'w1' } })).toEqual({ ok: false, conflict: 'version', requestId: id });
    const current = { id, expectState: 'pending' as const, expectVersion: 1, set: { state: 'approved' as const } };
    expect(await store.commit({ ...everything, deliveryId: 'slack:new', finishJob: { id: held.id, claimedBy: 'w1' }, updateRequests: [current] }))
      .toEqual({ ok: false, conflict: 'duplicate_decision', requestId: id });
    // Nothing of the four refused changes landed: not the delivery, the job's end, the request, the grant, the jobs or the audit.
    expect((await store.getRequest(id))).toMatchObject({ request: { state: 'pending', version: 1 }, grants: [{ principal: null }], decisions: [{ id: 'd1' }] });
    expect((await store.jobsFor(id)).map((job) => [job.kind, job.state])).toEqual([['timeout', 'running']]);
    expect((await store.auditEvents({})).map((event) => event.type)).toEqual([]);
    // The delivery id of a refused change is still free: its next delivery acts.
    const landed = await store.commit({ ...everything, deliveryId: 'slack:new', finishJob: { id: held.id, claimedBy: 'w1' }, updateRequests: [current], insertDecisions: [{ ...decision, id: 'd3', approver: 'lead@example.com' }] });
    expect(landed).toMatchObject({ ok: true, claimed: [{ kind: 'grant', state: 'running', claimedBy: 'w1' }] });
    expect((await store.getRequest(id))).toMatchObject({ request: { state: 'approved', version: 2 }, grants: [{ principal: 'should_not_land' }] });
    // The job the change finished is done, not cancelled with the others of its kind.
    expect((await store.jobsFor(id)).map((job) => [job.kind, job.state])).toEqual([['timeout', 'done'], ['grant', 'running']]);
    expect(await store.commit({ deliveryId: 'slack:new' })).toEqual({ ok: false, conflict: 'duplicate_delivery', deliveryId: 'slack:new' });
  });

  it('applies the writes of one change in order where they touch the same rows', async () => {
    const { store } = await open();
    const created = newRequest({ version: 0 });
    const id = created.request.id;
    const grantId = `${id}_g1`;
    // Inserted and then moved on in the same change; one request updated twice, one grant set twice.
    expect(await store.commit({
      insertRequest: created,
      updateRequests: [{ id, expectState: 'pending', expectVersion: 0, set: { state: 'approved', decidedBy: 'mia@example.com' } }],
      updateGrants: [{ id: grantId, set: { principal: 'first' } }],
    })).toEqual({ ok: true });
    expect(await store.commit({
      updateRequests: [
        { id, expectState: 'approved', expectVersion: 1, set: { state: 'granting', expiresAt: T0 + 5 } },
        { id, expectState: 'granting', expectVersion: 2, set: { state: 'active' } },
      ],
      updateGrants: [{ id: grantId, set: { principal: 'second', state: 'active' } }, { id: grantId, set: { principal: 'third' } }],
    })).toEqual({ ok: true });
    expect(await store.getRequest(id)).toMatchObject({ request: { state: 'active', version: 3, expiresAt: T0 + 5, decidedBy: 'mia@example.com' }, grants: [{ principal: 'third', state: 'active' }] });
    // Two jobs with one dedupe key in one change leave one; a job cancelled and moved in one change is cancelled.
    expect(await store.commit({ enqueue: [{ kind: 'revoke', requestId: id, runAt: T0 + 5, dedupeKey: `revoke:${id}` }, { kind: 'revoke', requestId: id, runAt: T0 + 9, dedupeKey: `revoke:${id}` }] })).toEqual({ ok: true });
    expect(await store.commit({ cancelJobs: [{ requestId: id, kinds: ['revoke'] }], rescheduleJobs: [{ requestId: id, kind: 'revoke', runAt: T0 + 50 }] })).toEqual({ ok: true });
    expect((await store.jobsFor(id)).map((job) => [job.kind, job.state, job.runAt])).toEqual([['revoke', 'cancelled', T0 + 5]]);
  });

  it('settles a claimed job only for its owner: retry, bury, finish', async () => {
    const { store } = await open();
    await store.commit({ enqueue: [1, 2, 3].map((n) => ({ kind: 'revoke' as const, requestId: 'r1', runAt: T0 + n })) });
    const [a, b, c] = await store.claimJobs({ now: T0 + 10, limit: 3, owner: 'me', leaseMs: 1000 });
    if (!a || !b || !c) throw new Error('not claimed');
    await store.retryJob(a.id, 'someone-else', T0 + 99, 'nope');
    await store.retryJob(a.id, 'me', T0 + 50, 'backend down');
    await store.buryJob(b.id, 'me', 'bad payload', T0 + 11);
    await store.finishJob(c.id, 'me', T0 + 12);
    const jobs = await store.jobsFor('r1');
    expect(jobs.map((job) => [job.state, job.runAt, job.lastError, job.finishedAt, job.leaseUntil])).toEqual([
      ['pending', T0 + 50, 'backend down', null, null], ['dead', T0 + 2, 'bad payload', T0 + 11, null], ['done', T0 + 3, null, T0 + 12, null]]);
    await store.commit({ cancelJobs: [{ requestId: 'r1', kinds: ['revoke'] }] });
    expect((await store.jobsFor('r1'))[0]?.state).toBe('cancelled');
  });

  it('leases an audit sink cursor to one owner at a time, across connections', async () => {
    const { store, another } = await open();
    const second = await another();
    await store.commit({ audit: [audit('a'), audit('b')] });
    expect(await store.openAuditCursor('siem', 'now', T0)).toMatchObject({ sink: 'siem', deliveredSeq: 2, owner: null });
    expect(await second.openAuditCursor('siem', 'beginning', T0)).toMatchObject({ deliveredSeq: 2 });
    const leases = await Promise.all([store.leaseAuditCursor('siem', 'one', T0, T0 + 1000), second.leaseAuditCursor('siem', 'two', T0, T0 + 1000)]);
    expect(leases.filter(Boolean)).toHaveLength(1);
    const [holder, other] = leases[0] ? ['one', 'two'] : ['two', 'one'];
    expect(await store.advanceAuditCursor('siem', other as string, 2, 3, T0)).toBe(false);
    expect(await second.advanceAuditCursor('siem', holder as string, 2, 3, T0 + 1)).toBe(true);
    expect(await store.leaseAuditCursor('siem', other as string, T0 + 1000, T0 + 2000)).toBe(true);
    await store.releaseAuditCursors(other as string);
    expect(await store.openAuditCursor('siem', 'now', T0)).toMatchObject({ deliveredSeq: 3, deliveredAt: T0 + 1, owner: null, leaseUntil: null });
  });

  it('binds a chat account once when two connections see it first at the same moment', async () => {
    const { store, another } = await open();
    const second = await another();
    const sightings = await Promise.all([store, second, store, second].map((each, index) => each.observeIdentity({ platform: 'slack', platformUserId: 'U1', emails: ['Alice@Example.com'], at: T0 + index, exclusive: true })));
    expect(sightings.filter((each) => each.outcome === 'bound')).toHaveLength(1);
    expect(sightings.every((each) => each.binding.email === 'alice@example.com' && each.binding.state === 'bound')).toBe(true);
    expect(await store.observeIdentity({ platform: 'slack', platformUserId: 'U2', emails: ['alice@example.com'], at: T0, exclusive: true })).toMatchObject({ outcome: 'duplicate_email' });
    expect((await store.listIdentities()).map((each) => [each.platformUserId, each.state])).toEqual([['U2', 'duplicate_email'], ['U1', 'bound']]);
    expect(await store.rekeyIdentity('slack', 'U2', 'U1')).toBe(false);
    expect(await store.rekeyIdentity('slack', 'U2', 'U3')).toBe(true);
    await store.recordMessage({ requestId: 'r', platform: 'slack', channel: 'C1', messageId: '1.2', recipient: null, purpose: 'card', createdAt: T0 });
    await second.recordMessage({ requestId: 'r', platform: 'slack', channel: 'C1', messageId: '1.2', recipient: null, purpose: 'card', createdAt: T0 });
    expect(await store.messagesFor('r')).toHaveLength(1);
  });

  it('keeps identity source snapshots whole per source, with their audit events', async () => {
    const { store, another } = await open();
    const snapshots = store.identitySnapshots;
    const second = (await another()).identitySnapshots;
    if (!snapshots || !second) throw new Error(`the ${dialect} store keeps no identity snapshots`);
    const person = (id: string, email: string) => ({ id, email, login: null, name: id, active: true, manager: null });
    // Two instances apply full answers for one source at once: the result is one of them, never a mix.
    await Promise.all([
      snapshots.replaceSnapshot('entra', { people: [person('a', 'A@x.com'), person('b', 'b@x.com')], groups: [{ id: 'g', name: 'DBAs', members: ['a'] }] }, T0, [audit('identity.synced')]),
      second.replaceSnapshot('entra', { people: [person('c', 'c@x.com')], groups: [] }, T0 + 1, [audit('identity.synced')]),
    ]);
    const [entra] = await snapshots.snapshots();
    const ids = entra?.people.map((each) => each.id).sort();
    expect([['a', 'b'], ['c']]).toContainEqual(ids);
    await snapshots.replaceSnapshot('entra', { people: [person('a', 'A@x.com')], groups: [{ id: 'g', name: 'DBAs', members: ['a'] }] }, T0 + 2, []);
    expect(await snapshots.putPerson('entra', person('d', 'd@x.com'), T0 + 3, [])).toBe(true);
    expect(await snapshots.putPerson('entra', { ...person('d', 'd@x.com'), active: false }, T0 + 4, [])).toBe(false);
    expect(await snapshots.patchGroup('entra', 'g', { add: ['d'], remove: ['a'], name: 'DB admins' }, T0 + 5, [audit('scim.group')])).toEqual({ id: 'g', name: 'DB admins', members: ['d'] });
    expect(await snapshots.patchGroup('entra', 'nope', { add: [], remove: 'all' }, T0 + 5, [])).toBeNull();
    expect(await snapshots.snapshots()).toEqual([{ source: 'entra', people: expect.arrayContaining([{ ...person('a', 'a@x.com') }, { ...person('d', 'd@x.com'), active: false }]), groups: [{ id: 'g', name: 'DB admins', members: ['d'] }] }]);
    await snapshots.recordAttempt('entra', { at: T0 + 6, held: 'would disable 3 of 4' }, []);
    expect(await snapshots.deleteGroup('entra', 'g', T0 + 7, [])).toBe(true);
    expect(await snapshots.syncs()).toEqual([{ source: 'entra', lastAttemptAt: T0 + 7, lastSuccessAt: T0 + 7, lastError: null, heldAt: T0 + 6, heldMessage: 'would disable 3 of 4', people: 2, groups: 0 }]);
    expect((await store.auditEvents({})).map((event) => event.type)).toEqual(['identity.synced', 'identity.synced', 'scim.group']);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, count: 3 });
  });
});
