import { afterEach, describe, expect, it } from 'vitest';
import { auditReportFromStore, reportToCsv } from '../../storage/audit-report.js';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E, replyTo } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, closeBoth } from './teams-harness.js';

// Automatic decisions as ordered rules: a matching rule approves or denies at once, a
// matching deny wins over an approve, and the rule is named on the card, in the requester's
// answer and in the audit log.

const RULES = `autoDecisions:
  - name: production reads
    decision: approve
    reason: reads are low risk
    when: { permissions: [read], labels: [production], maxDuration: 2h }
  - name: no production at night
    decision: deny
    reason: Production is closed from 22:00 to 06:00 Berlin time; page the on-call lead.
    when:
      labels: [production]
      window: { days: [sun, mon, tue, wed, thu, fri, sat], from: "22:00", to: "06:00", timeZone: Europe/Berlin }`;

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

/** How far ahead of now the clock must run to stand at the next HH:MM in Berlin. */
function offsetTo(hour: number, minute = 0): number {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const start = Math.ceil(Date.now() / 60_000) * 60_000;
  for (let at = start; at < start + 2 * 86_400_000; at += 60_000) {
    if (format.format(new Date(at)) === `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`) return at - Date.now();
  }
  throw new Error('no such time in the next two days');
}

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
afterEach(async () => {
  const rejected = await closeBoth(slack, teams);
  slack = undefined;
  teams = undefined;
  expect(rejected).toEqual([]);
});

describe('automatic decisions in Slack', () => {
  it('approves by rule in the day, names the rule, asks no approver, and records it', async () => {
    slack = await startSlackE2E(orgConfig({ extra: RULES }));
    slack.advance(offsetTo(11));
    const answer = await replyTo(slack, U.alice, 'request orders-prod read for 1h because INC-42 checking orders');
    expect(answer).toMatch(/^Approved automatically by rule "production reads": AR-[0-9A-Z]{8}\. /);
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    await slack.settle();
    await slack.settle();
    expect((await slack.latch.store.getRequest(id))?.request.state).toBe('active');
    expect(slack.slack.callsTo('chat.postMessage').filter((call: Call) => json(call.args).includes(`Access request ${id}`))).toEqual([]);
    const approved = (await slack.latch.store.auditEvents({ requestId: id })).find((event) => event.type === 'request.approved');
    expect(approved).toMatchObject({ actor: 'latch', data: { automatic: true, rule: 'production reads', comment: 'reads are low risk' } });

    // A longer request is outside the rule: people decide it.
    const longer = await replyTo(slack, U.bob, 'request orders-prod read for 3h because INC-43');
    expect(longer).toMatch(/^Sent for approval: /);
  });

  it('denies by rule at night even though an approve rule matches too, and tells the requester why', async () => {
    slack = await startSlackE2E(orgConfig({ extra: RULES }));
    slack.advance(offsetTo(23, 30));
    const answer = await replyTo(slack, U.alice, 'request orders-prod read for 1h because INC-42 checking orders');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    expect(answer).toBe(`Denied automatically by rule "no production at night": Production is closed from 22:00 to 06:00 Berlin time; page the on-call lead. Request ${id}; nothing was granted.`);
    await slack.settle();
    const record = await slack.latch.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'denied', decidedBy: 'latch' });
    expect(slack.provisioner.held.size).toBe(0);
    const dm = slack.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.alice && json(call.args).includes('was denied'));
    expect(json(dm?.args)).toContain('no production at night');
    const [row] = await auditReportFromStore(slack.latch.store);
    expect(row).toMatchObject({ requestId: id, decision: 'denied', automatic: true, rule: 'no production at night' });
    expect(reportToCsv(row ? [row] : [])).toContain('denied automatically by rule ""no production at night""');
    // Staging is not production: the night rule leaves it alone.
    expect(await replyTo(slack, U.alice, 'request orders-staging read for 1h')).toMatch(/^Approved automatically: /);
  });
});

describe('automatic decisions in Teams', () => {
  it('answers the form at night with the deny rule that decided, and says so in the requester\'s chat', async () => {
    teams = await startTeamsE2E({ config: orgConfig({ extra: RULES }), clockOffsetMs: offsetTo(23, 30) });
    await teams.install(T.alice);
    const denied = await teams.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-42 checking orders' });
    expect(json(denied.body)).toContain('Denied automatically by rule \\"no production at night\\"');
    await teams.settle();
    const told = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).map((activity) => json(activity.body)).find((text) => text.includes('was denied'));
    expect(told).toContain('no production at night');
  });
});
