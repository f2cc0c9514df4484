import { afterEach, describe, expect, it } from 'vitest';
import type { ManagedPrincipal, RevokeInput } from '../../provisioners/provisioner.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { MISSING_NAMED, reconcile, reconcileJob } from '../../jobs/reconcile.js';
import { createHarness, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';

const DAY = 86_400_000;

/** The memory backend, able to keep a revoked principal (locked) until `retainUntil`, as the real ones do. */
class RetainingProvisioner extends MemoryProvisioner {
  readonly retained = new Map<string, number>();
  readonly revokes: RevokeInput[] = [];

  override async revoke(input: RevokeInput): Promise<void> {
    this.revokes.push(input);
    if (input.retainUntil === undefined) {
      this.retained.delete(input.principal);
      return super.revoke(input);
    }
    if (!this.retained.has(input.principal)) this.retained.set(input.principal, input.retainUntil);
  }

  override async removeOrphan(integration: Parameters<MemoryProvisioner['removeOrphan']>[0], principal: string): Promise<void> {
    this.retained.delete(principal);
    return super.removeOrphan(integration, principal);
  }

  override async listManaged(integration: Parameters<MemoryProvisioner['listManaged']>[0]): Promise<ManagedPrincipal[]> {
    return (await super.listManaged(integration)).map((entry) => {
      const until = this.retained.get(entry.principal);
      return until === undefined ? entry : { ...entry, retainedUntil: until };
    });
  }
}

/** orgConfig with `retainRevoked` on its integration, served by a RetainingProvisioner. */
async function retainingHarness(retainRevoked: string): Promise<{ harness: Harness; backend: RetainingProvisioner }> {
  const created = await createHarness(orgConfig().replace('    type: postgresql\n', `    type: postgresql\n    retainRevoked: ${retainRevoked}\n`));
  const backend = new RetainingProvisioner();
  created.ctx.provisioners.use('orders', backend);
  return { harness: created, backend };
}

/** Ends a request in the store as the revoke job would, without asking the backend. */
async function endInStore(h: Harness, requestId: string): Promise<{ principal: string; grantId: string; revokedAt: number }> {
  const record = await h.store.getRequest(requestId);
  const grant = record?.grants[0];
  if (!record || !grant?.principal) throw new Error('no granted principal');
  const now = h.ctx.now();
  const committed = await h.store.commit({
    updateRequests: [{ id: requestId, expectState: record.request.state, expectVersion: record.request.version, set: { state: 'revoked', endedAt: now, endedBy: 'alice@example.com', updatedAt: now } }],
    updateGrants: [{ id: grant.id, set: { state: 'revoked', revokedAt: now } }],
    cancelJobs: [{ requestId, kinds: ['revoke', 'expiry_warning', 'extend'] }],
  });
  if (!committed.ok) throw new Error('could not end the request');
  return { principal: grant.principal, grantId: grant.id, revokedAt: now };
}

let harness: Harness;
afterEach(async () => harness?.close());

async function activeProdRead(h: Harness, grantee = 'alice@example.com'): Promise<string> {
  const created = await requestAccess(h.ctx, h.as(grantee), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
  if (!created.ok) throw new Error(created.message);
  await decide(h.ctx, h.as('lead@example.com'), created.record.request.id, 'approve');
  await h.drain();
  return created.record.request.id;
}

describe('reconcile', () => {
  it('removes what Latch marked but no longer knows, reports what it never made, and notices what vanished', async () => {
    harness = await createHarness(orgConfig());
    const kept = await activeProdRead(harness);
    const vanished = await activeProdRead(harness, 'bob@example.com');
    const vanishedPrincipal = (await harness.store.getRequest(vanished))?.grants[0]?.principal ?? '';
    harness.provisioner.held.delete((await harness.store.getRequest(vanished))?.grants[0]?.id ?? '');
    harness.provisioner.plant('latch_ghost_abc123', 'AR-GONE0000');
    harness.provisioner.plant('latch_manual_zzz999', null);

    const { reports, audit } = await reconcile(harness.ctx);
    expect(reports).toEqual([{ integration: 'orders', removed: ['latch_ghost_abc123'], retained: [], requeued: [], unknown: ['latch_manual_zzz999'], missing: [vanishedPrincipal], missingCount: 1 }]);
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

  it('leaves a principal shared by several grants alone while one of them still holds access', async () => {
    harness = await createHarness(orgConfig());
    const h = harness;
    const staying = await activeProdRead(h);
    const created = await requestAccess(h.ctx, h.as('alice@example.com'), { resource: 'orders-staging', permission: 'read', reason: 'INC-2' });
    if (!created.ok) throw new Error(created.message);
    await h.drain();
    const ending = created.record.request.id;
    // Both grants land on the person's own login (an existing_role resource).
    const own = 'alice_own_login';
    for (const id of [staying, ending]) {
      const grant = (await h.store.getRequest(id))?.grants[0];
      await h.store.commit({ updateGrants: [{ id: grant?.id ?? '', set: { principal: own } }] });
      const held = h.provisioner.held.get(grant?.id ?? '');
      if (held) held.principal = own;
    }
    await revokeAccess(h.ctx, h.as('alice@example.com'), ending);
    await h.drain();
    const endedGrant = (await h.store.getRequest(ending))?.grants[0];
    expect(endedGrant?.state).toBe('revoked');
    const revokesBefore = h.provisioner.journal.filter((entry) => entry.op === 'revoke').length;

    const { reports } = await reconcile(h.ctx);
    expect(reports[0]).toMatchObject({ removed: [], retained: [], missing: [] });
    // A page of one grant: the ended grant and the one still holding access are read apart.
    expect((await reconcile(h.ctx, { pageSize: 1 })).reports[0]).toMatchObject({ removed: [], retained: [], missing: [] });
    expect(h.provisioner.journal.filter((entry) => entry.op === 'revoke')).toHaveLength(revokesBefore);
  });
});

/** Five active grants of the staging flow (granted without approval), one per person and permission. */
async function fiveStagingGrants(h: Harness): Promise<{ requestId: string; grantId: string; principal: string }[]> {
  const asked = [['alice@example.com', 'read'], ['alice@example.com', 'write'], ['bob@example.com', 'read'], ['bob@example.com', 'write'], ['lead@example.com', 'read']] as const;
  const grants = [];
  for (const [grantee, permission] of asked) {
    const created = await requestAccess(h.ctx, h.as(grantee), { resource: 'orders-staging', permission, reason: 'INC-3' });
    if (!created.ok) throw new Error(created.message);
    await h.drain();
    const grant = (await h.store.getRequest(created.record.request.id))?.grants[0];
    if (grant?.state !== 'active' || !grant.principal) throw new Error(`no active grant for ${grantee} ${permission}`);
    grants.push({ requestId: created.record.request.id, grantId: grant.id, principal: grant.principal });
  }
  return grants;
}

describe.each(['sqlite', 'postgres'] as const)('reconcile a page of grants at a time (%s store)', (dialect) => {
  it('finds the drift spread over several pages as it would in one, and names a bounded number of missing principals', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const h = harness;
    const [ended, gone, kept, alsoGone, alsoKept] = await fiveStagingGrants(h);
    if (!ended || !gone || !kept || !alsoGone || !alsoKept) throw new Error('five grants expected');
    await revokeAccess(h.ctx, h.as('alice@example.com'), ended.requestId);
    await h.drain();
    // The backend kept the ended one (a restore from backup) and lost two live ones.
    h.provisioner.held.set(ended.grantId, { principal: ended.principal, grantId: ended.grantId, requestId: ended.requestId, permission: 'read', expiresAt: 0 });
    h.provisioner.held.delete(gone.grantId);
    h.provisioner.held.delete(alsoGone.grantId);
    h.provisioner.plant('latch_ghost_abc123', 'AR-GONE0000');
    const read = h.store.grantsWithPrincipalPage.bind(h.store);
    const pages: number[] = [];
    h.store.grantsWithPrincipalPage = async (integration, afterId, limit) => {
      const page = await read(integration, afterId, limit);
      pages.push(page.length);
      return page;
    };

    const { reports, audit } = await reconcile(h.ctx, { pageSize: 2 });
    expect(pages).toEqual([2, 2, 1]);
    const [report] = reports;
    expect(report).toMatchObject({ integration: 'orders', retained: [], requeued: [], unknown: [], missingCount: 2 });
    expect([...(report?.removed ?? [])].sort()).toEqual([ended.principal, 'latch_ghost_abc123'].sort());
    expect([...(report?.missing ?? [])].sort()).toEqual([gone.principal, alsoGone.principal].sort());
    expect(audit).toMatchObject([{ type: 'reconcile.report', data: { missingCount: 2 } }]);
    expect([...h.provisioner.held.values()].map((held) => held.principal).sort()).toEqual([kept.principal, alsoKept.principal].sort());

    // What is left is the same whatever the page size, the last page full or not; past the named few, missing principals are counted.
    for (const pageSize of [1, 2, 4, 5, 1000]) {
      const again = (await reconcile(h.ctx, { pageSize, missingNamed: 1 })).reports[0];
      expect(again).toMatchObject({ removed: [], retained: [], unknown: [], missingCount: 2 });
      expect(again?.missing).toHaveLength(1);
      expect([gone.principal, alsoGone.principal]).toContain(again?.missing[0]);
    }
    expect(MISSING_NAMED).toBeGreaterThan(1);
  });
});

describe('reconcile and principals kept after their revoke (retainRevoked)', () => {
  it('leaves a kept principal alone until its retention ends, then drops it', async () => {
    const { harness: h, backend } = await retainingHarness('7d');
    harness = h;
    const id = await activeProdRead(h);
    const { principal, grantId } = await endInStore(h, id);
    // What the revoke job leaves behind: the principal, locked, kept for seven days.
    backend.retained.set(principal, h.ctx.now() + 7 * DAY);

    const before = await reconcile(h.ctx);
    expect(before.reports).toEqual([{ integration: 'orders', removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 }]);
    expect(before.audit).toEqual([]);
    expect(backend.revokes).toEqual([]);

    h.advance(7 * DAY + 1);
    const after = await reconcile(h.ctx);
    expect(after.reports[0]).toMatchObject({ removed: [principal], retained: [], unknown: [] });
    expect(backend.revokes).toMatchObject([{ grantId, principal }]);
    expect(backend.revokes[0]?.retainUntil).toBeUndefined();
    expect(backend.held.has(grantId)).toBe(false);
    expect((await reconcile(h.ctx)).reports[0]?.removed).toEqual([]);
  });

  it('drops a kept principal the store no longer knows once its retention ends, as an orphan', async () => {
    const { harness: h, backend } = await retainingHarness('1d');
    harness = h;
    backend.plant('latch_gone_abc123', 'AR-GONE0000');
    backend.retained.set('latch_gone_abc123', h.ctx.now() + DAY);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: [], unknown: [] });
    h.advance(DAY + 1);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: ['latch_gone_abc123'], unknown: [] });
    expect([...backend.held.values()]).toEqual([]);
  });

  it('keeps the principal of an ended grant it finds in place, counted from the revoke, not from now', async () => {
    const { harness: h, backend } = await retainingHarness('2d');
    harness = h;
    const id = await activeProdRead(h);
    // The store says it ended; the backend still holds it (a revoke that claimed success, a restore...).
    const { principal, grantId, revokedAt } = await endInStore(h, id);
    h.advance(DAY);

    const first = await reconcile(h.ctx);
    expect(first.reports[0]).toMatchObject({ removed: [], retained: [principal], unknown: [], missing: [] });
    expect(backend.revokes).toMatchObject([{ grantId, principal, retainUntil: revokedAt + 2 * DAY }]);
    expect(first.audit.map((event) => event.type)).toEqual(['reconcile.report']);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: [], retained: [] });

    h.advance(DAY + 1);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: [principal], retained: [] });
    expect(backend.held.has(grantId)).toBe(false);
  });

  it('drops at once what it finds in place after the retention would already have ended', async () => {
    const { harness: h, backend } = await retainingHarness('1d');
    harness = h;
    const id = await activeProdRead(h);
    const { principal } = await endInStore(h, id);
    h.advance(DAY + 1);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: [principal], retained: [] });
    expect(backend.revokes).toHaveLength(1);
    expect(backend.revokes[0]?.retainUntil).toBeUndefined();
  });

  it('reports an active grant whose principal was locked away behind Latch\'s back as missing', async () => {
    const { harness: h, backend } = await retainingHarness('1d');
    harness = h;
    const id = await activeProdRead(h);
    const principal = (await h.store.getRequest(id))?.grants[0]?.principal ?? '';
    backend.retained.set(principal, h.ctx.now() + DAY);
    expect((await reconcile(h.ctx)).reports[0]).toMatchObject({ removed: [], retained: [], missing: [principal], missingCount: 1 });
    expect(backend.revokes).toEqual([]);
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

  it('does not call an integration down when it is Latch\'s own store that failed (a dropped connection)', async () => {
    harness = await createHarness(orgConfig());
    const { store } = harness;
    await activeProdRead(harness, 'bob@example.com');
    const read = store.grantsWithPrincipalPage.bind(store);
    // The connection drops between two pages, after the first was read.
    let pages = 0;
    store.grantsWithPrincipalPage = async (integration, afterId, limit) => {
      if (pages++ === 1) throw new Error('Failed query: select "grants"."id" from "grants" — Connection terminated unexpectedly');
      return read(integration, afterId, limit);
    };
    await expect(reconcile(harness.ctx, { pageSize: 1 })).rejects.toThrow("reading Latch's store failed: Failed query");
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    expect(created).toMatchObject({ ok: true });
    expect((await reconcile(harness.ctx)).reports[0]).toMatchObject({ integration: 'orders' });
  });
});
