import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { orgConfig } from '../support/configs.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { startSlackSocketDouble, type SlackSocketDouble } from '../support/slack-socket-double.js';
import { blockActionsBody, eventBody, postToSlackEvents, slashCommandBody, viewSubmissionBody, type PostOptions } from '../support/slack-signing.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const APP_TOKEN = 'xapp-1-A0LATCH-1-test-app-level-token';

/** How Slack reaches Latch: signed HTTP to /slack/events, or envelopes over a Socket Mode connection Latch opened. */
export type SlackTransportKind = 'http' | 'socket';
export const SLACK_TRANSPORTS: readonly SlackTransportKind[] = ['http', 'socket'];

/** Slack user ids of the people in the test organisation. */
export const U = {
  alice: 'UALICE', bob: 'UBOB', lead: 'ULEAD', mia: 'UMIA', sec: 'USEC', sec2: 'USEC2', approver0: 'UAPP0', approver1: 'UAPP1', approver2: 'UAPP2', owner: 'UOWNER', nomail: 'UNOMAIL',
} as const;

export interface SlackE2E {
  transport: SlackTransportKind;
  latch: RunningLatch;
  slack: SlackDouble;
  /** Slack's Socket Mode side, in the socket transport. */
  socket: SlackSocketDouble | null;
  provisioner: MemoryProvisioner;
  base: string;
  command(user: string, text: string, options?: { timestampSec?: number; retryNum?: number; signature?: string; triggerId?: string }): Promise<{ status: number; responseUrl: string; triggerId: string; body: string }>;
  click(user: string, actionId: string, value: string, where?: { channel: string; ts: string } | 'home', options?: { retryNum?: number; body?: string }): Promise<{ status: number; responseUrl: string; body: string }>;
  submit(user: string, callbackId: string, values: Record<string, Record<string, { type: string; value?: string; selected_option?: { value: string } }>>, privateMetadata?: string): Promise<{ status: number; json: unknown }>;
  homeOpened(user: string): Promise<number>;
  /**
   * Sends a body as Slack would POST it (slack-signing.ts) over this transport: signed to
   * /slack/events, or as the matching envelope. Over the socket, status 200 means acknowledged
   * and text is the ack's payload as JSON ('' when it had none); signing options do not apply.
   */
  deliver(body: string, options?: PostOptions): Promise<{ status: number; text: string }>;
  /** Moves Latch's clock forward (Slack's signatures keep real time). */
  advance(ms: number): void;
  /** Runs every job due now (notifications, grants) to completion. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSlackE2E(config = orgConfig(), options: { transport?: SlackTransportKind; env?: Record<string, string> } = {}): Promise<SlackE2E> {
  const transport = options.transport ?? 'http';
  const dir = mkdtempSync(join(tmpdir(), 'latch-slack-'));
  writeFileSync(join(dir, 'latch.yaml'), config);
  const slack = await startSlackDouble();
  const socket = transport === 'socket' ? await startSlackSocketDouble(slack, { appToken: APP_TOKEN }) : null;
  const people: [string, string | undefined][] = [
    [U.alice, 'alice@example.com'], [U.bob, 'bob@example.com'], [U.lead, 'lead@example.com'], [U.mia, 'mia@example.com'], [U.sec, 'sec@example.com'],
    [U.sec2, 'sec2@example.com'], [U.approver0, 'approver0@example.com'], [U.approver1, 'approver1@example.com'], [U.approver2, 'approver2@example.com'],
    [U.owner, 'owner@example.com'], [U.nomail, undefined],
  ];
  for (const [id, email] of people) slack.addUser({ id, name: id.toLowerCase(), ...(email ? { email } : {}) });
  const provisioner = new MemoryProvisioner();
  let offset = 0;
  const latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), provisioners: new ProvisionerRegistry({}).use('orders', provisioner),
    // Socket Mode needs no signing secret: nothing comes in over HTTP.
    env: { ...(socket ? { SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl } : { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl }), ...options.env },
    runner: { sweep: '*/1 * * * * *' },
    now: () => Date.now() + offset,
  });
  const base = `http://127.0.0.1:${latch.port}`;
  let counter = 0;
  const deliver = async (body: string, post: PostOptions = {}): Promise<{ status: number; text: string }> => {
    if (!socket) return postToSlackEvents(base, body, SIGNING_SECRET, post);
    const { ack } = await socket.deliver(body, post.retryNum !== undefined ? { retryAttempt: post.retryNum, ...(post.retryReason ? { retryReason: post.retryReason } : {}) } : {});
    return { status: 200, text: ack.payload ? JSON.stringify(ack.payload) : '' };
  };
  const e2e: SlackE2E = {
    transport, latch, slack, socket, provisioner, base, deliver,
    async command(user, text, options = {}) {
      const triggerId = options.triggerId ?? slack.issueTrigger();
      const responseUrl = slack.responseUrl();
      const body = slashCommandBody({ userId: user, text, triggerId, responseUrl });
      const answer = await deliver(body, options);
      return { status: answer.status, responseUrl, triggerId, body };
    },
    async click(user, actionId, value, where, options = {}) {
      counter += 1;
      const responseUrl = slack.responseUrl();
      const body = options.body ?? blockActionsBody({
        userId: user, actionId, value, triggerId: slack.issueTrigger(),
        ...(where === 'home' ? { container: { view_id: 'VHOME' } } : where ? { container: { channel_id: where.channel, message_ts: where.ts }, channelId: where.channel, messageTs: where.ts } : {}),
        ...(where === 'home' ? {} : { responseUrl }),
        blockId: `b${counter}`,
      });
      const answer = await deliver(body, options);
      return { status: answer.status, responseUrl, body };
    },
    async submit(user, callbackId, values, privateMetadata) {
      const body = viewSubmissionBody({ userId: user, callbackId, values, triggerId: slack.issueTrigger(), ...(privateMetadata !== undefined ? { privateMetadata } : {}) });
      const answer = await deliver(body);
      const text = answer.text;
      return { status: answer.status, json: text ? (JSON.parse(text) as unknown) : null };
    },
    async homeOpened(user) {
      const answer = await deliver(eventBody({ type: 'app_home_opened', userId: user, tab: 'home' }), { contentType: 'application/json' });
      return answer.status;
    },
    advance(ms) {
      offset += ms;
    },
    async settle() {
      await latch.runner.runDue();
    },
    async close() {
      await latch.stop();
      await socket?.close();
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return e2e;
}

/** Runs `/access TEXT` as `user` and returns the ephemeral answer Latch sent to the command's response URL. */
export async function commandReply(env: SlackE2E, user: string, text: string): Promise<{ method: string; args: Record<string, unknown> }> {
  const { responseUrl } = await env.command(user, text);
  return env.slack.waitFor('response_url', (call: { args: Record<string, unknown> }) => call.args.url === responseUrl);
}

export async function replyTo(env: SlackE2E, user: string, text: string): Promise<string> {
  return String((await commandReply(env, user, text)).args.text);
}
