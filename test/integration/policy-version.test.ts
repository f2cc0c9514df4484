import { afterEach, describe, expect, it } from 'vitest';
import { directoryFromConfig } from '../../config/directory.js';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { createHarness, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';

// Every request records the config it was evaluated under. An approval that comes after
// the config changed is evaluated again under the new one, and refused when the new one no
// longer allows the request.

let harness: Harness;
afterEach(async () => harness?.close());

/** Puts a new config in force, as a reload does: the next decision reads it. */
function loadConfig(h: Harness, text: string, hash: string): void {
  const parsed = parseConfig(text, 'latch.yaml');
  if (!parsed.ok) throw new Error(formatConfigErrors(parsed.errors));
  Object.assign(h.ctx.current(), { config: parsed.config, directory: directoryFromConfig(parsed.config), hash });
}

async function submit(h: Harness, durationMs: number): Promise<string> {
  const result = await requestAccess(h.ctx, h.as('alice@example.com'), { resource: 'orders-prod', permission: 'read', durationMs, reason: 'INC-42 checking orders' });
  if (!result.ok) throw new Error(result.message);
  return result.record.request.id;
}

describe('the policy a request was evaluated under', () => {
  it('is recorded on the request and in its audit event', async () => {
    harness = await createHarness(orgConfig());
    const id = await submit(harness, 3_600_000);
    expect((await harness.store.getRequest(id))?.request.policy).toBe('test');
    const [created] = await harness.store.auditEvents({ requestId: id });
    expect(created?.data).toMatchObject({ policy: 'test' });
  });

  it('refuses an approval the new config no longer allows, says why, and leaves the request pending', async () => {
    harness = await createHarness(orgConfig());
    const id = await submit(harness, 4 * 3_600_000);
    // prod-read now allows at most 1h: the 4h asked for is over the new maximum.
    loadConfig(harness, orgConfig().replace('duration: { default: 1h, max: 4h }\n    justification: required\n    timeout: 2h', 'duration: { default: 1h, max: 1h }\n    justification: required\n    timeout: 2h'), 'b'.repeat(64));

    const refused = await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    expect(refused).toEqual({
      ok: false, reason: 'policy_changed',
      message: `The config changed since ${id} was requested (policy test, now bbbbbbbbbbbb) and no longer allows it: 4h is longer than flow "prod-read" allows: at most 1h. Nothing was approved; you can still deny it.`,
    });
    const record = await harness.store.getRequest(id);
    expect(record?.request.state).toBe('pending');
    expect(record?.decisions).toEqual([]);
    const audit = await harness.store.auditEvents({ requestId: id });
    expect(audit.at(-1)).toMatchObject({ type: 'decision.refused', actor: 'lead@example.com', data: { reason: 'policy_changed', verdict: 'approve' } });

    const denied = await decide(harness.ctx, harness.as('lead@example.com'), id, 'deny', 'the limit is 1h now');
    expect(denied).toMatchObject({ ok: true, result: 'denied' });
  });

  it('approves under a changed config that still allows the request', async () => {
    harness = await createHarness(orgConfig());
    const id = await submit(harness, 3_600_000);
    loadConfig(harness, orgConfig({ settings: '  auditRetention: 200d' }), 'c'.repeat(64));
    const approved = await decide(harness.ctx, harness.as('lead@example.com'), id, 'approve');
    expect(approved).toMatchObject({ ok: true, result: 'approved' });
    const audit = await harness.store.auditEvents({ requestId: id });
    expect(audit.find((event) => event.type === 'request.approved')?.data).toMatchObject({ configHash: 'c'.repeat(64) });
  });
});
