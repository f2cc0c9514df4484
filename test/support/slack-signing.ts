// What Slack sends to Latch's /slack/events: signed slash commands, button clicks, modal
// submissions and events, byte for byte in Slack's shapes, plus a fetch that posts them.
import { createHmac, randomBytes } from 'node:crypto';

export const SLACK_TEAM_ID = 'T1';
export const SLACK_TEAM_DOMAIN = 'latch-test';
export const SLACK_APP_ID = 'A0LATCH';
export const SLACK_BOT_USER_ID = 'UBOT';
export const SLACK_BOT_ID = 'BBOT';
/** The deprecated verification token Slack still puts in every payload. */
export const SLACK_VERIFICATION_TOKEN = 'xyzz0WbapA4vBCDEFasx0q6G';
/**
 * Where a payload's response_url points when a test gives none: a closed local port, so a
 * stray reply fails fast and never leaves the machine. Pass `slack.responseUrl()` to see replies.
 */
export const UNSET_RESPONSE_URL = 'http://127.0.0.1:9/commands/T1/0/unset';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export interface SignedHeaders {
  'x-slack-request-timestamp': string;
  'x-slack-signature': string;
  'content-type': string;
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

/** Slack's v0 signature: `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`). */
export function slackSignature(body: string, secret: string, timestampSec: number | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

/** The headers Slack sends with a body. Content type: JSON when the body is a JSON object, form otherwise. */
export function signSlackRequest(body: string, secret: string, timestampSec: number = nowSec(), contentType?: string): SignedHeaders {
  return {
    'x-slack-request-timestamp': String(timestampSec),
    'x-slack-signature': slackSignature(body, secret, timestampSec),
    'content-type': contentType ?? (body.trimStart().startsWith('{') ? JSON_TYPE : FORM),
  };
}

/** A trigger id in Slack's shape that the double never issued (views.open with it answers invalid_trigger_id). */
export function unissuedTriggerId(): string {
  return `${Date.now()}.47445629121.${randomBytes(16).toString('hex')}`;
}

const userName = (userId: string): string => userId.toLowerCase();
const actionTs = (): string => (Date.now() / 1000).toFixed(6);

// ---------------------------------------------------------------------------------------------
// Slash commands
// ---------------------------------------------------------------------------------------------

export interface SlashCommandOptions {
  userId: string;
  text: string;
  /** Mint with `slack.issueTrigger()` when the command should be able to open a modal. */
  triggerId: string;
  command?: string;
  channelId?: string;
  channelName?: string;
  teamId?: string;
  teamDomain?: string;
  userName?: string;
  /** Default UNSET_RESPONSE_URL; pass `slack.responseUrl()` to capture the reply. */
  responseUrl?: string;
  apiAppId?: string;
}

/** The form body Slack posts for a slash command, fields in Slack's order. */
export function slashCommandBody(options: SlashCommandOptions): string {
  const teamId = options.teamId ?? SLACK_TEAM_ID;
  return new URLSearchParams([
    ['token', SLACK_VERIFICATION_TOKEN],
    ['team_id', teamId],
    ['team_domain', options.teamDomain ?? SLACK_TEAM_DOMAIN],
    ['channel_id', options.channelId ?? 'C0ALL'],
    ['channel_name', options.channelName ?? 'general'],
    ['user_id', options.userId],
    ['user_name', options.userName ?? userName(options.userId)],
    ['command', options.command ?? '/access'],
    ['text', options.text],
    ['api_app_id', options.apiAppId ?? SLACK_APP_ID],
    ['is_enterprise_install', 'false'],
    ['response_url', options.responseUrl ?? UNSET_RESPONSE_URL],
    ['trigger_id', options.triggerId],
  ]).toString();
}

// ---------------------------------------------------------------------------------------------
// Interactivity
// ---------------------------------------------------------------------------------------------

export type ActionContainer = { channel_id: string; message_ts: string; is_ephemeral?: boolean } | { view_id: string };

export interface BlockActionsOptions {
  userId: string;
  actionId: string;
  value: string;
  /** Default: a well-formed id the double never issued (views.open with it fails, as a stale one would). */
  triggerId?: string;
  /** Where the click happened. Default: a message (channelId/messageTs), or the view when `view` is given. */
  container?: ActionContainer;
  blockId?: string;
  /** The clicked message's ts (when the container is a message and none is given). */
  messageTs?: string;
  /** The clicked message's channel (when the container is a message and none is given). Default: the user's DM `D<userId>`. */
  channelId?: string;
  /** The clicked message as Slack echoes it (e.g. `slack.message(channel, ts)`): its text and blocks. */
  message?: { ts?: string; text?: string; blocks?: unknown[] };
  /** The view the click happened in (e.g. `slack.homeOf(user)` or `slack.view(id)`), echoed in full as Slack does. */
  view?: Record<string, unknown>;
  /** Type of a view built when only `container.view_id` is given. Default 'home'. */
  viewType?: 'home' | 'modal';
  /** Default UNSET_RESPONSE_URL for message clicks; view clicks carry none, as in Slack. */
  responseUrl?: string;
  teamId?: string;
  userName?: string;
  /** Element type; default 'button'. With 'static_select' give selectedOption. */
  actionType?: string;
  selectedOption?: { value: string; text?: string };
  /** Text of the clicked button as Slack echoes it. Default the action id. */
  buttonText?: string;
}

function formPayload(payload: Record<string, unknown>): string {
  return new URLSearchParams([['payload', JSON.stringify(payload)]]).toString();
}

function userObject(userId: string, teamId: string, name?: string): Record<string, unknown> {
  return { id: userId, username: name ?? userName(userId), name: name ?? userName(userId), team_id: teamId };
}

function viewEcho(view: Record<string, unknown> | undefined, fallback: { id: string; type: 'home' | 'modal'; teamId: string }): Record<string, unknown> {
  return {
    id: fallback.id, team_id: fallback.teamId, type: fallback.type, blocks: [], private_metadata: '', callback_id: '',
    state: { values: {} }, hash: `${Math.floor(Date.now() / 1000)}.abcd1234`, title: { type: 'plain_text', text: 'Latch', emoji: true },
    clear_on_close: false, notify_on_close: false, close: null, submit: null, previous_view_id: null, root_view_id: fallback.id,
    app_id: SLACK_APP_ID, external_id: '', app_installed_team_id: fallback.teamId, bot_id: SLACK_BOT_ID,
    ...(view ?? {}),
  };
}

/** The form body (`payload=<json>`) of a `block_actions` interaction. */
export function blockActionsBody(options: BlockActionsOptions): string {
  const teamId = options.teamId ?? SLACK_TEAM_ID;
  const container = options.container;
  const viewId = container && 'view_id' in container ? container.view_id : typeof options.view?.id === 'string' ? options.view.id : undefined;
  const action: Record<string, unknown> = {
    action_id: options.actionId,
    block_id: options.blockId ?? 'actions',
    type: options.actionType ?? 'button',
    action_ts: actionTs(),
  };
  if (options.selectedOption) {
    action.selected_option = { text: { type: 'plain_text', text: options.selectedOption.text ?? options.selectedOption.value, emoji: true }, value: options.selectedOption.value };
  } else {
    action.value = options.value;
    action.text = { type: 'plain_text', text: options.buttonText ?? options.actionId, emoji: true };
  }
  const base: Record<string, unknown> = {
    type: 'block_actions',
    user: userObject(options.userId, teamId, options.userName),
    api_app_id: SLACK_APP_ID,
    token: SLACK_VERIFICATION_TOKEN,
    trigger_id: options.triggerId ?? unissuedTriggerId(),
    team: { id: teamId, domain: SLACK_TEAM_DOMAIN },
    enterprise: null,
    is_enterprise_install: false,
  };
  if (viewId !== undefined) {
    const view = viewEcho(options.view, { id: viewId, type: options.viewType ?? 'home', teamId });
    return formPayload({
      ...base,
      container: { type: 'view', view_id: viewId },
      view,
      state: isRecord(view.state) ? view.state : { values: {} },
      actions: [action],
    });
  }
  const channelId = container && 'channel_id' in container ? container.channel_id : options.channelId ?? `D${options.userId}`;
  const messageTs = container && 'message_ts' in container ? container.message_ts : options.messageTs ?? options.message?.ts ?? '1699999999.000100';
  const isEphemeral = container && 'is_ephemeral' in container ? container.is_ephemeral === true : false;
  return formPayload({
    ...base,
    container: { type: 'message', message_ts: messageTs, channel_id: channelId, is_ephemeral: isEphemeral },
    channel: { id: channelId, name: channelId.startsWith('D') ? 'directmessage' : 'general' },
    message: {
      type: 'message', user: SLACK_BOT_USER_ID, bot_id: SLACK_BOT_ID, app_id: SLACK_APP_ID, team: teamId, ts: messageTs,
      text: options.message?.text ?? '', blocks: options.message?.blocks ?? [],
    },
    state: { values: {} },
    response_url: options.responseUrl ?? UNSET_RESPONSE_URL,
    actions: [action],
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One input's state, as in `view.state.values[blockId][actionId]`. */
export interface InputValue {
  type: string;
  value?: string | null;
  selected_option?: { value: string; text?: { type: string; text: string } | string } | null;
  selected_options?: Array<{ value: string; text?: { type: string; text: string } | string }>;
  selected_user?: string | null;
  selected_users?: string[];
  selected_conversation?: string | null;
  selected_channel?: string | null;
  selected_date?: string | null;
  selected_time?: string | null;
  [key: string]: unknown;
}

export interface ViewSubmissionOptions {
  userId: string;
  callbackId: string;
  privateMetadata?: string;
  values: Record<string, Record<string, InputValue>>;
  viewId?: string;
  triggerId?: string;
  /** The submitted view (e.g. `slack.view(id)`): its blocks, title and hash are echoed. */
  view?: Record<string, unknown>;
  teamId?: string;
  userName?: string;
}

function normaliseOption(option: { value: string; text?: { type: string; text: string } | string }): Record<string, unknown> {
  const text = typeof option.text === 'string' || option.text === undefined ? { type: 'plain_text', text: option.text ?? option.value, emoji: true } : option.text;
  return { text, value: option.value };
}

/** The form body (`payload=<json>`) of a `view_submission`. */
export function viewSubmissionBody(options: ViewSubmissionOptions): string {
  const teamId = options.teamId ?? SLACK_TEAM_ID;
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [blockId, actions] of Object.entries(options.values)) {
    const block: Record<string, Record<string, unknown>> = {};
    for (const [actionId, input] of Object.entries(actions)) {
      const state: Record<string, unknown> = { ...input };
      if (input.selected_option) state.selected_option = normaliseOption(input.selected_option);
      if (input.selected_options) state.selected_options = input.selected_options.map(normaliseOption);
      block[actionId] = state;
    }
    values[blockId] = block;
  }
  const viewId = options.viewId ?? (typeof options.view?.id === 'string' ? options.view.id : 'V0SUBMITTED');
  const view = viewEcho(
    { ...(options.view ?? {}), callback_id: options.callbackId, private_metadata: options.privateMetadata ?? (typeof options.view?.private_metadata === 'string' ? options.view.private_metadata : ''), state: { values } },
    { id: viewId, type: 'modal', teamId },
  );
  view.id = viewId;
  if (view.submit === null) view.submit = { type: 'plain_text', text: 'Submit', emoji: true };
  return formPayload({
    type: 'view_submission',
    team: { id: teamId, domain: SLACK_TEAM_DOMAIN },
    user: userObject(options.userId, teamId, options.userName),
    api_app_id: SLACK_APP_ID,
    token: SLACK_VERIFICATION_TOKEN,
    trigger_id: options.triggerId ?? unissuedTriggerId(),
    view,
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}

// ---------------------------------------------------------------------------------------------
// Events API
// ---------------------------------------------------------------------------------------------

export interface EventOptions {
  type: 'app_home_opened' | (string & {});
  userId: string;
  eventId?: string;
  tab?: 'home' | 'messages';
  /** The home view currently shown, if one was published (Slack includes it). */
  view?: Record<string, unknown>;
  /** Extra or overriding fields of `event`. */
  event?: Record<string, unknown>;
  teamId?: string;
  eventTime?: number;
}

let eventCounter = 0;

/** The JSON body of an Events API `event_callback` envelope. */
export function eventBody(options: EventOptions): string {
  const teamId = options.teamId ?? SLACK_TEAM_ID;
  const eventTime = options.eventTime ?? Math.floor(Date.now() / 1000);
  eventCounter += 1;
  const event: Record<string, unknown> = {
    type: options.type,
    user: options.userId,
    channel: `D${options.userId}`,
    ...(options.type === 'app_home_opened' ? { tab: options.tab ?? 'home' } : {}),
    event_ts: `${eventTime}.${String(eventCounter).padStart(6, '0')}`,
    ...(options.view ? { view: options.view } : {}),
    ...(options.event ?? {}),
  };
  return JSON.stringify({
    token: SLACK_VERIFICATION_TOKEN,
    team_id: teamId,
    api_app_id: SLACK_APP_ID,
    event,
    type: 'event_callback',
    event_id: options.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: eventTime,
    authorizations: [{ enterprise_id: null, team_id: teamId, user_id: SLACK_BOT_USER_ID, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-${randomBytes(12).toString('base64url')}`,
  });
}

/** The JSON body Slack sends once to check the events URL. */
export function urlVerificationBody(challenge: string): string {
  return JSON.stringify({ token: SLACK_VERIFICATION_TOKEN, challenge, type: 'url_verification' });
}

// ---------------------------------------------------------------------------------------------
// Posting
// ---------------------------------------------------------------------------------------------

export interface PostOptions {
  /** Sign with this timestamp (seconds) instead of now: stale or future requests. */
  timestampSec?: number;
  /** Marks the request as Slack's Nth redelivery (`X-Slack-Retry-Num`, `X-Slack-Retry-Reason`). */
  retryNum?: number;
  retryReason?: string;
  /** Default: JSON for a JSON object body, form otherwise. */
  contentType?: string;
  /** Send this signature instead of the right one; `null` sends none. */
  signature?: string | null;
  headers?: Record<string, string>;
}

export interface PostResult {
  status: number;
  text: string;
  headers: Headers;
  json(): unknown;
}

/** Signs and POSTs a body to `<baseUrl>/slack/events` (or to baseUrl itself when it already ends in /slack/events). */
export async function postToSlackEvents(baseUrl: string, body: string, secret: string, options: PostOptions = {}): Promise<PostResult> {
  const url = /\/slack\/events\/?$/.test(baseUrl) ? baseUrl : `${baseUrl.replace(/\/+$/, '')}/slack/events`;
  const signed = signSlackRequest(body, secret, options.timestampSec ?? nowSec(), options.contentType);
  const headers: Record<string, string> = { ...signed, ...(options.headers ?? {}) };
  if (options.signature === null) delete headers['x-slack-signature'];
  else if (options.signature !== undefined) headers['x-slack-signature'] = options.signature;
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
  }
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return {
    status: response.status,
    text,
    headers: response.headers,
    json(): unknown {
      return JSON.parse(text) as unknown;
    },
  };
}
