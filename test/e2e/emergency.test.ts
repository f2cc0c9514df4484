import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';
import { EMERGENCY, onCalls } from './emergency-fixtures.js';
import { SIGNING_SECRET, U, commandReply, startSlackE2E, type SlackE2E } from './slack-harness.js';

// Emergency (break-glass) access in Slack, end to end: PagerDuty says who is on call
// (faked with nock, in the shape its REST API v2 answers); the on-call engineer gets the
// access within the same slash command, it is announced in the channel and to security with
// "Revoke now"; anyone else is refused with the schedule named; a PagerDuty outage degrades
// to its last answer for a bounded time; the daily limit trips with an admin alert.

const PD = 'https://pd.test';
const ENV = { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD };

type Call = { method: string; args: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

let e2e: SlackE2E | undefined;
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
  nock.cleanAll();
  nock.enableNetConnect();
});

async function start(): Promise<SlackE2E> {
  e2e = await startSlackE2E(orgConfig({ extra: EMERGENCY }), { env: ENV });
  return e2e;
}

const idIn = (text: string): string => /AR-[0-9A-Z]{8}/.exec(text)?.[0] ?? '';
const announcements = (env: SlackE2E, channel: string): Call[] => env.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === channel && String(call.args.text).startsWith('EMERGENCY ACCESS'));

describe('Slack: /access emergency', () => {
  it('grants the on-call engineer at once, announces it with Revoke now, and lets a lead revoke it', async () => {
    const env = await start();
    const pagerduty = nock(PD).get('/oncalls').query((query) => query['schedule_ids[]'] === 'PSCHED1' && query['include[]'] === 'users').reply(200, onCalls('alice@example.com'));
    const reply = await commandReply(env, U.alice, 'emergency orders-prod write for 30m because checkout is failing, rolling back a migration');
    const text = String(reply.args.text);
    expect(text).toMatch(/^Emergency access granted: write on orders\/orders-prod until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \(AR-[0-9A-Z]{8}\)\. Your credentials are in your direct messages\./);
    expect(pagerduty.isDone()).toBe(true);
    const id = idIn(text);

    // Granted within the same command: the backend holds it, the store says active, the audit trail says emergency.
    expect([...env.provisioner.held.values()].filter((held) => held.requestId === id)).toHaveLength(1);
    const record = await env.latch.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'active', flow: 'db-break-glass', decidedBy: 'latch', reason: 'checkout is failing, rolling back a migration', durationMs: 1_800_000 });
    expect(record?.request.context?.emergency).toMatchObject({ flow: 'db-break-glass', matched: 'oncall:db-primary', onCall: { schedule: 'db-primary', state: 'fresh' }, channel: { platform: 'slack', id: 'C0ALL' } });
    const events = await env.latch.store.auditEvents({ requestId: id });
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['request.created', 'request.approved', 'grant.granted']));
    expect(events.find((event) => event.type === 'request.approved')).toMatchObject({ actor: 'latch', data: { automatic: true, emergency: true, matched: 'oncall:db-primary' } });

    // Announced where it was asked and, loudly, to security; credentials only by DM.
    const [card] = announcements(env, 'C0ALL');
    expect(json(card?.args.blocks)).toContain('EMERGENCY ACCESS');
    expect(json(card?.args.blocks)).toContain('checkout is failing, rolling back a migration');
    expect(json(card?.args.blocks)).toContain('on call for \\"db-primary\\"');
    expect(json(card?.args.blocks)).toContain('Until');
    expect(json(card?.args.blocks)).toContain('"action_id":"latch.revoke"');
    // Security hears of it distinctly: a security notice that calls the channel, not the plain announcement.
    const notices = env.slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === 'C0SECURITY' && !call.args.thread_ts);
    expect(notices).toHaveLength(1);
    expect(String(notices[0]?.args.text)).toMatch(/^SECURITY NOTICE: alice@example.com took write on orders\/orders-prod for 30m without approval/);
    expect(json(notices[0]?.args.blocks)).toContain('<!here>');
    expect(json(notices[0]?.args.blocks)).toContain('"action_id":"latch.revoke"');
    expect(json(card?.args.blocks)).not.toContain('<!here>');
    expect(env.slack.callsTo('chat.postMessage').some((call: Call) => call.args.channel === U.alice && json(call.args).includes('psql -h'))).toBe(true);

    expect(String((await commandReply(env, U.alice, `extend ${id} 30m`)).args.text)).toBe(`${id} is emergency access, which cannot be extended; ask for emergency access again (it is announced and counts against the daily limit), or request access the usual way.`);

    // Someone who is neither the grantee, a lead nor an admin cannot end it from the card.
    const posted = { channel: env.slack.channelOf(card) ?? '', ts: env.slack.tsOf(card) ?? '' };
    const refused = await env.click(U.bob, 'latch.revoke', id, posted);
    const refusal = await env.slack.waitFor('response_url', (call: Call) => call.args.url === refused.responseUrl);
    expect(String(refusal.args.text)).toContain("only the person who has the access, the emergency flow's leads or an admin can");
    expect((await env.latch.store.getRequest(id))?.request.state).toBe('active');

    const revoked = await env.click(U.lead, 'latch.revoke', id, posted);
    expect(String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === revoked.responseUrl)).args.text)).toBe(`Revoking ${id} now.`);
    await env.settle();
    expect((await env.latch.store.getRequest(id))?.request).toMatchObject({ state: 'revoked', endedBy: 'lead@example.com' });
    expect([...env.provisioner.held.values()].filter((held) => held.requestId === id)).toHaveLength(0);
  });

  it('refuses someone not on call, naming the schedule and the usual way, and changes nothing', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    const reply = String((await commandReply(env, U.bob, 'emergency orders-prod because I want to look around')).args.text);
    expect(reply).toBe('Emergency access to orders-prod write is for people on call for "db-primary", and you are not right now. Ask for it the usual way: `request orders-prod write because ...`.');
    expect(await env.latch.store.listRequests({ involving: 'bob@example.com' })).toEqual([]);
    expect(env.provisioner.held.size).toBe(0);
    const refused = (await env.latch.store.auditEvents({})).filter((event) => event.type === 'emergency.refused');
    expect(refused).toMatchObject([{ actor: 'bob@example.com', data: { reason: 'not_on_call' } }]);
  });

  it('refuses outside the channels the flow names, and a duration over its maximum', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).times(2).reply(200, onCalls('alice@example.com'));
    const responseUrl = env.slack.responseUrl();
    await postToSlackEvents(env.base, slashCommandBody({ userId: U.alice, text: 'emergency orders-prod write because db down', triggerId: env.slack.issueTrigger(), responseUrl, channelId: 'C0RANDOM' }), SIGNING_SECRET);
    const wrong = await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(String(wrong.args.text)).toBe('Emergency access of "db-break-glass" can only be asked for in <#C0ALL> or the Teams channel 19:incident@thread.tacv2, where it is announced. Ask there.');
    expect(String((await commandReply(env, U.alice, 'emergency orders-prod write for 4h because db down')).args.text)).toBe('Emergency access lasts at most 1h; ask for 1h or less.');
    expect(env.provisioner.held.size).toBe(0);
  });

  it('uses PagerDuty\'s last answer while it is down, for at most staleFor, and then refuses saying why', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    const first = idIn(String((await commandReply(env, U.alice, 'emergency orders-prod write for 10m because replica lag')).args.text));
    expect((await env.latch.store.getRequest(first))?.request.state).toBe('active');

    env.advance(2 * 60_000); // past cacheFor: PagerDuty is asked again, and fails
    nock(PD).get('/oncalls').query(true).times(2).reply(503, { error: { message: 'Service Unavailable', code: 2001 } });
    const second = idIn(String((await commandReply(env, U.alice, 'emergency orders-prod write for 10m because replica lag again')).args.text));
    const record = await env.latch.store.getRequest(second);
    expect(record?.request.state).toBe('active');
    expect(record?.request.context?.emergency?.onCall).toMatchObject({ schedule: 'db-primary', state: 'stale' });
    const health = await (await fetch(`${env.base}/healthz?details=1`)).json() as { schedules: unknown[] };
    expect(health.schedules).toEqual([expect.objectContaining({ schedule: 'db-primary', state: 'stale', error: expect.stringContaining('PagerDuty answered 503') })]);
    env.advance(10 * 60_000); // past staleFor: the last answer is too old to trust
    nock(PD).get('/oncalls').query(true).replyWithError('getaddrinfo ENOTFOUND pd.test');
    const refused = String((await commandReply(env, U.alice, 'emergency orders-prod write for 10m because still lagging')).args.text);
    expect(refused).toMatch(/^Latch cannot tell who is on call for "db-primary" \(pagerduty: PagerDuty could not be reached: .*\) right now, so it cannot grant emergency access\. Ask for it the usual way: `request orders-prod write because \.\.\.`\.$/);
  });

  it('stops at the daily limit and alerts the admins', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    for (const reason of ['first fix', 'second fix']) {
      expect(String((await commandReply(env, U.alice, `emergency orders-prod write for 5m because ${reason}`)).args.text)).toMatch(/^Emergency access granted/);
    }
    const third = String((await commandReply(env, U.alice, 'emergency orders-prod write for 5m because third fix')).args.text);
    expect(third).toBe('You have had 2 emergency grant(s) of "db-break-glass" in the last 24 hours, the most it allows. The admins were told; ask for access the usual way with `request`.');
    const alert = await env.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).startsWith('Emergency access limit reached'));
    expect(String(alert.args.text)).toContain('alice@example.com asked for emergency access (orders-prod write) after 2 grants within 24 hours in flow "db-break-glass" (its limit is 2) and was refused. Reason given: third fix');
    expect((await env.latch.store.listRequests({ involving: 'alice@example.com' })).filter((entry) => entry.request.context?.emergency)).toHaveLength(2);
  });

  it('notes the grant on the PagerDuty incident with the From header, retries through the outbox, and notes its end', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    nock(PD).get('/incidents/Q1ABC2DEF').reply(200, { incident: { id: 'Q1ABC2DEF', type: 'incident', incident_number: 4242, title: 'Checkout 5xx', status: 'acknowledged', urgency: 'high' } });
    const notes: { from: string | string[] | undefined; body: unknown }[] = [];
    nock(PD).post('/incidents/Q1ABC2DEF/notes').reply(500, { error: { message: 'Internal Server Error', code: 2001 } });
    nock(PD).post('/incidents/Q1ABC2DEF/notes').times(2).reply(201, function (_uri, body) {
      notes.push({ from: this.req.headers.from, body });
      return { note: { id: `PNOTE${notes.length}`, user: { id: 'PUSER00', type: 'user_reference' }, content: 'x', created_at: '2026-12-01T10:00:00Z' } };
    });
    const text = String((await commandReply(env, U.alice, 'emergency orders-prod write for 30m because checkout 5xx incident Q1ABC2DEF')).args.text);
    const id = idIn(text);
    expect((await env.latch.store.getRequest(id))?.request.context?.emergency?.incident).toEqual({ provider: 'pagerduty', id: 'Q1ABC2DEF', open: true });
    // The first attempt failed; the outbox tries again after its backoff.
    for (let round = 0; round < 5 && notes.length === 0; round += 1) {
      env.advance(6 * 60_000);
      await env.settle();
    }
    expect(notes).toHaveLength(1);
    expect(notes[0]?.from).toBe('alice@example.com');
    const content = String((notes[0]?.body as { note: { content: string } }).note.content);
    expect(content).toMatch(new RegExp(`^Latch: emergency access granted to alice@example.com, on call for db-primary: write on orders/orders-prod for 30m until .* UTC\\. Reason: checkout 5xx\\. Request ${id}; it is reviewed afterwards\\.$`));

    expect(String((await commandReply(env, U.alice, `revoke ${id} because fixed`)).args.text)).toBe(`Revoking ${id} now.`);
    await env.settle();
    await env.settle();
    expect(notes).toHaveLength(2);
    expect(String((notes[1]?.body as { note: { content: string } }).note.content)).toMatch(new RegExp(`^Latch: emergency access ${id} of alice@example.com \\(write on orders/orders-prod for 30m\\) was revoked by alice@example.com at `));
    const noted = (await env.latch.store.auditEvents({ requestId: id })).filter((event) => event.type === 'incident.noted').map((event) => event.data.moment);
    expect(noted).toEqual(['granted', 'ended']);
  });

  it('alerts the admins when emergency access names an incident that is not open', async () => {
    const env = await start();
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    nock(PD).get('/incidents/QOLD1').reply(200, { incident: { id: 'QOLD1', type: 'incident', status: 'resolved' } });
    nock(PD).post('/incidents/QOLD1/notes').reply(201, { note: { id: 'PNOTE1' } });
    const id = idIn(String((await commandReply(env, U.alice, 'emergency orders-prod write for 5m because cleanup incident QOLD1')).args.text));
    expect((await env.latch.store.getRequest(id))?.request.state).toBe('active');
    const alert = await env.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).startsWith(`Emergency access ${id}`));
    expect(String(alert.args.text)).toContain('for pagerduty incident QOLD1, which is not open');
  });

  it('reads an Opsgenie schedule and notes the grant on the Opsgenie alert', async () => {
    const OG = 'https://og.test';
    const config = orgConfig({ extra: EMERGENCY.replace('    pagerduty: { schedule: PSCHED1 }', '    opsgenie: { schedule: 3f1c7d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f }') });
    e2e = await startSlackE2E(config, { env: { OPSGENIE_API_KEY: 'og-key-0123456789', OPSGENIE_API_URL: OG } });
    nock(OG).get('/v2/schedules/3f1c7d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f/on-calls').query({ scheduleIdentifierType: 'id', flat: 'false' }).reply(200, {
      data: { _parent: { id: '3f1c7d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f', name: 'db_primary', enabled: true }, onCallParticipants: [{ id: 'b3578948-55b3-4acc-9bf1-2ce2db3a0001', name: 'alice@example.com', type: 'user' }] },
      took: 0.11, requestId: '6b2d1a10-0000-4000-8000-000000000001',
    });
    nock(OG).get('/v2/alerts/1042').query({ identifierType: 'tiny' }).reply(200, { data: { id: '70413a06-38d6-4c85-92b8-5ebc900d42e2', tinyId: '1042', status: 'open' }, took: 0.05, requestId: 'r2' });
    const notes: unknown[] = [];
    nock(OG).post('/v2/alerts/1042/notes').query({ identifierType: 'tiny' }).reply(202, (_uri, body) => {
      notes.push(body);
      return { result: 'Request will be processed', took: 0.2, requestId: 'r3' };
    });
    const id = idIn(String((await commandReply(e2e, U.alice, 'emergency orders-prod write for 10m because queue stuck incident 1042')).args.text));
    expect((await e2e.latch.store.getRequest(id))?.request.context?.emergency?.incident).toEqual({ provider: 'opsgenie', id: '1042', open: true });
    for (let round = 0; round < 3 && notes.length === 0; round += 1) {
      e2e.advance(2_000);
      await e2e.settle();
    }
    expect(notes).toEqual([{ user: 'alice@example.com', source: 'Latch', note: expect.stringMatching(new RegExp(`^Latch: emergency access granted to alice@example.com, on call for db-primary: write on orders/orders-prod for 10m until .*\\. Reason: queue stuck\\. Request ${id}; it is reviewed afterwards\\.$`)) }]);
  });
});
