import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditReportFromStore } from '../../storage/audit-report.js';
import { orgConfig } from '../support/configs.js';
import { messageActivity, postActivity } from '../support/teams-activities.js';
import { PD, REVIEWED, onCalls } from './emergency-fixtures.js';
import { T, TENANT, closeBoth, startTeamsE2E, type TeamsE2E } from './teams-harness.js';

// Post-incident review: every emergency grant opens a review task for its flow's reviewers,
// who are reminded until one of them acknowledges or flags it; a flag reaches the admins,
// and the audit export says it was an emergency grant and how its review ended (Teams;
// the Slack form and the admins' alert are in emergency-review-slack.test.ts).

const ENV = { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD };
const CHANNEL = '19:incident@thread.tacv2';
const HOUR = 3_600_000;

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

const reviewCards = (env: TeamsE2E, id: string): string[] =>
  (env.connector.activitiesTo(env.personalChat(T.lead)) as Sent[]).map((activity) => json(activity.body)).filter((text) => text.includes(`Review emergency access ${id}`));

describe('post-incident review in Teams', () => {
  it('asks the reviewers at once, reminds them until one acknowledges, and then stops', async () => {
    teams = await startTeamsE2E({ config: orgConfig({ extra: REVIEWED }), env: ENV });
    for (const person of [T.alice, T.lead, T.bob]) await teams.install(person);
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    await postActivity(teams.base, messageActivity({
      from: { id: T.alice.id, aadObjectId: T.alice.aadObjectId, name: T.alice.name }, conversation: { id: CHANNEL, conversationType: 'channel', tenantId: TENANT },
      serviceUrl: teams.connector.serviceUrl, text: 'emergency orders-prod write for 15m because hot fix',
    }), teams.identity.mintToken({ serviceUrl: teams.connector.serviceUrl }));
    const id = (await teams.latch.store.listRequests({ involving: 'alice@example.com' }))[0]?.request.id ?? '';
    expect(reviewCards(teams, id)).toHaveLength(1);
    expect(reviewCards(teams, id)[0]).toContain('"verb":"review.acknowledge"');

    teams.advance(HOUR + 1_000);
    await teams.settle();
    expect(reviewCards(teams, id)).toHaveLength(2); // the first reminder

    // Only a reviewer may review, and it is never the person who had the access.
    const stranger = await teams.act(T.bob, 'review.acknowledge', { requestId: id });
    expect(json(stranger.body)).toContain('You are not a reviewer of emergency flow \\"db-break-glass\\".');
    expect(json(stranger.body)).not.toContain('hot fix');
    const own = await teams.act(T.alice, 'review.acknowledge', { requestId: id });
    expect(json(own.body)).toContain('You cannot review your own emergency access.');

    const done = await teams.act(T.lead, 'review.acknowledge', { requestId: id, comment: 'right call, thanks' });
    expect(json(done.body)).toContain('Acknowledged by lead@example.com: \\"right call, thanks\\"');
    expect(json(done.body)).not.toContain('review.acknowledge');
    expect((await teams.latch.store.getRequest(id))?.request.context?.emergency?.review).toMatchObject({ verdict: 'acknowledged', by: 'lead@example.com', comment: 'right call, thanks' });
    const again = await teams.act(T.lead, 'review.flag', { requestId: id, comment: 'changed my mind' });
    expect(json(again.body)).toContain(`${id} was already acknowledged by lead@example.com.`);

    teams.advance(3 * HOUR);
    await teams.settle();
    expect(reviewCards(teams, id)).toHaveLength(2); // no reminder once reviewed
    const [row] = await auditReportFromStore(teams.latch.store);
    expect(row?.emergency).toMatchObject({ matched: 'oncall:db-primary', review: 'acknowledged', reviewedBy: 'lead@example.com', reviewComment: 'right call, thanks' });
  });
});
