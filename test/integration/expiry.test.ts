import { afterEach, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { createHarness, eventually, type Harness } from '../support/harness.js';
import { STORE_DIALECTS } from '../support/test-store.js';
import { orgConfig } from '../support/configs.js';

let harness: Harness;
afterEach(async () => harness?.close());

describe.each(STORE_DIALECTS)('precise expiry (%s store)', (dialect) => {
  it('revokes a grant expiring 2 s from now within 1 s of its expiry, on the running scheduler', async () => {
    // The sweep runs only every 30 s here, so only the timer can be on time.
    harness = await createHarness(orgConfig(), { startRunner: true, runner: { sweep: '*/30 * * * * *' }, dialect });
    const created = await requestAccess(harness.ctx, harness.as('bob@example.com'), { resource: 'orders-staging', permission: 'read', durationMs: 2_000 });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await harness.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const grant = (await harness.store.getRequest(id))?.grants[0];
    const expiresAt = (await harness.store.getRequest(id))?.request.expiresAt ?? 0;
    expect(expiresAt - Date.now()).toBeGreaterThan(1_000);

    await eventually(async () => (await harness.store.getRequest(id))?.request.state === 'expired', 'the request to expire', 5_000);
    const revokedAt = harness.provisioner.revokedAt(grant?.id ?? '');
    expect(revokedAt).not.toBeNull();
    expect((revokedAt ?? 0) - expiresAt).toBeGreaterThanOrEqual(0);
    expect((revokedAt ?? 0) - expiresAt).toBeLessThan(1_000);
  });

  it('keeps durations longer than a timer can hold (24.8 days) on schedule', async () => {
    harness = await createHarness(orgConfig({ extra: `  - name: long
    requesters: [group:engineers]
    access: [{ integration: orders, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 30d, max: 40d }
    justification: optional` }), { startRunner: true, dialect });
    const created = await requestAccess(harness.ctx, harness.as('bob@example.com'), { flow: 'long', resource: 'orders-prod', permission: 'read', durationMs: 30 * 86_400_000 });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await harness.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    expect(harness.provisioner.held.size).toBe(1);
    harness.advance(30 * 86_400_000);
    harness.runner.wake();
    await eventually(async () => (await harness.store.getRequest(id))?.request.state === 'expired', 'the 30-day grant to expire');
    expect(harness.provisioner.held.size).toBe(0);
  });
});
