import { afterEach, describe, expect, it } from 'vitest';
import { postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';
import { SIGNING_SECRET, U, replyTo, startSlackE2E, type SlackE2E } from './slack-harness.js';

let e2e: SlackE2E;
afterEach(async () => e2e?.close());

type Call = { method: string; args: Record<string, unknown> };
const textOf = (call: Call | undefined): string => JSON.stringify(call?.args ?? {});

/** Asks for prod read through the typed command and returns the request id Latch answered with. */
async function requestProdRead(env: SlackE2E, user: string = U.alice): Promise<string> {
  const { responseUrl } = await env.command(user, 'request orders-prod read for 1h because INC-42 checking orders');
  const reply = await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
  const id = /AR-[0-9A-Z]{8}/.exec(String(reply.args.text))?.[0];
  if (!id) throw new Error(`no request id in ${textOf(reply)}`);
  await env.settle();
  return id;
}

function cardsFor(env: SlackE2E, id: string): Call[] {
  return env.slack.callsTo('chat.postMessage').filter((call: Call) => textOf(call).includes(`Access request ${id}`));
}

describe('Slack: requests are verified before anything happens', () => {
  it('refuses a forged signature, a stale and a future timestamp with 401 and changes nothing', async () => {
    e2e = await startSlackE2E();
    const body = slashCommandBody({ userId: U.alice, text: 'request orders-prod read because x', triggerId: e2e.slack.issueTrigger(), responseUrl: e2e.slack.responseUrl() });
    const now = Math.floor(Date.now() / 1000);
    expect((await postToSlackEvents(e2e.base, body, 'not-the-secret')).status).toBe(401);
    expect((await postToSlackEvents(e2e.base, body, SIGNING_SECRET, { timestampSec: now - 6 * 60 })).status).toBe(401);
    expect((await postToSlackEvents(e2e.base, body, SIGNING_SECRET, { timestampSec: now + 6 * 60 })).status).toBe(401);
    const unsigned = await fetch(`${e2e.base}/slack/events`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(unsigned.status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(e2e.slack.calls).toEqual([]);
    expect(await e2e.latch.store.listRequests({})).toEqual([]);
  });
});

describe('Slack: /access', () => {
  it('answers help, and explains unknown and malformed commands with the usage', async () => {
    e2e = await startSlackE2E();
    const help = await e2e.command(U.alice, 'help');
    expect(help.status).toBe(200);
    const helpReply = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === help.responseUrl);
    expect(helpReply.args).toMatchObject({ response_type: 'ephemeral' });
    expect(String(helpReply.args.text)).toContain('/access request [resource] [permission] [at START] [for DURATION] [because REASON]');

    const unknown = await e2e.command(U.alice, 'grant me everything');
    expect(String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === unknown.responseUrl)).args.text)).toContain('Unknown command "grant"');
    const malformed = await e2e.command(U.alice, 'extend AR-12 soon');
    expect(String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === malformed.responseUrl)).args.text))
      .toBe('"AR-12" is not a request id; ids look like AR-7K3M9QX2.\nUsage: `/access extend ID DURATION [because REASON]`');
    const emergency = await e2e.command(U.alice, 'emergency orders-prod because the database is down');
    expect(String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === emergency.responseUrl)).args.text)).toContain('No emergency access is set up in this Latch.');
  });

  it('submits a fully typed request directly and sends the card to every approver of the step', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    const cards = cardsFor(e2e, id);
    const recipients = cards.map((call) => call.args.channel).sort();
    expect(recipients).toEqual([U.approver0, U.approver1, U.approver2, U.lead].sort());
    const card = cards[0];
    expect(textOf(card)).toContain('INC-42 checking orders');
    expect(textOf(card)).toContain('read on orders/orders-prod');
    expect(textOf(card)).toContain('1 more approval needed');
    expect(textOf(card)).toContain('"action_id":"latch.approve"');
    expect(textOf(card)).toContain(`"value":"${id}"`);
    const submitted = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === U.alice);
    expect(submitted.map((call: Call) => String(call.args.text))).toEqual([`Your request ${id} for read on orders/orders-prod for 1h was sent for approval.`]);
  });

  it('opens the request modal with only what the requester may ask for, and shows field errors inline', async () => {
    e2e = await startSlackE2E();
    const { triggerId } = await e2e.command(U.alice, 'request');
    const opened = await e2e.slack.waitFor('views.open');
    expect(opened.args.trigger_id).toBe(triggerId);
    const view = opened.args.view as { callback_id: string; blocks: { block_id?: string; element?: { options?: { value: string }[] } }[] };
    expect(view.callback_id).toBe('latch.request');
    const offered = view.blocks.find((block) => block.block_id === 'target')?.element?.options?.map((option) => option.value);
    expect(offered).toEqual(['item:orders/orders-staging/read', 'item:orders/orders-staging/write', 'item:orders/broken-db/read', 'item:orders/orders-prod/read', 'item:orders/orders-prod/write']);
    const durations = view.blocks.find((block) => block.block_id === 'duration')?.element?.options?.map((option) => option.value);
    expect(durations).toEqual(['15m', '30m', '1h', '2h', '4h', '8h']);

    await e2e.command(U.alice, 'request orders-prod read for 90m');
    const prefilled = (await e2e.slack.waitFor('views.open', (call: Call) => call.args.trigger_id !== triggerId)).args.view as { blocks: { block_id?: string; element?: { initial_option?: { value: string } } }[] };
    expect(prefilled.blocks.find((block) => block.block_id === 'target')?.element?.initial_option?.value).toBe('item:orders/orders-prod/read');
    expect(prefilled.blocks.find((block) => block.block_id === 'duration')?.element?.initial_option?.value).toBe('1h30m');

    const missingReason = await e2e.submit(U.alice, 'latch.request', {
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
      reason: { reason: { type: 'plain_text_input', value: '' } },
    });
    expect(missingReason.json).toEqual({ response_action: 'errors', errors: { reason: 'Flow "prod-read" needs a reason: say why you need this access.' } });
    const tooLong = await e2e.submit(U.alice, 'latch.request', {
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '8h' } } },
      reason: { reason: { type: 'plain_text_input', value: 'INC-1' } },
    });
    expect(tooLong.json).toEqual({ response_action: 'errors', errors: { duration: '8h is longer than flow "prod-read" allows: at most 4h.' } });
    expect(await e2e.latch.store.listRequests({})).toEqual([]);

    const ok = await e2e.submit(U.alice, 'latch.request', {
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '2h' } } },
      reason: { reason: { type: 'plain_text_input', value: 'INC-1' } },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toBeNull();
    const [created] = await e2e.latch.store.listRequests({});
    expect(created?.request).toMatchObject({ requester: 'alice@example.com', durationMs: 2 * 3_600_000, reason: 'INC-1', state: 'pending' });
  });

  it('tells a user without an e-mail on their profile who they need to ask', async () => {
    e2e = await startSlackE2E();
    const { responseUrl } = await e2e.command(U.nomail, 'list');
    const reply = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(String(reply.args.text)).toContain("couldn't find an e-mail address on your Slack profile");
  });
});

describe('Slack: approving', () => {
  it('approves with one click, updates every copy of the card, and sends credentials to the requester only', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    const leadCard = cardsFor(e2e, id).find((call) => call.args.channel === U.lead);
    const posted = e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string };
    const click = await e2e.click(U.lead, 'latch.approve', id, posted);
    expect(click.status).toBe(200);
    const reply = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl);
    expect(reply.args).toMatchObject({ response_type: 'ephemeral', text: `You approved ${id}.` });
    await e2e.settle();
    await e2e.settle();
    expect(leadCard).toBeDefined();

    const updates = e2e.slack.callsTo('chat.update').filter((call: Call) => textOf(call).includes(`Access request ${id}`));
    const updatedChannels = new Set(updates.map((call: Call) => call.args.channel));
    for (const card of cardsFor(e2e, id)) {
      const final = e2e.slack.message(String(card.args.channel), String(e2e.slack.tsOf(card)));
      expect(JSON.stringify(final)).not.toContain('latch.approve');
      expect(JSON.stringify(final)).toContain('lead@example.com');
    }
    expect(updatedChannels.size).toBe(4);

    const secretMessages = e2e.slack.calls.filter((call: Call) => textOf(call).includes('pw-'));
    expect(secretMessages.map((call: Call) => `${call.method}:${String(call.args.channel)}`)).toEqual([`chat.postMessage:${U.alice}`]);
    const record = await e2e.latch.store.getRequest(id);
    expect(record?.request.state).toBe('active');
    expect(textOf(secretMessages[0])).toContain(`psql -h memory.local -U ${record?.grants[0]?.principal ?? ''} orders`);
  });

  it('starts the grant from the click\'s own commit: the credentials go out first, on the grant job\'s first attempt, before the approver\'s confirmation', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    await e2e.settle();
    const before = e2e.slack.calls.length;
    const versionBefore = (await e2e.latch.store.getRequest(id))?.request.version ?? -1;
    const posted = e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string };
    expect((await e2e.click(U.lead, 'latch.approve', id, posted)).status).toBe(200);
    await e2e.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.alice && textOf(call).includes('pw-'));
    await e2e.settle();

    // After the click: the credentials DM before any card is updated for the approval.
    const after = e2e.slack.calls.slice(before);
    const credentials = after.findIndex((call: Call) => call.method === 'chat.postMessage' && textOf(call).includes('pw-'));
    const firstUpdate = after.findIndex((call: Call) => call.method === 'chat.update' && textOf(call).includes(`Access request ${id}`));
    expect(credentials).toBeGreaterThanOrEqual(0);
    expect(firstUpdate).toBeGreaterThan(credentials);
    // The approver's own confirmation (the click's response URL) waits for the grant as well.
    const confirmed = after.findIndex((call: Call) => call.method === 'response_url' && call.args.text === `You approved ${id}.`);
    expect(confirmed).toBeGreaterThan(credentials);
    // The grant job was inserted claimed by the decision's commit and ran once; the request took
    // pending → granting in that commit and granting → active in the grant's.
    const grantJobs = (await e2e.latch.store.jobsFor(id)).filter((job) => job.kind === 'grant');
    expect(grantJobs).toMatchObject([{ state: 'done', attempts: 1 }]);
    const record = await e2e.latch.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'active', version: versionBefore + 2 });
    const types = (await e2e.latch.store.auditEvents({ requestId: id })).map((event) => event.type);
    expect(types.slice(types.indexOf('request.approved'))).toEqual(['request.approved', 'grant.granted']);
  });

  it('refuses a click by someone who may not decide, and by the requester, and records it', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    const stranger = await e2e.click(U.bob, 'latch.approve', id);
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === stranger.responseUrl)).args.text).toBe('You are not an approver for step 1 of this request.');
    const self = await e2e.click(U.alice, 'latch.approve', id);
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === self.responseUrl)).args.text).toBe('You cannot decide on your own request.');
    const refused = (await e2e.latch.store.auditEvents({ requestId: id })).filter((event) => event.type === 'decision.refused');
    expect(refused.map((event) => event.actor)).toEqual(['bob@example.com', 'alice@example.com']);
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('pending');
  });

  it('treats a tampered button value as an unknown request', async () => {
    e2e = await startSlackE2E();
    await requestProdRead(e2e);
    const forged = await e2e.click(U.lead, 'latch.approve', 'AR-ZZZZZZZZ');
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === forged.responseUrl)).args.text).toBe('There is no request AR-ZZZZZZZZ.');
    const garbage = await e2e.click(U.lead, 'latch.approve', '{"state":"approved"}');
    expect(String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === garbage.responseUrl)).args.text)).toContain('is not a request id');
  });

  it('acts once on a retried delivery and a double click, and lets one of two racing approvers decide', async () => {
    e2e = await startSlackE2E();
    const retried = await e2e.command(U.alice, 'request orders-prod read for 1h because INC-7');
    await e2e.command(U.alice, '', { retryNum: 1, triggerId: retried.triggerId });
    const again = await postToSlackEvents(e2e.base, retried.body, SIGNING_SECRET, { retryNum: 1 });
    expect(again.status).toBe(200);
    await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === retried.responseUrl);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const requests = await e2e.latch.store.listRequests({});
    expect(requests).toHaveLength(1);
    const id = requests[0]?.request.id ?? '';

    const first = await e2e.click(U.lead, 'latch.approve', id);
    const replay = await postToSlackEvents(e2e.base, first.body, SIGNING_SECRET, { retryNum: 1 });
    expect(replay.status).toBe(200);
    const [a, b] = await Promise.all([e2e.click(U.approver0, 'latch.approve', id), e2e.click(U.approver1, 'latch.approve', id)]);
    const texts = await Promise.all([first, a, b].map(async (click) => String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl)).args.text)));
    expect(texts.filter((text) => text === `You approved ${id}.`)).toHaveLength(1);
    expect(texts.filter((text) => text.startsWith(`Request ${id} was already approved by `))).toHaveLength(2);
    const record = await e2e.latch.store.getRequest(id);
    expect(record?.decisions).toHaveLength(1);
  });

  it('denies through the reason modal and tells the requester why', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    await e2e.click(U.lead, 'latch.deny', id);
    const opened = await e2e.slack.waitFor('views.open');
    expect((opened.args.view as { callback_id: string; private_metadata: string })).toMatchObject({ callback_id: 'latch.deny_reason', private_metadata: id });
    const submitted = await e2e.submit(U.lead, 'latch.deny_reason', { reason: { reason: { type: 'plain_text_input', value: 'use the <!channel> replica' } } }, id);
    expect(submitted.status).toBe(200);
    await e2e.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.lead && String(call.args.text) === `You denied ${id}.`);
    await e2e.settle();
    const told = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === U.alice && String(call.args.text).includes('denied'));
    expect(told).toHaveLength(1);
    expect(textOf(told[0])).toContain('use the &lt;!channel&gt; replica');
    expect((await e2e.latch.store.getRequest(id))?.request).toMatchObject({ state: 'denied', outcome: 'use the <!channel> replica' });
  });

  it('delivers the card after the Web API answers 429, honouring Retry-After', async () => {
    e2e = await startSlackE2E();
    e2e.slack.rateLimitNext('chat.postMessage', 1, 1);
    const id = await requestProdRead(e2e);
    await e2e.settle();
    expect(cardsFor(e2e, id)).toHaveLength(4);
  });
});

describe('Slack: App Home and the end of access', () => {
  it('publishes the App Home with active access, pending requests and approvals', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    expect(await e2e.homeOpened(U.lead)).toBe(200);
    await e2e.slack.waitFor('views.publish', (call: Call) => call.args.user_id === U.lead);
    const home = JSON.stringify(e2e.slack.homeOf(U.lead));
    expect(home).toContain('Waiting for your approval');
    expect(home).toContain(id);
    expect(home).toContain('latch.approve');
    const alicesHome = JSON.stringify(e2e.slack.homeOf(U.alice));
    expect(alicesHome).toContain('Your pending requests');
    expect(alicesHome).toContain('latch.cancel');
  });

  it('removes the credentials from the DM when access is revoked', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    await e2e.click(U.lead, 'latch.approve', id);
    await e2e.slack.waitFor('chat.postMessage', (call: Call) => textOf(call).includes('pw-'));
    await e2e.settle();
    const revoke = await e2e.click(U.alice, 'latch.revoke', id);
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === revoke.responseUrl)).args.text).toBe(`Revoking ${id} now.`);
    await e2e.settle();
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('revoked');
    const credentials = e2e.slack.callsTo('chat.postMessage').find((call: Call) => textOf(call).includes('pw-'));
    const now = e2e.slack.message(U.alice, String(e2e.slack.tsOf(credentials)));
    expect(JSON.stringify(now)).not.toContain('pw-');
    expect(JSON.stringify(now)).toContain('credentials were removed');
  });
});

describe('Slack: /access credentials', () => {
  const resetSecrets = (env: SlackE2E): Call[] => env.slack.calls.filter((call: Call) => textOf(call).includes('pw-reset-'));

  it('sends the grantee of active access new credentials by DM only, and records it without the secret', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    await e2e.click(U.lead, 'latch.approve', id);
    await e2e.settle();
    await e2e.settle();
    const before = await e2e.latch.store.getRequest(id);
    expect(before?.request.state).toBe('active');

    expect(await replyTo(e2e, U.alice, `credentials ${id.toLowerCase()}`)).toBe(`New credentials for ${id} are in your direct messages; they replace the ones you had.`);
    const dms = resetSecrets(e2e);
    expect(dms.map((call: Call) => `${call.method}:${String(call.args.channel)}`)).toEqual([`chat.postMessage:${U.alice}`]);
    const password = /pw-reset-[A-Za-z0-9_-]+/.exec(textOf(dms[0]))?.[0] ?? 'missing';
    // The same DM as on approval: the integration's access-details template, filled in.
    expect(textOf(dms[0])).toContain(`psql -h memory.local -U ${before?.grants[0]?.principal ?? ''} orders`);
    expect(e2e.provisioner.resets).toBe(1);

    const after = await e2e.latch.store.getRequest(id);
    expect(after?.request).toEqual(before?.request);
    expect(after?.grants).toEqual(before?.grants);
    const events = await e2e.latch.store.auditEvents({});
    const reset = events.filter((event) => event.type === 'credentials.reset');
    expect(reset).toEqual([expect.objectContaining({
      requestId: id, actor: 'alice@example.com',
      data: { via: 'slack', delivered: `slack:D${U.alice}`, grants: [{ grant: before?.grants[0]?.id, integration: 'orders', resource: 'orders-prod', permission: 'read', principal: before?.grants[0]?.principal }] },
    })]);
    expect(JSON.stringify(events)).not.toContain(password);
    expect(JSON.stringify(await e2e.latch.store.listRequests({}))).not.toContain(password);
  });

  it('refuses someone else\'s request, access that is not active, and a backend that cannot reset, changing nothing', async () => {
    e2e = await startSlackE2E();
    const id = await requestProdRead(e2e);
    const audited = async () => (await e2e.latch.store.auditEvents({})).length;
    let events = await audited();

    expect(await replyTo(e2e, U.alice, `credentials ${id}`)).toBe(`${id} is pending, not active: new credentials are issued only for access you have now.`);
    await e2e.click(U.lead, 'latch.approve', id);
    await e2e.settle();
    await e2e.settle();
    events = await audited();

    expect(await replyTo(e2e, U.bob, `credentials ${id}`)).toBe(`Request ${id} is not yours: only the person who has the access can get new credentials for it.`);
    e2e.provisioner.resetCredentials = undefined;
    expect(await replyTo(e2e, U.alice, `credentials ${id}`)).toBe(`orders cannot issue new credentials, so Latch cannot reset them for ${id}. Revoke the access and request it again if you lost them.`);
    expect(await replyTo(e2e, U.alice, 'credentials AR-00000000')).toBe('There is no request AR-00000000.');

    expect(resetSecrets(e2e)).toEqual([]);
    expect(await audited()).toBe(events);
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('active');
  });
});
