import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditReportFromStore, reportToCsv } from '../../storage/audit-report.js';
import { orgConfig } from '../support/configs.js';
import { PD, REVIEWED, onCalls } from './emergency-fixtures.js';
import { U, commandReply, startSlackE2E, type SlackE2E } from './slack-harness.js';

// The post-incident review in Slack: Flag opens a form for the comment, the flag reaches
// the admins, the review message loses its buttons, and the export records the outcome.

const ENV = { PAGERDUTY_TOKEN: 'pd-token-0123456789', PAGERDUTY_API_URL: PD };

type Call = { method: string; args: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);

let slack: SlackE2E | undefined;
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(async () => {
  await slack?.close();
  slack = undefined;
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('post-incident review in Slack', () => {
  it('flags with a comment through the form, tells the admins, and marks the export', async () => {
    slack = await startSlackE2E(orgConfig({ extra: REVIEWED }), { env: ENV });
    nock(PD).get('/oncalls').query(true).reply(200, onCalls('alice@example.com'));
    const id = /AR-[0-9A-Z]{8}/.exec(String((await commandReply(slack, U.alice, 'emergency orders-prod write for 15m because hot fix')).args.text))?.[0] ?? '';
    const task = slack.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.lead && String(call.args.text).startsWith(`Review emergency access ${id}`));
    expect(json(task?.args.blocks)).toContain('latch.review_flag');

    await slack.click(U.lead, 'latch.review_flag', id, { channel: slack.slack.channelOf(task) ?? '', ts: slack.slack.tsOf(task) ?? '' });
    const opened = await slack.slack.waitFor('views.open', (call: Call) => json(call.args).includes('latch.review'));
    expect(json(opened.args)).toContain(`flagged|${id}`);
    const empty = await slack.submit(U.lead, 'latch.review', { review_comment: { comment: { type: 'plain_text_input', value: '' } } }, `flagged|${id}`);
    expect(json(empty.json)).toContain('Say what is wrong when you flag an emergency grant');
    const flagged = await slack.submit(U.lead, 'latch.review', { review_comment: { comment: { type: 'plain_text_input', value: 'no incident was open' } } }, `flagged|${id}`);
    expect(flagged.status).toBe(200);
    await slack.settle();

    const alert = await slack.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).startsWith(`FLAGGED: the review of emergency access ${id}`));
    expect(String(alert.args.text)).toContain('lead@example.com: "no incident was open"');
    // The review message itself now shows the outcome, without buttons.
    const updated = slack.slack.callsTo('chat.update').filter((call: Call) => call.args.ts === slack?.slack.tsOf(task)).at(-1);
    expect(json(updated?.args.blocks)).toContain('Flagged by lead@example.com');
    expect(json(updated?.args.blocks)).not.toContain('latch.review_flag');
    const csv = reportToCsv(await auditReportFromStore(slack.latch.store));
    expect(csv).toContain('emergency access without approval (oncall:db-primary); review: flagged by lead@example.com (no incident was open)');
  });
});
