import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startLatch } from '../../bot/latch.js';
import { SlackTokenRefused } from '../../bot/slack/socket-receiver.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { orgConfig } from '../support/configs.js';
import { startLatchProcess, type LatchProcess } from '../support/latch-process.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { startSlackSocketDouble, type SlackSocketDouble } from '../support/slack-socket-double.js';
import { blockActionsBody, eventBody, slashCommandBody } from '../support/slack-signing.js';
import { APP_TOKEN, SLACK_TRANSPORTS, U, replyTo, startSlackE2E, type SlackE2E } from './slack-harness.js';

type Call = { method: string; args: Record<string, unknown> };
const textOf = (call: Call | undefined): string => JSON.stringify(call?.args ?? {});

let e2e: SlackE2E | null = null;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await e2e?.close();
  e2e = null;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function socketE2E(): Promise<SlackE2E & { socket: SlackSocketDouble }> {
  e2e = await startSlackE2E(orgConfig(), { transport: 'socket' });
  if (!e2e.socket) throw new Error('the socket transport has no socket double');
  return e2e as SlackE2E & { socket: SlackSocketDouble };
}

async function requestProdRead(env: SlackE2E, user: string = U.alice): Promise<string> {
  const { responseUrl } = await env.command(user, 'request orders-prod read for 1h because INC-42 checking orders');
  const reply = await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
  const id = /AR-[0-9A-Z]{8}/.exec(String(reply.args.text))?.[0];
  if (!id) throw new Error(`no request id in ${textOf(reply)}`);
  await env.settle();
  return id;
}

async function healthDetails(env: SlackE2E): Promise<{ platforms?: { slack?: Record<string, unknown> } }> {
  return (await (await fetch(`${env.base}/healthz?details=1`)).json()) as { platforms?: { slack?: Record<string, unknown> } };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each(SLACK_TRANSPORTS)('Slack over %s: the same request, approval and grant', (transport) => {
  it('requests with the typed command, approves with one click, grants and sends the credentials by DM', async () => {
    e2e = await startSlackE2E(orgConfig(), { transport });
    const id = await requestProdRead(e2e);
    const cards = e2e.slack.callsTo('chat.postMessage').filter((call: Call) => textOf(call).includes(`Access request ${id}`));
    expect(cards.map((call) => call.args.channel).sort()).toEqual([U.approver0, U.approver1, U.approver2, U.lead].sort());

    const posted = e2e.slack.messagesIn(U.lead)[0] as { channel: string; ts: string };
    const click = await e2e.click(U.lead, 'latch.approve', id, posted);
    expect(click.status).toBe(200);
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl)).args).toMatchObject({ response_type: 'ephemeral', text: `You approved ${id}.` });
    await e2e.settle();
    await e2e.settle();

    const record = await e2e.latch.store.getRequest(id);
    expect(record?.request.state).toBe('active');
    expect(e2e.provisioner.held.size).toBe(1);
    const secretMessages = e2e.slack.calls.filter((call: Call) => textOf(call).includes('pw-'));
    expect(secretMessages.map((call: Call) => `${call.method}:${String(call.args.channel)}`)).toEqual([`chat.postMessage:${U.alice}`]);
    for (const card of cards) expect(JSON.stringify(e2e.slack.message(String(card.args.channel), String(e2e.slack.tsOf(card))))).not.toContain('latch.approve');

    if (e2e.socket) {
      // Each envelope was acknowledged once, by its id, well inside Slack's 3 s, on the one connection.
      expect(e2e.socket.acks.map((ack) => ack.envelopeId)).toEqual(e2e.socket.sent.map((sent) => sent.envelope.envelope_id));
      for (const sent of e2e.socket.sent) {
        const ack = e2e.socket.acks.find((candidate) => candidate.envelopeId === sent.envelope.envelope_id);
        expect((ack?.at ?? Infinity) - sent.sentAt).toBeLessThan(3_000);
      }
      expect(e2e.socket.sent.map((sent) => sent.envelope.type)).toEqual(['slash_commands', 'interactive']);
      expect(e2e.socket.connections).toBe(1);
      // Slack never needed an inbound URL: nothing but the double's own calls reached the Web API with the app token.
      expect(e2e.slack.calls.filter((call) => call.method === 'apps.connections.open')).toHaveLength(1);
    }
  });
});

describe('Slack Socket Mode', () => {
  it('connects with the app-level token through apps.connections.open on SLACK_API_URL, and says so on /healthz and /metrics', async () => {
    const env = await socketE2E();
    const opened = env.slack.callsTo('apps.connections.open');
    expect(opened).toHaveLength(1);
    expect((opened[0] as { token?: string }).token).toBe(APP_TOKEN);
    expect(env.socket.connections).toBe(1);
    expect((await healthDetails(env)).platforms?.slack).toMatchObject({ mode: 'socket', state: 'connected', reconnects: 0, lastError: null });
    const metrics = await (await fetch(`${env.base}/metrics`)).text();
    expect(metrics).toContain('latch_slack_socket_state{state="connected"} 1');
    expect(metrics).toContain('latch_slack_socket_state{state="reconnecting"} 0');

    const events = await fetch(`${env.base}/slack/events`, { method: 'POST', body: slashCommandBody({ userId: U.alice, text: 'help', triggerId: 'x' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(events.status).toBe(404);
    expect(((await events.json()) as { error: string }).error).toContain('Socket Mode');
  });

  it('acknowledges a command at once, before the slow part of the work', async () => {
    const env = await socketE2E();
    env.slack.delayNext('users.info', 1_500);
    const responseUrl = env.slack.responseUrl();
    const { envelope, ack } = await env.socket.deliver(slashCommandBody({ userId: U.alice, text: 'help', triggerId: env.slack.issueTrigger(), responseUrl }));
    const sent = env.socket.sent.find((candidate) => candidate.envelope.envelope_id === envelope.envelope_id);
    expect(ack.at - (sent?.sentAt ?? 0)).toBeLessThan(1_000);
    expect(ack.payload).toBeUndefined();
    const reply = await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(String(reply.args.text)).toContain('/access request');
  });

  it('answers a modal submission with its field errors inline in the ack, and a valid one with an empty ack', async () => {
    const env = await socketE2E();
    const { triggerId } = await env.command(U.alice, 'request');
    expect((await env.slack.waitFor('views.open')).args.trigger_id).toBe(triggerId);
    const values = (duration: string, reason: string) => ({
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: duration } } },
      reason: { reason: { type: 'plain_text_input', value: reason } },
    });

    const missingReason = await env.submit(U.alice, 'latch.request', values('1h', ''));
    expect(missingReason.json).toEqual({ response_action: 'errors', errors: { reason: 'Flow "prod-read" needs a reason: say why you need this access.' } });
    const tooLong = await env.submit(U.alice, 'latch.request', values('8h', 'INC-1'));
    expect(tooLong.json).toEqual({ response_action: 'errors', errors: { duration: '8h is longer than flow "prod-read" allows: at most 4h.' } });
    const submissions = env.socket.sent.filter((sent) => sent.envelope.payload.type === 'view_submission');
    expect(submissions.map((sent) => sent.envelope.accepts_response_payload)).toEqual([true, true]);
    expect(await env.latch.store.listRequests({})).toEqual([]);

    const ok = await env.submit(U.alice, 'latch.request', values('2h', 'INC-1'));
    expect(ok).toEqual({ status: 200, json: null });
    const [created] = await env.latch.store.listRequests({});
    expect(created?.request).toMatchObject({ requester: 'alice@example.com', durationMs: 2 * 3_600_000, reason: 'INC-1', state: 'pending' });
  });

  it('acts once on a redelivered envelope: a command and a click Slack sent again', async () => {
    const env = await socketE2E();
    const responseUrl = env.slack.responseUrl();
    const command = slashCommandBody({ userId: U.alice, text: 'request orders-prod read for 1h because INC-7', triggerId: env.slack.issueTrigger(), responseUrl });
    const first = await env.socket.deliver(command);
    // Slack did not see the ack in time and sends the envelope again, marked as a retry.
    const again = await env.socket.deliver(command, { envelopeId: first.envelope.envelope_id, retryAttempt: 1, retryReason: 'timeout' });
    expect(again.envelope).toMatchObject({ retry_attempt: 1, retry_reason: 'timeout' });
    await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const requests = await env.latch.store.listRequests({});
    expect(requests).toHaveLength(1);
    const id = requests[0]?.request.id ?? '';

    const click = blockActionsBody({ userId: U.lead, actionId: 'latch.approve', value: id, triggerId: env.slack.issueTrigger(), responseUrl: env.slack.responseUrl() });
    await env.socket.deliver(click);
    await env.socket.deliver(click, { retryAttempt: 1 });
    await env.socket.deliver(click, { retryAttempt: 2 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await env.latch.store.getRequest(id))?.decisions).toHaveLength(1);
    expect(env.socket.acks).toHaveLength(5);
  });

  it('reconnects when Slack drops the connection or asks for a refresh, and keeps working', async () => {
    const env = await socketE2E();
    env.socket.drop();
    await env.socket.waitForConnections(2);
    expect(await requestProdRead(env)).toMatch(/^AR-/);

    env.socket.askToReconnect('refresh_requested');
    await env.socket.waitForConnections(3);
    await eventually(async () => (await healthDetails(env)).platforms?.slack?.state === 'connected', 'the third connection to be reported');
    const help = await env.command(U.bob, 'help');
    expect(String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === help.responseUrl)).args.text)).toContain('/access request');
    expect(env.socket.openConnections).toBe(1);
    expect(env.slack.callsTo('apps.connections.open')).toHaveLength(3);
    expect((await healthDetails(env)).platforms?.slack).toMatchObject({ mode: 'socket', state: 'connected', reconnects: 2 });
    expect(await (await fetch(`${env.base}/metrics`)).text()).toContain('latch_slack_socket_reconnects_total 2');
  });

  it('backs off while Slack cannot hand out a connection, then connects again', async () => {
    const env = await socketE2E();
    env.slack.failNext('apps.connections.open', 'internal_error', 2);
    env.socket.drop();
    await eventually(() => env.slack.callsTo('apps.connections.open').length === 2, 'the first reconnect attempt');
    const reconnecting = (await healthDetails(env)).platforms?.slack;
    expect(reconnecting).toMatchObject({ mode: 'socket', state: 'reconnecting', connectedSince: null });
    expect(String(reconnecting?.lastError)).toContain('internal_error');

    await env.socket.waitForConnections(2, 8_000);
    const at = env.slack.callsTo('apps.connections.open').map((call) => (call as { at: number }).at);
    expect(at).toHaveLength(4);
    const [, first = 0, second = 0, third = 0] = at;
    // The first attempt after a good connection is immediate; then about 1 s, then about 2 s, with jitter.
    expect(second - first).toBeGreaterThanOrEqual(400);
    expect(third - second).toBeGreaterThanOrEqual(900);
    expect(await requestProdRead(env)).toMatch(/^AR-/);
  });

  it('on stop acknowledges what it is deciding, leaves new envelopes for Slack to redeliver, then closes the connection', async () => {
    const env = await socketE2E();
    // The submission is checked before it is acknowledged; a slow profile look-up keeps it open.
    env.slack.delayNext('users.info', 1_000);
    const submission = env.submit(U.alice, 'latch.request', {
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
      reason: { reason: { type: 'plain_text_input', value: '' } },
    });
    await eventually(() => env.socket.sent.length === 1, 'the submission to be sent');
    await new Promise((resolve) => setTimeout(resolve, 300)); // received, and waiting for users.info
    const stopped = env.latch.stop();
    const late = env.socket.deliver(slashCommandBody({ userId: U.bob, text: 'help', triggerId: env.slack.issueTrigger(), responseUrl: env.slack.responseUrl() }), { timeoutMs: 600 });
    await expect(late).rejects.toThrow('was not acknowledged');
    expect((await submission).json).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringContaining('needs a reason') } });
    await stopped;
    await eventually(() => env.socket.openConnections === 0, 'the connection to close');
    expect(env.socket.acks).toHaveLength(1);
    expect(env.slack.callsTo('response_url')).toEqual([]);
  });

  it('publishes the App Home when Slack sends app_home_opened over the socket', async () => {
    const env = await socketE2E();
    const id = await requestProdRead(env);
    expect(await env.homeOpened(U.lead)).toBe(200);
    expect(env.socket.sent.at(-1)?.envelope).toMatchObject({ type: 'events_api', accepts_response_payload: false, retry_attempt: 0, retry_reason: '' });
    await env.slack.waitFor('views.publish', (call: Call) => call.args.user_id === U.lead);
    const home = JSON.stringify(env.slack.homeOf(U.lead));
    expect(home).toContain('Waiting for your approval');
    expect(home).toContain(id);
    expect(home).toContain('latch.approve');
  });

  it('reads a profile again when user_change comes over the socket, and stops an account whose e-mail changed', async () => {
    const env = await socketE2E();
    expect(await replyTo(env, U.bob, 'list')).not.toContain('admin must confirm');
    const user = env.slack.updateUser(U.bob, { email: 'lead@example.com' });
    await env.socket.deliver(eventBody({ type: 'user_change', userId: U.bob, event: { user } }));
    const alert = await env.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).includes(U.bob));
    expect(String(alert.args.text)).toContain('bound to bob@example.com, now reports the e-mail lead@example.com');
    expect(await env.latch.store.identityOf('slack', U.bob)).toMatchObject({ email: 'bob@example.com', state: 'email_changed' });
  });
});

describe('Slack Socket Mode with a token Slack refuses', () => {
  async function doubles(): Promise<{ slack: SlackDouble; socket: SlackSocketDouble; dir: string }> {
    const slack = await startSlackDouble();
    const socket = await startSlackSocketDouble(slack);
    slack.addUser({ id: U.alice, email: 'alice@example.com' });
    const dir = mkdtempSync(join(tmpdir(), 'latch-socket-'));
    writeFileSync(join(dir, 'latch.yaml'), orgConfig());
    cleanups.push(async () => {
      await socket.close();
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { slack, socket, dir };
  }

  it('refuses to start on invalid_auth with what to do, and does not retry', async () => {
    const { slack, socket, dir } = await doubles();
    slack.failNext('apps.connections.open', 'invalid_auth');
    const started = startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }),
      provisioners: new ProvisionerRegistry({}).use('orders', new MemoryProvisioner()), watchConfig: false,
      env: { SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl },
    });
    await expect(started).rejects.toBeInstanceOf(SlackTokenRefused);
    await expect(started).rejects.toThrow(/Slack refused SLACK_APP_TOKEN \(invalid_auth\).*connections:write.*SLACK_APP_TOKEN/);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(slack.callsTo('apps.connections.open')).toHaveLength(1);
    expect(socket.connections).toBe(0);
  });

  it('refuses a token that is not an app-level one without asking Slack', async () => {
    const { slack, dir } = await doubles();
    const started = startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), watchConfig: false,
      env: { SLACK_APP_TOKEN: 'xoxb-the-bot-token-by-mistake', SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl },
    });
    await expect(started).rejects.toThrow('SLACK_APP_TOKEN is not an app-level token (those start with xapp-)');
    expect(slack.callsTo('apps.connections.open')).toEqual([]);
  });

  it('npm start exits 1 with one fatal line when the token is refused at start', { timeout: 30_000 }, async () => {
    const { slack, dir } = await doubles();
    slack.failNext('apps.connections.open', 'invalid_auth');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../bot/main.ts')], {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', LATCH_CONFIG: join(dir, 'latch.yaml'), DATABASE_URL: `sqlite:${join(dir, 'latch.db')}`, SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(1);
    const mentions = output.split('\n').filter((line) => line.includes('invalid_auth'));
    expect(mentions).toHaveLength(1);
    expect(JSON.parse(mentions[0] ?? '{}')).toMatchObject({ level: 60, reason: 'invalid_auth' });
    expect(mentions[0]).toContain('connections:write');
    expect(output).not.toContain(APP_TOKEN);
    expect(output).not.toContain('Latch is ready');
  });

  it('npm start stops and exits 1 when Slack revokes the token while Latch runs', { timeout: 30_000 }, async () => {
    const { slack, socket, dir } = await doubles();
    const latch: LatchProcess = await startLatchProcess({
      LATCH_CONFIG: join(dir, 'latch.yaml'), DATABASE_URL: `sqlite:${join(dir, 'latch.db')}`, SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl,
    });
    cleanups.push(() => { if (latch.child.exitCode === null) latch.child.kill('SIGKILL'); });
    expect(socket.connections).toBe(1);
    slack.failNext('apps.connections.open', 'token_revoked');
    socket.drop();
    const exit = await latch.exited;
    expect(exit.code).toBe(1);
    const fatal = latch.lines.filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ reason: 'token_revoked' });
    expect(String(fatal[0]?.msg)).toContain('connections:write');
    expect(slack.callsTo('apps.connections.open')).toHaveLength(2);
    expect(latch.lines.some((line) => line.msg === 'Latch stopped')).toBe(true);
  });
});
