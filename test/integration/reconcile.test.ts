import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { reconcile, reconcileJob } from '../../jobs/reconcile.js';
import { createHarness, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

async function activeProdRead(h: Harness): Promise<string> {
  const created = await requestAccess(h.ctx, h.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
  if (!created.ok) throw new Error(created.message);
  await decide(h.ctx, h.as('lead@example.com'), created.record.request.id, 'approve');
  await h.drain();
  return created.record.request.id;
}

describe('reconcile', () => {
  it('removes what Latch marked but no longer knows, reports what it never made, and notices what vanished', async () => {
    harness = await createHarness(orgConfig());
    const kept = await activeProdRead(harness);
    const vanished = await activeProdRead(harness);
    const vanishedPrincipal = (await harness.store.getRequest(vanished))?.grants[0]?.principal ?? '';
    harness.provisioner.held.delete((await harness.store.getRequest(vanished))?.grants[0]?.id ?? '');
    harness.provisioner.plant('latch_ghost_abc123', 'AR-GONE0000');
    harness.provisioner.plant('latch_manual_zzz999', null);

    const { reports, audit } = await reconcile(harness.ctx);
    expect(reports).toEqual([{ integration: 'orders', removed: ['latch_ghost_abc123'], requeued: [], unknown: ['latch_manual_zzz999'], missing: [vanishedPrincipal] }]);
    expect(audit.map((event) => event.type)).toEqual(['reconcile.report']);
    expect([...harness.provisioner.held.values()].map((held) => held.principal).sort()).toEqual([(await harness.store.getRequest(kept))?.grants[0]?.principal, 'latch_manual_zzz999'].sort());
  });

  it('takes back access the store says ended, and re-queues revokes that are overdue', async () => {
    harness = await createHarness(orgConfig());
    const ended = await activeProdRead(harness);
    await revokeAccess(harness.ctx, harness.as('alice@example.com'), ended);
    await harness.drain();
    const endedGrant = (await harness.store.getRequest(ended))?.grants[0];
    // The backend kept it anyway (a revoke that claimed success, a restore from backup...).
    harness.provisioner.held.set(endedGrant?.id ?? '', { principal: endedGrant?.principal ?? '', grantId: endedGrant?.id ?? '', requestId: ended, permission: 'read', expiresAt: 0 });
    const overdue = await activeProdRead(harness);
    const overdueJob = (await harness.store.jobsFor(overdue)).find((job) => job.kind === 'revoke' && job.state === 'pending');
    await harness.store.commit({ cancelJobs: [{ requestId: overdue, kinds: ['revoke'] }] }); // the expiry job was lost
    harness.advance(2 * 3_600_000);

    await harness.store.commit({ enqueue: [reconcileJob(harness.ctx.now(), true)] });
    await harness.drain();
    expect(harness.provisioner.held.has(endedGrant?.id ?? '')).toBe(false);
    expect((await harness.store.getRequest(overdue))?.request.state).toBe('expired');
    expect(overdueJob).toBeDefined();
    const reports = (await harness.store.auditEvents({})).filter((event) => event.type === 'reconcile.report');
    expect(reports[0]?.data).toMatchObject({ integration: 'orders', removed: [endedGrant?.principal], requeued: [(await harness.store.getRequest(overdue))?.grants[0]?.principal] });
  });
});

describe('integration health', () => {
  it('refuses requests for an integration reconcile found down, before anyone is asked to approve', async () => {
    const { forgetIntegrationStatuses } = await import('../../handlers/integration-status.js');
    harness = await createHarness(orgConfig());
    harness.provisioner.down = 'connection refused by 10.0.0.5:5432';
    await reconcile(harness.ctx);
    const refused = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    expect(refused).toEqual({ ok: false, reason: 'integration_unavailable', message: "orders is unavailable right now (connection refused by 10.0.0.5:5432), so nothing was submitted. Try again later, or tell the integration's owner." });
    expect(await harness.store.listRequests({})).toEqual([]);

    harness.provisioner.down = null;
    await reconcile(harness.ctx);
    expect(await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' })).toMatchObject({ ok: true });
    forgetIntegrationStatuses();
  });
});
