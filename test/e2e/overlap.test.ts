import { afterEach, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E, commandReply } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, closeBoth } from './teams-harness.js';

// Asking for access one already has, or has asked for, is answered with what exists and
// an "Extend instead" button, never with a second grant. A bundle that overlaps in part
// says which part.

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

function bundleConfig(): string {
  const base = orgConfig({ extra: `bundles:
  - name: staging-all
    items:
      - { integration: orders, resource: orders-staging, permission: read }
      - { integration: orders, resource: orders-staging, permission: write }` });
  const withBundle = base.replace('      - { integration: orders, resources: { labels: [staging] }, permissions: [read, write] }', '      - { integration: orders, resources: { labels: [staging] }, permissions: [read, write] }\n      - { bundle: staging-all }');
  if (withBundle === base) throw new Error('the org config changed shape: the staging flow was not found');
  return withBundle;
}

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
afterEach(async () => {
  const rejected = await closeBoth(slack, teams);
  slack = undefined;
  teams = undefined;
  expect(rejected).toEqual([]);
});

describe('overlap in Slack', () => {
  it('answers a second request for active access with what exists and Extend instead, which opens the extend form', async () => {
    slack = await startSlackE2E();
    await commandReply(slack, U.alice, 'request orders-staging read for 1h');
    await slack.settle();
    const [first] = await slack.latch.store.listRequests({});
    expect(first?.request.state).toBe('active');
    const id = first?.request.id ?? '';

    const again = await commandReply(slack, U.alice, 'request orders-staging read for 2h');
    expect(again.args.response_type).toBe('ephemeral');
    expect(String(again.args.text)).toMatch(new RegExp(`^You already have this access or have asked for it: read on orders/orders-staging \\(${id}, active until .* UTC \\(1h left\\)\\)\\. Extend ${id} instead\\. Nothing new was submitted\\.$`));
    expect(json(again.args.blocks)).toContain(`"action_id":"latch.extend","value":"${id}"`);
    expect(json(again.args.blocks)).toContain('Extend instead');
    expect(await slack.latch.store.listRequests({})).toHaveLength(1);
    expect((await slack.latch.store.auditEvents({})).filter((event) => event.type === 'request.refused').at(-1)?.data).toMatchObject({ reason: 'already_requested' });

    await slack.click(U.alice, 'latch.extend', id, { channel: 'D-alice', ts: '1.1' });
    const opened = await slack.slack.waitFor('views.open', (call: Call) => json(call.args).includes('latch.extend_submit'));
    expect(json(opened.args)).toContain(id);
  });

  it('refuses a pending duplicate in the request form, on the target field', async () => {
    slack = await startSlackE2E();
    await commandReply(slack, U.alice, 'request orders-prod read for 1h because INC-42 checking orders');
    const [pending] = await slack.latch.store.listRequests({});
    expect(pending?.request.state).toBe('pending');
    const submitted = await slack.submit(U.alice, 'latch.request', {
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
      reason: { reason: { type: 'plain_text_input', value: 'INC-43 again' } },
    });
    expect(submitted.json).toEqual({
      response_action: 'errors',
      errors: { target: `You already have this access or have asked for it: read on orders/orders-prod (${pending?.request.id ?? ''}, waiting for approval). Wait for that request to be decided, or cancel it first. Nothing new was submitted.` },
    });
    expect(await slack.latch.store.listRequests({})).toHaveLength(1);
  });
});

describe('overlap in Teams', () => {
  it('answers a repeated request with a card offering to extend, and the button extends', async () => {
    teams = await startTeamsE2E();
    await teams.install(T.alice);
    await teams.say(T.alice, 'request orders-staging read for 1h');
    await teams.settle();
    const [first] = await teams.latch.store.listRequests({});
    const id = first?.request.id ?? '';
    expect(first?.request.state).toBe('active');
    const expiresAt = first?.request.expiresAt ?? 0;

    await teams.say(T.alice, 'request orders-staging read for 1h');
    const answer = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).at(-1);
    // Teams escapes what would become markdown: the parentheses arrive as \\( and \\).
    expect(json(answer?.body)).toContain(`You already have this access or have asked for it: read on orders/orders-staging \\\\(${id}, active until`);
    expect(json(answer?.body)).toContain(`"verb":"extend","data":{"requestId":"${id}","duration":"1h"}`);
    expect(await teams.latch.store.listRequests({})).toHaveLength(1);

    const extended = await teams.act(T.alice, 'extend', { requestId: id, duration: '1h' });
    expect(json(extended.body)).toContain(`${id} was extended.`);
    expect((await teams.latch.store.getRequest(id))?.request.expiresAt).toBe(expiresAt + 3_600_000);
  });
});

describe('a bundle that overlaps in part', () => {
  it('says which part is already held and what to request on its own', async () => {
    slack = await startSlackE2E(bundleConfig());
    const read = await requestAccess(slack.latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-staging', permission: 'read' });
    if (!read.ok) throw new Error(read.message);
    await slack.settle();
    const bundle = await requestAccess(slack.latch.ctx, { email: 'alice@example.com', via: 'test' }, { bundle: 'staging-all' });
    expect(bundle.ok).toBe(false);
    if (bundle.ok) return;
    expect(bundle.reason).toBe('already_requested');
    expect(bundle.message).toMatch(new RegExp(`^Part of what you asked for you already have or have asked for: read on orders/orders-staging \\(${read.record.request.id}, active until .*\\)\\. Request the rest \\(write on orders/orders-staging\\) on its own\\. Extend ${read.record.request.id} instead\\. Nothing new was submitted\\.$`));
    // Someone else asking for the same bundle is not held back by alice's access.
    const bob = await requestAccess(slack.latch.ctx, { email: 'bob@example.com', via: 'test' }, { bundle: 'staging-all' });
    expect(bob.ok).toBe(true);
  });
});
