import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { cancelRequest } from '../../handlers/cancel.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { extendAccess } from '../../handlers/extend.js';
import { listApprovals, listMine, showRequest } from '../../handlers/queries.js';
import { auditHash, GENESIS_HASH } from '../../storage/audit-hash.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_DIALECTS } from '../support/test-store.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

async function chainIsIntact(h: Harness): Promise<boolean> {
  let prev = GENESIS_HASH;
  for (const event of await h.store.auditEvents({})) {
    if (event.prevHash !== prev || auditHash(prev, event.seq, event) !== event.hash) return false;
    prev = event.hash;
  }
  return true;
}

async function submitProdRead(h: Harness, who = 'alice@example.com') {
  const result = await requestAccess(h.ctx, h.as(who), { resource: 'orders-prod', permission: 'read', durationMs: 3_600_000, reason: 'INC-42 checking orders' });
  if (!result.ok) throw new Error(result.message);
  return result.record.request.id;
}

describe.each(STORE_DIALECTS)('the access life cycle (%s store)', (dialect) => {
  it('takes a request from pending to approved, active and expired, with an intact audit chain', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    expect((await harness.store.getRequest(id))?.request.state).toBe('pending');
    await harness.drain();
    expect(harness.notifier.events(id)).toEqual(['submitted', 'approval_requested']);
    expect(harness.notifier.notifications[0]?.recipients).toEqual(['alice@example.com']);
    const asked = harness.notifier.notifications[1];
    expect(asked?.recipients).toContain('approver0@example.com');
    expect(asked?.recipients).not.toContain('alice@example.com'); // in the approver group, but it is her request

    const approved = await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    expect(approved.ok && approved.result).toBe('approved');
    await harness.drain();
    const active = await harness.store.getRequest(id);
    expect(active?.request.state).toBe('active');
    expect(active?.grants[0]?.state).toBe('active');
    expect(active?.grants[0]?.principal).toMatch(/^latch_alice_[a-z0-9]{6}$/);
    expect(harness.provisioner.held.size).toBe(1);
    const delivery = harness.notifier.deliveries[0];
    expect(delivery?.grantee).toBe('alice@example.com');
    expect(delivery?.items[0]?.details).toBe(`psql -h memory.local -U ${active?.grants[0]?.principal ?? ''} orders`);
    expect(Object.keys(delivery?.items[0]?.secrets ?? {})).toEqual(['password']);

    const jobs = await harness.store.jobsFor(id);
    const expiry = jobs.find((job) => job.kind === 'revoke' && job.state === 'pending');
    expect(expiry?.runAt).toBe(active?.request.expiresAt);
    harness.advance(3_600_000);
    await harness.drain();
    const ended = await harness.store.getRequest(id);
    expect(ended?.request.state).toBe('expired');
    expect(ended?.grants[0]?.state).toBe('revoked');
    expect(harness.provisioner.held.size).toBe(0);
    expect(harness.notifier.events(id)).toEqual(['submitted', 'approval_requested', 'approved', 'granted', 'expired']);

    const types = (await harness.store.auditEvents({ requestId: id })).map((event) => event.type);
    expect(types).toEqual(['request.created', 'request.approved', 'grant.granted', 'grant.revoked', 'request.expired']);
    expect(await chainIsIntact(harness)).toBe(true);
  });

  it('grants an auto-approved request without anyone clicking', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const result = await requestAccess(harness.ctx, harness.as('bob@example.com'), { resource: 'orders-staging', permission: 'write' });
    expect(result.ok && result.autoApproved).toBe(true);
    await harness.drain();
    const record = result.ok ? await harness.store.getRequest(result.record.request.id) : null;
    expect(record?.request.state).toBe('active');
    expect(record?.request.decidedBy).toBe('latch');
    expect(record?.request.durationMs).toBe(3_600_000); // the flow's default
  });

  it('needs every step of a multi-step flow, with N approvals in a step, and one voice per person', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'write', reason: 'fix order 7' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;

    const early = await decide(harness.ctx, harness.as('sec@example.com'), id, 'approve');
    expect(early).toMatchObject({ ok: false, reason: 'not_an_approver' });
    expect((await decide(harness.ctx, harness.as('mia@example.com'), id, 'approve'))).toMatchObject({ ok: true, result: 'step_approved' });
    expect((await harness.store.getRequest(id))?.request.step).toBe(1);
    expect((await decide(harness.ctx, harness.as('mia@example.com'), id, 'approve'))).toMatchObject({ ok: false, reason: 'not_an_approver' });
    expect((await decide(harness.ctx, harness.as('sec@example.com'), id, 'approve'))).toMatchObject({ ok: true, result: 'step_approved' });
    expect((await decide(harness.ctx, harness.as('sec@example.com'), id, 'approve'))).toMatchObject({ ok: false, reason: 'already_approved_step' });
    expect((await harness.store.getRequest(id))?.request.state).toBe('pending');
    expect((await decide(harness.ctx, harness.as('sec2@example.com'), id, 'approve'))).toMatchObject({ ok: true, result: 'approved' });
    const record = await harness.store.getRequest(id);
    expect(record?.request.state).toBe('approved');
    expect(record?.decisions.map((d) => `${d.step}:${d.approver}`)).toEqual(['0:mia@example.com', '1:sec@example.com', '1:sec2@example.com']);
  });

  it('lets a denial end the request and tells the requester why', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    const denied = await decide(harness.ctx, harness.as('approver1@example.com'), id, 'deny', 'use the replica instead');
    expect(denied).toMatchObject({ ok: true, result: 'denied' });
    await harness.drain();
    const record = await harness.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'denied', decidedBy: 'approver1@example.com', outcome: 'use the replica instead' });
    const told = harness.notifier.notifications.find((n) => n.event === 'denied');
    expect(told?.recipients).toEqual(['alice@example.com']);
    expect(told?.text).toContain('use the replica instead');
    expect((await harness.store.jobsFor(id)).filter((job) => job.kind === 'timeout')[0]?.state).toBe('cancelled');
    const late = await decide(harness.ctx, harness.as('approver2@example.com'), id, 'approve');
    expect(late).toMatchObject({ ok: false, reason: 'already_decided' });
    expect(late.ok ? '' : late.message).toBe(`Request ${id} was already denied by approver1@example.com.`);
  });

  it('lets the requester cancel a pending request, and nobody else', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    expect(await cancelRequest(harness.ctx, harness.as('bob@example.com'), id)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await cancelRequest(harness.ctx, harness.as('alice@example.com'), id)).toMatchObject({ ok: true });
    expect((await harness.store.getRequest(id))?.request.state).toBe('cancelled');
    const again = await cancelRequest(harness.ctx, harness.as('alice@example.com'), id);
    expect(again).toMatchObject({ ok: false, reason: 'illegal_transition' });
  });

  it('revokes early at the requester\'s word, cancelling the scheduled expiry', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    await harness.drain();
    expect(await revokeAccess(harness.ctx, harness.as('bob@example.com'), id)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await revokeAccess(harness.ctx, harness.as('alice@example.com'), id, 'done early')).toMatchObject({ ok: true });
    await harness.drain();
    const record = await harness.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'revoked', endedBy: 'alice@example.com' });
    expect(harness.provisioner.held.size).toBe(0);
    const jobs = await harness.store.jobsFor(id);
    expect(jobs.filter((job) => job.kind === 'revoke').map((job) => `${String(job.payload.reason)}:${job.state}`)).toEqual(['expired:cancelled', 'revoked:done']);
    expect(await revokeAccess(harness.ctx, harness.as('alice@example.com'), id)).toMatchObject({ ok: false, reason: 'illegal_transition' });
  });

  it('lets an admin revoke anyone\'s access', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    await harness.drain();
    expect(await revokeAccess(harness.ctx, harness.as('sec@example.com'), id)).toMatchObject({ ok: true });
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request).toMatchObject({ state: 'revoked', endedBy: 'sec@example.com' });
  });

  it('extends active access once the extension is approved, moving the expiry job', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    await harness.drain();
    const before = (await harness.store.getRequest(id))?.request.expiresAt ?? 0;
    const asked = await extendAccess(harness.ctx, harness.as('alice@example.com'), id, 30 * 60_000, 'still digging');
    if (!asked.ok) throw new Error(asked.message);
    expect(asked.autoApproved).toBe(false);
    const extensionId = asked.extension.request.id;
    expect(await extendAccess(harness.ctx, harness.as('alice@example.com'), id, 60_000)).toMatchObject({ ok: false, reason: 'already_pending' });
    expect(await decide(harness.ctx, harness.as('approver0@example.com'), extensionId, 'approve')).toMatchObject({ ok: true, result: 'approved' });
    await harness.drain();
    const after = await harness.store.getRequest(id);
    expect(after?.request.state).toBe('active');
    expect(after?.request.expiresAt).toBe(before + 30 * 60_000);
    const pendingRevokes = (await harness.store.jobsFor(id)).filter((job) => job.kind === 'revoke' && job.state === 'pending');
    expect(pendingRevokes.map((job) => job.runAt)).toEqual([before + 30 * 60_000]);
    expect(harness.provisioner.journal.filter((entry) => entry.op === 'extend').map((entry) => entry.expiresAt)).toEqual([before + 30 * 60_000]);
    expect(await extendAccess(harness.ctx, harness.as('alice@example.com'), id, 5 * 3_600_000)).toMatchObject({ ok: false, reason: 'duration_over_max' });
  });

  it('times out a request nobody decided', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    harness.advance(2 * 3_600_000);
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request.state).toBe('timed_out');
    const late = await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    expect(late).toMatchObject({ ok: false, reason: 'already_decided' });
    expect(late.ok ? '' : late.message).toContain('timed out');
    const refused = (await harness.store.auditEvents({ requestId: id })).filter((event) => event.type === 'decision.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: 'lead@example.com', data: { reason: 'already_decided' } });
  });

  it('ends a grant that keeps failing in failed, with the reason, and cleans up what landed', async () => {
    harness = await createHarness(orgConfig({ settings: '  grantAttempts: 2' }), { dialect });
    harness.provisioner.failResources.add('broken-db');
    const created = await requestAccess(harness.ctx, harness.as('bob@example.com'), { resource: 'broken-db', permission: 'read' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request.state).toBe('granting');
    harness.advance(60_000); // past the retry backoff
    await harness.drain();
    const record = await harness.store.getRequest(id);
    expect(record?.request.state).toBe('failed');
    expect(record?.request.outcome).toBe('Granting failed after 2 attempts: backend has no database broken-db (injected)');
    const told = harness.notifier.notifications.find((n) => n.event === 'failed');
    expect(told?.recipients).toEqual(['bob@example.com']);
    expect(told?.text).toContain('backend has no database broken-db');
    expect((await harness.store.jobsFor(id)).map((job) => `${job.kind}:${job.state}`)).toContain('revoke:done');
  });

  it('keeps retrying a revoke that fails, shows it as revoke_failed and alerts the admins', async () => {
    harness = await createHarness(orgConfig({ settings: '  revokeAttemptsBeforeAlert: 2' }), { dialect });
    const id = await submitProdRead(harness);
    await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    await harness.drain();
    harness.provisioner.failures.revoke = 2; // attempt 2 fails too (alert), attempt 3 succeeds
    await revokeAccess(harness.ctx, harness.as('alice@example.com'), id);
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request.state).toBe('revoking');
    const due = (): void => harness.advance(60_000); // past the retry backoff
    due();
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request.state).toBe('revoke_failed');
    const alert = harness.notifier.notifications.find((n) => n.event === 'revoke_failed_alert');
    expect(alert?.recipients).toContain('sec@example.com');
    expect(harness.provisioner.held.size).toBe(1);
    due();
    await harness.drain();
    expect((await harness.store.getRequest(id))?.request.state).toBe('revoked');
    expect(harness.provisioner.held.size).toBe(0);
  });

  it('lists my requests, the approvals waiting for me, and shows a request only to those involved', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const id = await submitProdRead(harness);
    expect((await listMine(harness.ctx, harness.as('alice@example.com'))).map((r) => r.request.id)).toEqual([id]);
    expect((await listApprovals(harness.ctx, harness.as('approver2@example.com'))).map((r) => r.request.id)).toEqual([id]);
    expect(await listApprovals(harness.ctx, harness.as('alice@example.com'))).toEqual([]);
    expect(await showRequest(harness.ctx, harness.as('bob@example.com'), id)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await showRequest(harness.ctx, harness.as('approver2@example.com'), id)).toMatchObject({ ok: true });
  });
});
