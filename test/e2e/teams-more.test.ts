import { afterEach, describe, expect, it } from 'vitest';
import { botMention, messageActivity, postActivity } from '../support/teams-activities.js';
import { orgConfig } from '../support/configs.js';
import { APP_ID, T, TENANT, startTeamsE2E, type TeamsE2E } from './teams-harness.js';

let e2e: TeamsE2E;
afterEach(async () => {
  const rejected = e2e?.connector.cardErrors ?? [];
  await e2e?.close();
  expect(rejected).toEqual([]);
});

type Sent = { body: Record<string, unknown>; conversationId?: string };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const CHANNEL = '19:approvals@thread.tacv2';

describe('Teams: channels, throttling and unreachable approvers', () => {
  it('answers a command @mentioned in a channel, in that channel', async () => {
    e2e = await startTeamsE2E();
    const activity = messageActivity({
      from: { id: T.lead.id, aadObjectId: T.lead.aadObjectId, name: T.lead.name },
      conversation: { id: `${CHANNEL};messageid=1`, conversationType: 'channel', tenantId: TENANT },
      serviceUrl: e2e.connector.serviceUrl, text: '<at>Latch</at> approvals', entities: [botMention(APP_ID, 'Latch')],
    });
    const answer = await postActivity(e2e.base, activity, e2e.identity.mintToken({ serviceUrl: e2e.connector.serviceUrl }));
    expect(answer.status).toBe(200);
    const replies = (e2e.connector.sent as Sent[]).filter((sent) => sent.conversationId?.startsWith(CHANNEL));
    expect(replies.map((sent) => String(sent.body.text))).toEqual(['Nothing is waiting for your decision.']);
  });

  it('still delivers the approval card when Teams throttles with 429 and Retry-After', async () => {
    e2e = await startTeamsE2E();
    await Promise.all([e2e.install(T.alice), e2e.install(T.lead)]);
    e2e.connector.rateLimitNext(2, 0.2);
    const answer = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-9' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0] ?? '';
    await e2e.settle();
    const throttled = (e2e.connector.calls as { status: number }[]).filter((call) => call.status === 429);
    expect(throttled).toHaveLength(2);
    const cards = (e2e.connector.sent as Sent[]).filter((sent) => json(sent.body).includes(`Access request ${id}`) && sent.conversationId === e2e.personalChat(T.lead));
    expect(cards).toHaveLength(1);
  });

  it('posts in the flow\'s channel and tells the requester when approvers cannot be reached', async () => {
    e2e = await startTeamsE2E({ config: orgConfig().replace('    timeout: 2h\n', `    timeout: 2h\n    notify: { channels: [{ platform: teams, id: "${CHANNEL}" }] }\n`) });
    await e2e.install(T.alice);
    const answer = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-10' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0] ?? '';
    await e2e.settle();
    const inChannel = (e2e.connector.sent as Sent[]).filter((sent) => sent.conversationId === CHANNEL && json(sent.body).includes(`Access request ${id}`));
    expect(inChannel).toHaveLength(1);
    const told = (e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[]).map((sent) => json(sent.body)).find((text) => text.includes('could not reach'));
    expect(told).toContain('The request was posted in the approvals channel instead.');
  });
});

describe('Teams: the end of access', () => {
  it('removes the credentials from the card when the requester revokes', async () => {
    e2e = await startTeamsE2E();
    await Promise.all([e2e.install(T.alice), e2e.install(T.lead)]);
    const answer = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-11' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0] ?? '';
    await e2e.settle();
    await e2e.act(T.lead, 'approve', { requestId: id });
    await e2e.settle();
    await e2e.settle();
    const credentials = (e2e.connector.sent as (Sent & { activityId?: string })[]).find((sent) => json(sent.body).includes('pw-'));
    expect(credentials?.conversationId).toBe(e2e.personalChat(T.alice));

    const revoked = await e2e.act(T.alice, 'revoke', { requestId: id });
    expect(json(revoked.body)).toContain(`Revoking ${id} now.`);
    await e2e.settle();
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('revoked');
    const messageId = (await e2e.latch.store.messagesFor(id)).find((message) => message.purpose === 'credentials')?.messageId ?? '';
    const now = json(e2e.connector.current(e2e.personalChat(T.alice), messageId));
    expect(now).not.toContain('pw-');
    expect(now).toContain('credentials were removed');
  });
});

describe('Teams: refresh shows a request only to those who may see it', () => {
  it('answers a crafted refresh from an uninvolved person without the request\'s details', async () => {
    e2e = await startTeamsE2E();
    await Promise.all([e2e.install(T.alice), e2e.install(T.lead), e2e.install(T.bob)]);
    const answer = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-12 secret incident' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0] ?? '';
    const forLead = json((await e2e.act(T.lead, 'refresh', { requestId: id })).body);
    expect(forLead).toContain('INC-12 secret incident');
    expect(forLead).toContain('"verb":"approve"');
    const forBob = json((await e2e.act(T.bob, 'refresh', { requestId: id })).body);
    expect(forBob).not.toContain('INC-12');
    expect(forBob).toContain(`Request ${id} is not yours to see.`);
  });
});
