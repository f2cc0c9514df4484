// A local double of the Bot Connector REST API as the Teams channel serves it, for the calls
// botbuilder's ConnectorClient / TeamsConnectorClient make (paths from
// botframework-connector/lib/connectorApi/operations/conversations.js and teams/operations/teams.js).
//
// `serviceUrl` carries a region path like the real one (https://smba.trafficmanager.net/amer/),
// so a client that drops the path of the service URL is caught: calls outside it get 404.
//
// Every call is recorded. Activities the bot sends (send, reply, update, and the activity of a
// create-conversation call) are checked like Teams would: every Adaptive Card attachment is
// parsed with the adaptivecards 3.x library (the UMD bundle: its main entry does not load in
// Node, the bundle does and needs no DOM to parse and validate), the card version must be at
// most `maxCardVersion` (Teams: 1.5), refresh.userIds at most 60, and the activity at most
// `maxActivityBytes` (Teams: about 28 KB). A card error answers 400 and lands in `cardErrors`.
//
// Note for tests: botbuilder's HTTP pipeline (@azure/core-rest-pipeline defaultRetryPolicy)
// retries 429 and 503 after Retry-After, and 408/5xx (not 501/505) with exponential backoff
// from about 1 s, up to 3 retries. `rateLimitNext(1, 0.1)` is therefore invisible to the bot
// except in `calls`; `failNext(1, 500)` costs about a second; use a 4xx to fail at once.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type * as AdaptiveCardsModule from 'adaptivecards';

const require = createRequire(import.meta.url);
let adaptiveCards: typeof AdaptiveCardsModule | undefined;
function loadAdaptiveCards(): typeof AdaptiveCardsModule {
  adaptiveCards ??= require('adaptivecards/dist/adaptivecards.js') as typeof AdaptiveCardsModule;
  return adaptiveCards;
}

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** Teams renders Adaptive Cards up to schema 1.5. */
export const TEAMS_MAX_CARD_VERSION = '1.5';
/** Teams refuses messages above about 28 KB (413 MessageSizeTooBig). */
export const TEAMS_MAX_ACTIVITY_BYTES = 28 * 1024;

function versionNumber(version: string): [number, number] | null {
  const match = /^(\d+)\.(\d+)$/.exec(version);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/**
 * The problems Teams would have with this Adaptive Card: the adaptivecards library's parse
 * events (unknown element or action types, invalid enum values, properties newer than the
 * declared version) and validation results (inputs without id, duplicate ids, choices without
 * value, OpenUrl without url, required inputs without label or error message, ...), plus the
 * Teams rules the library does not know. Empty when the card is fine.
 */
export function validateAdaptiveCard(content: unknown, options: { maxVersion?: string } = {}): string[] {
  const AC = loadAdaptiveCards();
  const errors: string[] = [];
  if (!content || typeof content !== 'object' || Array.isArray(content)) return ['the card content is not a JSON object'];
  const json = content as Record<string, unknown>;
  if (json.type !== 'AdaptiveCard') errors.push(`type must be "AdaptiveCard", got ${JSON.stringify(json.type)}`);
  const max = options.maxVersion ?? TEAMS_MAX_CARD_VERSION;
  let target = AC.Versions.latest;
  if (typeof json.version !== 'string') {
    errors.push('version is missing (Teams needs it)');
  } else {
    const declared = versionNumber(json.version);
    const limit = versionNumber(max);
    if (!declared) {
      errors.push(`version ${JSON.stringify(json.version)} is not a version`);
    } else {
      if (limit && (declared[0] > limit[0] || (declared[0] === limit[0] && declared[1] > limit[1]))) {
        errors.push(`version ${json.version} is newer than Teams renders (${max})`);
      }
      target = new AC.Version(declared[0], declared[1]);
    }
  }
  const refresh = json.refresh as { userIds?: unknown } | undefined;
  if (refresh && Array.isArray(refresh.userIds) && refresh.userIds.length > 60) {
    errors.push(`refresh.userIds has ${refresh.userIds.length} entries; Teams allows at most 60`);
  }
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(target);
  try {
    card.parse(json, context);
  } catch (error) {
    errors.push(`parse failed: ${error instanceof Error ? error.message : String(error)}`);
    return errors;
  }
  for (let index = 0; index < context.eventCount; index += 1) {
    const event = context.getEventAt(index);
    errors.push(`${AC.ValidationEvent[event.event] ?? 'parse'}: ${event.message}`);
  }
  for (const event of card.validateProperties().validationEvents) {
    errors.push(`${AC.ValidationEvent[event.event] ?? 'validation'}: ${event.message}`);
  }
  return errors;
}

export interface ConnectorMember {
  /** The Teams user id, 29:... */
  id: string;
  aadObjectId?: string;
  email?: string;
  name?: string;
  /** Default: the e-mail. */
  userPrincipalName?: string;
  givenName?: string;
  surname?: string;
  tenantId?: string;
  userRole?: 'user' | 'guest' | 'anonymous';
  /** The id create-conversation answers for a 1:1 with this member (default a:personal-<aadObjectId or id>). */
  personalConversationId?: string;
  /** false: the app is not installed for them, create-conversation answers 403. Default true. */
  installed?: boolean;
}

export type ConnectorOperation =
  | 'getConversations' | 'createConversation' | 'sendToConversation' | 'sendConversationHistory' | 'replyToActivity' | 'updateActivity'
  | 'deleteActivity' | 'getConversationMembers' | 'getConversationMember' | 'getConversationPagedMembers' | 'deleteConversationMember'
  | 'getActivityMembers' | 'uploadAttachment' | 'getTeamChannels' | 'getTeamDetails' | 'unknown';

export interface ConnectorCall {
  seq: number;
  at: number;
  method: string;
  /** Path below the service URL, as sent (still URL-encoded), e.g. v3/conversations/a%3A1/activities */
  path: string;
  operation: ConnectorOperation;
  /** Decoded path parameters. */
  conversationId?: string;
  activityId?: string;
  memberId?: string;
  teamId?: string;
  /** The JSON body, if any. */
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  /** What the double answered. */
  status: number;
  response: unknown;
  /** Why the double refused, when it did. */
  refusal?: 'auth' | 'rate-limit' | 'injected-failure' | 'card' | 'size' | 'invalid' | 'not-found' | 'forbidden';
  /** The Retry-After (seconds) sent with a 429. */
  retryAfterSec?: number;
  /** replyToActivity: the message replied to (the id in the path); activityId is the new message. */
  replyToActivityId?: string;
}

/** An activity Teams took: sent, replied, updated, or the first activity of a new conversation. */
export interface SentActivity extends ConnectorCall {
  operation: 'sendToConversation' | 'replyToActivity' | 'updateActivity' | 'createConversation';
  conversationId: string;
  activityId: string;
  body: Record<string, unknown>;
}

export interface CardError {
  seq: number;
  operation: ConnectorOperation;
  conversationId: string | undefined;
  activityId: string | undefined;
  attachmentIndex: number;
  card: unknown;
  errors: string[];
}

export type CallFilter = (call: { method: string; path: string; operation: ConnectorOperation }) => boolean;

export interface BotConnectorOptions {
  /** Path of the service URL (default /amer/). */
  region?: string;
  maxCardVersion?: string;
  maxActivityBytes?: number;
}

export interface BotConnectorDouble {
  /** http://127.0.0.1:<port>/amer/ — what activities carry as serviceUrl (with the trailing slash). */
  readonly serviceUrl: string;
  readonly calls: ConnectorCall[];
  readonly sent: SentActivity[];
  readonly cardErrors: CardError[];
  addMember(member: ConnectorMember, options?: { conversations?: string[] }): void;
  addTeam(team: { id: string; name?: string; aadGroupId?: string; channels?: { id: string; name?: string }[] }): void;
  /** Activities posted to the conversation (send, reply, create), in order; with includeUpdates also the PUTs. */
  activitiesTo(conversationId: string, options?: { includeUpdates?: boolean }): SentActivity[];
  /** The latest version of a message (after updates); undefined if unknown or deleted. */
  current(conversationId: string, activityId: string): Record<string, unknown> | undefined;
  /** The first sent activity (already sent or still to come) matching the predicate. */
  waitFor(predicate: (activity: SentActivity) => boolean, timeoutMs?: number): Promise<SentActivity>;
  /** Like waitFor, over every call including refused ones. */
  waitForCall(predicate: (call: ConnectorCall) => boolean, timeoutMs?: number): Promise<ConnectorCall>;
  /** The next `times` matching calls get 429 with Retry-After: retryAfterSec (fractions allowed). */
  rateLimitNext(times: number, retryAfterSec?: number, filter?: CallFilter): void;
  /** The next `times` matching calls get `status` (default 500) and an ErrorResponse body. */
  failNext(times: number, status?: number, filter?: CallFilter): void;
  /** Every call must carry `Authorization: Bearer <token>` with check(token) true, else 401. null: no check. */
  requireAuth(check: ((token: string) => boolean) | null): void;
  /** Forget recorded calls, messages and card errors (members and teams stay). */
  clear(): void;
  close(): Promise<void>;
}

interface Fault { times: number; status: number; retryAfterSec?: number; filter?: CallFilter }

const errorBody = (code: string, message: string): Record<string, unknown> => ({ error: { code, message } });

function route(method: string, segments: string[]): Pick<ConnectorCall, 'operation' | 'conversationId' | 'activityId' | 'memberId' | 'teamId'> {
  const [v3, collection, id, sub, subId, subSub] = segments;
  if (v3 !== 'v3') return { operation: 'unknown' };
  if (collection === 'teams' && id) {
    if (segments.length === 4 && sub === 'conversations' && method === 'GET') return { operation: 'getTeamChannels', teamId: id };
    if (segments.length === 3 && method === 'GET') return { operation: 'getTeamDetails', teamId: id };
    return { operation: 'unknown' };
  }
  if (collection !== 'conversations') return { operation: 'unknown' };
  if (segments.length === 2) return { operation: method === 'POST' ? 'createConversation' : method === 'GET' ? 'getConversations' : 'unknown' };
  const conversationId = id;
  if (sub === 'activities') {
    if (segments.length === 4 && method === 'POST') return { operation: 'sendToConversation', conversationId };
    if (segments.length === 5 && subId === 'history' && method === 'POST') return { operation: 'sendConversationHistory', conversationId };
    if (segments.length === 5 && method === 'POST') return { operation: 'replyToActivity', conversationId, activityId: subId };
    if (segments.length === 5 && method === 'PUT') return { operation: 'updateActivity', conversationId, activityId: subId };
    if (segments.length === 5 && method === 'DELETE') return { operation: 'deleteActivity', conversationId, activityId: subId };
    if (segments.length === 6 && subSub === 'members' && method === 'GET') return { operation: 'getActivityMembers', conversationId, activityId: subId };
  }
  if (sub === 'members') {
    if (segments.length === 4 && method === 'GET') return { operation: 'getConversationMembers', conversationId };
    if (segments.length === 5 && method === 'GET') return { operation: 'getConversationMember', conversationId, memberId: subId };
    if (segments.length === 5 && method === 'DELETE') return { operation: 'deleteConversationMember', conversationId, memberId: subId };
  }
  if (sub === 'pagedmembers' && segments.length === 4 && method === 'GET') return { operation: 'getConversationPagedMembers', conversationId };
  if (sub === 'attachments' && segments.length === 4 && method === 'POST') return { operation: 'uploadAttachment', conversationId };
  return { operation: 'unknown', conversationId };
}

export async function startBotConnectorDouble(options: BotConnectorOptions = {}): Promise<BotConnectorDouble> {
  const region = `/${(options.region ?? 'amer').replace(/^\/+|\/+$/g, '')}/`;
  const maxActivityBytes = options.maxActivityBytes ?? TEAMS_MAX_ACTIVITY_BYTES;
  const calls: ConnectorCall[] = [];
  const sent: SentActivity[] = [];
  const cardErrors: CardError[] = [];
  const members: ConnectorMember[] = [];
  const conversationMembers = new Map<string, Set<string>>();
  const teams = new Map<string, { id: string; name?: string; aadGroupId?: string; channels: { id: string; name?: string }[] }>();
  const messages = new Map<string, { conversationId: string; activity: Record<string, unknown>; deleted: boolean }>();
  const faults: Fault[] = [];
  const waiters = new Set<() => void>();
  let authCheck: ((token: string) => boolean) | null = null;
  let seq = 0;
  let lastActivityId = Date.now();

  const key = (conversationId: string, activityId: string): string => `${conversationId}\u0000${activityId}`;
  const nextActivityId = (): string => {
    lastActivityId = Math.max(lastActivityId + 1, Date.now());
    return String(lastActivityId);
  };
  const findMember = (idOrAad: string): ConnectorMember | undefined =>
    members.find((member) => member.id === idOrAad || (member.aadObjectId !== undefined && member.aadObjectId.toLowerCase() === idOrAad.toLowerCase()));
  const personalConversationOf = (member: ConnectorMember): string => member.personalConversationId ?? `a:personal-${member.aadObjectId ?? member.id}`;
  const account = (member: ConnectorMember): Record<string, unknown> => ({
    id: member.id,
    name: member.name ?? member.email ?? member.id,
    aadObjectId: member.aadObjectId,
    email: member.email,
    userPrincipalName: member.userPrincipalName ?? member.email,
    givenName: member.givenName,
    surname: member.surname,
    tenantId: member.tenantId,
    userRole: member.userRole ?? 'user',
  });
  const membersOf = (conversationId: string): ConnectorMember[] => {
    const explicit = conversationMembers.get(conversationId);
    if (explicit) return members.filter((member) => explicit.has(member.id));
    const personal = members.filter((member) => personalConversationOf(member) === conversationId);
    return personal.length > 0 ? personal : members;
  };
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };

  const checkActivity = (activity: Record<string, unknown>, rawBytes: number, call: Pick<ConnectorCall, 'seq' | 'operation' | 'conversationId' | 'activityId'>): { status: number; body: unknown; refusal: ConnectorCall['refusal'] } | null => {
    if (typeof activity.type !== 'string') return { status: 400, body: errorBody('BadArgument', 'Activity type is required.'), refusal: 'invalid' };
    if (rawBytes > maxActivityBytes) return { status: 413, body: errorBody('MessageSizeTooBig', `Message size ${rawBytes} bytes is above ${maxActivityBytes}.`), refusal: 'size' };
    const attachments = Array.isArray(activity.attachments) ? (activity.attachments as unknown[]) : [];
    const problems: string[] = [];
    attachments.forEach((attachment, attachmentIndex) => {
      const { contentType, content } = (attachment ?? {}) as { contentType?: unknown; content?: unknown };
      if (contentType !== ADAPTIVE_CARD_CONTENT_TYPE) return;
      const errors = validateAdaptiveCard(content, options.maxCardVersion ? { maxVersion: options.maxCardVersion } : {});
      if (errors.length > 0) {
        cardErrors.push({ seq: call.seq, operation: call.operation, conversationId: call.conversationId, activityId: call.activityId, attachmentIndex, card: content, errors });
        problems.push(...errors.map((error) => `attachment ${attachmentIndex}: ${error}`));
      }
    });
    if (problems.length > 0) return { status: 400, body: errorBody('BadArgument', `Invalid Adaptive Card: ${problems.join('; ')}`), refusal: 'card' };
    return null;
  };

  const handle = (method: string, rawPath: string, authorization: string | undefined, rawBody: string): ConnectorCall => {
    seq += 1;
    const pathOnly = rawPath.split('?')[0] ?? '';
    const inRegion = pathOnly.startsWith(region);
    const path = inRegion ? pathOnly.slice(region.length) : pathOnly.replace(/^\//, '');
    let segments: string[] = [];
    try {
      segments = path.split('/').filter((segment) => segment.length > 0).map((segment) => decodeURIComponent(segment));
    } catch {
      segments = [];
    }
    const routed = inRegion ? route(method, segments) : { operation: 'unknown' as const };
    let body: Record<string, unknown> | undefined;
    let bodyError = false;
    if (rawBody.length > 0) {
      try {
        const parsed: unknown = JSON.parse(rawBody);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
        else bodyError = true;
      } catch {
        bodyError = true;
      }
    }
    const call: ConnectorCall = { seq, at: Date.now(), method, path, ...routed, body, authorization, status: 0, response: undefined };
    const answer = (status: number, response: unknown, refusal?: ConnectorCall['refusal']): ConnectorCall => {
      call.status = status;
      call.response = response;
      if (refusal) call.refusal = refusal;
      calls.push(call);
      notify();
      return call;
    };

    if (authCheck) {
      const match = /^Bearer (\S+)$/.exec(authorization ?? '');
      if (!match?.[1] || !authCheck(match[1])) return answer(401, { message: 'Authorization has been denied for this request.' }, 'auth');
    }
    const fault = faults.find((candidate) => candidate.times > 0 && (!candidate.filter || candidate.filter({ method, path, operation: call.operation })));
    if (fault) {
      fault.times -= 1;
      if (fault.status === 429) {
        call.retryAfterSec = fault.retryAfterSec ?? 1;
        return answer(429, errorBody('TooManyRequests', 'Too many requests. Retry after the interval in Retry-After.'), 'rate-limit');
      }
      return answer(fault.status, errorBody('ServiceError', `Injected failure ${fault.status}.`), 'injected-failure');
    }
    if (!inRegion || call.operation === 'unknown') return answer(404, errorBody('NotFound', `No Bot Connector route for ${method} ${rawPath} (service URL path is ${region}).`), 'not-found');
    if (bodyError) return answer(400, errorBody('BadSyntax', 'The request body is not a JSON object.'), 'invalid');

    const conversationId = call.conversationId ?? '';
    const rawBytes = Buffer.byteLength(rawBody);
    const record = (activity: Record<string, unknown>): void => {
      sent.push(call as SentActivity);
      messages.set(key(call.conversationId ?? '', call.activityId ?? ''), { conversationId: call.conversationId ?? '', activity, deleted: false });
    };
    switch (call.operation) {
      case 'sendToConversation':
      case 'replyToActivity':
      case 'sendConversationHistory': {
        if (!body) return answer(400, errorBody('BadArgument', 'Activity is required.'), 'invalid');
        if (call.operation === 'sendConversationHistory') return answer(200, { id: nextActivityId() });
        // activityId becomes the id of the new message; a reply's path id is the message replied to.
        if (call.operation === 'replyToActivity') call.replyToActivityId = call.activityId;
        call.activityId = undefined;
        const refused = checkActivity(body, rawBytes, call);
        if (refused) return answer(refused.status, refused.body, refused.refusal);
        const id = nextActivityId();
        call.activityId = id;
        record(body);
        return answer(201, { id });
      }
      case 'updateActivity': {
        if (!body) return answer(400, errorBody('BadArgument', 'Activity is required.'), 'invalid');
        const existing = messages.get(key(conversationId, call.activityId ?? ''));
        if (!existing || existing.deleted) return answer(404, errorBody('ActivityNotFoundInConversation', `Activity ${call.activityId ?? ''} not found in conversation ${conversationId}.`), 'not-found');
        const refused = checkActivity(body, rawBytes, call);
        if (refused) return answer(refused.status, refused.body, refused.refusal);
        record(body);
        return answer(200, { id: call.activityId });
      }
      case 'deleteActivity': {
        const existing = messages.get(key(conversationId, call.activityId ?? ''));
        if (!existing || existing.deleted) return answer(404, errorBody('ActivityNotFoundInConversation', `Activity ${call.activityId ?? ''} not found in conversation ${conversationId}.`), 'not-found');
        existing.deleted = true;
        return answer(200, {});
      }
      case 'createConversation': {
        const parameters = body ?? {};
        const wanted = Array.isArray(parameters.members) ? (parameters.members as { id?: unknown }[]) : [];
        if (parameters.isGroup === true || wanted.length !== 1 || typeof wanted[0]?.id !== 'string') {
          return answer(400, errorBody('BadArgument', 'This double creates 1:1 conversations only: isGroup false and exactly one member.'), 'invalid');
        }
        const member = findMember(wanted[0].id);
        if (!member || member.installed === false) {
          return answer(403, errorBody('BotNotInConversationRoster', 'The bot is not part of the conversation roster.'), 'forbidden');
        }
        call.conversationId = personalConversationOf(member);
        const activity = parameters.activity;
        if (activity && typeof activity === 'object') {
          const refused = checkActivity(activity as Record<string, unknown>, rawBytes, call);
          if (refused) return answer(refused.status, refused.body, refused.refusal);
          call.activityId = nextActivityId();
          messages.set(key(call.conversationId, call.activityId), { conversationId: call.conversationId, activity: activity as Record<string, unknown>, deleted: false });
          const done = answer(201, { id: call.conversationId, activityId: call.activityId });
          sent.push({ ...done, body: activity as Record<string, unknown> } as SentActivity);
          notify();
          return done;
        }
        return answer(201, { id: call.conversationId });
      }
      case 'getConversationMembers':
        return answer(200, membersOf(conversationId).map(account));
      case 'getConversationPagedMembers':
        return answer(200, { members: membersOf(conversationId).map(account) });
      case 'getActivityMembers':
        return answer(200, membersOf(conversationId).map(account));
      case 'getConversationMember': {
        const member = findMember(call.memberId ?? '');
        const inConversation = member && (teams.has(conversationId) || membersOf(conversationId).includes(member));
        if (!member || !inConversation) return answer(404, errorBody('MemberNotFoundInConversation', `Member ${call.memberId ?? ''} not found in conversation ${conversationId}.`), 'not-found');
        return answer(200, account(member));
      }
      case 'getTeamChannels': {
        const team = teams.get(call.teamId ?? '');
        if (!team) return answer(404, errorBody('TeamNotFound', `Team ${call.teamId ?? ''} not found.`), 'not-found');
        return answer(200, { conversations: [{ id: team.id, name: undefined }, ...team.channels] });
      }
      case 'getTeamDetails': {
        const team = teams.get(call.teamId ?? '');
        if (!team) return answer(404, errorBody('TeamNotFound', `Team ${call.teamId ?? ''} not found.`), 'not-found');
        return answer(200, { id: team.id, name: team.name, aadGroupId: team.aadGroupId });
      }
      default:
        return answer(501, errorBody('NotImplemented', `The double does not implement ${call.operation}.`), 'not-found');
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const call = handle(req.method ?? 'GET', req.url ?? '/', req.headers.authorization, Buffer.concat(chunks).toString('utf8'));
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
      if (call.retryAfterSec !== undefined) headers['retry-after'] = String(call.retryAfterSec);
      res.writeHead(call.status, headers);
      res.end(call.response === undefined ? '' : JSON.stringify(call.response));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serviceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${region}`;

  const waitUntil = <T>(find: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> => {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const match = find();
        if (match === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(match);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`Bot Connector double: nothing matched within ${timeoutMs} ms. ${describe()}`));
      }, timeoutMs);
      waiters.add(check);
    });
  };
  const summary = (call: ConnectorCall): string => `#${call.seq} ${call.method} ${call.path} -> ${call.status}${call.body?.text ? ` text=${JSON.stringify(call.body.text).slice(0, 80)}` : ''}`;

  const double: BotConnectorDouble = {
    serviceUrl, calls, sent, cardErrors,
    addMember(member, memberOptions = {}) {
      const index = members.findIndex((existing) => existing.id === member.id);
      if (index >= 0) members.splice(index, 1, member);
      else members.push(member);
      for (const conversationId of memberOptions.conversations ?? []) {
        const set = conversationMembers.get(conversationId) ?? new Set<string>();
        set.add(member.id);
        conversationMembers.set(conversationId, set);
      }
    },
    addTeam(team) {
      teams.set(team.id, { id: team.id, name: team.name, aadGroupId: team.aadGroupId, channels: team.channels ?? [] });
    },
    activitiesTo(conversationId, activityOptions = {}) {
      return sent.filter((activity) => activity.conversationId === conversationId && (activityOptions.includeUpdates || activity.operation !== 'updateActivity'));
    },
    current(conversationId, activityId) {
      const message = messages.get(key(conversationId, activityId));
      return message && !message.deleted ? message.activity : undefined;
    },
    waitFor(predicate, timeoutMs = 5000) {
      return waitUntil(() => sent.find(predicate), timeoutMs, () => `Sent: ${sent.map(summary).join(' | ') || 'nothing'}`);
    },
    waitForCall(predicate, timeoutMs = 5000) {
      return waitUntil(() => calls.find(predicate), timeoutMs, () => `Calls: ${calls.map(summary).join(' | ') || 'none'}`);
    },
    rateLimitNext(times, retryAfterSec = 1, filter) {
      faults.push({ times, status: 429, retryAfterSec, ...(filter ? { filter } : {}) });
    },
    failNext(times, status = 500, filter) {
      faults.push({ times, status, ...(filter ? { filter } : {}) });
    },
    requireAuth(check) {
      authCheck = check;
    },
    clear() {
      calls.length = 0;
      sent.length = 0;
      cardErrors.length = 0;
      messages.clear();
      faults.length = 0;
    },
    async close() {
      for (const waiter of [...waiters]) waiters.delete(waiter);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return double;
}
