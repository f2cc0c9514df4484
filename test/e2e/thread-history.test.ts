// Every change of a request is a reply in the thread of its channel card, and the requester
// hears of each change that concerns them by DM: one full life cycle per platform, call by call.
import { afterEach, describe, expect, it } from 'vitest';
import { sendNotification } from '../../jobs/notify.js';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E } from './teams-harness.js';

type Call = { method: string; args: Record<string, unknown>; ok?: boolean };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const at = (ms: number | null | undefined): string => `${new Date(ms ?? 0).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const iso = (ms: number | null | undefined): string => new Date(ms ?? 0).toISOString();
const withChannel = (channel: string): string => orgConfig().replace('    timeout: 2h\n', `    timeout: 2h\n    notify: { channels: [${channel}] }\n`);

describe('Slack: the history of a request in its channel thread', () => {
  let e2e: SlackE2E;
  afterEach(async () => e2e?.close());

  async function answer(responseUrl: string): Promise<string> {
    return String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl)).args.text);
  }

  /** Clicks Approve and waits for the answer: the decision is committed once Latch answers. */
  async function approve(requestId: string, where: { channel: string; ts: string }): Promise<void> {
    expect(await answer((await e2e.click(U.lead, 'latch.approve', requestId, where)).responseUrl)).toBe(`You approved ${requestId}.`);
  }

  it('request → approve → granted → extended → revoked: replies in order under the card, and a DM to the requester for each', async () => {
    e2e = await startSlackE2E(withChannel('{ platform: slack, id: C0ACCESS }'));
    const asked = await e2e.command(U.alice, 'request orders-prod read for 1h because INC-42 checking orders');
    const id = /AR-[0-9A-Z]{8}/.exec(await answer(asked.responseUrl))?.[0] ?? '';
    await e2e.settle();
    const [card, ...none] = e2e.slack.messagesIn('C0ACCESS');
    expect(none).toEqual([]);
    expect(card?.text).toContain(`Request ${id}.`);
    expect(card?.threadTs).toBeUndefined();

    const leadCard = e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string };
    await approve(id, leadCard);
    await e2e.settle();
    await e2e.settle();
    const granted = (await e2e.latch.store.getRequest(id))?.request;
    expect(granted?.state).toBe('active');

    const extend = await e2e.command(U.alice, `extend ${id} 1h because the migration runs long`);
    const extId = /AR-[0-9A-Z]{8}/.exec(await answer(extend.responseUrl))?.[0] ?? '';
    await e2e.settle();
    const extensionCard = e2e.slack.messagesIn(U.lead).find((message) => json(message.blocks).includes(`Extension ${extId}`)) as { channel: string; ts: string };
    await approve(extId, extensionCard);
    await e2e.settle();
    const extended = (await e2e.latch.store.getRequest(id))?.request;
    expect(extended?.expiresAt).toBe((granted?.expiresAt ?? 0) + 3_600_000);

    const revoke = await e2e.command(U.alice, `revoke ${id} because done with it`);
    expect(await answer(revoke.responseUrl)).toBe(`Revoking ${id} now.`);
    await e2e.settle();
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('revoked');

    // The access's thread, in the order things happened; the extension has a card (and thread) of its own.
    const channel = e2e.slack.messagesIn('C0ACCESS');
    const root = channel.find((message) => message.text?.includes(`Request ${id}.`));
    const extensionRoot = channel.find((message) => message.text?.includes(`Request ${extId}.`));
    expect(channel.filter((message) => message.threadTs === undefined)).toEqual([root, extensionRoot]);
    expect(channel.filter((message) => message.threadTs === root?.ts).map((message) => message.text)).toEqual([
      'Approved by lead@example.com.',
      `Granted, until ${at(granted?.expiresAt)}.`,
      `Extended by 1h (${extId}, approved by lead@example.com): now ends ${at(extended?.expiresAt)}.`,
      'Revoked by alice@example.com: "done with it".',
    ]);
    expect(channel.filter((message) => message.threadTs === extensionRoot?.ts).map((message) => message.text)).toEqual(['Approved by lead@example.com.']);
    // The card itself is edited in place to the end state.
    expect(root?.text).toContain('(Revoked by alice@example.com)');

    // The requester's DMs: one per change that concerns them (the credentials come from the grant itself).
    const toAlice = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === U.alice && call.ok).map((call: Call) => String(call.args.text));
    const credentials = toAlice.filter((text) => text.startsWith('Access granted: read on orders/orders-prod ('));
    expect(credentials).toEqual([`Access granted: read on orders/orders-prod (${id}). Connection details are in this message.`]);
    expect(toAlice.filter((text) => !credentials.includes(text))).toEqual([
      `Your request ${id} for read on orders/orders-prod for 1h was sent for approval.`,
      `Request ${id} (read on orders/orders-prod for 1h) was approved by lead@example.com.`,
      `Access granted: read on orders/orders-prod for 1h, until ${iso(granted?.expiresAt)} (request ${id}). Connection details were sent by direct message.`,
      `Your request ${extId} to extend ${id} by 1h was sent for approval.`,
      `Access ${id} now ends at ${iso(extended?.expiresAt)} (extended by 1h, approved by lead@example.com).`,
      `Access ${id} (read on orders/orders-prod for 1h) was revoked by alice@example.com: done with it`,
    ]);
    expect(toAlice.indexOf(credentials[0] ?? '')).toBeLessThan(toAlice.findIndex((text) => text.includes('Connection details were sent by direct message')));
  });

  it('posts a thread reply once when a notify job runs again after it was sent', async () => {
    e2e = await startSlackE2E(withChannel('{ platform: slack, id: C0ACCESS }'));
    const asked = await e2e.command(U.alice, 'request orders-prod read for 1h because INC-43');
    const id = /AR-[0-9A-Z]{8}/.exec(await answer(asked.responseUrl))?.[0] ?? '';
    await e2e.settle();
    await approve(id, e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string });
    await e2e.settle();
    await e2e.settle();
    const posts = (): number => e2e.slack.callsTo('chat.postMessage').length;
    const before = posts();
    const record = await e2e.latch.store.getRequest(id);
    const job = (await e2e.latch.store.jobsFor(id)).find((candidate) => candidate.kind === 'notify' && candidate.payload.event === 'granted');
    if (!record || !job) throw new Error('no granted notification');
    // A crash after Slack took the messages but before the job was marked done: the job runs again.
    await sendNotification(e2e.latch.ctx, record, 'granted', `job:${job.id}`);
    expect(posts()).toBe(before);
    expect(e2e.slack.messagesIn('C0ACCESS').filter((message) => message.threadTs !== undefined).map((message) => message.text)).toEqual([
      'Approved by lead@example.com.', `Granted, until ${at(record.request.expiresAt)}.`,
    ]);
  });

  it('keeps a reply within Slack\'s limits when escaping makes a long reason longer', async () => {
    e2e = await startSlackE2E(withChannel('{ platform: slack, id: C0ACCESS }'));
    const asked = await e2e.command(U.alice, 'request orders-prod read for 1h because INC-44');
    const id = /AR-[0-9A-Z]{8}/.exec(await answer(asked.responseUrl))?.[0] ?? '';
    await e2e.settle();
    await approve(id, e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string });
    await e2e.settle();
    await e2e.settle();
    await answer((await e2e.command(U.alice, `revoke ${id} because ${'&'.repeat(1000)}`)).responseUrl);
    await e2e.settle();
    await e2e.settle();
    const replies = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === 'C0ACCESS' && call.args.thread_ts !== undefined);
    expect(replies.map((call: Call) => call.ok)).toEqual([true, true, true]);
    const last = String(replies.at(-1)?.args.text);
    expect(last.startsWith('Revoked by alice@example.com: "&amp;&amp;')).toBe(true);
    expect(last.length).toBeLessThanOrEqual(4_000);
  });
});

describe('Teams: the history of a request as replies to its channel card', () => {
  let e2e: TeamsE2E;
  afterEach(async () => {
    const rejected = e2e?.connector.cardErrors ?? [];
    await e2e?.close();
    expect(rejected).toEqual([]);
  });
  const CHANNEL = '19:access@thread.tacv2';
  /** What a requester card says: its first text, with Teams' markdown escapes taken out. */
  const said = (body: Record<string, unknown>): string => {
    const content = (body.attachments as { content?: { body?: { text?: string }[] } }[] | undefined)?.[0]?.content;
    return String(content?.body?.[0]?.text ?? body.text ?? '').replace(/\\(.)/g, '$1');
  };

  it('request → approve → granted → extended → revoked: replies in order in the card\'s thread, and a DM to the requester for each', async () => {
    e2e = await startTeamsE2E({ config: withChannel(`{ platform: teams, id: "${CHANNEL}" }`) });
    await Promise.all([T.alice, T.lead, T.approver0, T.approver1, T.approver2].map((person) => e2e.install(person)));
    const asked = await e2e.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-45' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(asked.body))?.[0] ?? '';
    await e2e.settle();
    const [card, ...none] = e2e.connector.activitiesTo(CHANNEL);
    expect(none).toEqual([]);
    expect(json(card?.body)).toContain(`Access request ${id}`);
    const thread = `${CHANNEL};messageid=${card?.activityId ?? ''}`;

    await e2e.act(T.lead, 'approve', { requestId: id });
    await e2e.settle();
    await e2e.settle();
    const granted = (await e2e.latch.store.getRequest(id))?.request;
    expect(granted?.state).toBe('active');
    const extension = await e2e.act(T.alice, 'extend', { requestId: id, duration: '1h' });
    const extId = /AR-[0-9A-Z]{8}/.exec(json(extension.body))?.[0] ?? '';
    await e2e.settle();
    await e2e.act(T.lead, 'approve', { requestId: extId });
    await e2e.settle();
    const extended = (await e2e.latch.store.getRequest(id))?.request;
    expect(extended?.expiresAt).toBe((granted?.expiresAt ?? 0) + 3_600_000);
    await e2e.act(T.alice, 'revoke', { requestId: id });
    await e2e.settle();
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('revoked');

    // Replies go to the card's thread (conversation `<channel>;messageid=<card>`), as plain text.
    const replies = e2e.connector.activitiesTo(thread);
    expect(replies.map((reply) => [reply.body.text, reply.body.textFormat])).toEqual([
      ['Approved by lead@example.com.', 'plain'],
      [`Granted, until ${at(granted?.expiresAt)}.`, 'plain'],
      [`Extended by 1h (${extId}, approved by lead@example.com): now ends ${at(extended?.expiresAt)}.`, 'plain'],
      ['Revoked by alice@example.com.', 'plain'],
    ]);
    // The channel holds the two cards (access, extension) and nothing else at its top level.
    expect(e2e.connector.activitiesTo(CHANNEL).map((activity) => /(Access request|Extension) AR-[0-9A-Z]{8}/.exec(json(activity.body))?.[0])).toEqual([`Access request ${id}`, `Extension ${extId}`]);
    const extensionCard = e2e.connector.activitiesTo(CHANNEL)[1];
    expect(e2e.connector.activitiesTo(`${CHANNEL};messageid=${extensionCard?.activityId ?? ''}`).map((reply) => reply.body.text)).toEqual(['Approved by lead@example.com.']);

    const toAlice = e2e.connector.activitiesTo(e2e.personalChat(T.alice)).map((activity) => said(activity.body));
    const welcome = toAlice.filter((text) => text.startsWith('Hi, I am Latch'));
    const credentials = toAlice.filter((text) => text === `Access granted: ${id}`);
    expect(welcome).toHaveLength(1);
    expect(credentials).toHaveLength(1);
    expect(toAlice.filter((text) => !welcome.includes(text) && !credentials.includes(text))).toEqual([
      `Your request ${id} for read on orders/orders-prod for 1h was sent for approval.`,
      `Request ${id} (read on orders/orders-prod for 1h) was approved by lead@example.com.`,
      `Access granted: read on orders/orders-prod for 1h, until ${iso(granted?.expiresAt)} (request ${id}). Connection details were sent by direct message.`,
      `Your request ${extId} to extend ${id} by 1h was sent for approval.`,
      `Access ${id} now ends at ${iso(extended?.expiresAt)} (extended by 1h, approved by lead@example.com).`,
      `Access ${id} (read on orders/orders-prod for 1h) was revoked by alice@example.com.`,
    ]);
  });
});
