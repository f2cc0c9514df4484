import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { extendAccess } from '../../handlers/extend.js';
import { createHarness, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

async function snapshot(h: Harness) {
  return { requests: await h.store.listRequests({}), jobs: (await h.store.stats()).jobsPending };
}

describe('bad input changes nothing and says exactly what was wrong', () => {
  const cases: [string, Parameters<typeof requestAccess>[2], string, string][] = [
    ['an unknown resource', { resource: 'orders-dev', permission: 'read', reason: 'x' }, 'unknown_resource', 'There is no resource called "orders-dev".'],
    ['an unknown permission', { resource: 'orders-prod', permission: 'drop', reason: 'x' }, 'unknown_permission', 'orders/orders-prod has no permission "drop"; it offers read, write.'],
    ['a duration over the maximum', { resource: 'orders-prod', permission: 'read', durationMs: 5 * 3_600_000, reason: 'x' }, 'duration_over_max', '5h is longer than flow "prod-read" allows: at most 4h.'],
    ['a missing justification', { resource: 'orders-prod', permission: 'read' }, 'justification_required', 'Flow "prod-read" needs a reason: say why you need this access.'],
    ['a blank justification', { resource: 'orders-prod', permission: 'read', reason: '   ' }, 'justification_required', 'Flow "prod-read" needs a reason: say why you need this access.'],
    ['access for someone else', { resource: 'orders-prod', permission: 'read', reason: 'x', grantee: 'bob@example.com' }, 'not_for_others', 'Flow "prod-read" does not allow requesting access for someone else.'],
  ];
  for (const [what, input, reason, message] of cases) {
    it(`refuses ${what}`, async () => {
      harness = await createHarness(orgConfig());
      const before = await snapshot(harness);
      const result = await requestAccess(harness.ctx, harness.as('alice@example.com'), input);
      expect(result).toEqual({ ok: false, reason, message });
      expect(await snapshot(harness)).toEqual(before);
      const audit = await harness.store.auditEvents({});
      expect(audit.map((event) => event.type)).toEqual(['request.refused']);
      expect(audit[0]).toMatchObject({ actor: 'alice@example.com', data: { reason } });
    });
  }

  it('refuses a requester outside every flow', async () => {
    harness = await createHarness(orgConfig());
    const result = await requestAccess(harness.ctx, harness.as('mallory@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'x' });
    expect(result).toEqual({ ok: false, reason: 'not_a_requester', message: 'You are not among the people who may request read on orders/orders-prod.' });
  });

  it('refuses (fails closed) a request that only the requester could approve', async () => {
    harness = await createHarness(orgConfig({ extra: `  - name: lonely
    requesters: [bob@example.com]
    access: [{ integration: orders, resources: { names: [orders-prod] }, permissions: [read] }]
    approval: { steps: [{ approvers: [bob@example.com] }] }
    duration: { default: 1h, max: 1h }` }));
    const result = await requestAccess(harness.ctx, harness.as('bob@example.com'), { flow: 'lonely', resource: 'orders-prod', permission: 'read', reason: 'x' });
    expect(result).toMatchObject({ ok: false, reason: 'nobody_can_approve' });
    expect(await harness.store.listRequests({})).toEqual([]);
  });

  it('refuses a decision from someone who is not an approver, and records the attempt', async () => {
    harness = await createHarness(orgConfig());
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    const before = await harness.store.getRequest(id);
    const result = await decide(harness.ctx, harness.as('bob@example.com'), id, 'approve');
    expect(result).toEqual({ ok: false, reason: 'not_an_approver', message: 'You are not an approver for step 1 of this request.' });
    expect(await harness.store.getRequest(id)).toEqual(before);
    const refused = (await harness.store.auditEvents({ requestId: id })).filter((event) => event.type === 'decision.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: 'bob@example.com', data: { reason: 'not_an_approver', verdict: 'approve' } });
  });

  it('refuses self-approval even though the requester is in the approver group', async () => {
    harness = await createHarness(orgConfig());
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    if (!created.ok) throw new Error(created.message);
    const result = await decide(harness.ctx, harness.as('alice@example.com'), created.record.request.id, 'approve');
    expect(result).toEqual({ ok: false, reason: 'self_approval', message: 'You cannot decide on your own request.' });
  });

  it('re-checks the approver against the config in force at click time', async () => {
    harness = await createHarness(orgConfig());
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    if (!created.ok) throw new Error(created.message);
    const active = harness.ctx.current();
    const leads = active.config.groups.find((group) => group.name === 'leads');
    if (leads) leads.members = leads.members.filter((member) => member !== 'approver0@example.com');
    const { directoryFromConfig } = await import('../../config/directory.js');
    active.directory = directoryFromConfig(active.config);
    const result = await decide(harness.ctx, harness.as('approver0@example.com'), created.record.request.id, 'approve');
    expect(result).toMatchObject({ ok: false, reason: 'not_an_approver' });
  });

  it('refuses ids that are not ids, and ids that do not exist', async () => {
    harness = await createHarness(orgConfig());
    expect(await decide(harness.ctx, harness.as('lead@example.com'), "'; DROP TABLE requests;--", 'approve')).toEqual({ ok: false, reason: 'not_found', message: `"'; DROP TABLE requests;--" is not a request id; ids look like AR-7K3M9QX2.` });
    expect(await decide(harness.ctx, harness.as('lead@example.com'), 'ar-00000000', 'approve')).toEqual({ ok: false, reason: 'not_found', message: 'There is no request AR-00000000.' });
  });

  it('refuses to extend access that is not active', async () => {
    harness = await createHarness(orgConfig());
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-1' });
    if (!created.ok) throw new Error(created.message);
    const result = await extendAccess(harness.ctx, harness.as('alice@example.com'), created.record.request.id, 3_600_000);
    expect(result).toEqual({ ok: false, reason: 'not_active', message: `Only active access can be extended; ${created.record.request.id} is pending.` });
  });
});
