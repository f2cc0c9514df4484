import { afterEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E, replyTo } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, closeBoth } from './teams-harness.js';

// A flow's extension rules, through both chat surfaces: not before a share of the time has
// passed, a fixed step, at most so many extensions and so much time in all, and approval
// again with the history on the approvers' card. The Extend buttons offer only what the
// rules allow, and a refused extension says why.

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown>; conversationId?: string };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const MIN = 60_000;

/** The org config with `extensions` rules on the staging flow (auto-approved) or on prod-read (approved by people). */
function withRules(flow: 'staging' | 'prod-read', rules: string): string {
  const base = orgConfig();
  const anchor = flow === 'staging' ? 'approval: { autoApprove: true }\n    duration: { default: 1h, max: 8h }' : '    duration: { default: 1h, max: 4h }\n    justification: required\n    timeout: 2h';
  const replaced = flow === 'staging' ? base.replace(anchor, `approval: { autoApprove: true }\n    extensions: ${rules}\n    duration: { default: 1h, max: 8h }`) : base.replace(anchor, `${anchor}\n    extensions: ${rules}`);
  if (replaced === base) throw new Error(`the org config changed shape: flow ${flow} was not found`);
  return replaced;
}

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
afterEach(async () => {
  const rejected = await closeBoth(slack, teams);
  slack = undefined;
  teams = undefined;
  expect(rejected).toEqual([]);
});

async function activeStaging(env: SlackE2E, user: string): Promise<string> {
  const id = /AR-[0-9A-Z]{8}/.exec(await replyTo(env, user, 'request orders-staging read for 1h'))?.[0] ?? '';
  await env.settle();
  await env.settle();
  return id;
}

function durationOptions(call: Call): string[] {
  const blocks = (call.args.view as { blocks: { block_id?: string; element?: { options?: { value: string }[] } }[] }).blocks;
  return (blocks.find((block) => block.block_id === 'duration')?.element?.options ?? []).map((option) => option.value);
}

describe('extension rules in Slack', () => {
  it('refuses too early, offers only the step, refuses another length, and stops at the total', async () => {
    slack = await startSlackE2E(withRules('staging', '{ autoApprove: true, after: 50%, step: 30m, maxTotal: 50m }'));
    const id = await activeStaging(slack, U.bob);
    const record = await slack.latch.store.getRequest(id);
    const expiresAt = record?.request.expiresAt ?? 0;
    const dm = slack.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.bob && json(call.args).includes('latch.extend'));
    const where = { channel: slack.slack.channelOf(dm) ?? '', ts: slack.slack.tsOf(dm) ?? '' };

    const early = await slack.click(U.bob, 'latch.extend', id, where);
    const told = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === early.responseUrl);
    expect(String(told.args.text)).toMatch(new RegExp(`^${id} can be extended from \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC on, once 50% of its time has passed \\(flow "staging"\\)\\.$`));
    expect(slack.slack.callsTo('views.open')).toEqual([]);
    expect(await replyTo(slack, U.bob, `extend ${id} 30m`)).toContain('once 50% of its time has passed');

    slack.advance(31 * MIN);
    await slack.click(U.bob, 'latch.extend', id, where);
    const opened = await slack.slack.waitFor('views.open', (call: Call) => json(call.args).includes('latch.extend_submit'));
    expect(durationOptions(opened)).toEqual(['30m']);
    expect(await replyTo(slack, U.bob, `extend ${id} 1h`)).toBe('Extensions in flow "staging" add exactly 30m; ask for 30m.');

    const submitted = await slack.submit(U.bob, 'latch.extend_submit', { duration: { duration: { type: 'static_select', selected_option: { value: '30m' } } }, reason: { reason: { type: 'plain_text_input', value: '' } } }, id);
    expect(submitted.json).toBeNull();
    expect((await slack.latch.store.getRequest(id))?.request.expiresAt).toBe(expiresAt + 30 * MIN);

    slack.advance(31 * MIN);
    expect(await replyTo(slack, U.bob, `extend ${id} 30m`)).toBe(`${id} has used 30m of the 50m of extensions flow "staging" allows. Request the access again when it ends.`);
    expect((await slack.latch.store.getRequest(id))?.request.expiresAt).toBe(expiresAt + 30 * MIN);
  });

  it('stops at the most extensions the flow allows', async () => {
    slack = await startSlackE2E(withRules('staging', '{ autoApprove: true, maxCount: 1 }'));
    const id = await activeStaging(slack, U.bob);
    expect(await replyTo(slack, U.bob, `extend ${id} 1h`)).toBe(`${id} was extended.`);
    expect(await replyTo(slack, U.bob, `extend ${id} 1h`)).toBe(`${id} has been extended 1 time(s), the most flow "staging" allows. Request the access again when it ends.`);
    const extensions = await slack.latch.store.listRequests({ parentId: id });
    expect(extensions.map((record) => record.request.state)).toEqual(['approved']);
  });

  it('asks the approvers again, with the extension history on their card', async () => {
    slack = await startSlackE2E(withRules('prod-read', '{ maxCount: 3, maxTotal: 3h }'));
    const id = /AR-[0-9A-Z]{8}/.exec(await replyTo(slack, U.alice, 'request orders-prod read for 1h because INC-42 checking orders'))?.[0] ?? '';
    await slack.settle();
    await slack.click(U.lead, 'latch.approve', id);
    await slack.settle();
    await slack.settle();
    const parent = await slack.latch.store.getRequest(id);
    expect(parent?.request.state).toBe('active');
    const ends = new Date(parent?.request.expiresAt ?? 0).toISOString().slice(0, 16).replace('T', ' ');

    const sent = await replyTo(slack, U.alice, `extend ${id} 1h because INC-42 still digging`);
    const extensionId = /Extension (AR-[0-9A-Z]{8})/.exec(sent)?.[1] ?? '';
    expect(extensionId).not.toBe('');
    await slack.settle();
    const cards = slack.slack.callsTo('chat.postMessage').filter((call: Call) => json(call.args).includes(`Extension ${extensionId}`));
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) {
      expect(json(card.args)).toContain(`Extension 1 of at most 3: none before (at most 3h in all); ${id} ends ${ends} UTC without it.`);
      expect(json(card.args)).toContain('"action_id":"latch.approve"');
    }
  });
});

describe('extension rules in Teams', () => {
  it('offers the step on the Extend button and refuses another length with the reason', async () => {
    teams = await startTeamsE2E({ config: withRules('staging', '{ autoApprove: true, step: 30m }') });
    await teams.install(T.alice);
    await teams.say(T.alice, 'request orders-staging read for 1h');
    await teams.settle();
    await teams.settle();
    const [record] = await teams.latch.store.listRequests({});
    const id = record?.request.id ?? '';
    const credentials = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).find((activity) => json(activity.body).includes(`Access granted: ${id}`));
    expect(json(credentials?.body)).toContain(`"title":"Extend 30m","verb":"extend","data":{"requestId":"${id}","duration":"30m"}`);

    const refused = await teams.act(T.alice, 'extend', { requestId: id, duration: '1h' });
    expect(json(refused.body)).toContain('Extensions in flow \\"staging\\" add exactly 30m; ask for 30m.');
    const extended = await teams.act(T.alice, 'extend', { requestId: id, duration: '30m' });
    expect(json(extended.body)).toContain(`${id} was extended.`);
    expect((await teams.latch.store.getRequest(id))?.request.expiresAt).toBe((record?.request.expiresAt ?? 0) + 30 * MIN);
  });
});
