// `/access discover` in Slack and the same words in Teams, end to end over the chat doubles,
// against the real local PostgreSQL: admins see the top risks and open one's detail;
// anyone else is refused and sees nothing of it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY_ACTION, detailValue } from '../../cards/slack/discovery.js';
import { asSuperuser, connectAs, randomSuffix } from '../support/postgres.js';
import { startSlackE2E, U, type SlackE2E } from './slack-harness.js';
import { startTeamsE2E, T, type TeamsE2E } from './teams-harness.js';

type Call = { args: Record<string, unknown> };
const suffix = randomSuffix(6);
const roles = { admin: `dchat${suffix}_admin`, reader: `dchat${suffix}_reader`, slackTarget: `dchat${suffix}_st`, teamsTarget: `dchat${suffix}_tt` };
const database = `dchat${suffix}_db`;

const config = `version: 1
settings:
  admins: [sec@example.com, lead@example.com]
identities:
  - { email: alice@example.com }
integrations:
  - name: cluster
    type: postgresql
    owner: sec@example.com
    labels: [production]
    connection: { host: 127.0.0.1, port: 5432, user: postgres, database: postgres }
    resources:
      - { name: shop, settings: { database: ${database} }, permissions: { read: { roles: [pg_read_all_data] } } }
`;

beforeAll(async () => {
  await asSuperuser(async (client) => {
    await client.query(`CREATE DATABASE ${database}`);
    await client.query(`CREATE ROLE ${roles.admin} LOGIN CREATEROLE BYPASSRLS`);
    await client.query(`CREATE ROLE ${roles.reader} LOGIN`);
    await client.query(`CREATE ROLE ${roles.slackTarget} LOGIN CREATEDB CREATEROLE`);
    await client.query(`CREATE ROLE ${roles.teamsTarget} LOGIN CREATEDB CREATEROLE`);
  });
  await asSuperuser(async (client) => {
    await client.query('CREATE TABLE public.orders (id int)');
    await client.query(`GRANT SELECT ON public.orders TO ${roles.reader}`);
  }, database);
});

afterAll(async () => {
  await asSuperuser(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    for (const role of Object.values(roles)) await client.query(`DROP ROLE IF EXISTS ${role}`);
  });
});

describe('/access discover in Slack', () => {
  let slack: SlackE2E;
  afterEach(async () => slack?.close());

  it('shows an admin the top risks with a Details button each, and the detail with the revoke statements and the replacing flow', async () => {
    slack = await startSlackE2E(config);
    const { responseUrl } = await slack.command(U.sec, 'discover');
    const list = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl, 20_000);
    const blocks = JSON.stringify(list.args.blocks);
    expect(String(list.args.text)).toContain('Standing access, riskiest first');
    expect(blocks).toContain(roles.admin);
    expect(blocks).toContain('identity control: CREATEROLE');
    expect(blocks).toContain(DISCOVERY_ACTION.detail);
    // Riskiest first: the scores shown (each row starts with its score in bold) never rise.
    const scores = [...String(blocks).matchAll(/"text":"\*(\d+)\*  `/g)].map((match) => Number(match[1]));
    expect(scores.length).toBeGreaterThan(0);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const buttons = (list.args.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).flatMap((block) => block.elements ?? []);
    expect(buttons.map((button) => button.value)).toContain(detailValue('cluster', roles.admin));

    const click = await slack.click(U.sec, DISCOVERY_ACTION.detail, detailValue('cluster', roles.admin));
    const detail = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl, 20_000);
    const detailBlocks = JSON.stringify(detail.args.blocks);
    expect(detailBlocks).toContain(`ALTER ROLE \\"${roles.admin}\\" NOCREATEROLE;`);
    expect(detailBlocks).toContain(`ALTER ROLE \\"${roles.admin}\\" NOBYPASSRLS;`);
    expect(detailBlocks).toContain('flows:');
    expect(detailBlocks).toContain(`discover remediate ${roles.admin} --integration cluster --confirm`);
  }, 60_000);

  it('refuses someone who is not an admin, the list and the button alike', async () => {
    slack = await startSlackE2E(config);
    const { responseUrl } = await slack.command(U.alice, 'discover');
    const refused = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(refused.args.text).toBe('Only Latch admins can see access discovery.');
    const click = await slack.click(U.alice, DISCOVERY_ACTION.detail, detailValue('cluster', roles.admin));
    const again = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl);
    expect(again.args.text).toBe('Only Latch admins can see access discovery.');
    expect(JSON.stringify(again.args)).not.toContain('CREATEROLE');
  }, 60_000);

  it('names an integration that is not in the config, with the usage', async () => {
    slack = await startSlackE2E(config);
    const { responseUrl } = await slack.command(U.sec, 'discover nope');
    const answer = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    expect(String(answer.args.text)).toContain('There is no integration "nope" in the config');
    expect(String(answer.args.text)).toContain('Usage: `/access discover [INTEGRATION]`');
  }, 60_000);
});

describe('discover in Teams', () => {
  let teams: TeamsE2E;
  afterEach(async () => {
    const rejected = teams?.connector.cardErrors ?? [];
    await teams?.close();
    expect(rejected).toEqual([]);
  });

  it('answers an admin with a valid card of the top risks and opens the detail card on Details', async () => {
    teams = await startTeamsE2E({ config });
    await teams.install(T.lead);
    await teams.say(T.lead, 'discover');
    const sent = await teams.connector.waitFor((activity) => activity.conversationId === teams.personalChat(T.lead) && JSON.stringify(activity.body).includes('Standing access, riskiest first'), 20_000);
    const body = JSON.stringify(sent.body);
    expect(body).toContain(roles.admin);
    expect(body).toContain('discovery.detail');

    const answer = await teams.act(T.lead, 'discovery.detail', { integration: 'cluster', principal: roles.admin });
    const card = JSON.stringify((answer.body as { value?: unknown }).value);
    expect(card).toContain(`ALTER ROLE \\"${roles.admin}\\" NOCREATEROLE;`);
    expect(card).toContain('identity control');
  }, 60_000);

  it('refuses the detail to someone who is not an admin', async () => {
    teams = await startTeamsE2E({ config });
    await teams.install(T.alice);
    const answer = await teams.act(T.alice, 'discovery.detail', { integration: 'cluster', principal: roles.admin });
    const card = JSON.stringify((answer.body as { value?: unknown }).value);
    expect(card).toContain('Only Latch admins can see access discovery.');
    expect(card).not.toContain('CREATEROLE');
  }, 60_000);
});

describe('the scheduled discovery digest', () => {
  let slack: SlackE2E;
  afterEach(async () => slack?.close());

  it('scans every digestEvery through the jobs outbox and writes each admin what changed since the scan before', async () => {
    slack = await startSlackE2E(`${config}discovery:\n  digestEvery: 1h\n`);
    const digestsTo = (user: string): string[] => slack.slack.calls
      .filter((call) => call.method === 'chat.postMessage' && call.args.channel === user && String(call.args.text).startsWith('Access discovery digest'))
      .map((call) => String(call.args.text));
    expect(digestsTo(U.sec)).toEqual([]);

    slack.advance(3_600_000);
    await slack.settle();
    const first = await slack.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).startsWith('Access discovery digest'), 20_000);
    expect(String(first.args.text)).toContain('This is the first scan');
    expect(String(first.args.text)).toContain(roles.admin);
    await slack.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.lead && String(call.args.text).startsWith('Access discovery digest'));

    const newcomer = `dchat${suffix}_new`;
    await asSuperuser((client) => client.query(`CREATE ROLE ${newcomer} LOGIN SUPERUSER`));
    try {
      slack.advance(3_600_000);
      await slack.settle();
      const second = await slack.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).includes(`new: ${newcomer} in cluster`), 20_000);
      expect(String(second.args.text)).toContain('Since the scan of');
      expect(digestsTo(U.sec)).toHaveLength(2);
    } finally {
      await asSuperuser((client) => client.query(`DROP ROLE IF EXISTS ${newcomer}`));
    }
  }, 90_000);
});

describe('activity sampled between scans', () => {
  let slack: SlackE2E;
  afterEach(async () => slack?.close());

  it('samples sessions every sampleEvery through the jobs outbox, so a role connected only between scans is active at the next scan', async () => {
    slack = await startSlackE2E(`${config}discovery:\n  sampleEvery: 1m\n`);
    const session = await connectAs({ user: roles.reader, database });
    try {
      slack.advance(60_000);
      await slack.settle();
    } finally {
      await session.end();
    }
    const click = await slack.click(U.sec, DISCOVERY_ACTION.detail, detailValue('cluster', roles.reader));
    const detail = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl, 20_000);
    const text = JSON.stringify(detail.args.blocks);
    expect(text).toContain('active: last used less than an hour ago');
    expect(text).not.toContain('never seen');
  }, 60_000);
});

async function attributes(role: string): Promise<{ createdb: boolean; createrole: boolean }> {
  return asSuperuser(async (client) => (await client.query<{ createdb: boolean; createrole: boolean }>('SELECT rolcreatedb AS createdb, rolcreaterole AS createrole FROM pg_roles WHERE rolname = $1', [role])).rows[0]!);
}

describe('revoking from chat', () => {
  let slack: SlackE2E | undefined;
  let teams: TeamsE2E | undefined;
  afterEach(async () => {
    await slack?.close();
    const rejected = teams?.connector.cardErrors ?? [];
    await teams?.close();
    slack = undefined;
    teams = undefined;
    expect(rejected).toEqual([]);
  });

  it('Slack: the detail offers Revoke behind Slack\'s confirmation; an admin\'s click revokes in PostgreSQL, audited, and discover undo restores', async () => {
    const e2e = slack = await startSlackE2E(config);
    const opened = await e2e.click(U.sec, DISCOVERY_ACTION.detail, detailValue('cluster', roles.slackTarget));
    const detail = await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === opened.responseUrl, 20_000);
    const button = (detail.args.blocks as { block_id?: string; elements?: { action_id: string; confirm?: { title: { text: string } } }[] }[])
      .find((block) => block.block_id === 'discovery:remediate')?.elements?.[0];
    expect(button?.action_id).toBe(DISCOVERY_ACTION.remediate);
    expect(button?.confirm?.title.text).toBe('Revoke standing access?');

    const stranger = await e2e.click(U.alice, DISCOVERY_ACTION.remediate, detailValue('cluster', roles.slackTarget));
    expect((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === stranger.responseUrl)).args.text).toBe('Only Latch admins can see access discovery.');
    expect(await attributes(roles.slackTarget)).toEqual({ createdb: true, createrole: true });

    const click = await e2e.click(U.sec, DISCOVERY_ACTION.remediate, detailValue('cluster', roles.slackTarget));
    const done = String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl, 20_000)).args.text);
    expect(done).toContain(`Revoked the standing access of ${roles.slackTarget} in cluster (2 changes)`);
    expect(await attributes(roles.slackTarget)).toEqual({ createdb: false, createrole: false });
    const id = /recorded as (DR-[0-9A-Z]{8})/.exec(done)![1]!;
    const remediated = (await e2e.latch.store.auditEvents({})).find((event) => event.type === 'discovery.remediated');
    expect(remediated).toMatchObject({ actor: 'sec@example.com', data: { remediation: id, principal: roles.slackTarget } });

    const { responseUrl } = await e2e.command(U.sec, `discover undo ${id}`);
    expect(String((await e2e.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl, 20_000)).args.text)).toContain(`Restored what ${id} removed from ${roles.slackTarget}`);
    expect(await attributes(roles.slackTarget)).toEqual({ createdb: true, createrole: true });
  }, 60_000);

  it('Teams: Revoke answers with a confirmation card, whose Revoke revokes; Cancel goes back to the detail', async () => {
    const e2eTeams = teams = await startTeamsE2E({ config });
    await e2eTeams.install(T.lead);
    const ask = await e2eTeams.act(T.lead, 'discovery.remediate.ask', { integration: 'cluster', principal: roles.teamsTarget });
    const confirm = JSON.stringify((ask.body as { value?: unknown }).value);
    // Teams markdown: the "_" in the name is escaped.
    expect(confirm).toContain(`Revoke the standing access of ${roles.teamsTarget.replace('_', '\\\\_')} in cluster?`);
    expect(confirm).toContain('"verb":"discovery.remediate"');
    expect(await attributes(roles.teamsTarget)).toEqual({ createdb: true, createrole: true });

    const cancel = await e2eTeams.act(T.lead, 'discovery.detail', { integration: 'cluster', principal: roles.teamsTarget });
    expect(JSON.stringify((cancel.body as { value?: unknown }).value)).toContain('Revoking would run');

    const revoke = await e2eTeams.act(T.lead, 'discovery.remediate', { integration: 'cluster', principal: roles.teamsTarget });
    const answer = JSON.stringify((revoke.body as { value?: unknown }).value);
    expect(answer).toContain(`Revoked the standing access of ${roles.teamsTarget.replace('_', '\\\\_')} in cluster`);
    expect(await attributes(roles.teamsTarget)).toEqual({ createdb: false, createrole: false });
    const id = /(DR-[0-9A-Z]{8})/.exec(answer)![1]!;
    await e2eTeams.say(T.lead, `discover undo ${id}`);
    await e2eTeams.connector.waitFor((activity) => JSON.stringify(activity.body).includes(`Restored what ${id} removed`), 20_000);
    expect(await attributes(roles.teamsTarget)).toEqual({ createdb: true, createrole: true });
  }, 60_000);
});
