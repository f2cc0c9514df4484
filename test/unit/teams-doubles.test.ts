// Proves the Teams test doubles against botbuilder itself: a CloudAdapter configured only with
// identity.env() authenticates activities against the identity double, gets its outbound
// token from it through MSAL, and talks to the Bot Connector double.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, TeamsInfo, TurnContext, type Activity, type ConfigurationBotFrameworkAuthenticationOptions, type ConversationReference, type InvokeResponse } from 'botbuilder';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startBotConnectorDouble, validateAdaptiveCard, type BotConnectorDouble } from '../support/teams-connector.js';
import { startTeamsIdentityDouble, decodeJwt, type MintTokenOptions, type TeamsIdentityDouble } from '../support/teams-identity.js';
import { conversationUpdateActivity, installationUpdateActivity, invokeActivity, messageActivity, postActivity } from '../support/teams-activities.js';

const APP_ID = '11111111-2222-3333-4444-555555555555';
const TENANT = 'tenant-0001';
const alice = { id: '29:alice', aadObjectId: 'aad-alice', name: 'Alice', email: 'alice@example.com' };
const personal = { id: 'a:personal-aad-alice', conversationType: 'personal' as const, tenantId: TENANT };
const from = { id: alice.id, aadObjectId: alice.aadObjectId, name: alice.name };

type Logic = (context: TurnContext) => Promise<void>;

class TestAdapter extends CloudAdapter {
  handle(authorization: string, activity: Activity, logic: Logic): Promise<InvokeResponse | undefined> {
    return this.processActivity(authorization, activity, logic);
  }
}

/** jsonwebtoken's own errors escape botbuilder unwrapped; a bot must answer them with 401 too. */
function isAuthFailure(error: unknown): boolean {
  const candidate = error as { statusCode?: unknown; name?: unknown };
  return candidate.statusCode === 401 || ['JsonWebTokenError', 'NotBeforeError', 'TokenExpiredError'].includes(String(candidate.name));
}

interface TestBot {
  base: string;
  adapter: TestAdapter;
  turns: Activity[];
  errors: unknown[];
  logic: Logic;
  close(): Promise<void>;
}

/** A bare node:http server with a CloudAdapter at POST /api/messages, answering like a bot should. */
async function startBot(env: Record<string, string>): Promise<TestBot> {
  const adapter = new TestAdapter(new ConfigurationBotFrameworkAuthentication(env as ConfigurationBotFrameworkAuthenticationOptions));
  const bot: TestBot = {
    base: '', adapter, turns: [], errors: [],
    logic: async () => {},
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const activity = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Activity;
      const send = (status: number, body?: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      bot.adapter.handle(req.headers.authorization ?? '', activity, async (context) => {
        bot.turns.push(context.activity);
        await bot.logic(context);
      }).then(
        (invokeResponse) => send(invokeResponse?.status ?? 200, invokeResponse?.body),
        (error: unknown) => {
          bot.errors.push(error);
          send(isAuthFailure(error) ? 401 : 500, { error: error instanceof Error ? error.message : String(error) });
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  bot.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return bot;
}

function errorOf(error: unknown): { name: string; message: string; statusCode?: number } {
  const candidate = error as { name?: string; message?: string; statusCode?: number };
  return { name: String(candidate.name), message: String(candidate.message), ...(candidate.statusCode !== undefined ? { statusCode: candidate.statusCode } : {}) };
}

async function rejectionOf(promise: Promise<unknown>): Promise<{ statusCode?: number; message: string; retryAfter?: string | null }> {
  try {
    await promise;
  } catch (error) {
    const candidate = error as { statusCode?: number; message?: string; response?: { headers?: { get?(name: string): string | undefined } } };
    return {
      message: String(candidate.message),
      ...(candidate.statusCode !== undefined ? { statusCode: candidate.statusCode } : {}),
      retryAfter: candidate.response?.headers?.get?.('retry-after') ?? null,
    };
  }
  throw new Error('expected a rejection');
}

let identity: TeamsIdentityDouble;
let connector: BotConnectorDouble;
let bot: TestBot;

beforeAll(async () => {
  identity = await startTeamsIdentityDouble({ appId: APP_ID });
  connector = await startBotConnectorDouble();
  connector.addMember({ ...alice });
  bot = await startBot(identity.env());
});

afterAll(async () => {
  await bot.close();
  await connector.close();
  await identity.close();
});

afterEach(() => {
  bot.turns.length = 0;
  bot.errors.length = 0;
  bot.logic = async () => {};
  connector.clear();
  connector.requireAuth(null);
});

const hello = (overrides: Partial<Parameters<typeof messageActivity>[0]> = {}): ReturnType<typeof messageActivity> =>
  messageActivity({ from, text: 'hello', conversation: personal, serviceUrl: connector.serviceUrl, ...overrides });
const token = (options: Partial<MintTokenOptions> = {}): string => identity.mintToken({ serviceUrl: connector.serviceUrl, ...options });

describe('identity double: inbound tokens as botbuilder checks them', () => {
  // botbuilder console.error()s every refused token (with the PEM of the key); keep the output readable.
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('publishes OpenID metadata naming a JWKS with an RS256 key endorsed for msteams', async () => {
    const metadata = (await (await fetch(identity.openIdMetadataUrl)).json()) as { issuer: string; jwks_uri: string; id_token_signing_alg_values_supported: string[] };
    expect(metadata).toMatchObject({ issuer: 'https://api.botframework.com', id_token_signing_alg_values_supported: ['RS256'] });
    const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', use: 'sig', kid: identity.kid, e: 'AQAB', endorsements: ['msteams'] })]);
    const minted = decodeJwt(token());
    expect(minted?.header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: identity.kid });
    expect(minted?.payload).toMatchObject({ iss: 'https://api.botframework.com', aud: APP_ID, serviceurl: connector.serviceUrl });
    expect(Object.keys(minted?.payload ?? {})).not.toContain('ver');
  });

  it('accepts a valid token: the turn runs with the activity as sent', async () => {
    const activity = hello({ text: 'request orders-prod read' });
    const answer = await postActivity(bot.base, activity, token());
    expect(answer.status).toBe(200);
    expect(bot.turns).toHaveLength(1);
    expect(bot.turns[0]).toMatchObject({ type: 'message', text: 'request orders-prod read', channelId: 'msteams', callerId: 'urn:botframework:azure', from: { id: alice.id, aadObjectId: alice.aadObjectId } });
    expect(bot.turns[0]?.recipient.id).toBe(`28:${APP_ID}`);
    // botbuilder read the metadata and the keys over plain HTTP from the double.
    expect(identity.requests.filter((request) => request.via === 'http').map((request) => request.route)).toEqual(expect.arrayContaining(['openid', 'jwks']));
  });

  it('tolerates five minutes of clock skew, as botbuilder does', async () => {
    expect((await postActivity(bot.base, hello(), token({ expiresInSec: -60, notBeforeSec: -3600 }))).status).toBe(200);
    expect((await postActivity(bot.base, hello(), token({ notBeforeSec: 120 }))).status).toBe(200);
    expect(bot.turns).toHaveLength(2);
  });

  const refusals: { name: string; token: () => string | null; activity?: () => Record<string, unknown>; error: RegExp }[] = [
    { name: 'no token', token: () => null, error: /Unauthorized Access. Request is not authorized/ },
    { name: 'a forged signature (foreign key, published kid)', token: () => token({ key: 'foreign' }), error: /invalid signature/ },
    { name: 'a key the JWKS does not have', token: () => token({ key: 'foreign', kid: 'not-published' }), error: /Signing Key could not be retrieved/ },
    { name: 'an expired token (past the 5 minute skew)', token: () => token({ expiresInSec: -600, notBeforeSec: -1200 }), error: /The token has expired/ },
    { name: 'a token not valid yet (past the skew)', token: () => token({ notBeforeSec: 900 }), error: /jwt not active/ },
    { name: 'another audience', token: () => token({ audience: 'someone-else' }), error: /Invalid AppId passed on token: someone-else/ },
    { name: 'another issuer', token: () => token({ issuer: 'https://api.botframework.example' }), error: /No valid identity/ },
    { name: 'a serviceurl claim for another service URL', token: () => token({ serviceUrl: 'https://elsewhere.example/' }), error: /ServiceUrl claim do not match/ },
    { name: 'no serviceurl claim', token: () => token({ omitServiceUrl: true }), error: /ServiceUrl claim do not match/ },
    { name: 'a channel the key is not endorsed for', token: () => token(), activity: () => ({ ...hello(), channelId: 'webchat' }), error: /Could not validate endorsement/ },
  ];

  it.each(refusals)('refuses $name with 401 and never runs the turn', async ({ token: tokenFor, activity, error }) => {
    const answer = await postActivity(bot.base, activity ? activity() : hello(), tokenFor());
    expect(answer.status).toBe(401);
    expect(bot.turns).toEqual([]);
    expect(errorOf(bot.errors[0]).message).toMatch(error);
    expect(connector.calls).toEqual([]);
  });

  it('pins a botbuilder quirk: its own CloudAdapter.process answers 500, not 401, to a forged signature with a published kid', async () => {
    const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication(identity.env() as ConfigurationBotFrameworkAuthenticationOptions));
    const statusOf = async (authorization: string): Promise<number> => {
      let status = 0;
      const res = { socket: null, status: (code: number) => { status = code; }, header: () => undefined, send: () => undefined, end: () => undefined };
      await adapter.process({ method: 'POST', headers: { authorization }, body: hello() }, res, async () => {});
      return status;
    };
    expect(await statusOf(`Bearer ${token({ key: 'foreign' })}`)).toBe(500);
    expect(await statusOf(`Bearer ${token({ key: 'foreign', kid: 'not-published' })}`)).toBe(401);
    expect(await statusOf(`Bearer ${token({ audience: 'someone-else' })}`)).toBe(401);
  });
});

describe('identity and connector doubles: outbound calls as botbuilder makes them', () => {
  it('delivers context.sendActivity to the connector with the bearer token MSAL got from the identity double', async () => {
    connector.requireAuth((bearer) => identity.verifyAccessToken(bearer) !== null);
    bot.logic = async (context) => {
      await context.sendActivity('pong');
    };
    const activity = hello({ text: 'ping' });
    expect((await postActivity(bot.base, activity, token())).status).toBe(200);
    expect(bot.errors).toEqual([]);
    expect(connector.sent).toHaveLength(1);
    const reply = connector.sent[0];
    expect(reply).toMatchObject({ method: 'POST', operation: 'replyToActivity', conversationId: personal.id, replyToActivityId: activity.id, status: 201, body: { type: 'message', text: 'pong', replyToId: activity.id } });
    expect(reply?.path).toBe(`v3/conversations/${encodeURIComponent(personal.id)}/activities/${encodeURIComponent(activity.id)}`);
    const bearer = reply?.authorization?.replace(/^Bearer /, '') ?? '';
    expect(identity.verifyAccessToken(bearer)).toMatchObject({ aud: identity.oauthScope, appid: APP_ID, tid: TENANT });

    // MSAL: instance discovery, the tenant's OpenID configuration, then the client-credentials grant.
    expect(identity.requests.filter((request) => request.via === 'nock').map((request) => `${request.method} ${request.url.split('?')[0]}`)).toEqual([
      'GET https://login.microsoftonline.com/common/discovery/instance',
      `GET ${identity.loginUrl}/v2.0/.well-known/openid-configuration`,
      `POST ${identity.loginUrl}/oauth2/v2.0/token`,
    ]);
    expect(identity.tokenRequests).toEqual([
      expect.objectContaining({ status: 200, grantType: 'client_credentials', clientId: APP_ID, clientSecret: identity.appPassword, scope: `${identity.oauthScope}/.default` }),
    ]);
    expect(identity.tokenRequests[0]?.accessToken).toBe(bearer);
  });

  it('delivers proactive messages (continueConversationAsync), updates and deletes; the token is cached', async () => {
    connector.requireAuth((bearer) => identity.verifyAccessToken(bearer) !== null);
    const reference = TurnContext.getConversationReference(hello()) as Partial<ConversationReference>;
    let messageId = '';
    await bot.adapter.continueConversationAsync(APP_ID, reference, async (context) => {
      const response = await context.sendActivity('Access request AR-1 is waiting for you');
      messageId = response?.id ?? '';
      await context.updateActivity({ type: 'message', id: messageId, text: 'Access request AR-1 was approved', conversation: { id: personal.id, isGroup: false, conversationType: 'personal', name: '' } });
    });
    // Every sendActivity of a turn is a reply: botbuilder sets replyToId to the turn's activity id,
    // in a proactive turn the random id of its ContinueConversation event.
    expect(connector.sent.map((activity) => [activity.operation, activity.conversationId, activity.activityId, activity.body.text])).toEqual([
      ['replyToActivity', personal.id, messageId, 'Access request AR-1 is waiting for you'],
      ['updateActivity', personal.id, messageId, 'Access request AR-1 was approved'],
    ]);
    expect(connector.activitiesTo(personal.id)).toHaveLength(1);
    expect(connector.activitiesTo(personal.id, { includeUpdates: true })).toHaveLength(2);
    expect(connector.current(personal.id, messageId)?.text).toBe('Access request AR-1 was approved');
    // botframework-connector caches the access token process-wide (app id + scope): no new grant.
    expect(identity.tokenRequests.filter((request) => request.status === 200)).toHaveLength(1);

    await bot.adapter.continueConversationAsync(APP_ID, reference, async (context) => {
      await context.deleteActivity(messageId);
    });
    expect(connector.current(personal.id, messageId)).toBeUndefined();
    expect(connector.calls.at(-1)).toMatchObject({ method: 'DELETE', operation: 'deleteActivity', status: 200 });
    await expect(connector.waitFor((activity) => activity.body.text === 'Access request AR-1 was approved')).resolves.toMatchObject({ method: 'PUT' });
  });

  it('answers TeamsInfo.getMember from the member table, by Teams id or AAD object id', async () => {
    const seen: unknown[] = [];
    bot.logic = async (context) => {
      seen.push(await TeamsInfo.getMember(context, alice.id));
      seen.push(await TeamsInfo.getMember(context, alice.aadObjectId));
      seen.push(errorOf(await TeamsInfo.getMember(context, '29:nobody').catch((error: unknown) => error)));
    };
    expect((await postActivity(bot.base, hello(), token())).status).toBe(200);
    const member = { id: alice.id, aadObjectId: alice.aadObjectId, email: alice.email, userPrincipalName: alice.email, name: 'Alice', userRole: 'user' };
    expect(seen[0]).toMatchObject(member);
    expect(seen[1]).toMatchObject(member);
    expect(seen[2]).toMatchObject({ statusCode: 404 });
    expect(connector.calls.map((call) => [call.operation, call.memberId, call.status])).toEqual([
      ['getConversationMember', alice.id, 200],
      ['getConversationMember', alice.aadObjectId, 200],
      ['getConversationMember', '29:nobody', 404],
    ]);
  });

  it('opens a 1:1 conversation (createConversationAsync) and sends into it', async () => {
    let conversationId = '';
    await bot.adapter.createConversationAsync(APP_ID, 'msteams', connector.serviceUrl, identity.oauthScope, {
      isGroup: false, bot: { id: `28:${APP_ID}`, name: 'Latch' }, members: [{ id: alice.id, name: 'Alice' }], tenantId: TENANT, channelData: { tenant: { id: TENANT } },
    }, async (context) => {
      conversationId = context.activity.conversation.id;
      await context.sendActivity('Hi, I am Latch');
    });
    expect(conversationId).toBe(personal.id);
    expect(connector.calls.map((call) => [call.operation, call.conversationId, call.status])).toEqual([
      ['createConversation', personal.id, 201],
      ['replyToActivity', personal.id, 201],
    ]);
    await expect(bot.adapter.createConversationAsync(APP_ID, 'msteams', connector.serviceUrl, identity.oauthScope, {
      isGroup: false, members: [{ id: '29:stranger', name: 'Stranger' }], tenantId: TENANT,
    } as Parameters<TestAdapter['createConversationAsync']>[4], async () => {})).rejects.toMatchObject({ statusCode: 403 });
  });

  it('returns the invoke response of an Action.Execute to the caller, and routes installation and conversation updates', async () => {
    const card = { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'Approved by lead@example.com', wrap: true }] };
    bot.logic = async (context) => {
      if (context.activity.type === 'invoke') {
        await context.sendActivity({ type: 'invokeResponse', value: { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card } } });
      }
    };
    const invoke = invokeActivity({
      name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'approve', data: { requestId: 'AR-1' } }, trigger: 'manual' },
      from, conversation: personal, serviceUrl: connector.serviceUrl, replyToId: '1700000000000',
    });
    const answer = await postActivity(bot.base, invoke, token());
    expect(answer).toEqual({ status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card } });
    expect(validateAdaptiveCard(card)).toEqual([]);
    expect((await postActivity(bot.base, installationUpdateActivity({ action: 'add', from, conversation: personal, serviceUrl: connector.serviceUrl }), token())).status).toBe(200);
    expect((await postActivity(bot.base, conversationUpdateActivity({ from, conversation: personal, serviceUrl: connector.serviceUrl }), token())).status).toBe(200);
    expect(bot.turns.map((activity) => [activity.type, activity.name ?? activity.action ?? activity.membersAdded?.[0]?.id])).toEqual([
      ['invoke', 'adaptiveCard/action'],
      ['installationUpdate', 'add'],
      ['conversationUpdate', `28:${APP_ID}`],
    ]);
    expect(bot.turns[0]?.value).toEqual({ action: { type: 'Action.Execute', verb: 'approve', data: { requestId: 'AR-1' } }, trigger: 'manual' });
    expect(connector.calls).toEqual([]);
  });
});

describe('connector double: Adaptive Cards are checked like Teams does', () => {
  const attachment = (content: unknown): { contentType: string; content: unknown } => ({ contentType: 'application/vnd.microsoft.card.adaptive', content });
  const sendCard = (content: unknown): Promise<unknown> => bot.adapter.continueConversationAsync(APP_ID, TurnContext.getConversationReference(hello()), async (context) => {
    await context.sendActivity({ type: 'message', attachments: [attachment(content)] });
  });

  it('accepts a valid 1.5 card with Action.Execute and refresh', async () => {
    const card = {
      type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.5',
      refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: 'refresh', data: { requestId: 'AR-1' } }, userIds: [alice.id] },
      body: [
        { type: 'TextBlock', text: 'Access request AR-1', weight: 'Bolder', size: 'Medium', wrap: true },
        { type: 'FactSet', facts: [{ title: 'Requester', value: 'alice@example.com' }] },
        { type: 'Input.Text', id: 'reason', label: 'Reason', isMultiline: true },
        { type: 'Input.ChoiceSet', id: 'duration', label: 'Duration', choices: [{ title: '1 hour', value: '1h' }], value: '1h' },
      ],
      actions: [{ type: 'Action.Execute', title: 'Approve', verb: 'approve', data: { requestId: 'AR-1' }, style: 'positive' }],
    };
    await sendCard(card);
    expect(connector.cardErrors).toEqual([]);
    expect(connector.sent.map((activity) => activity.body.attachments)).toEqual([[attachment(card)]]);
  });

  it('refuses an unknown element type with 400 and records why', async () => {
    const error = await rejectionOf(sendCard({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'FancyBlock', text: 'x' }] }));
    expect(error.statusCode).toBe(400);
    expect(error.message).toContain('Unknown element type "FancyBlock"');
    expect(connector.sent).toEqual([]);
    expect(connector.cardErrors).toEqual([expect.objectContaining({ operation: 'replyToActivity', conversationId: personal.id, activityId: undefined, attachmentIndex: 0, errors: ['UnknownElementType: Unknown element type "FancyBlock". Fallback will be used if present.'] })]);
  });

  it('refuses missing required properties and what Teams cannot render', async () => {
    const error = await rejectionOf(sendCard({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Text' }], actions: [{ type: 'Action.OpenUrl', title: 'Open' }] }));
    expect(error.statusCode).toBe(400);
    expect(connector.cardErrors[0]?.errors).toEqual(['PropertyCantBeNull: All inputs must have a unique Id.', 'PropertyCantBeNull: Property "url" must be set.']);
    expect(validateAdaptiveCard({ type: 'AdaptiveCard', version: '1.6', body: [] })).toEqual(['version 1.6 is newer than Teams renders (1.5)']);
    expect(validateAdaptiveCard({ type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: 'x', style: 'heading' }] })).toEqual(['UnsupportedProperty: Property "style" is supported in version 1.5, but you are using version 1.4.']);
    expect(validateAdaptiveCard({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'x', size: 'huge' }] })).toEqual(['version is missing (Teams needs it)', 'InvalidPropertyValue: Invalid value "huge" for property "size".']);
    expect(validateAdaptiveCard({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'a', id: 'x' }, { type: 'TextBlock', text: 'b', id: 'x' }] })).toEqual(['DuplicateId: Duplicate Id "x".']);
  });
});

describe('connector double: throttling, failures and auth', () => {
  const send = (text: string): Promise<void> => bot.adapter.continueConversationAsync(APP_ID, TurnContext.getConversationReference(hello()), async (context) => {
    await context.sendActivity(text);
  });

  it('answers 429 with Retry-After, and botbuilder itself waits and retries', async () => {
    connector.rateLimitNext(1, 0.2);
    await send('after one 429');
    expect(connector.calls.map((call) => [call.status, call.retryAfterSec])).toEqual([[429, 0.2], [201, undefined]]);
    const [first, second] = connector.calls;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(150);
    expect(connector.sent.map((activity) => activity.body.text)).toEqual(['after one 429']);
  });

  it('lets the 429 through to the caller after botbuilder has retried three times', async () => {
    connector.rateLimitNext(4, 0.05);
    const error = await rejectionOf(send('throttled'));
    expect(error).toMatchObject({ statusCode: 429, retryAfter: '0.05' });
    expect(connector.calls.map((call) => call.status)).toEqual([429, 429, 429, 429]);
    expect(connector.sent).toEqual([]);
  });

  it('injects failures: botbuilder retries a 500 by itself, not a 403', async () => {
    connector.failNext(1, 500);
    await send('after a 500');
    expect(connector.calls.map((call) => call.status)).toEqual([500, 201]);
    connector.clear();
    connector.failNext(1, 403);
    expect(await rejectionOf(send('forbidden'))).toMatchObject({ statusCode: 403 });
    expect(connector.calls.map((call) => call.status)).toEqual([403]);
  });

  it('refuses calls without an accepted bearer token with 401', async () => {
    connector.requireAuth(() => false);
    expect(await rejectionOf(send('no entry'))).toMatchObject({ statusCode: 401 });
    expect(connector.calls.map((call) => [call.status, call.refusal])).toEqual([[401, 'auth']]);
    expect(identity.acceptsAuthorization(connector.calls[0]?.authorization)).toBe(true);
  });

  it('gives every identity double its own token: a second double is asked, and refuses a wrong secret', async () => {
    const second = await startTeamsIdentityDouble({ appId: APP_ID, appType: 'MultiTenant' });
    try {
      const reference = TurnContext.getConversationReference(hello());
      const wrong = await startBot({ ...second.env(), MicrosoftAppPassword: 'not-the-secret' });
      try {
        const failure = await rejectionOf(wrong.adapter.continueConversationAsync(APP_ID, reference, async (context) => {
          await context.sendActivity('never');
        }));
        expect(failure.message).toContain('AADSTS7000215');
      } finally {
        await wrong.close();
      }
      expect(second.tokenRequests.map((request) => [request.status, request.error])).toEqual([[401, 'invalid_client: AADSTS7000215: Invalid client secret provided.']]);
      expect(connector.calls).toEqual([]);

      connector.requireAuth((bearer) => second.verifyAccessToken(bearer) !== null);
      const right = await startBot(second.env());
      try {
        await right.adapter.continueConversationAsync(APP_ID, reference, async (context) => {
          await context.sendActivity('with the second double');
        });
      } finally {
        await right.close();
      }
      expect(second.tokenRequests.map((request) => request.status)).toEqual([401, 200]);
      expect(connector.sent.map((activity) => activity.body.text)).toEqual(['with the second double']);
      expect(identity.acceptsAuthorization(connector.sent[0]?.authorization)).toBe(false);
    } finally {
      await second.close();
    }
    // Closing removes the double's nock interceptors; the first double's stay.
    const host = (url: string): string => new URL(url).host;
    expect(nock.activeMocks().filter((mock) => mock.includes(host(second.loginUrl)))).toEqual([]);
    expect(nock.activeMocks().filter((mock) => mock.includes(host(identity.loginUrl)))).not.toEqual([]);
  });
});
