// Routing rules end to end through the Slack double: which requests put a card in a
// channel, which go to approvers' DMs, and which post nothing to channels at all.
import { afterEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E } from './slack-harness.js';

type Call = { method: string; args: Record<string, unknown>; ok?: boolean };
const json = (value: unknown): string => JSON.stringify(value ?? null);

/**
 * prod-read goes to #prod-access only (no approver DMs), by rule; prod-write keeps its flow's
 * DMs; staging is approved automatically and has a channel, where orders-staging is quiet by rule.
 */
const CONFIG = orgConfig({
  settings: [
    '  routing:',
    '    - name: production reads in the channel',
    '      when: { flows: [prod-read], labels: [production] }',
    '      approverDMs: false',
    '      channels: [{ platform: slack, id: C0PRODACCESS }]',
    '    - name: quiet staging',
    '      when: { resources: [orders-staging] }',
    '      quietWhenAutomatic: true',
  ].join('\n'),
}).replace('    justification: optional\n', '    justification: optional\n    notify: { channels: [{ platform: slack, id: C0STAGING }] }\n');

let e2e: SlackE2E;
afterEach(async () => e2e?.close());

async function request(text: string): Promise<string> {
  const { responseUrl } = await e2e.command(U.alice, text);
  const reply = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
  const id = /AR-[0-9A-Z]{8}/.exec(String(reply.args.text))?.[0];
  if (!id) throw new Error(`no request id in ${json(reply.args)}`);
  await e2e.settle();
  await e2e.settle();
  return id;
}

const postsOf = (env: SlackE2E, id: string): Call[] => env.slack.callsTo('chat.postMessage').filter((call: Call) => json(call.args).includes(`Request ${id}.`));

describe('Slack: notification routing', () => {
  it('sends a routed request\'s card to the channel instead of DMs, and its history to the card\'s thread', async () => {
    e2e = await startSlackE2E(CONFIG);
    const id = await request('request orders-prod read for 1h because INC-50');
    expect(postsOf(e2e, id).map((call) => call.args.channel)).toEqual(['C0PRODACCESS']);
    expect(e2e.slack.dmsTo(U.lead)).toEqual([]);
    const card = e2e.slack.messagesIn('C0PRODACCESS')[0] as { channel: string; ts: string };
    expect(json(e2e.slack.message(card.channel, card.ts)?.blocks)).toContain('latch.approve');

    const click = await e2e.click(U.lead, 'latch.approve', id, card);
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl)).args.text).toBe(`You approved ${id}.`);
    await e2e.settle();
    await e2e.settle();
    const expiresAt = (await e2e.latch.store.getRequest(id))?.request.expiresAt ?? 0;
    expect(e2e.slack.messagesIn('C0PRODACCESS').map((message) => [message.threadTs ?? 'card', message.text])).toEqual([
      ['card', `alice@example.com asks for access: read on orders/orders-prod for 1h (Active by lead@example.com). Request ${id}.`],
      [card.ts, 'Approved by lead@example.com.'],
      [card.ts, `Granted, until ${new Date(expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC.`],
    ]);
    expect(e2e.slack.dmsTo(U.alice).map((message) => message.text).filter((text) => text?.includes('approved by'))).toEqual([
      `Request ${id} (read on orders/orders-prod for 1h) was approved by lead@example.com.`,
    ]);
  });

  it('keeps the flow\'s approver DMs for a request no rule matches, and posts it to no channel', async () => {
    e2e = await startSlackE2E(CONFIG);
    const id = await request('request orders-prod write for 30m because INC-51');
    expect(postsOf(e2e, id).map((call) => call.args.channel)).toEqual([U.mia]);
    expect(e2e.slack.messagesIn('C0PRODACCESS')).toEqual([]);
  });

  it('posts an automatically approved request to its channel, unless a rule says quietWhenAutomatic', async () => {
    e2e = await startSlackE2E(CONFIG);
    const quiet = await request('request orders-staging read for 1h');
    expect((await e2e.latch.store.getRequest(quiet))?.request.state).toBe('active');
    expect(e2e.slack.messagesIn('C0STAGING')).toEqual([]);
    expect(e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel !== U.alice).map((call) => call.args.channel)).toEqual([]);
    // The requester still hears of it, by DM only.
    expect(e2e.slack.dmsTo(U.alice).map((message) => message.text?.slice(0, 40))).toEqual([
      `Access granted: read on orders/orders-st`, `Access granted: read on orders/orders-st`,
    ]);

    const announced = await request('request broken-db read for 1h');
    expect((await e2e.latch.store.getRequest(announced))?.request.state).toBe('active');
    const [card, reply, ...rest] = e2e.slack.messagesIn('C0STAGING');
    expect(rest).toEqual([]);
    expect(card?.text).toBe(`alice@example.com asks for access: read on orders/broken-db for 1h (Active (approved automatically)). Request ${announced}.`);
    expect(json(card?.blocks)).not.toContain('latch.approve');
    expect(reply?.threadTs).toBe(card?.ts);
    expect(reply?.text).toMatch(/^Granted \(approved automatically\), until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/);

    for (const id of [quiet, announced]) {
      const { responseUrl } = await e2e.command(U.alice, `revoke ${id}`);
      await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    }
    await e2e.settle();
    await e2e.settle();
    expect(e2e.slack.messagesIn('C0STAGING').map((message) => message.text)).toEqual([
      `alice@example.com asks for access: read on orders/broken-db for 1h (Revoked by alice@example.com). Request ${announced}.`,
      reply?.text, 'Revoked by alice@example.com.',
    ]);
  });
});
