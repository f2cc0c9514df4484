import { afterEach, describe, expect, it } from 'vitest';
import { postActivity, messageActivity } from '../support/teams-activities.js';
import { postToSlackEvents, slashCommandBody, blockActionsBody } from '../support/slack-signing.js';
import { SIGNING_SECRET } from './slack-harness.js';
import { APP_ID, T, TENANT, startTeamsE2E, type TeamsE2E, type TeamsPerson } from './teams-harness.js';

let e2e: TeamsE2E;
afterEach(async () => {
  const rejected = e2e?.connector.cardErrors ?? [];
  await e2e?.close();
  expect(rejected).toEqual([]);
});

type Sent = { body: Record<string, unknown>; conversationId?: string; activityId?: string; method?: string };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const cardOf = (response: { body: unknown }): Record<string, unknown> => ((response.body as { value?: Record<string, unknown> })?.value ?? {});

async function requestProdRead(env: TeamsE2E, person: TeamsPerson = T.alice): Promise<string> {
  await Promise.all([env.install(person), env.install(T.lead), env.install(T.approver0)]);
  const answer = await env.act(person, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-42 checking orders' });
  expect(answer.status).toBe(200);
  const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0];
  if (!id) throw new Error(`no id in ${json(answer.body)}`);
  await env.settle();
  return id;
}

describe('Teams: every activity is authenticated', () => {
  it('refuses missing, forged, expired and wrong-audience tokens with 401 and changes nothing', async () => {
    e2e = await startTeamsE2E();
    const activity = messageActivity({ from: { id: T.alice.id, aadObjectId: T.alice.aadObjectId, name: 'Alice' }, text: 'request orders-prod read because x', conversation: { id: 'a:personal-aad-alice', conversationType: 'personal', tenantId: TENANT }, serviceUrl: e2e.connector.serviceUrl });
    const serviceUrl = e2e.connector.serviceUrl;
    expect((await postActivity(e2e.base, activity, null)).status).toBe(401);
    expect((await postActivity(e2e.base, activity, e2e.identity.mintToken({ serviceUrl, key: 'foreign' }))).status).toBe(401);
    expect((await postActivity(e2e.base, activity, e2e.identity.mintToken({ serviceUrl, expiresInSec: -600, notBeforeSec: -1200 }))).status).toBe(401);
    expect((await postActivity(e2e.base, activity, e2e.identity.mintToken({ serviceUrl, audience: 'someone-else' }))).status).toBe(401);
    expect((await postActivity(e2e.base, activity, e2e.identity.mintToken({ serviceUrl: 'https://elsewhere.example/' }))).status).toBe(401);
    expect(await e2e.latch.store.listRequests({})).toEqual([]);
    expect(e2e.connector.sent).toEqual([]);
  });
});

describe('Teams: commands and the request form', () => {
  it('answers help in the personal chat and greets on install', async () => {
    e2e = await startTeamsE2E();
    expect(await e2e.install(T.alice)).toBe(200);
    expect((await e2e.say(T.alice, 'help')).status).toBe(200);
    const sent = e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[];
    expect(sent.map((activity) => String(activity.body.text ?? ''))).toEqual([
      expect.stringContaining('Hi, I am Latch'),
      expect.stringContaining('request [resource] [permission] [at START] [for DURATION] [because REASON]'),
    ]);
  });

  it('answers `request` with a form of only what the person may ask for, and shows errors under the field', async () => {
    e2e = await startTeamsE2E();
    await e2e.install(T.alice);
    await e2e.say(T.alice, 'request orders-prod read');
    const form = (e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[]).at(-1);
    const content = json(form?.body);
    expect(content).toContain('"id":"target"');
    expect(content).toContain('item:orders/orders-prod/read');
    expect(content).toContain('"value":"item:orders/orders-prod/read"');
    expect(content).not.toContain('item:orders/orders-staging/delete');

    const missingReason = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: '' });
    expect(json(cardOf(missingReason))).toContain('Flow \\"prod-read\\" needs a reason: say why you need this access.');
    expect(json(cardOf(missingReason))).toContain('"id":"reason"');
    const tooLong = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '8h', reason: 'INC-1' });
    expect(json(cardOf(tooLong))).toContain('8h is longer than flow \\"prod-read\\" allows: at most 4h.');
    expect(await e2e.latch.store.listRequests({})).toEqual([]);
  });
});

describe('Teams: approving with Universal Actions', () => {
  it('sends approval cards to the approvers it can reach, with refresh for approvers only', async () => {
    e2e = await startTeamsE2E();
    const id = await requestProdRead(e2e);
    const cards = (e2e.connector.sent as Sent[]).filter((activity) => json(activity.body).includes(`Access request ${id}`));
    expect(cards.map((activity) => activity.conversationId).sort()).toEqual([e2e.personalChat(T.approver0), e2e.personalChat(T.lead)].sort());
    const content = json(cards[0]?.body);
    expect(content).toContain('"verb":"approve"');
    expect(content).toContain('"refresh"');
    expect(content).toContain(T.lead.id);
    const unreachable = (e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[]).map((activity) => json(activity.body)).find((text) => text.includes('could not reach'));
    expect(unreachable).toContain('approver1@example.com');
  });

  it('approves with Action.Execute, answers with the updated card, updates every copy and sends credentials to the requester only', async () => {
    e2e = await startTeamsE2E();
    const id = await requestProdRead(e2e);
    const answer = await e2e.act(T.lead, 'approve', { requestId: id });
    expect(answer.status).toBe(200);
    expect((answer.body as { statusCode: number; type: string }).type).toBe('application/vnd.microsoft.card.adaptive');
    const card = json(cardOf(answer));
    expect(card).toContain('lead@example.com');
    expect(card).not.toContain('"verb":"approve"');
    await e2e.settle();
    await e2e.settle();
    const updates = (e2e.connector.sent as Sent[]).filter((activity) => activity.method === 'PUT' && json(activity.body).includes(`Access request ${id}`));
    expect(new Set(updates.map((activity) => activity.conversationId))).toEqual(new Set([e2e.personalChat(T.approver0), e2e.personalChat(T.lead)]));
    const secrets = (e2e.connector.sent as Sent[]).filter((activity) => json(activity.body).includes('pw-'));
    expect(secrets.map((activity) => activity.conversationId)).toEqual([e2e.personalChat(T.alice)]);
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('active');
  });

  it('refuses a non-approver and the requester in the card, and records it', async () => {
    e2e = await startTeamsE2E();
    const id = await requestProdRead(e2e);
    await e2e.install(T.bob);
    expect(json(cardOf(await e2e.act(T.bob, 'approve', { requestId: id })))).toContain('You are not an approver for step 1 of this request.');
    expect(json(cardOf(await e2e.act(T.alice, 'approve', { requestId: id })))).toContain('You cannot decide on your own request.');
    const refused = (await e2e.latch.store.auditEvents({ requestId: id })).filter((event) => event.type === 'decision.refused');
    expect(refused.map((event) => event.actor)).toEqual(['bob@example.com', 'alice@example.com']);
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('pending');
  });

  it('acts once on a redelivered activity and lets one of two racing approvers decide', async () => {
    e2e = await startTeamsE2E();
    const id = await requestProdRead(e2e);
    const first = await e2e.act(T.lead, 'approve', { requestId: id }, { id: 'activity-1' });
    const again = await e2e.act(T.lead, 'approve', { requestId: id }, { id: 'activity-1' });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    const record = await e2e.latch.store.getRequest(id);
    expect(record?.decisions).toHaveLength(1);

    // alice holds prod read now; bob asks, so the race is about a request of its own.
    const second = await requestProdRead(e2e, T.bob);
    const [a, b] = await Promise.all([e2e.act(T.lead, 'approve', { requestId: second }), e2e.act(T.approver0, 'approve', { requestId: second })]);
    const notices = [json(cardOf(a)), json(cardOf(b))];
    expect(notices.filter((text) => text.includes('was already approved by'))).toHaveLength(1);
    expect((await e2e.latch.store.getRequest(second))?.decisions).toHaveLength(1);
  });

  it('denies with the reason typed in the card', async () => {
    e2e = await startTeamsE2E();
    const id = await requestProdRead(e2e);
    const answer = await e2e.act(T.lead, 'deny', { requestId: id, reason: 'use the [replica](http://evil)' });
    expect(json(cardOf(answer))).toContain('Denied by');
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request).toMatchObject({ state: 'denied', outcome: 'use the [replica](http://evil)' });
    const told = (e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[]).map((activity) => json(activity.body)).find((text) => text.includes('was denied'));
    expect(told).toContain('\\\\[replica\\\\]');
  });
});

describe('Cross-platform: one identity by e-mail', () => {
  it('takes a request made in Slack, approved in Teams, back to the requester in Slack', async () => {
    e2e = await startTeamsE2E({ withSlack: true });
    const slack = e2e.slack;
    if (!slack) throw new Error('no Slack double');
    slack.addUser({ id: 'UALICE', email: 'alice@example.com', name: 'alice' });
    await e2e.install(T.lead);
    const responseUrl = slack.responseUrl();
    const body = slashCommandBody({ userId: 'UALICE', text: 'request orders-prod read for 1h because INC-77', triggerId: slack.issueTrigger(), responseUrl });
    expect((await postToSlackEvents(e2e.base, body, SIGNING_SECRET)).status).toBe(200);
    const reply = await slack.waitFor('response_url', (call: { args: Record<string, unknown> }) => call.args.url === responseUrl);
    const id = /AR-[0-9A-Z]{8}/.exec(String(reply.args.text))?.[0] ?? '';
    await e2e.settle();
    const teamsCard = (e2e.connector.activitiesTo(e2e.personalChat(T.lead)) as Sent[]).find((activity) => json(activity.body).includes(`Access request ${id}`));
    expect(teamsCard).toBeDefined();

    const answer = await e2e.act(T.lead, 'approve', { requestId: id });
    expect(json(cardOf(answer))).toContain('lead@example.com');
    await e2e.settle();
    await e2e.settle();
    const toAlice = slack.callsTo('chat.postMessage').filter((call: { args: Record<string, unknown> }) => call.args.channel === 'UALICE').map((call: { args: Record<string, unknown> }) => json(call.args));
    expect(toAlice.some((text) => text.includes(`${id}`) && text.includes('was approved by lead@example.com'))).toBe(true);
    expect(toAlice.some((text) => text.includes('pw-'))).toBe(true);
    expect((e2e.connector.sent as Sent[]).some((activity) => json(activity.body).includes('pw-'))).toBe(false);
  });

  it('takes a request made in Teams, approved in Slack, back to the requester in Teams', async () => {
    e2e = await startTeamsE2E({ withSlack: true });
    const slack = e2e.slack;
    if (!slack) throw new Error('no Slack double');
    slack.addUser({ id: 'ULEAD', email: 'lead@example.com', name: 'lead' });
    await e2e.install(T.alice);
    const answer = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-78' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(answer.body))?.[0] ?? '';
    await e2e.settle();
    const card = slack.callsTo('chat.postMessage').find((call: { args: Record<string, unknown> }) => call.args.channel === 'ULEAD' && json(call.args).includes(`Access request ${id}`));
    expect(card).toBeDefined();
    const click = blockActionsBody({ userId: 'ULEAD', actionId: 'latch.approve', value: id, triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() });
    expect((await postToSlackEvents(e2e.base, click, SIGNING_SECRET)).status).toBe(200);
    await slack.waitFor('response_url', (call: { args: Record<string, unknown> }) => String(call.args.text) === `You approved ${id}.`);
    await e2e.settle();
    await e2e.settle();
    const toAlice = (e2e.connector.activitiesTo(e2e.personalChat(T.alice)) as Sent[]).map((activity) => json(activity.body));
    expect(toAlice.some((text) => text.includes('was approved by lead@example.com'))).toBe(true);
    expect(toAlice.some((text) => text.includes('pw-'))).toBe(true);
    expect(APP_ID).toBeTruthy();
  });
});
