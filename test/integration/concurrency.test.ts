import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_DIALECTS } from '../support/test-store.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

describe.each(STORE_DIALECTS)('concurrent decisions (%s store)', (dialect) => {
  it('lets exactly one of 50 racing approvers decide, on five connections to the same file', async () => {
    harness = await createHarness(orgConfig({ approvers: 50 }), { dialect });
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', reason: 'INC-7' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    const contexts = [harness.ctx, ...Array.from({ length: 4 }, () => harness.openContext())];

    const results = await Promise.all(Array.from({ length: 50 }, (_, index) =>
      decide(contexts[index % contexts.length] ?? harness.ctx, harness.as(`approver${index}@example.com`), id, 'approve')));

    const winners = results.filter((result) => result.ok);
    expect(winners).toHaveLength(1);
    const winner = winners[0]?.ok ? winners[0].record.request.decidedBy : null;
    const losers = results.filter((result) => !result.ok);
    expect(losers).toHaveLength(49);
    for (const loser of losers) {
      expect(loser).toMatchObject({ ok: false, reason: 'already_decided', message: `Request ${id} was already approved by ${winner ?? ''}.` });
    }
    const record = await harness.store.getRequest(id);
    expect(record?.request.state).toBe('approved');
    expect(record?.decisions).toHaveLength(1);
    expect((await harness.store.jobsFor(id)).filter((job) => job.kind === 'grant')).toHaveLength(1);
    const audit = await harness.store.auditEvents({ requestId: id });
    expect(audit.filter((event) => event.type === 'request.approved')).toHaveLength(1);
    expect(audit.filter((event) => event.type === 'decision.refused')).toHaveLength(49);
  });

  it('counts each approval once when a step needs two and many approve at once', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'write', reason: 'fix' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await decide(harness.ctx, harness.as('mia@example.com'), id, 'approve');
    const other = harness.openContext();
    const results = await Promise.all([
      decide(harness.ctx, harness.as('sec@example.com'), id, 'approve'),
      decide(other, harness.as('sec2@example.com'), id, 'approve'),
      decide(other, harness.as('sec@example.com'), id, 'approve'),
    ]);
    expect(results.filter((result) => result.ok).map((result) => (result.ok ? result.result : '')).sort()).toEqual(['approved', 'step_approved']);
    const record = await harness.store.getRequest(id);
    expect(record?.request.state).toBe('approved');
    expect(record?.decisions.filter((decision) => decision.step === 1)).toHaveLength(2);
  });
});
