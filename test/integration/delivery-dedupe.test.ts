import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_DIALECTS } from '../support/test-store.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

describe.each(STORE_DIALECTS)('repeated deliveries (%s store)', (dialect) => {
  it('creates one request for a delivery received twice', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const actor = { email: 'alice@example.com', via: 'slack', deliveryId: 'slack:trigger:123.456' };
    const input = { resource: 'orders-prod', permission: 'read', reason: 'INC-9' };
    const [first, second] = await Promise.all([requestAccess(harness.ctx, actor, input), requestAccess(harness.ctx, actor, input)]);
    expect([first.ok, second.ok].sort()).toEqual([false, true]);
    expect([first, second].find((result) => !result.ok)).toEqual({ ok: false, reason: 'duplicate_delivery', message: 'This was already received; nothing more was done.' });
    expect(await harness.store.listRequests({})).toHaveLength(1);
  });

  it('counts a double click on Approve once, even in a two-approval step', async () => {
    harness = await createHarness(orgConfig(), { dialect });
    const created = await requestAccess(harness.ctx, harness.as('alice@example.com'), { resource: 'orders-prod', permission: 'write', reason: 'fix' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    const click = { email: 'mia@example.com', via: 'slack', deliveryId: 'slack:action:1' };
    const results = await Promise.all([decide(harness.ctx, click, id, 'approve'), decide(harness.ctx, click, id, 'approve')]);
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    const record = await harness.store.getRequest(id);
    expect(record?.decisions).toHaveLength(1);
    expect(record?.request.step).toBe(1);
    const audit = (await harness.store.auditEvents({ requestId: id })).map((event) => event.type);
    expect(audit.filter((type) => type === 'request.step_approved')).toHaveLength(1);
  });
});
