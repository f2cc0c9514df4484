import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import type { AuditEvent } from '../../storage/store.js';
import {
  ACCOUNT, CONNECTOR_ACCOUNT, fakeConnectRole, describeDbInstancesResult, FakeRolePolicies, fakeQueryService,
  listTagsResult, QueryLog, queryError, RDS_NS, useFakeAwsEnvironment, type FakeRdsInstance, type QueryCall,
} from '../support/aws.js';
import { eventually } from '../support/harness.js';
import { createTestDatabase, PG_HOST, PG_PORT, PG_SUPERUSER, type TestDatabase } from '../support/postgres.js';
import { useRdsIamStandIn, type RdsIamStandIn } from '../support/rds-iam-stand-in.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { blockActionsBody, postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';

// RDS discovery inside a running Latch: the rds_discovery job lists a fake RDS in two
// regions, the instances it finds become requestable through a signed /access request,
// and the grant lands in the local PostgreSQL (standing in for the instance, with a
// stand-in rds_iam role). An instance that loses its tags stops being offered while its
// live grant is still revoked at expiry; a region that fails keeps its last known
// instances; a malformed tag is reported in /healthz and to the admins, once per change.

const SIGNING_SECRET = 'rds-discovery-live-signing-secret-0123';
const ALICE = 'UALICERDS';
const ADMIN = 'UADMINRDS';
const CONNECT_ROLE = `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`;
const CONNECTOR = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;
const TAGGED = { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod' };

let restoreEnv: () => void;
let db: TestDatabase;
let rdsIam: RdsIamStandIn | undefined;
let slack: SlackDouble;
let latch: RunningLatch;
let dir: string;
let offset = 0;
const rdsWest = new QueryLog();
const rdsCentral = new QueryLog();
const sts = new QueryLog();
const iam = new QueryLog();
const rolePolicies = new FakeRolePolicies();
let centralFails = false;
let tagsDenied = false;

const west: FakeRdsInstance[] = [
  { identifier: 'orders-prod', engine: 'postgres', resourceId: 'db-ORDERSPRODRESOURCEID00001', iamAuth: true, tags: { ...TAGGED, team: 'orders' } },
  // No TagList in the answer: its tags come from ListTagsForResource.
  { identifier: 'search-prod', engine: 'postgres', resourceId: 'db-SEARCHPRODRESOURCEID00002', iamAuth: true },
  { identifier: 'billing-prod', engine: 'postgres', resourceId: 'db-BILLINGPRODRESOURCEID0003', iamAuth: true, tags: { auth_type: 'kerberos', 'latch-connector-id': 'eu-prod' } },
  { identifier: 'scratch', engine: 'postgres', resourceId: 'db-SCRATCHRESOURCEID00000004', iamAuth: false, tags: { owner: 'someone' } },
  { identifier: 'cache-prod', engine: 'postgres', resourceId: 'db-CACHEPRODRESOURCEID000006', iamAuth: true, tags: TAGGED },
];
const listedTags: Record<string, Record<string, string>> = { 'search-prod': TAGGED };
const central: FakeRdsInstance[] = [
  { identifier: 'reports-prod', engine: 'postgres', region: 'eu-central-1', resourceId: 'db-REPORTSPRODRESOURCEID0005', iamAuth: true, tags: TAGGED },
];

function config(accessDetails = ''): string {
  return `version: 1
settings: { instance: ${db.instance}, admins: [admin@example.com], expiryWarning: 1m, grantAttempts: 1 }
groups:
  - { name: engineers, members: [alice@example.com] }
rdsDiscovery:
  - name: rds
    connectorId: eu-prod
    regions: [eu-west-1, eu-central-1]
    interval: 1m
    owner: owner@example.com
    labels: [production]${accessDetails ? `\n    accessDetails: "${accessDetails}"` : ''}
    connection: { region: eu-west-1, roleArn: "${CONNECT_ROLE}", user: ${PG_SUPERUSER}, database: postgres, host: ${PG_HOST}, port: ${PG_PORT}, ssl: disable }
    resources:
      - name: app
        settings: { databases: [${db.database}] }
        permissions: { read: { roles: [${db.readRole}] } }
      - name: audit
        settings: { databases: [${db.database}] }
        permissions: { read: { roles: [${db.readRole}] } }
flows:
  - name: rds-read
    requesters: [group:engineers]
    access: [{ integration: rds, resources: any, permissions: [read] }]
    approval: { steps: [{ approvers: [admin@example.com] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`;
}

type Call = { method: string; args: Record<string, unknown> };

async function command(text: string): Promise<string> {
  const responseUrl = slack.responseUrl();
  await postToSlackEvents(`http://127.0.0.1:${latch.port}`, slashCommandBody({ userId: ALICE, text, triggerId: slack.issueTrigger(), responseUrl }), SIGNING_SECRET);
  const reply = await slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
  return String(reply.args.text);
}

/** The admin clicks Approve on a request's card. */
async function approve(id: string): Promise<void> {
  const answer = await postToSlackEvents(`http://127.0.0.1:${latch.port}`, blockActionsBody({ userId: ADMIN, actionId: 'latch.approve', value: id, triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() }), SIGNING_SECRET);
  expect(answer.status).toBe(200);
}

/** The request modal's choices, as Slack would show them to Alice. */
async function modalChoices(): Promise<string> {
  const opened = slack.callsTo('views.open').length;
  await postToSlackEvents(`http://127.0.0.1:${latch.port}`, slashCommandBody({ userId: ALICE, text: 'request', triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() }), SIGNING_SECRET);
  await eventually(() => slack.callsTo('views.open').length > opened, 'the request modal');
  return JSON.stringify(slack.callsTo('views.open').at(-1)?.args.view);
}

async function discoveredEvents(): Promise<AuditEvent[]> {
  return (await latch.store.auditEvents({ limit: 1000 })).filter((event) => event.type === 'integrations.discovered');
}

const adminDms = (): string[] => slack.callsTo('chat.postMessage')
  .filter((call: Call) => call.args.channel === ADMIN).map((call: Call) => String(call.args.text)).filter((text) => text.includes('RDS discovery'));

/** Moves Latch's clock on and runs what fell due (the next pass, expiries). */
async function advance(ms: number): Promise<void> {
  offset += ms;
  await latch.runner.runDue();
}

beforeAll(async () => {
  restoreEnv = useFakeAwsEnvironment();
  db = await createTestDatabase();
  rdsIam = await useRdsIamStandIn();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  fakeQueryService('https://rds.eu-west-1.amazonaws.com', rdsWest, (call: QueryCall) => {
    if (call.action === 'ListTagsForResource') {
      if (tagsDenied) return [403, queryError(RDS_NS, 'AccessDenied', `User: ${CONNECTOR} is not authorized to perform: rds:ListTagsForResource on resource: ${call.params.ResourceName ?? ''}`)];
      return [200, listTagsResult(listedTags[(call.params.ResourceName ?? '').split(':').pop() ?? ''] ?? {})];
    }
    // The provisioner asks for its one instance; discovery for all of them.
    const wanted = call.params.DBInstanceIdentifier;
    if (!wanted) return [200, describeDbInstancesResult(west)];
    const found = west.find((instance) => instance.identifier === wanted);
    return found ? [200, describeDbInstancesResult([found])] : [404, queryError(RDS_NS, 'DBInstanceNotFound', `DBInstance ${wanted} not found.`)];
  });
  fakeQueryService('https://rds.eu-central-1.amazonaws.com', rdsCentral, () => (centralFails
    ? [403, queryError(RDS_NS, 'AccessDenied', `User: ${CONNECTOR} is not authorized to perform: rds:DescribeDBInstances with an explicit deny in a service control policy`)]
    : [200, describeDbInstancesResult(central)]));
  fakeConnectRole({ region: 'eu-west-1', connectRole: CONNECT_ROLE, connector: CONNECTOR, sts: sts, iam, rolePolicies, keyTag: 'disc', now: () => Date.now() + offset });

  slack = await startSlackDouble();
  slack.addUser({ id: ALICE, name: 'alice', email: 'alice@example.com' });
  slack.addUser({ id: ADMIN, name: 'admin', email: 'admin@example.com' });
  dir = mkdtempSync(join(tmpdir(), 'latch-rds-discovery-'));
  writeFileSync(join(dir, 'latch.yaml'), config());
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), now: () => Date.now() + offset, watchConfig: false,
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-rds-discovery', SLACK_API_URL: slack.apiUrl },
    runner: { sweep: '*/1 * * * * *' },
  });
});

afterAll(async () => {
  await latch?.stop({ timeoutMs: 5_000 });
  await slack?.close();
  nock.cleanAll();
  nock.enableNetConnect();
  await db?.cleanup();
  await rdsIam?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
  restoreEnv();
});

describe('RDS discovery in a running Latch', () => {
  it('offers what it finds, keeps a vanished instance only for its live grant, keeps a failed region\'s instances, and reports bad tags once per change', async () => {
    // The first pass runs at start-up.
    await eventually(async () => (await discoveredEvents()).length > 0, 'the first discovery pass');
    const [first] = await discoveredEvents();
    expect(first?.data).toMatchObject({ discovery: 'rds', added: ['rds-orders-prod', 'rds-search-prod', 'rds-cache-prod', 'rds-reports-prod'], removed: [], changed: [], retained: [] });
    const firstProblems = (first?.data.problems ?? []) as { code: string; instance: string; message: string }[];
    expect(firstProblems.map((problem) => `${problem.code} ${problem.instance}`)).toEqual(['TAG_INVALID billing-prod']);
    expect(firstProblems[0]?.message).toBe('billing-prod (eu-west-1): tag auth_type is "kerberos"; expected iam-auth or user-password');
    expect(rdsWest.of('ListTagsForResource').map((call) => call.params.ResourceName)).toEqual([`arn:aws:rds:eu-west-1:${ACCOUNT}:db:search-prod`]);
    await eventually(() => adminDms().length === 1, 'the admins to be told of the malformed tag');
    expect(adminDms()[0]).toContain('TAG_INVALID: billing-prod (eu-west-1): tag auth_type is "kerberos"');

    const health = await fetch(`http://127.0.0.1:${latch.port}/healthz?details=1`).then((response) => response.json()) as {
      integrations: { integration: string; type: string; ok: boolean; discovered?: string[]; checks: { name: string; ok: boolean; detail: string }[] }[];
    };
    const block = health.integrations.find((entry) => entry.integration === 'rds');
    expect(block).toMatchObject({ type: 'rds-discovery', ok: false, discovered: ['rds-orders-prod', 'rds-search-prod', 'rds-cache-prod', 'rds-reports-prod'] });
    expect(block?.checks).toContainEqual({ name: 'TAG_INVALID', ok: false, detail: 'billing-prod (eu-west-1): tag auth_type is "kerberos"; expected iam-auth or user-password' });
    expect(health.integrations.map((entry) => entry.integration)).toEqual(expect.arrayContaining(['rds-orders-prod', 'rds-search-prod', 'rds-reports-prod']));

    // A discovered instance is requested and granted like any aws-rds integration.
    expect(await modalChoices()).toContain('item:rds-orders-prod/app/read');
    const answer = await command('request rds-orders-prod/app read for 10m');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    if (!id) throw new Error(`no request id in: ${answer}`);
    await approve(id);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant on the discovered instance');
    const principal = (await latch.store.getRequest(id))?.grants[0]?.principal ?? '';
    expect((await db.role(principal))?.memberOf).toEqual([db.readRole, 'rds_iam'].sort());
    expect(sts.of('AssumeRole')[0]?.params.RoleArn).toBe(CONNECT_ROLE);
    await eventually(() => slack.dmsTo(ALICE).some((message) => JSON.stringify(message).includes('generate-db-auth-token')), 'the connection instructions by DM');

    // A reload keeps what was found, merged with the new template, and does not count the live grant as orphaned.
    writeFileSync(join(dir, 'latch.yaml'), config('psql host={{host}} user={{username}}'));
    const reloaded = await latch.reload('api');
    expect(reloaded).toMatchObject({ ok: true, changes: { integrations: { added: [], removed: [], changed: ['rds-orders-prod', 'rds-search-prod', 'rds-cache-prod', 'rds-reports-prod'] } } });
    expect(latch.ctx.current().config.integrations.find((integration) => integration.name === 'rds-orders-prod')?.accessDetails).toBe('psql host={{host}} user={{username}}');

    // Another request waits for approval when the instance goes away (under the same file, so approving it does not check the flows again).
    const waitingId = /AR-[0-9A-Z]{8}/.exec(await command('request rds-orders-prod/audit read for 10m'))?.[0] ?? '';
    expect((await latch.store.getRequest(waitingId))?.request.state).toBe('pending');

    // orders-prod loses its tags, cache-prod is deleted, search-prod's tags and eu-central-1 can no longer be read.
    const orders = west[0] as FakeRdsInstance;
    orders.tags = { team: 'orders' };
    west.splice(west.findIndex((instance) => instance.identifier === 'cache-prod'), 1);
    tagsDenied = true;
    centralFails = true;
    const seen = (await discoveredEvents()).length;
    await advance(61_000);
    await eventually(async () => (await discoveredEvents()).length > seen, 'the second pass');
    const second = (await discoveredEvents()).at(-1);
    expect(second?.data).toMatchObject({ added: [], removed: ['rds-cache-prod'], changed: [], retained: ['rds-orders-prod'], offered: ['rds-search-prod', 'rds-reports-prod'] });
    expect(((second?.data.problems ?? []) as { code: string; region: string; instance: string | null }[]).map((problem) => `${problem.code} ${problem.region} ${problem.instance ?? '-'}`).sort())
      .toEqual(['ACCESS_DENIED eu-central-1 -', 'ACCESS_DENIED eu-west-1 search-prod', 'TAG_INVALID eu-west-1 billing-prod']);
    await eventually(() => adminDms().length === 2, 'the admins to be told the problems changed');
    expect(adminDms()[1]).toContain('ACCESS_DENIED: eu-central-1: rds:DescribeDBInstances failed');

    // No longer offered, in the modal or by name; reports-prod and search-prod stay, from their last listing.
    const choices = await modalChoices();
    expect(choices).not.toContain('rds-orders-prod');
    expect(choices).not.toContain('rds-cache-prod');
    expect(choices).toContain('item:rds-reports-prod/app/read');
    expect(choices).toContain('item:rds-search-prod/app/read');
    expect(await command('request rds-orders-prod/app read for 10m')).toContain('No access flow offers read on rds-orders-prod/app');
    // What was waiting for approval cannot be granted there any more: the backend kept for the live grant grants nothing new.
    await approve(waitingId);
    await eventually(async () => (await latch.store.getRequest(waitingId))?.request.state === 'failed', 'the approval on the vanished instance to fail');
    expect((await latch.store.getRequest(waitingId))?.request.outcome).toContain('integration rds-orders-prod is no longer offered: RDS discovery no longer finds the instance tagged for this Latch');
    expect(await db.rolesStartingWith(`${db.instance}_alice`)).toEqual([principal]);

    // The grant on the vanished instance still ends at its expiry, in the database.
    await advance(10 * 60_000);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'expired', 'the grant on the vanished instance to expire');
    expect(await db.role(principal)).toBeNull();
    // The revocation policy (revoke older sessions) on the connect role: for the expired grant, and for the cleanup of the failed one.
    expect([...new Set(iam.of('PutRolePolicy').map((call) => call.params.RoleName))]).toEqual(['latch-rds-connect']);

    // With no live grant left, the next pass lets it go; the problems did not change, so the admins hear nothing new.
    await advance(61_000);
    await eventually(async () => (await discoveredEvents()).some((event) => (event.data.removed as string[]).includes('rds-orders-prod')), 'the pass that lets the vanished instance go');
    expect((await discoveredEvents()).at(-1)?.data).toMatchObject({ added: [], removed: ['rds-orders-prod'], retained: [] });
    expect(latch.ctx.current().config.integrations.map((integration) => integration.name)).toEqual(['rds-search-prod', 'rds-reports-prod']);
    const settled = (await discoveredEvents()).length;
    await advance(61_000);
    expect((await discoveredEvents()).length).toBe(settled);
    expect(adminDms()).toHaveLength(2);

    // A reload that drops the discovery: what it found, with no grant live on it, goes too.
    writeFileSync(join(dir, 'latch.yaml'), `version: 1\nsettings: { instance: ${db.instance}, admins: [admin@example.com] }\n`);
    expect(await latch.reload('api')).toMatchObject({ ok: true });
    await eventually(() => latch.ctx.current().config.integrations.length === 0, 'the discovered integrations to leave with their discovery');
    expect((await discoveredEvents()).at(-1)?.data).toMatchObject({ discovery: null, removed: ['rds-search-prod', 'rds-reports-prod'] });
  });
});
