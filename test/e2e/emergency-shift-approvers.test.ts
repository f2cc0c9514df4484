import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { orgConfig } from '../support/configs.js';
import { PD, onCalls } from './emergency-fixtures.js';
import { T, closeBoth, startTeamsE2E, type TeamsE2E } from './teams-harness.js';

// Shift approvers: a flow's approval step names an on-call schedule. The card goes to whoever
// PagerDuty says is on call when the request is made; when the shift changes hands while the
// request waits, the periodic check routes it to the new person, and the one who handed over
// can no longer decide.

const SHIFT = `  - name: shift-read
    requesters: [group:engineers]
    access:
      - { integration: orders, resources: { names: [shift-db] }, permissions: [read] }
    approval:
      steps:
        - approvers: [oncall:db-primary]
    duration: { default: 1h, max: 2h }
    justification: required
schedules:
  - name: db-primary
    pagerduty: { schedule: PSCHED1 }
    cacheFor: 30s
    staleFor: 10m`;

const CONFIG = orgConfig({ extra: SHIFT }).replace('      - { name: broken-db,', '      - { name: shift-db, permissions: [read] }\n      - { name: broken-db,');

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

const cardsFor = (env: TeamsE2E, person: (typeof T)[keyof typeof T], id: string): string[] =>
  (env.connector.activitiesTo(env.personalChat(person)) as Sent[]).map((activity) => json(activity.body)).filter((text) => text.includes(`Access request ${id}`));

describe('shift approvers', () => {
  it('sends the card to whoever is on call, and re-routes it when the shift hands over', async () => {
    teams = await startTeamsE2E({ config: CONFIG, env: { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD } });
    for (const person of [T.bob, T.lead, T.approver0]) await teams.install(person);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('lead@example.com'));
    await teams.say(T.bob, 'request shift-db read for 1h because checking the replica');
    const told = (teams.connector.activitiesTo(teams.personalChat(T.bob)) as Sent[]).map((activity) => json(activity.body)).join('\n');
    const id = /AR-[0-9A-Z]{8}/.exec(told)?.[0] ?? '';
    expect(told).toContain(`Sent for approval: ${id}`);
    await teams.settle();
    expect(cardsFor(teams, T.lead, id)).toHaveLength(1);
    expect(cardsFor(teams, T.approver0, id)).toHaveLength(0);

    // Nothing changed at the first check: nobody new gets a card.
    teams.advance(61_000);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('lead@example.com'));
    await teams.settle();
    expect(cardsFor(teams, T.approver0, id)).toHaveLength(0);

    // PagerDuty hands the shift to approver0: the next check routes the card to them.
    teams.advance(61_000);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('approver0@example.com'));
    await teams.settle();
    expect(cardsFor(teams, T.approver0, id)).toHaveLength(1);
    const rerouted = (await teams.latch.store.auditEvents({ requestId: id })).filter((event) => event.type === 'approval.rerouted');
    expect(rerouted).toMatchObject([{ actor: 'latch', data: { schedules: ['db-primary'], added: ['approver0@example.com'], removed: ['lead@example.com'] } }]);

    // The one who handed over is refused; the one on call now decides.
    const late = await teams.act(T.lead, 'approve', { requestId: id });
    expect(json(late.body)).toContain('You are not an approver for step 1 of this request.');
    expect((await teams.latch.store.getRequest(id))?.request.state).toBe('pending');
    await teams.act(T.approver0, 'approve', { requestId: id });
    await teams.settle();
    expect((await teams.latch.store.getRequest(id))?.request).toMatchObject({ state: 'active', decidedBy: 'approver0@example.com' });
  });
});
