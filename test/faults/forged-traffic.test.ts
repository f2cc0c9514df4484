// Forged, stale, tampered and replayed traffic against the Latch process: every forgery is
// answered 401 and changes nothing (no row, no job, no audit event, nothing sent), and one
// valid delivery replayed many times, all at once, has exactly one effect.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/harness.js';
import { messageActivity, postActivity } from '../support/teams-activities.js';
import { startTeamsIdentityDouble, type TeamsIdentityDouble } from '../support/teams-identity.js';
import { blockActionsBody, signSlackRequest, slashCommandBody } from '../support/slack-signing.js';
import { FAULT_TIMEOUT_MS, SCALE } from './support/fault-scale.js';
import { createFaultStack, engineerId, LEAD, requestIdIn, SIGNING_SECRET, type FaultStack } from './support/fault-stack.js';

const APP_ID = '22222222-3333-4444-5555-666666666666';
const SERVICE_URL = 'http://127.0.0.1:9/teams/';
let stack: FaultStack;
let identity: TeamsIdentityDouble;

beforeAll(async () => {
  identity = await startTeamsIdentityDouble({ appId: APP_ID });
  stack = await createFaultStack({ engineers: 4, env: { ...identity.env(), TEAMS_SERVICE_URL: SERVICE_URL } });
  await stack.start();
});
afterAll(async () => {
  await stack?.close();
  await identity?.close();
});

const nowSec = (): number => Math.floor(Date.now() / 1000);

async function post(body: string, headers: Record<string, string>): Promise<number> {
  const base = stack.latch?.base ?? '';
  const response = await fetch(`${base}/slack/events`, { method: 'POST', headers, body });
  await response.arrayBuffer();
  return response.status;
}

/** Everything a delivery could change or cause (Latch's own periodic jobs aside). */
function footprint(): Record<string, number> {
  const count = (table: string, where = ''): number => stack.rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} ${where}`)[0]?.n ?? 0;
  return {
    requests: count('requests'), decisions: count('decisions'), jobs: count('jobs', 'WHERE request_id IS NOT NULL'), audit: count('audit_events'), deliveries: count('deliveries'),
    slackCalls: stack.slack.calls.length,
  };
}

type Forgery = () => Promise<number>;

function slackForgeries(): [string, Forgery][] {
  const command = (): string => slashCommandBody({ userId: engineerId(0), text: 'request app read for 1h because forged', triggerId: stack.slack.issueTrigger(), responseUrl: stack.slack.responseUrl() });
  const signed = (body: string, at = nowSec(), secret = SIGNING_SECRET): Record<string, string> => ({ ...signSlackRequest(body, secret, at) });
  return [
    ['a random signature', async () => { const body = command(); return post(body, { ...signed(body), 'x-slack-signature': `v0=${randomBytes(32).toString('hex')}` }); }],
    ['no signature', async () => { const body = command(); const { 'x-slack-signature': _dropped, ...headers } = signed(body); return post(body, headers); }],
    ['no timestamp', async () => { const body = command(); const { 'x-slack-request-timestamp': _dropped, ...headers } = signed(body); return post(body, headers); }],
    ['the wrong signing secret', async () => { const body = command(); return post(body, signed(body, nowSec(), 'not-the-secret')); }],
    ['a stale timestamp (6 minutes old)', async () => { const body = command(); return post(body, signed(body, nowSec() - 360)); }],
    ['a future timestamp (6 minutes ahead)', async () => { const body = command(); return post(body, signed(body, nowSec() + 360)); }],
    ['a timestamp that is not a number', async () => { const body = command(); return post(body, { ...signed(body), 'x-slack-request-timestamp': 'yesterday' }); }],
    ['a tampered body', async () => { const body = command(); return post(body.replace('for+1h', 'for+4h'), signed(body)); }],
    ['a tampered button click', async () => {
      const body = blockActionsBody({ userId: LEAD.id, actionId: 'latch.approve', value: 'AR-AAAAAAAA', triggerId: stack.slack.issueTrigger(), responseUrl: stack.slack.responseUrl() });
      return post(body.replace('AR-AAAAAAAA', 'AR-BBBBBBBB'), signed(body));
    }],
    ['a v1 signature', async () => { const body = command(); const at = nowSec(); return post(body, { ...signed(body, at), 'x-slack-signature': `v1=${createHmac('sha256', SIGNING_SECRET).update(`v1:${at}:${body}`).digest('hex')}` }); }],
    ['a truncated signature', async () => { const body = command(); const headers = signed(body); return post(body, { ...headers, 'x-slack-signature': (headers['x-slack-signature'] ?? '').slice(0, 40) }); }],
  ];
}

function teamsForgeries(): [string, Forgery][] {
  const activity = (): Record<string, unknown> => messageActivity({
    from: { id: '29:eng0', aadObjectId: 'aad-eng0', name: 'Eng 0' }, text: 'request app read for 1h because forged',
    conversation: { id: 'a:personal-eng0', conversationType: 'personal', tenantId: identity.tenantId }, serviceUrl: SERVICE_URL,
  });
  const send = async (token: string | null): Promise<number> => (await postActivity(stack.latch?.base ?? '', activity(), token)).status;
  const mint = (extra: Partial<Parameters<TeamsIdentityDouble['mintToken']>[0]>): string => identity.mintToken({ serviceUrl: SERVICE_URL, ...extra });
  const none = (): string => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ aud: APP_ID, iss: identity.issuer, serviceurl: SERVICE_URL, exp: nowSec() + 600 })).toString('base64url')}.`;
  return [
    ['no Authorization header', () => send(null)],
    ['a token signed with a key Microsoft never published', () => send(mint({ key: 'foreign' }))],
    ['a token for another bot', () => send(mint({ audience: '99999999-0000-0000-0000-000000000000' }))],
    ['a token from another issuer', () => send(mint({ issuer: 'https://sts.example.com' }))],
    ['an expired token', () => send(mint({ expiresInSec: -600 }))],
    ['a token not valid yet', () => send(mint({ notBeforeSec: 900 }))],
    ['a token for another service URL', () => send(identity.mintToken({ serviceUrl: 'https://smba.example.com/' }))],
    ['an unsigned (alg none) token', () => send(none())],
    ['a token that is not a JWT', () => send('not-a-token')],
  ];
}

describe('forged and replayed traffic', () => {
  it(`answers ${SCALE.forgedRequests} forged, stale and tampered deliveries with 401 and changes nothing`, { timeout: FAULT_TIMEOUT_MS }, async () => {
    const before = footprint();
    const forgeries = [...slackForgeries(), ...teamsForgeries()];
    const answered: Record<string, number[]> = {};
    for (let index = 0; index < SCALE.forgedRequests; index += 1) {
      const [what, forge] = forgeries[index % forgeries.length] ?? forgeries[0]!;
      (answered[what] ??= []).push(await forge());
    }
    for (const [what, statuses] of Object.entries(answered)) expect([...new Set(statuses)], what).toEqual([401]);
    expect(footprint()).toEqual(before);
  });

  it(`acts once on one valid command and one valid click replayed ${SCALE.replays} times at once`, { timeout: FAULT_TIMEOUT_MS }, async () => {
    const responseUrl = stack.slack.responseUrl();
    const command = slashCommandBody({ userId: engineerId(1), text: 'request app write for 1h because replayed', triggerId: stack.slack.issueTrigger(), responseUrl });
    const commandHeaders = { ...signSlackRequest(command, SIGNING_SECRET) };
    const commandStatuses = await Promise.all(Array.from({ length: SCALE.replays }, () => post(command, commandHeaders)));
    expect(new Set(commandStatuses)).toEqual(new Set([200]));
    const id = requestIdIn(await stack.answer(responseUrl));
    expect(id).not.toBeNull();
    await eventually(() => stack.rows('SELECT id FROM requests').length >= 1, 'the request');
    expect(stack.rows<{ id: string }>('SELECT id FROM requests WHERE requester = ?', 'eng1@example.com').map((row) => row.id)).toEqual([id]);

    const click = blockActionsBody({ userId: LEAD.id, actionId: 'latch.approve', value: id ?? '', triggerId: stack.slack.issueTrigger(), responseUrl: stack.slack.responseUrl() });
    const clickHeaders = { ...signSlackRequest(click, SIGNING_SECRET) };
    const clickStatuses = await Promise.all(Array.from({ length: SCALE.replays }, () => post(click, clickHeaders)));
    expect(new Set(clickStatuses)).toEqual(new Set([200]));
    await eventually(() => stack.rows<{ state: string }>('SELECT state FROM requests WHERE id = ?', id)[0]?.state === 'active', 'the approved request to be granted', 20_000);
    expect(stack.rows('SELECT id FROM decisions WHERE request_id = ?', id)).toHaveLength(1);
    expect(stack.rows('SELECT id FROM grants WHERE request_id = ?', id)).toHaveLength(1);
    const events = stack.rows<{ type: string }>('SELECT type FROM audit_events WHERE request_id = ?', id).map((event) => event.type);
    expect(events.filter((type) => type === 'request.created')).toHaveLength(1);
    expect(events.filter((type) => type === 'request.approved')).toHaveLength(1);
    expect(events.filter((type) => type === 'grant.granted')).toHaveLength(1);
    expect(await stack.managedRoles()).toHaveLength(1);
  });
});
