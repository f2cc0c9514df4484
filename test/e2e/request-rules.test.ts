import { afterEach, describe, expect, it } from 'vitest';
import { auditReportFromStore } from '../../storage/audit-report.js';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, closeBoth } from './teams-harness.js';

// Reason rules of a flow, through both chat surfaces: the prompt labels the field, a reason
// that misses the pattern is refused in the field with the flow's own words, and the
// reference becomes a link on the approval cards and in the audit export. Every request
// records the config it was evaluated under.

const RULES = `    justification: required
    reason:
      prompt: Ticket or incident id
      pattern: "^(?<ref>(INC|CHG)-[0-9]+)"
      patternError: Start with the ticket, like INC-123 or CHG-45.
      link: "https://tickets.example.com/browse/{{reference}}"
    timeout: 2h`;

function rulesConfig(): string {
  const base = orgConfig();
  const withRules = base.replace('    justification: required\n    timeout: 2h', RULES);
  if (withRules === base) throw new Error('the org config changed shape: the prod-read flow was not found');
  return withRules;
}

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown>; conversationId?: string };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const LINK = 'https://tickets.example.com/browse/INC-42';

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
afterEach(async () => {
  const rejected = await closeBoth(slack, teams);
  slack = undefined;
  teams = undefined;
  expect(rejected).toEqual([]);
});

describe('reason rules in Slack', () => {
  it('labels the field with the prompt, refuses a reason off the pattern in the field, and links the reference', async () => {
    slack = await startSlackE2E(rulesConfig());
    await slack.command(U.alice, 'request orders-prod read');
    const opened = await slack.slack.waitFor('views.open');
    const blocks = (opened.args.view as { blocks: { block_id?: string; label?: { text: string } }[] }).blocks;
    expect(blocks.find((block) => block.block_id === 'reason')?.label?.text).toBe('Ticket or incident id');

    const values = (reason: string) => ({
      target: { target: { type: 'static_select', selected_option: { value: 'item:orders/orders-prod/read' } } },
      duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
      reason: { reason: { type: 'plain_text_input', value: reason } },
    });
    const refused = await slack.submit(U.alice, 'latch.request', values('checking orders for the report'));
    expect(refused.json).toEqual({ response_action: 'errors', errors: { reason: 'Start with the ticket, like INC-123 or CHG-45.' } });
    expect(await slack.latch.store.listRequests({})).toEqual([]);

    const accepted = await slack.submit(U.alice, 'latch.request', values('INC-42 checking orders'));
    expect(accepted.status).toBe(200);
    expect(accepted.json).toBeNull();
    await slack.settle();
    const [record] = await slack.latch.store.listRequests({});
    const id = record?.request.id ?? '';
    const policy = slack.latch.ctx.current().hash;
    expect(record?.request.policy).toBe(policy);

    const cards = slack.slack.callsTo('chat.postMessage').filter((call: Call) => json(call.args).includes(`Access request ${id}`));
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) {
      expect(json(card.args)).toContain(`INC-42 checking orders\\n<${LINK}|INC-42>`);
      expect(json(card.args)).toContain(`prod-read (policy ${policy.slice(0, 12)})`);
    }

    const [row] = await auditReportFromStore(slack.latch.store);
    expect(row).toMatchObject({ requestId: id, reason: 'INC-42 checking orders', reasonLink: LINK, policy });
  });

  it('answers a typed request whose reason misses the pattern with the flow\'s words, and stores nothing', async () => {
    slack = await startSlackE2E(rulesConfig());
    const { responseUrl } = await slack.command(U.alice, 'request orders-prod read for 1h because looking around');
    const reply = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(String(reply.args.text)).toMatch(/^Start with the ticket, like INC-123 or CHG-45\.\nUsage: /);
    expect(reply.args.response_type).toBe('ephemeral');
    expect(await slack.latch.store.listRequests({})).toEqual([]);
  });
});

describe('reason rules in Teams', () => {
  it('labels the form field, shows the pattern error under it, and links the reference on the approval cards', async () => {
    teams = await startTeamsE2E({ config: rulesConfig() });
    await Promise.all([teams.install(T.alice), teams.install(T.lead), teams.install(T.approver0)]);
    await teams.say(T.alice, 'request orders-prod read');
    const form = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).at(-1);
    expect(json(form?.body)).toContain('"label":"Ticket or incident id"');

    const refused = await teams.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'looking around' });
    const answer = json((refused.body as { value?: unknown }).value);
    expect(answer).toContain('Start with the ticket, like INC-123 or CHG-45.');
    expect(answer).toContain('"value":"looking around"');
    expect(await teams.latch.store.listRequests({})).toEqual([]);

    const accepted = await teams.act(T.alice, 'request.submit', { target: 'item:orders/orders-prod/read', duration: '1h', reason: 'INC-42 checking orders' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(accepted.body))?.[0] ?? '';
    expect(id).not.toBe('');
    await teams.settle();
    const cards = (teams.connector.sent as Sent[]).filter((activity) => json(activity.body).includes(`Access request ${id}`));
    expect(cards.map((activity) => activity.conversationId).sort()).toEqual([teams.personalChat(T.approver0), teams.personalChat(T.lead)].sort());
    for (const card of cards) expect(json(card.body)).toContain(`INC-42 checking orders ([INC-42](${LINK}))`);
  });
});
