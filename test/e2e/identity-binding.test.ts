// Identity binding end to end: a chat account is bound to its e-mail the first time Latch
// sees it, and from then on the platform's immutable id decides. A profile whose e-mail
// changes is refused on commands, buttons and forms, the admins are alerted, the audit log
// records it, and `npm run latch -- identities rebind` lets the person act again.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { eventBody, postToSlackEvents } from '../support/slack-signing.js';
import { SIGNING_SECRET, U, startSlackE2E, type SlackE2E } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, type TeamsPerson } from './teams-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** tsx starts in 1-2 s; a loaded machine may take several times that. */
const SLOW = { timeout: 90_000 };
const HOUR = 3_600_000;

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
afterEach(async () => {
  await slack?.close();
  await teams?.close();
  slack = undefined;
  teams = undefined;
});

/** The store's file: the CLI works on it beside the running server, as an operator's would. */
function databaseOf(latch: SlackE2E['latch']): string {
  return (latch.store as unknown as { sqlite: { name: string } }).sqlite.name;
}

/** `npm run latch -- ARGS` (tsx scripts/latch.ts, as npm runs it) against the running server's store. */
function cli(latch: SlackE2E['latch'], args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: `sqlite:${databaseOf(latch)}`, LATCH_OPERATOR: 'ops@example.com' };
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env, timeout: 80_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function commandReply(env: SlackE2E, user: string, text: string): Promise<string> {
  const { responseUrl } = await env.command(user, text);
  return String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl)).args.text);
}

async function clickReply(env: SlackE2E, user: string, actionId: string, value: string): Promise<string> {
  const { responseUrl } = await env.click(user, actionId, value);
  return String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl)).args.text);
}

async function requestProdRead(env: SlackE2E, user: string = U.alice): Promise<string> {
  const text = await commandReply(env, user, 'request orders-prod read for 1h because INC-42 checking orders');
  const id = /AR-[0-9A-Z]{8}/.exec(text)?.[0];
  if (!id) throw new Error(`no request id in ${text}`);
  await env.settle();
  return id;
}

/** A profile edit in Slack: the double answers the new e-mail, and Slack sends `user_change`. */
async function changeSlackEmail(env: SlackE2E, user: string, email: string): Promise<void> {
  const object = env.slack.updateUser(user, { email });
  const answer = await postToSlackEvents(env.base, eventBody({ type: 'user_change', userId: user, event: { user: object } }), SIGNING_SECRET, { contentType: 'application/json' });
  expect(answer.status).toBe(200);
}

const adminAlert = (env: SlackE2E, fragment: string): Promise<Call> =>
  env.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).includes(fragment));

const requestForm = (target: string) => ({
  target: { target: { type: 'static_select', selected_option: { value: target } } },
  duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
  reason: { reason: { type: 'plain_text_input', value: 'INC-7' } },
});

const CHANGED = (from: string, to: string): string => `Your chat account's e-mail changed from ${from} to ${to}; an admin must confirm it before Latch acts for you.`;

describe('Slack: the user id decides, not the profile e-mail', () => {
  it('refuses a user whose profile e-mail changes to an approver\'s: no approval, the admins are alerted, the audit log has it', async () => {
    slack = await startSlackE2E();
    // First sight binds UBOB to bob@example.com.
    expect(await commandReply(slack, U.bob, 'list')).not.toContain('admin must confirm');
    expect(await slack.latch.store.identityOf('slack', U.bob)).toMatchObject({ email: 'bob@example.com', state: 'bound', boundBy: 'latch' });
    const id = await requestProdRead(slack);

    await changeSlackEmail(slack, U.bob, 'lead@example.com');
    const alert = await adminAlert(slack, U.bob);
    expect(String(alert.args.text)).toContain('bound to bob@example.com, now reports the e-mail lead@example.com');
    expect(String(alert.args.text)).toContain(`npm run latch -- identities rebind --platform slack --user ${U.bob} --email lead@example.com`);

    const refusal = CHANGED('bob@example.com', 'lead@example.com');
    expect(await clickReply(slack, U.bob, 'latch.approve', id)).toBe(refusal);
    expect(await commandReply(slack, U.bob, 'approvals')).toBe(refusal);
    expect(await commandReply(slack, U.bob, `revoke ${id}`)).toBe(refusal);
    const form = await slack.submit(U.bob, 'latch.request', requestForm('item:orders/orders-prod/read'));
    expect(form.json).toEqual({ response_action: 'errors', errors: { target: refusal } });

    const record = await slack.latch.store.getRequest(id);
    expect(record?.request.state).toBe('pending');
    expect(record?.decisions).toEqual([]);
    const mismatches = (await slack.latch.store.auditEvents({})).filter((event) => event.type === 'identity.mismatch');
    expect(mismatches).toEqual([expect.objectContaining({
      actor: 'latch', data: { platform: 'slack', user: U.bob, reason: 'email_changed', boundEmail: 'bob@example.com', reportedEmail: 'lead@example.com' },
    })]);
    // One alert for the change, however often the account tries.
    expect(slack.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === U.sec && String(call.args.text).includes('stopped acting'))).toHaveLength(1);

    // The real approver is not touched by any of it.
    expect(await clickReply(slack, U.lead, 'latch.approve', id)).not.toContain('admin must confirm');
    await slack.settle();
    expect((await slack.latch.store.getRequest(id))?.decisions.map((decision) => decision.approver)).toEqual(['lead@example.com']);
  });

  it('after identities rebind, the person acts again under the new e-mail; identities list shows bindings and stops', SLOW, async () => {
    const config = orgConfig().replace('members: [alice@example.com, bob@example.com, lead@example.com]', 'members: [alice@example.com, alice@new.example.com, bob@example.com, lead@example.com]');
    slack = await startSlackE2E(config);
    await requestProdRead(slack);
    // No user_change this time: the hourly re-read finds it.
    slack.slack.updateUser(U.alice, { email: 'alice@new.example.com' });
    expect(await commandReply(slack, U.alice, 'list')).toContain('AR-');
    slack.advance(HOUR + 1);
    expect(await commandReply(slack, U.alice, 'list')).toBe(CHANGED('alice@example.com', 'alice@new.example.com'));
    await adminAlert(slack, U.alice);

    const listed = await cli(slack.latch, ['identities', 'list']);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toBe('platform\tuser\te-mail\tstate\tbinding');
    expect(lines[1]).toMatch(new RegExp(`^slack\\t${U.alice}\\talice@example.com\\tSTOPPED: e-mail changed, reports alice@new.example.com\\tbound .* by latch, checked `));
    expect(listed.stdout).toMatch(new RegExp(`slack\\t${U.lead}\\tlead@example.com\\tbound\\t`));
    expect(listed.stderr).toContain('1 stopped');

    const rebound = await cli(slack.latch, ['identities', 'rebind', '--platform', 'slack', '--user', U.alice, '--email', 'alice@new.example.com']);
    expect(rebound).toMatchObject({ code: 0, stderr: '' });
    expect(rebound.stdout).toContain(`slack ${U.alice} is bound to alice@new.example.com (was alice@example.com (STOPPED: e-mail changed, reporting alice@new.example.com)); Latch acts for it again. Recorded as identity.rebound by ops@example.com.`);
    expect((await slack.latch.store.auditEvents({})).find((event) => event.type === 'identity.rebound')).toMatchObject({
      actor: 'ops@example.com', data: { platform: 'slack', user: U.alice, email: 'alice@new.example.com', previousEmail: 'alice@example.com', previousState: 'email_changed', by: 'ops@example.com' },
    });

    // The old requests were alice@example.com's; the new identity starts with none, and what it asks is its own.
    expect(await commandReply(slack, U.alice, 'list')).not.toContain('AR-');
    const asked = await commandReply(slack, U.alice, 'request orders-staging read for 1h because INC-8');
    expect(asked).toMatch(/AR-[0-9A-Z]{8}/);
    const mine = await slack.latch.store.listRequests({ involving: 'alice@new.example.com' });
    expect(mine.map((record) => record.request.requester)).toEqual(['alice@new.example.com']);

    expect((await cli(slack.latch, ['identities', 'rebind', '--platform', 'slack', '--user', 'alice', '--email', 'x@example.com'])).code).toBe(2);
    expect((await cli(slack.latch, ['identities', 'rebind', '--platform', 'slack', '--user', U.alice])).code).toBe(2);
  });

  it('refuses a new Slack account that reports the e-mail another Slack account is bound to, until an admin binds it', async () => {
    slack = await startSlackE2E();
    const id = await requestProdRead(slack);
    // The card went to ULEAD: that bound lead@example.com to it.
    expect(await slack.latch.store.identityOf('slack', U.lead)).toMatchObject({ email: 'lead@example.com', state: 'bound' });
    slack.slack.addUser({ id: 'UEVIL', name: 'evil', email: 'lead@example.com' });

    const refusal = "Your chat account reports the e-mail lead@example.com, which Latch already knows from another Slack account; an admin must confirm this account before Latch acts for you.";
    expect(await clickReply(slack, 'UEVIL', 'latch.approve', id)).toBe(refusal);
    expect(await commandReply(slack, 'UEVIL', 'approvals')).toBe(refusal);
    const alert = await adminAlert(slack, 'UEVIL');
    expect(String(alert.args.text)).toContain(`Slack account UEVIL is new and reports the e-mail lead@example.com, which is already bound to Slack account ${U.lead}.`);
    expect((await slack.latch.store.auditEvents({})).filter((event) => event.type === 'identity.mismatch')).toEqual([expect.objectContaining({
      data: { platform: 'slack', user: 'UEVIL', reason: 'duplicate_email', boundEmail: 'lead@example.com', reportedEmail: 'lead@example.com', boundTo: U.lead },
    })]);
    expect((await slack.latch.store.getRequest(id))?.decisions).toEqual([]);
    // Latch still writes to the account it bound first, never to the new one.
    expect(await slack.latch.ctx.store.platformIdsFor('lead@example.com')).toEqual([expect.objectContaining({ platform: 'slack', platformUserId: U.lead })]);
  });
});

describe('Teams: the AAD object id decides, not the member e-mail', () => {
  // The admin, in Teams too (the harness's people are a fixed set, hence the cast).
  const sec = { id: '29:sec', aadObjectId: 'aad-sec', name: 'Sec', email: 'sec@example.com' } as unknown as TeamsPerson;
  const lastText = (env: TeamsE2E, person: TeamsPerson): string => String(((env.connector.activitiesTo(env.personalChat(person)) as Sent[]).at(-1)?.body.text) ?? '');

  it('refuses a member whose e-mail changed on messages and card actions, alerts the admins, and acts again after a rebind', SLOW, async () => {
    teams = await startTeamsE2E();
    teams.connector.addMember({ id: sec.id, aadObjectId: sec.aadObjectId, email: sec.email, name: sec.name });
    await Promise.all([teams.install(sec), teams.install(T.bob), teams.install(T.alice), teams.install(T.lead)]);
    expect(await teams.latch.store.identityOf('teams', T.bob.aadObjectId)).toMatchObject({ email: 'bob@example.com', state: 'bound', chatId: T.bob.id });
    const submitted = await teams.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-42 checking orders' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(submitted.body))?.[0] ?? '';
    await teams.settle();

    teams.connector.addMember({ id: T.bob.id, aadObjectId: T.bob.aadObjectId, name: T.bob.name, email: 'lead@example.com' });
    await teams.say(T.bob, 'approvals');
    const refusal = CHANGED('bob@example.com', 'lead@example.com');
    expect(lastText(teams, T.bob)).toBe(refusal);
    const approve = await teams.act(T.bob, 'approve', { requestId: id });
    expect(json(approve.body)).toContain(refusal);
    expect((await teams.latch.store.getRequest(id))?.decisions).toEqual([]);

    const alert = await teams.connector.waitFor((activity) => activity.conversationId === teams?.personalChat(sec) && String((activity.body as { text?: string }).text).includes('stopped acting'));
    expect(String((alert.body as { text?: string }).text)).toContain(`Teams account ${T.bob.aadObjectId}, bound to bob@example.com, now reports the e-mail lead@example.com.`);
    expect((await teams.latch.store.auditEvents({})).filter((event) => event.type === 'identity.mismatch')).toEqual([expect.objectContaining({
      data: { platform: 'teams', user: T.bob.aadObjectId, reason: 'email_changed', boundEmail: 'bob@example.com', reportedEmail: 'lead@example.com' },
    })]);

    // The admin checks, finds it is a rename after all, and confirms it.
    teams.connector.addMember({ id: T.bob.id, aadObjectId: T.bob.aadObjectId, name: T.bob.name, email: 'robert@example.com' });
    expect((await cli(teams.latch, ['identities', 'rebind', '--platform', 'teams', '--user', T.bob.aadObjectId, '--email', 'robert@example.com'])).code).toBe(0);
    await teams.say(T.bob, 'list');
    expect(lastText(teams, T.bob)).toContain('You have no open requests');
    expect(await teams.latch.store.identityOf('teams', T.bob.aadObjectId)).toMatchObject({ email: 'robert@example.com', state: 'bound', boundBy: 'ops@example.com' });
  });

  it('moves an account bound by its 29: id before to its AAD object id, keeping the binding', async () => {
    teams = await startTeamsE2E();
    // As a database from before bindings has it: keyed by the 29: id.
    await teams.latch.store.observeIdentity({ platform: 'teams', platformUserId: T.bob.id, emails: ['bob@example.com'], at: Date.now(), chatId: T.bob.id });
    teams.connector.addMember({ id: T.bob.id, aadObjectId: T.bob.aadObjectId, name: T.bob.name, email: 'lead@example.com' });
    await teams.install(T.bob);
    await teams.say(T.bob, 'approvals');
    expect(await teams.latch.store.identityOf('teams', T.bob.id)).toBeNull();
    expect(await teams.latch.store.identityOf('teams', T.bob.aadObjectId)).toMatchObject({ email: 'bob@example.com', state: 'email_changed', reportedEmail: 'lead@example.com' });
    expect(lastText(teams, T.bob)).toBe(CHANGED('bob@example.com', 'lead@example.com'));
  });
});
