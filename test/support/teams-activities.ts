// Activities shaped like the ones the Teams channel POSTs to a bot's /api/messages, and a
// helper that posts them with a bearer token (mint one with the identity double).

import { randomUUID } from 'node:crypto';

/** The app id the builders put in `recipient` (28:<appId>) unless told otherwise. */
export const DEFAULT_BOT_APP_ID = '11111111-2222-3333-4444-555555555555';
export const DEFAULT_BOT_NAME = 'Latch';

export interface TeamsUser {
  /** 29:... */
  id: string;
  aadObjectId?: string;
  name?: string;
}

export interface TeamsConversation {
  /** a:... for personal chats, 19:...@thread.tacv2 (;messageid=...) for channels, 19:...@thread.v2 for group chats */
  id: string;
  conversationType: 'personal' | 'channel' | 'groupChat';
  tenantId: string;
  name?: string;
}

/** For channel conversations: the team and channel the message is in. */
export interface TeamsChannelContext {
  teamId: string;
  teamName?: string;
  channelId?: string;
  channelName?: string;
}

export interface BaseActivityOptions {
  from: TeamsUser;
  conversation: TeamsConversation;
  serviceUrl: string;
  id?: string;
  /** Default DEFAULT_BOT_APP_ID. */
  appId?: string;
  botName?: string;
  locale?: string;
  timestamp?: Date;
  /** Merged over the default channelData { tenant: { id } } (and team/channel for channel conversations). */
  channelData?: Record<string, unknown>;
  /** Extra entities; a clientInfo entity is always added. */
  entities?: Record<string, unknown>[];
  team?: TeamsChannelContext;
  replyToId?: string;
}

export type Activity = Record<string, unknown> & { type: string; id: string; channelId: 'msteams'; serviceUrl: string };

let counter = 0;
/** Teams message ids are millisecond timestamps; invoke and event ids look like f:<guid>. */
function messageId(): string {
  counter += 1;
  return `${Date.now()}${String(counter % 1000).padStart(3, '0')}`;
}

function base(type: string, options: BaseActivityOptions, id: string): Activity {
  const appId = options.appId ?? DEFAULT_BOT_APP_ID;
  const locale = options.locale ?? 'en-US';
  const timestamp = (options.timestamp ?? new Date()).toISOString();
  const { conversation, team } = options;
  const teamData = team
    ? {
        teamsTeamId: team.teamId,
        teamsChannelId: team.channelId ?? team.teamId,
        team: { id: team.teamId, ...(team.teamName ? { name: team.teamName } : {}) },
        channel: { id: team.channelId ?? team.teamId, ...(team.channelName ? { name: team.channelName } : {}) },
      }
    : {};
  return {
    type,
    id,
    timestamp,
    localTimestamp: timestamp,
    serviceUrl: options.serviceUrl,
    channelId: 'msteams',
    from: { id: options.from.id, ...(options.from.name ? { name: options.from.name } : {}), ...(options.from.aadObjectId ? { aadObjectId: options.from.aadObjectId } : {}) },
    conversation: {
      id: conversation.id,
      conversationType: conversation.conversationType,
      tenantId: conversation.tenantId,
      ...(conversation.conversationType === 'personal' ? {} : { isGroup: true }),
      ...(conversation.name ? { name: conversation.name } : {}),
    },
    recipient: { id: `28:${appId}`, name: options.botName ?? DEFAULT_BOT_NAME },
    locale,
    entities: [{ type: 'clientInfo', locale, country: 'US', platform: 'Web', timezone: 'Europe/Berlin' }, ...(options.entities ?? [])],
    channelData: { tenant: { id: conversation.tenantId }, ...teamData, ...options.channelData },
    ...(options.replyToId ? { replyToId: options.replyToId } : {}),
  };
}

/** A mention entity as Teams sends it; put `text` (<at>Name</at>) into the message text too. */
export function mention(account: { id: string; name: string }, text = `<at>${account.name}</at>`): Record<string, unknown> {
  return { type: 'mention', text, mentioned: { id: account.id, name: account.name } };
}

/** A mention of the bot (28:<appId>). */
export function botMention(appId = DEFAULT_BOT_APP_ID, name = DEFAULT_BOT_NAME): Record<string, unknown> {
  return mention({ id: `28:${appId}`, name });
}

export function messageActivity(options: BaseActivityOptions & { text: string; attachments?: Record<string, unknown>[]; value?: unknown }): Activity {
  return {
    ...base('message', options, options.id ?? messageId()),
    text: options.text,
    textFormat: 'plain',
    attachments: options.attachments ?? [],
    ...(options.value !== undefined ? { value: options.value } : {}),
  };
}

export interface InvokeValue {
  action: { type: 'Action.Execute'; verb: string; data?: Record<string, unknown>; id?: string; title?: string };
  trigger: 'manual' | 'automatic';
}

/**
 * An invoke; for Universal Actions name 'adaptiveCard/action'. trigger 'automatic' is a
 * refresh. `replyToId` is the id of the message whose card was clicked.
 */
export function invokeActivity(options: BaseActivityOptions & { name: string; value: InvokeValue | Record<string, unknown> }): Activity {
  return { ...base('invoke', options, options.id ?? `f:${randomUUID()}`), name: options.name, value: options.value };
}

/** The app was installed ('add') or removed ('remove') in this conversation. */
export function installationUpdateActivity(options: BaseActivityOptions & { action: 'add' | 'remove' | 'add-upgrade' | 'remove-upgrade' }): Activity {
  const activity = base('installationUpdate', options, options.id ?? `f:${randomUUID()}`);
  const channelData = activity.channelData as Record<string, unknown>;
  return { ...activity, action: options.action, channelData: { source: { name: 'message' }, ...channelData } };
}

/**
 * Members joined or left. Teams sends one when the app is added to a personal chat
 * (membersAdded: the bot 28:<appId>) or a team (eventType teamMemberAdded).
 */
export function conversationUpdateActivity(options: BaseActivityOptions & {
  membersAdded?: TeamsUser[];
  membersRemoved?: TeamsUser[];
  eventType?: 'teamMemberAdded' | 'teamMemberRemoved' | 'channelCreated' | 'channelRenamed' | 'channelDeleted' | 'teamRenamed';
}): Activity {
  const activity = base('conversationUpdate', options, options.id ?? `f:${randomUUID()}`);
  const channelData = activity.channelData as Record<string, unknown>;
  const appId = options.appId ?? DEFAULT_BOT_APP_ID;
  const accounts = (users: TeamsUser[]): Record<string, unknown>[] => users.map((user) => ({ id: user.id, ...(user.aadObjectId ? { aadObjectId: user.aadObjectId } : {}) }));
  return {
    ...activity,
    membersAdded: accounts(options.membersAdded ?? (options.membersRemoved ? [] : [{ id: `28:${appId}` }])),
    ...(options.membersRemoved ? { membersRemoved: accounts(options.membersRemoved) } : {}),
    channelData: { ...(options.eventType ? { eventType: options.eventType } : {}), ...channelData },
  };
}

/**
 * POSTs the activity to `${baseUrl}/api/messages` with `Authorization: Bearer <token>` (no
 * header when token is null). The body is parsed as JSON when it is JSON, else the text
 * (null when empty).
 */
export async function postActivity(baseUrl: string, activity: Record<string, unknown>, token: string | null): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl.replace(/\/+$/, '')}/api/messages`, { method: 'POST', headers, body: JSON.stringify(activity) });
  const text = await response.text();
  let body: unknown = text.length > 0 ? text : null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  return { status: response.status, body };
}
