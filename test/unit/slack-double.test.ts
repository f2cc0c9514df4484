import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogLevel, WebClient, type Logger } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { actionsIn, flattenText, startSlackDouble, validateBlocks, validateView, type SlackDouble } from '../support/slack-double.js';
import {
  blockActionsBody, eventBody, postToSlackEvents, signSlackRequest, slashCommandBody, urlVerificationBody, viewSubmissionBody,
} from '../support/slack-signing.js';

const TOKEN = 'xoxb-test-token';
const silent: Logger = {
  debug: () => {}, info: () => {}, warn: () => {}, error: () => {},
  setLevel: () => {}, getLevel: () => LogLevel.ERROR, setName: () => {},
};

const plain = (text: string) => ({ type: 'plain_text', text });
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });
const button = (actionId: string, text = 'Go', value = 'v') => ({ type: 'button', text: plain(text), action_id: actionId, value });
const option = (text: string, value: string) => ({ text: plain(text), value });
const x = (n: number) => 'x'.repeat(n);

/** The first error for `blocks`, asserting there is exactly one kind of problem at `pointer`. */
function expectError(errors: string[], pointer: string, fragment?: string): void {
  const hit = errors.find((error) => error.includes(`[json-pointer:${pointer}]`));
  expect(hit, `expected an error at ${pointer}, got ${JSON.stringify(errors)}`).toBeDefined();
  if (fragment) expect(hit).toContain(fragment);
}

let slack: SlackDouble | undefined;
afterEach(async () => {
  await slack?.close();
  slack = undefined;
});

function client(double: SlackDouble, options: { retries?: number } = {}): WebClient {
  return new WebClient(TOKEN, {
    slackApiUrl: double.apiUrl,
    logger: silent,
    retryConfig: { retries: options.retries ?? 0, factor: 1, minTimeout: 10, maxTimeout: 50 },
  });
}

describe('validateBlocks: Slack Block Kit limits', () => {
  it('accepts a realistic approval card', () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'Access request AR-1', emoji: true } },
      { type: 'section', text: mrkdwn('*alice* asks for access') },
      { type: 'section', fields: [mrkdwn('*Requester*\nalice'), mrkdwn('*Duration*\n1h')] },
      { type: 'section', block_id: 'status:AR-1', text: mrkdwn(':hourglass: *Pending*') },
      { type: 'actions', block_id: 'decide:AR-1', elements: [{ ...button('latch.approve', 'Approve', 'AR-1'), style: 'primary' }, { ...button('latch.deny', 'Deny', 'AR-1'), style: 'danger' }] },
      { type: 'context', elements: [mrkdwn('Approved so far by nobody')] },
      { type: 'divider' },
    ];
    expect(validateBlocks(blocks, 'message')).toEqual([]);
  });

  it('limits the number of blocks per surface', () => {
    const divider = { type: 'divider' };
    expectError(validateBlocks(Array(51).fill(divider), 'message'), '/blocks', 'no more than 50');
    expect(validateBlocks(Array(50).fill(divider), 'message')).toEqual([]);
    expect(validateBlocks(Array(100).fill(divider), 'modal')).toEqual([]);
    expectError(validateBlocks(Array(101).fill(divider), 'modal'), '/blocks', 'no more than 100');
    expectError(validateBlocks(Array(101).fill(divider), 'home'), '/blocks', 'no more than 100');
    expectError(validateBlocks('not blocks', 'message'), '/blocks', 'must be an array');
  });

  it('checks text objects: type, non-empty text', () => {
    expectError(validateBlocks([{ type: 'section', text: { type: 'markdown', text: 'hi' } }], 'message'), '/blocks/0/text/type');
    expectError(validateBlocks([{ type: 'section', text: { text: 'hi' } }], 'message'), '/blocks/0/text/type');
    expectError(validateBlocks([{ type: 'section', text: mrkdwn('') }], 'message'), '/blocks/0/text/text', 'more than 0');
    expectError(validateBlocks([{ type: 'section', text: { type: 'mrkdwn' } }], 'message'), '/blocks/0/text/text', 'missing');
    expectError(validateBlocks([{ type: 'section' }], 'message'), '/blocks/0', 'text or fields');
    expectError(validateBlocks([{ type: 'sparkle' }], 'message'), '/blocks/0/type', 'unsupported');
  });

  it('limits section text to 3000 and fields to 10 of 2000', () => {
    expect(validateBlocks([{ type: 'section', text: mrkdwn(x(3000)) }], 'message')).toEqual([]);
    expectError(validateBlocks([{ type: 'section', text: mrkdwn(x(3001)) }], 'message'), '/blocks/0/text/text', 'less than 3001');
    expectError(validateBlocks([{ type: 'section', fields: Array(11).fill(mrkdwn('f')) }], 'message'), '/blocks/0/fields', 'no more than 10');
    expectError(validateBlocks([{ type: 'section', fields: [mrkdwn('a'), mrkdwn(x(2001))] }], 'message'), '/blocks/0/fields/1/text', 'less than 2001');
  });

  it('limits header text to 150 plain_text characters', () => {
    expectError(validateBlocks([{ type: 'header', text: plain(x(151)) }], 'message'), '/blocks/0/text/text', 'less than 151');
    expectError(validateBlocks([{ type: 'header', text: mrkdwn('*bold*') }], 'message'), '/blocks/0/text/type', 'plain_text');
  });

  it('limits buttons: text 75, value 2000, action_id 255', () => {
    expectError(validateBlocks([{ type: 'actions', elements: [button('a', x(76))] }], 'message'), '/blocks/0/elements/0/text/text', 'less than 76');
    expectError(validateBlocks([{ type: 'actions', elements: [button('a', 'Go', x(2001))] }], 'message'), '/blocks/0/elements/0/value', 'less than 2001');
    expectError(validateBlocks([{ type: 'actions', elements: [button(x(256))] }], 'message'), '/blocks/0/elements/0/action_id', 'less than 256');
    expectError(validateBlocks([{ type: 'actions', elements: [{ ...button('a'), style: 'green' }] }], 'message'), '/blocks/0/elements/0/style');
  });

  it('refuses a duplicate action_id in a block (and across blocks when asked to)', () => {
    expectError(validateBlocks([{ type: 'actions', elements: [button('same'), button('same')] }], 'message'), '/blocks/0/elements/1/action_id', 'duplicate action_id');
    const acrossBlocks = [{ type: 'actions', elements: [button('same')] }, { type: 'actions', elements: [button('same')] }];
    expect(validateBlocks(acrossBlocks, 'message')).toEqual([]);
    expectError(validateBlocks(acrossBlocks, 'message', { actionIdScope: 'surface' }), '/blocks/1/elements/0/action_id', 'duplicate action_id');
  });

  it('limits block_id to 255 and refuses a duplicate', () => {
    expectError(validateBlocks([{ type: 'divider', block_id: x(256) }], 'message'), '/blocks/0/block_id', 'less than 256');
    expectError(validateBlocks([{ type: 'divider', block_id: 'b' }, { type: 'divider', block_id: 'b' }], 'message'), '/blocks/1/block_id', 'duplicate block_id');
  });

  it('limits static_select: 100 options, option text 75, option value 150, initial option among them', () => {
    const select = (options: unknown[], extra: Record<string, unknown> = {}) => [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', placeholder: plain('Pick'), options, ...extra }] }];
    const many = Array.from({ length: 101 }, (_, i) => option(`o${i}`, `v${i}`));
    expectError(validateBlocks(select(many), 'message'), '/blocks/0/elements/0/options', 'no more than 100');
    expect(validateBlocks(select(many.slice(0, 100)), 'message')).toEqual([]);
    expectError(validateBlocks(select([option(x(76), 'v')]), 'message'), '/blocks/0/elements/0/options/0/text/text', 'less than 76');
    expectError(validateBlocks(select([option('o', x(151))]), 'message'), '/blocks/0/elements/0/options/0/value', 'less than 151');
    expectError(validateBlocks(select([option('o', 'v')], { initial_option: option('p', 'w') }), 'message'), '/blocks/0/elements/0/initial_option');
    expectError(validateBlocks(select([option('o', 'v')], { placeholder: plain(x(151)) }), 'message'), '/blocks/0/elements/0/placeholder/text');
  });

  it('requires an input block label (plain_text, 2000) and element; plain_text_input max_length at most 3000', () => {
    const element = { type: 'plain_text_input', action_id: 'reason' };
    expectError(validateBlocks([{ type: 'input', element }], 'modal'), '/blocks/0/label', 'missing');
    expectError(validateBlocks([{ type: 'input', label: plain('Reason') }], 'modal'), '/blocks/0/element', 'missing');
    expectError(validateBlocks([{ type: 'input', label: plain(x(2001)), element }], 'modal'), '/blocks/0/label/text', 'less than 2001');
    expectError(validateBlocks([{ type: 'input', label: mrkdwn('*Reason*'), element }], 'modal'), '/blocks/0/label/type');
    expectError(validateBlocks([{ type: 'input', label: plain('Reason'), element: { ...element, max_length: 3001 } }], 'modal'), '/blocks/0/element/max_length');
    expect(validateBlocks([{ type: 'input', label: plain('Reason'), element: { ...element, max_length: 3000 } }], 'modal')).toEqual([]);
    expectError(validateBlocks([{ type: 'input', label: plain('Reason'), element: button('b') }], 'modal'), '/blocks/0/element/type', 'not allowed');
  });

  it('limits context elements to 10 and actions elements to 25', () => {
    expectError(validateBlocks([{ type: 'context', elements: Array(11).fill(mrkdwn('c')) }], 'message'), '/blocks/0/elements', 'no more than 10');
    const buttons = (n: number) => Array.from({ length: n }, (_, i) => button(`b${i}`));
    expectError(validateBlocks([{ type: 'actions', elements: buttons(26) }], 'message'), '/blocks/0/elements', 'no more than 25');
    expect(validateBlocks([{ type: 'actions', elements: buttons(25) }], 'message')).toEqual([]);
  });

  it('checks a modal: title/submit/close 24, callback_id 255, private_metadata 3000, submit with inputs', () => {
    const modal = { type: 'modal', title: plain('Request access'), submit: plain('Request'), close: plain('Cancel'), callback_id: 'latch.request', blocks: [] };
    expect(validateView(modal, 'modal')).toEqual([]);
    expectError(validateView({ ...modal, title: plain(x(25)) }, 'modal'), '/view/title/text', 'less than 25');
    expectError(validateView({ ...modal, submit: plain(x(25)) }, 'modal'), '/view/submit/text');
    expectError(validateView({ ...modal, close: plain(x(25)) }, 'modal'), '/view/close/text');
    expectError(validateView({ ...modal, callback_id: x(256) }, 'modal'), '/view/callback_id');
    expectError(validateView({ ...modal, private_metadata: x(3001) }, 'modal'), '/view/private_metadata');
    const input = { type: 'input', label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'r' } };
    expectError(validateView({ type: 'modal', title: plain('T'), blocks: [input] }, 'modal'), '/view/submit', 'submit');
    expectError(validateView({ ...modal, blocks: [{ type: 'header', text: plain(x(151)) }] }, 'modal'), '/view/blocks/0/text/text');
    expectError(validateView({ ...modal, title: undefined }, 'modal'), '/view/title', 'missing');
  });
});

describe('the Slack double over HTTP', () => {
  it('requires a bot token and answers auth.test', async () => {
    slack = await startSlackDouble();
    expect(slack.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    const anonymous = await fetch(`${slack.apiUrl}auth.test`, { method: 'POST' });
    expect(await anonymous.json()).toEqual({ ok: false, error: 'not_authed' });
    const wrong = await fetch(`${slack.apiUrl}auth.test`, { method: 'POST', headers: { authorization: 'Bearer xoxp-user-token' } });
    expect(await wrong.json()).toEqual({ ok: false, error: 'invalid_auth' });
    const me = await client(slack).auth.test();
    expect(me).toMatchObject({ ok: true, team_id: 'T1', user_id: 'UBOT', bot_id: 'BBOT' });
    expect(slack.callsTo('auth.test').map((call) => call.ok)).toEqual([false, false, true]);
  });

  it('looks users up: users.info without an email, unknown users, lookupByEmail', async () => {
    slack = await startSlackDouble({ users: [{ id: 'UALICE', name: 'alice', email: 'alice@example.com' }] });
    slack.addUser({ id: 'UNOMAIL', name: 'nomail' });
    const web = client(slack);
    const alice = await web.users.info({ user: 'UALICE' });
    expect(alice.user?.profile?.email).toBe('alice@example.com');
    const nomail = await web.users.info({ user: 'UNOMAIL' });
    expect(nomail.user?.profile).toBeDefined();
    expect(nomail.user?.profile && 'email' in nomail.user.profile).toBe(false);
    await expect(web.users.info({ user: 'UNOBODY' })).rejects.toMatchObject({ data: { ok: false, error: 'user_not_found' } });
    expect((await web.users.lookupByEmail({ email: 'ALICE@example.com' })).user?.id).toBe('UALICE');
    await expect(web.users.lookupByEmail({ email: 'who@example.com' })).rejects.toMatchObject({ data: { error: 'users_not_found' } });
  });

  it('changes a profile as an edit would, and gives the user object of the user_change event', async () => {
    slack = await startSlackDouble({ users: [{ id: 'UMIA', name: 'mia', email: 'mia@example.com' }] });
    const event = slack.updateUser('UMIA', { email: 'lead@example.com' });
    expect(event).toMatchObject({ id: 'UMIA', name: 'mia', profile: { email: 'lead@example.com' } });
    const web = client(slack);
    expect((await web.users.info({ user: 'UMIA' })).user?.profile?.email).toBe('lead@example.com');
    expect((await web.users.lookupByEmail({ email: 'lead@example.com' })).user?.id).toBe('UMIA');
    await expect(web.users.lookupByEmail({ email: 'mia@example.com' })).rejects.toMatchObject({ data: { error: 'users_not_found' } });
    expect(() => slack?.updateUser('UNOBODY', { email: 'x@example.com' })).toThrow(/no Slack user UNOBODY/);
  });

  it('opens stable DMs and keeps message state through chat.update and chat.delete', async () => {
    slack = await startSlackDouble({ users: [{ id: 'UALICE', email: 'alice@example.com' }, { id: 'UBOTTY', is_bot: true }] });
    const web = client(slack);
    const first = await web.conversations.open({ users: 'UALICE' });
    const second = await web.conversations.open({ users: 'UALICE' });
    expect(first.channel?.id).toBe('DUALICE');
    expect(second.channel?.id).toBe(first.channel?.id);
    await expect(web.conversations.open({ users: 'UBOTTY' })).rejects.toMatchObject({ data: { error: 'cannot_dm_bot' } });

    const a = await web.chat.postMessage({ channel: 'DUALICE', text: 'first' });
    const b = await web.chat.postMessage({ channel: 'UALICE', text: 'second' });
    expect(a.ts).toBe('1700000000.000100');
    expect(Number(b.ts)).toBeGreaterThan(Number(a.ts));
    expect(b.channel).toBe('DUALICE');
    expect(slack.dmsTo('UALICE').map((m) => m.text)).toEqual(['first', 'second']);
    expect(slack.messagesIn('UALICE')).toHaveLength(2);

    await web.chat.update({ channel: 'DUALICE', ts: String(a.ts), text: 'first, edited' });
    expect(slack.message('DUALICE', String(a.ts))).toMatchObject({ text: 'first, edited', updates: 1 });
    expect(JSON.stringify(slack.message('UALICE', String(a.ts)))).not.toContain('"first"');
    expect(slack.historyOf('DUALICE', String(a.ts)).map((version) => version.text)).toEqual(['first', 'first, edited']);
    await expect(web.chat.update({ channel: 'DUALICE', ts: '1700000000.999900', text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(web.chat.update({ channel: 'C0NEVER', ts: String(a.ts), text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });

    await web.chat.delete({ channel: 'DUALICE', ts: String(b.ts) });
    expect(slack.message('DUALICE', String(b.ts))).toBeUndefined();
    await expect(web.chat.delete({ channel: 'DUALICE', ts: String(b.ts) })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(web.chat.postMessage({ channel: 'UNOBODY', text: 'hi' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });

    const eph = await web.chat.postEphemeral({ channel: 'C0ALL', user: 'UALICE', text: 'only you' });
    expect(eph.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(slack.ephemerals[0]).toMatchObject({ user: 'UALICE', text: 'only you' });
  });

  it('decodes form-encoded blocks, records a warning when text is missing, and refuses what Slack refuses', async () => {
    slack = await startSlackDouble();
    const web = client(slack);
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*hello*' } }, { type: 'actions', block_id: 'act', elements: [button('latch.approve', 'Approve', 'AR-1')] }];
    const posted = await web.chat.postMessage({ channel: 'C0ALL', blocks, text: 'hello' });
    const call = await slack.waitFor('chat.postMessage');
    expect(call.args.blocks).toEqual(blocks);
    expect(slack.message('C0ALL', String(posted.ts))?.blocks).toEqual(blocks);
    expect(actionsIn(slack.message('C0ALL', String(posted.ts)))).toEqual([{ blockId: 'act', actionId: 'latch.approve', type: 'button', value: 'AR-1', text: 'Approve', style: undefined }]);
    expect(flattenText(call.args)).toContain('*hello*');
    expect(slack.tsOf(call)).toBe(posted.ts);
    expect(slack.warnings).toEqual([]);

    await web.chat.postMessage({ channel: 'C0ALL', blocks } as { channel: string; blocks: typeof blocks; text: string });
    expect(slack.warnings.map((w) => w.method)).toEqual(['chat.postMessage']);

    await expect(web.chat.postMessage({ channel: 'C0ALL', text: x(4001) })).rejects.toMatchObject({ data: { error: 'msg_too_long' } });
    await expect(web.chat.postMessage({ channel: 'C0ALL', text: '' })).rejects.toMatchObject({ data: { error: 'no_text' } });
    const tooLong = web.chat.postMessage({ channel: 'C0ALL', text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: x(3001) } }] });
    await expect(tooLong).rejects.toMatchObject({
      data: { error: 'invalid_blocks', response_metadata: { messages: [expect.stringMatching(/^\[ERROR\] must be less than 3001 characters \[json-pointer:\/blocks\/0\/text\/text\]$/)] } },
    });
    const stale = await web.chat.postMessage({ channel: 'C0ALL', text: 'before' });
    await expect(web.chat.update({ channel: 'C0ALL', ts: String(stale.ts), text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: x(151) } }] }))
      .rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    expect(slack.message('C0ALL', String(stale.ts))?.text).toBe('before');
  });

  it('accepts JSON bodies too', async () => {
    slack = await startSlackDouble();
    const response = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C0ALL', text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(await response.json()).toMatchObject({ ok: true, channel: 'C0ALL', message: { text: 'json' } });
    expect(slack.calls[0]?.args.blocks).toEqual([{ type: 'divider' }]);
  });

  it('honours a trigger id once, only if issued, and only for 3 seconds', async () => {
    let clock = 1_000_000;
    slack = await startSlackDouble({ users: [{ id: 'UALICE' }], now: () => clock });
    const web = client(slack);
    const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'Request access' }, close: { type: 'plain_text' as const, text: 'Cancel' }, blocks: [] };
    const trigger = slack.issueTrigger('UALICE');
    expect(trigger).toMatch(/^\d+\.\d+\.[0-9a-f]{32}$/);
    const opened = await web.views.open({ trigger_id: trigger, view });
    expect(opened.view?.id).toMatch(/^V[0-9A-Z]+$/);
    expect(opened.view?.hash).toBeTruthy();
    await expect(web.views.open({ trigger_id: trigger, view })).rejects.toMatchObject({ data: { error: 'expired_trigger_id' } });
    await expect(web.views.open({ trigger_id: '123.456.abc', view })).rejects.toMatchObject({ data: { error: 'invalid_trigger_id' } });

    const late = slack.issueTrigger();
    clock += 3_001;
    await expect(web.views.open({ trigger_id: late, view })).rejects.toMatchObject({ data: { error: 'expired_trigger_id' } });

    // A view Slack refuses does not spend the trigger.
    const fresh = slack.issueTrigger();
    await expect(web.views.open({ trigger_id: fresh, view: { ...view, title: { type: 'plain_text', text: x(25) } } })).rejects.toMatchObject({ data: { error: 'invalid_arguments' } });
    const retried = await web.views.open({ trigger_id: fresh, view });
    expect(slack.modals().map((m) => m.id)).toEqual([opened.view?.id, retried.view?.id]);

    const viewId = String(opened.view?.id);
    const updated = await web.views.update({ view_id: viewId, view: { ...view, title: { type: 'plain_text', text: 'Done' } } });
    expect(slack.view(viewId)?.title).toEqual({ type: 'plain_text', text: 'Done' });
    await expect(web.views.update({ view_id: viewId, hash: String(opened.view?.hash), view })).rejects.toMatchObject({ data: { error: 'hash_conflict' } });
    await web.views.update({ view_id: viewId, hash: String(updated.view?.hash), view });
    await expect(web.views.update({ view_id: 'VNOPE', view })).rejects.toMatchObject({ data: { error: 'not_found' } });
    await expect(web.views.push({ trigger_id: slack.issueTrigger(), view })).resolves.toMatchObject({ ok: true });
  });

  it('publishes App Home per user', async () => {
    slack = await startSlackDouble({ users: [{ id: 'UALICE' }] });
    const web = client(slack);
    const home = (text: string) => ({ type: 'home' as const, blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text } }] });
    await web.views.publish({ user_id: 'UALICE', view: home('one') });
    await web.views.publish({ user_id: 'UALICE', view: home('two') });
    expect(flattenText(slack.homeOf('UALICE'))).toBe('two');
    expect(slack.homeOf('UBOB')).toBeUndefined();
    await expect(web.views.publish({ user_id: 'UALICE', view: { type: 'home', blocks: Array(101).fill({ type: 'divider' }) } })).rejects.toMatchObject({ data: { error: 'invalid_arguments' } });
    await expect(web.views.publish({ user_id: 'UNOBODY', view: home('x') })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
  });

  it('answers 429 with Retry-After, which the real WebClient honours and retries', async () => {
    slack = await startSlackDouble();
    slack.rateLimitNext('chat.postMessage', 1, 1);
    const started = Date.now();
    const posted = await client(slack, { retries: 2 }).chat.postMessage({ channel: 'C0ALL', text: 'eventually' });
    expect(posted.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(slack.callsTo('chat.postMessage').map((call) => call.status)).toEqual([429, 200]);
    expect(slack.callsTo('chat.postMessage')[0]?.error).toBe('ratelimited');
    expect(slack.messagesIn('C0ALL')).toHaveLength(1);

    const raw = await (async () => {
      slack.rateLimitNext('users.info', 7);
      return fetch(`${slack.apiUrl}users.info`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    })();
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');
  });

  it('fails the next calls on request, then recovers', async () => {
    slack = await startSlackDouble();
    slack.failNext('chat.postMessage', 'internal_error', 2);
    const web = client(slack);
    await expect(web.chat.postMessage({ channel: 'C0ALL', text: 'a' })).rejects.toMatchObject({ data: { ok: false, error: 'internal_error' } });
    await expect(web.chat.postMessage({ channel: 'C0ALL', text: 'a' })).rejects.toMatchObject({ data: { error: 'internal_error' } });
    await expect(web.chat.postMessage({ channel: 'C0ALL', text: 'a' })).resolves.toMatchObject({ ok: true });
  });

  it('waitFor resolves on a later call and rejects listing what was seen', async () => {
    slack = await startSlackDouble();
    const web = client(slack);
    const waiting = slack.waitFor('chat.postMessage', (call) => call.args.text === 'second');
    await web.chat.postMessage({ channel: 'C0ALL', text: 'first' });
    await web.chat.postMessage({ channel: 'C0ALL', text: 'second' });
    expect((await waiting).args.text).toBe('second');
    await expect(slack.waitFor('views.open', undefined, 50)).rejects.toThrow(/no matching views\.open call within 50 ms[\s\S]*chat\.postMessage C0ALL -> ok: first/);
    slack.reset();
    expect(slack.calls).toEqual([]);
    expect(slack.messagesIn('C0ALL')).toHaveLength(2);
  });

  it('serves response_urls: recorded as calls, limited to 5 uses', async () => {
    slack = await startSlackDouble();
    const url = slack.responseUrl();
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ response_type: 'ephemeral', text: 'You approved AR-1.' })).status).toBe(200);
    const call = await slack.waitFor('response_url', (c) => c.args.url === url);
    expect(call.args).toMatchObject({ response_type: 'ephemeral', text: 'You approved AR-1.' });
    expect((await post({ text: 'x', blocks: [{ type: 'header', text: { type: 'mrkdwn', text: 'no' } }] })).status).toBe(400);
    for (let i = 0; i < 4; i += 1) expect((await post({ text: `again ${i}` })).status).toBe(200);
    expect((await post({ text: 'sixth' })).status).toBe(404);
    expect(slack.responses).toHaveLength(5);
  });
});

describe('signed requests to /slack/events', () => {
  it('signs like Slack (known vector)', () => {
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = signSlackRequest(body, '8f742231b10e8888abcd99yyyzzz85a5', 1531420618);
    expect(headers).toEqual({
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'content-type': 'application/x-www-form-urlencoded',
    });
    const independent = `v0=${createHmac('sha256', '8f742231b10e8888abcd99yyyzzz85a5').update(`v0:1531420618:${body}`).digest('hex')}`;
    expect(headers['x-slack-signature']).toBe(independent);
    expect(signSlackRequest('{"a":1}', 's')['content-type']).toBe('application/json');
  });

  it('builds Slack-shaped payloads', () => {
    const command = new URLSearchParams(slashCommandBody({ userId: 'UALICE', text: 'request orders-prod read', triggerId: 't.1.2', responseUrl: 'http://x/r' }));
    expect([...command.keys()]).toEqual(['token', 'team_id', 'team_domain', 'channel_id', 'channel_name', 'user_id', 'user_name', 'command', 'text', 'api_app_id', 'is_enterprise_install', 'response_url', 'trigger_id']);
    expect(Object.fromEntries(command)).toMatchObject({ user_id: 'UALICE', command: '/access', text: 'request orders-prod read', channel_id: 'C0ALL', team_id: 'T1', trigger_id: 't.1.2', response_url: 'http://x/r' });

    const payload = (body: string): Record<string, unknown> => JSON.parse(new URLSearchParams(body).get('payload') ?? 'null') as Record<string, unknown>;
    const click = payload(blockActionsBody({ userId: 'ULEAD', actionId: 'latch.approve', value: 'AR-1', triggerId: 't', container: { channel_id: 'DULEAD', message_ts: '1700000000.000100' }, blockId: 'decide:AR-1' }));
    expect(click).toMatchObject({
      type: 'block_actions', user: { id: 'ULEAD', team_id: 'T1' }, trigger_id: 't', team: { id: 'T1' },
      container: { type: 'message', channel_id: 'DULEAD', message_ts: '1700000000.000100' }, channel: { id: 'DULEAD' }, message: { ts: '1700000000.000100' },
      actions: [{ action_id: 'latch.approve', block_id: 'decide:AR-1', value: 'AR-1', type: 'button' }],
    });
    expect(typeof click.response_url).toBe('string');
    const homeClick = payload(blockActionsBody({ userId: 'ULEAD', actionId: 'latch.cancel', value: 'AR-1', container: { view_id: 'VHOME' } }));
    expect(homeClick).toMatchObject({ container: { type: 'view', view_id: 'VHOME' }, view: { id: 'VHOME', type: 'home' } });
    expect(homeClick.response_url).toBeUndefined();
    expect(homeClick.message).toBeUndefined();

    const submission = payload(viewSubmissionBody({
      userId: 'UALICE', callbackId: 'latch.request', privateMetadata: '{"c":"C0ALL"}', viewId: 'V1',
      values: { resource: { pick: { type: 'static_select', selected_option: { value: 'orders-prod' } } }, reason: { text: { type: 'plain_text_input', value: 'INC-42' } } },
    }));
    expect(submission).toMatchObject({
      type: 'view_submission', user: { id: 'UALICE' },
      view: { id: 'V1', type: 'modal', callback_id: 'latch.request', private_metadata: '{"c":"C0ALL"}', state: { values: {
        resource: { pick: { type: 'static_select', selected_option: { value: 'orders-prod', text: { type: 'plain_text', text: 'orders-prod' } } } },
        reason: { text: { type: 'plain_text_input', value: 'INC-42' } },
      } } },
    });

    const event = JSON.parse(eventBody({ type: 'app_home_opened', userId: 'UALICE', eventId: 'Ev1', tab: 'home' })) as Record<string, unknown>;
    expect(event).toMatchObject({ type: 'event_callback', team_id: 'T1', event_id: 'Ev1', event: { type: 'app_home_opened', user: 'UALICE', tab: 'home' } });
    expect(typeof event.event_time).toBe('number');
    expect(JSON.parse(urlVerificationBody('abc'))).toMatchObject({ type: 'url_verification', challenge: 'abc' });
  });

  it('posts signed, with retry headers and overrides', async () => {
    const seen: Array<{ url: string | undefined; headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const body = eventBody({ type: 'app_home_opened', userId: 'UALICE', tab: 'home' });
      const answer = await postToSlackEvents(base, body, 'secret', { retryNum: 1 });
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual({ ok: true });
      const first = seen[0];
      expect(first?.url).toBe('/slack/events');
      expect(first?.headers['content-type']).toBe('application/json');
      expect(first?.headers['x-slack-retry-num']).toBe('1');
      expect(first?.headers['x-slack-retry-reason']).toBe('http_timeout');
      const ts = String(first?.headers['x-slack-request-timestamp']);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
      expect(first?.headers['x-slack-signature']).toBe(`v0=${createHmac('sha256', 'secret').update(`v0:${ts}:${first?.body ?? ''}`).digest('hex')}`);

      await postToSlackEvents(`${base}/slack/events`, 'a=b', 'secret', { timestampSec: 42, signature: 'v0=bad' });
      expect(seen[1]?.headers).toMatchObject({ 'x-slack-request-timestamp': '42', 'x-slack-signature': 'v0=bad', 'content-type': 'application/x-www-form-urlencoded' });
      expect(seen[1]?.headers['x-slack-retry-num']).toBeUndefined();
      await postToSlackEvents(base, 'a=b', 'secret', { signature: null });
      expect(seen[2]?.headers['x-slack-signature']).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
