import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { messageActivity, postActivity } from '../support/teams-activities.js';
import { EMERGENCY, PD, onCalls } from './emergency-fixtures.js';
import { T, TENANT, closeBoth, startTeamsE2E, type TeamsE2E, type TeamsPerson } from './teams-harness.js';

// The same words to the Teams bot, in the incident channel by @mention: the on-call
// engineer's access is granted before the bot answers, and the channel gets an Adaptive
// Card announcement (validated like Teams would) with "Revoke now".

const CHANNEL = '19:incident@thread.tacv2';

type Sent = { body: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

let teams: TeamsE2E | undefined;
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  const rejected = await closeBoth(undefined, teams);
  teams = undefined;
  nock.cleanAll();
  nock.enableNetConnect();
  expect(rejected).toEqual([]);
});

/** A message @mentioning the bot in the incident channel (Teams threads it under a root message). */
async function sayInChannel(env: TeamsE2E, person: TeamsPerson, words: string): Promise<number> {
  const activity = messageActivity({
    from: { id: person.id, aadObjectId: person.aadObjectId, name: person.name },
    conversation: { id: `${CHANNEL};messageid=1700000000000`, conversationType: 'channel', tenantId: TENANT },
    serviceUrl: env.connector.serviceUrl,
    text: words,
  });
  return (await postActivity(env.base, activity, env.identity.mintToken({ serviceUrl: env.connector.serviceUrl }))).status;
}

describe('Teams: emergency', () => {
  it('grants the on-call engineer in the channel and announces it with a valid card and Revoke now', async () => {
    teams = await startTeamsE2E({ config: orgConfig({ extra: EMERGENCY }), env: { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD } });
    await teams.install(T.alice);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    expect(await sayInChannel(teams, T.alice, 'emergency orders-prod write for 20m because payments queue is stuck incident Q7TRAFFIC')).toBeLessThan(300);

    const inChannel = (teams.connector.activitiesTo(CHANNEL) as Sent[]).concat(teams.connector.activitiesTo(`${CHANNEL};messageid=1700000000000`) as Sent[]).map((activity) => json(activity.body));
    const answer = inChannel.find((text) => text.includes('Emergency access granted'));
    expect(answer).toMatch(/Emergency access granted: write on orders\/orders-prod until .* \(AR-[0-9A-Z]{8}\)/);
    const id = /AR-[0-9A-Z]{8}/.exec(answer ?? '')?.[0] ?? '';
    const record = await teams.latch.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'active', flow: 'db-break-glass', durationMs: 1_200_000 });
    expect(record?.request.context?.emergency).toMatchObject({ channel: { platform: 'teams', id: CHANNEL }, incident: { provider: 'pagerduty', id: 'Q7TRAFFIC' } });
    expect(record?.grants.map((grant) => grant.state)).toEqual(['active']);
    expect((await teams.latch.store.auditEvents({ requestId: id })).some((event) => event.type === 'grant.granted')).toBe(true);

    const card = inChannel.find((text) => text.includes('EMERGENCY ACCESS'));
    expect(card).toContain('payments queue is stuck');
    expect(card).toMatch(/"title":"Incident","value":"Q7TRAFFIC \\\\\(PagerDuty\\\\\)"/);
    expect(card).toContain('"verb":"revoke"');
    // The security channel gets the security notice (a card of its own, valid for Teams too).
    const security = (teams.connector.activitiesTo('19:security@thread.tacv2') as Sent[]).map((activity) => json(activity.body));
    expect(security.some((text) => text.includes(`SECURITY NOTICE: break-glass access ${id}`) && text.includes('"verb":"revoke"'))).toBe(true);
    expect(card).not.toContain('SECURITY NOTICE');
    const credentials = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).map((activity) => json(activity.body));
    expect(credentials.some((text) => text.includes(`Access granted: ${id}`))).toBe(true);
  });

  it('refuses someone not on call in the bot chat, naming the schedule', async () => {
    teams = await startTeamsE2E({ config: orgConfig({ extra: EMERGENCY }), env: { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD } });
    await teams.install(T.bob);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    await teams.say(T.bob, 'emergency orders-prod write because curious');
    const said = (teams.connector.activitiesTo(teams.personalChat(T.bob)) as Sent[]).map((activity) => json(activity.body));
    expect(said.some((text) => text.includes('is for people on call for \\"db-primary\\", and you are not right now.'))).toBe(true);
    expect(await teams.latch.store.listRequests({ involving: 'bob@example.com' })).toEqual([]);
  });
});
