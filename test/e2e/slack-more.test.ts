import { afterEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E } from './slack-harness.js';

let e2e: SlackE2E;
afterEach(async () => e2e?.close());

type Call = { method: string; args: Record<string, unknown> };
const textOf = (call: Call | undefined): string => JSON.stringify(call?.args ?? {});

async function reply(env: SlackE2E, responseUrl: string): Promise<string> {
  return String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl)).args.text);
}

async function activeStagingAccess(env: SlackE2E, user: string = U.bob): Promise<string> {
  const { responseUrl } = await env.command(user, 'request orders-staging read for 1h');
  const id = /AR-[0-9A-Z]{8}/.exec(await reply(env, responseUrl))?.[0] ?? '';
  await env.settle();
  await env.settle();
  return id;
}

describe('Slack: living with access', () => {
  it('warns before expiry with an Extend button that opens a bounded modal and extends', async () => {
    e2e = await startSlackE2E(orgConfig({ extra: '' }).replace('approval: { autoApprove: true }\n    duration: { default: 1h, max: 8h }', 'approval: { autoApprove: true }\n    extensions: { autoApprove: true }\n    duration: { default: 1h, max: 8h }'));
    const id = await activeStagingAccess(e2e);
    const before = (await e2e.latch.store.getRequest(id))?.request.expiresAt ?? 0;
    e2e.advance(59 * 60_000);
    await e2e.settle();
    const warning = await e2e.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.bob && String(call.args.text).includes('ends in'));
    expect(textOf(warning)).toContain('"action_id":"latch.extend"');

    await e2e.click(U.bob, 'latch.extend', id, { channel: e2e.slack.channelOf(warning) ?? '', ts: e2e.slack.tsOf(warning) ?? '' });
    const opened = await e2e.slack.waitFor('views.open', (call: Call) => textOf(call).includes('latch.extend_submit'));
    const options = ((opened.args.view as { blocks: { block_id?: string; element?: { options?: { value: string }[] } }[] }).blocks.find((block) => block.block_id === 'duration')?.element?.options ?? []).map((option) => option.value);
    expect(options).toEqual(['15m', '30m', '1h', '2h', '4h', '8h']);
    const submitted = await e2e.submit(U.bob, 'latch.extend_submit', { duration: { duration: { type: 'static_select', selected_option: { value: '2h' } } }, reason: { reason: { type: 'plain_text_input', value: '' } } }, id);
    expect(submitted.json).toBeNull();
    await e2e.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.bob && String(call.args.text) === `${id} was extended.`);
    expect((await e2e.latch.store.getRequest(id))?.request.expiresAt).toBe(before + 2 * 3_600_000);
  });

  it('cancels a pending request from the button in the confirmation DM', async () => {
    e2e = await startSlackE2E();
    const { responseUrl } = await e2e.command(U.alice, 'request orders-prod read because INC-5');
    const id = /AR-[0-9A-Z]{8}/.exec(await reply(e2e, responseUrl))?.[0] ?? '';
    await e2e.settle();
    const confirmation = e2e.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.alice && textOf(call).includes('latch.cancel'));
    expect(confirmation).toBeDefined();
    const click = await e2e.click(U.alice, 'latch.cancel', id, { channel: e2e.slack.channelOf(confirmation) ?? '', ts: e2e.slack.tsOf(confirmation) ?? '' });
    expect(await reply(e2e, click.responseUrl)).toBe(`Cancelled ${id}.`);
    await e2e.settle();
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('cancelled');
    for (const card of e2e.slack.callsTo('chat.postMessage').filter((call: Call) => textOf(call).includes(`Access request ${id}`))) {
      expect(JSON.stringify(e2e.slack.message(e2e.slack.channelOf(card) ?? '', e2e.slack.tsOf(card) ?? ''))).not.toContain('latch.approve');
    }
  });

  it('lists my access with time left, the approvals waiting for me, and the audit log for admins only', async () => {
    e2e = await startSlackE2E();
    const id = await activeStagingAccess(e2e);
    const list = await e2e.command(U.bob, 'list');
    expect(await reply(e2e, list.responseUrl)).toMatch(new RegExp(`${id}\\* read on orders/orders-staging: Active \\(approved automatically\\), (59m\\d*s|1h) left`));

    const { responseUrl } = await e2e.command(U.alice, 'request orders-prod read because INC-8');
    await reply(e2e, responseUrl);
    const approvals = await e2e.command(U.lead, 'approvals');
    const waiting = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === approvals.responseUrl);
    expect(String(waiting.args.text)).toBe('1 request(s) wait for you.');
    expect(textOf(waiting)).toContain('latch.approve');

    const denied = await e2e.command(U.bob, 'audit 5');
    expect(await reply(e2e, denied.responseUrl)).toBe('Only Latch admins can read the audit log.');
    const audit = await e2e.command(U.sec, 'audit 3');
    expect(await reply(e2e, audit.responseUrl)).toMatch(/request\.created AR-[0-9A-Z]{8} by alice@example\.com/);
  });

  it('posts approval cards to the flow\'s channel as well', async () => {
    e2e = await startSlackE2E(orgConfig().replace('    timeout: 2h\n', '    timeout: 2h\n    notify: { approverDMs: false, channels: [{ platform: slack, id: C0APPROVALS }] }\n'));
    const { responseUrl } = await e2e.command(U.alice, 'request orders-prod read because INC-11');
    await reply(e2e, responseUrl);
    await e2e.settle();
    const cards = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => textOf(call).includes('Access request'));
    expect(cards.map((call: Call) => call.args.channel)).toEqual(['C0APPROVALS']);
  });

  it('retries a message Slack failed to take, instead of losing it', async () => {
    e2e = await startSlackE2E();
    e2e.slack.failNext('chat.postMessage', 'internal_error', 1);
    const { responseUrl } = await e2e.command(U.alice, 'request orders-prod read because INC-12');
    const id = /AR-[0-9A-Z]{8}/.exec(await reply(e2e, responseUrl))?.[0] ?? '';
    await e2e.settle();
    e2e.advance(10_000); // past the retry backoff
    await e2e.settle();
    const submitted = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === U.alice && String(call.args.text).includes('was sent for approval'));
    expect(submitted.filter((call: Call) => (call as Call & { ok: boolean }).ok)).toHaveLength(1);
    expect(e2e.slack.callsTo('chat.postMessage').filter((call: Call) => textOf(call).includes(`Access request ${id}`) && (call as Call & { ok: boolean }).ok)).toHaveLength(4);
  });
});

describe('Slack: an integration that is down', () => {
  it('is named in the request modal, and submitting for it is refused inline', async () => {
    const { forgetIntegrationStatuses } = await import('../../handlers/integration-status.js');
    const { reconcileJob } = await import('../../jobs/reconcile.js');
    e2e = await startSlackE2E();
    await e2e.settle(); // the start-up reconcile, while the backend is fine
    e2e.provisioner.down = 'the connector cannot log in';
    await e2e.latch.store.commit({ enqueue: [reconcileJob(Date.now(), true)] });
    await e2e.settle();
    try {
      await e2e.command(U.alice, 'request');
      const opened = await e2e.slack.waitFor('views.open');
      expect(textOf(opened)).toContain('orders is unavailable right now: the connector cannot log in');
      const submitted = await e2e.submit(U.alice, 'latch.request', {
        target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
        duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
        reason: { reason: { type: 'plain_text_input', value: 'INC-1' } },
      });
      expect(submitted.json).toEqual({ response_action: 'errors', errors: { target: "orders is unavailable right now (the connector cannot log in), so nothing was submitted. Try again later, or tell the integration's owner." } });
    } finally {
      forgetIntegrationStatuses();
    }
  });
});

describe('Slack: a stranger clicking Deny on someone else\'s request', () => {
  it('gets no modal describing the request', async () => {
    e2e = await startSlackE2E();
    const { responseUrl } = await e2e.command(U.alice, 'request orders-prod read because INC-secret');
    const id = /AR-[0-9A-Z]{8}/.exec(await reply(e2e, responseUrl))?.[0] ?? '';
    const click = await e2e.click(U.bob, 'latch.deny', id);
    expect(await reply(e2e, click.responseUrl)).toBe(`Request ${id} is not yours to see.`);
    expect(e2e.slack.callsTo('views.open')).toEqual([]);
  });
});
