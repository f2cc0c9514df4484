import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import type { AuditEvent } from '../../storage/store.js';
import {
  ACCOUNT, CONNECTOR_ACCOUNT, fakeConnectRole, describeDbInstancesResult, FakeRolePolicies,
  QueryLog, queryError, RDS_NS, useFakeAwsEnvironment, type FakeRdsInstance,
} from '../support/aws.js';
import { eventually } from '../support/harness.js';
import { createTestDatabase, PG_HOST, PG_PORT, PG_SUPERUSER, type TestDatabase } from '../support/postgres.js';
import { useRdsIamStandIn, type RdsIamStandIn } from '../support/rds-iam-stand-in.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { blockActionsBody, postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';
import { createStoreLocation, STORE_DIALECTS, type TestStoreLocation } from '../support/test-store.js';

// RDS discovery across a restart, on both stores: a grant on a discovered instance, the
// instance loses its tags (kept only for that grant), Latch stops and starts again, and while
// the first pass after the start cannot finish (AWS's listing held), the grant is still
// revoked at its expiry in the local PostgreSQL (standing in for the instance, with a
// stand-in rds_iam role) and the instance still found is requestable. When the held pass
// ends, the vanished instance, with no live grant left, goes.

const SIGNING_SECRET = 'rds-discovery-restart-signing-secret-01';
const ALICE = 'UALICERST';
const ADMIN = 'UADMINRST';
const CONNECT_ROLE = `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`;
const CONNECTOR = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;
const TAGGED = { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod', team: 'orders' };

let restoreEnv: () => void;
let db: TestDatabase;
let rdsIam: RdsIamStandIn | undefined;
let slack: SlackDouble;
let dir: string;
let offset = 0;
const rds = new QueryLog();
const iam = new QueryLog();
const rolePolicies = new FakeRolePolicies();
let west: FakeRdsInstance[] = [];
/** While set, AWS holds its answer to every listing of the region (the provisioner's own look at one instance is answered). */
let held: (() => void)[] | null = null;

function config(): string {
  return `version: 1
settings: { instance: ${db.instance}, admins: [admin@example.com], expiryWarning: 1m, grantAttempts: 1 }
groups:
  - { name: engineers, members: [alice@example.com] }
rdsDiscovery:
  - name: rds
    connectorId: eu-prod
    regions: [eu-west-1]
    interval: 1m
    owner: owner@example.com
    connection: { region: eu-west-1, roleArn: "${CONNECT_ROLE}", user: ${PG_SUPERUSER}, database: postgres, host: ${PG_HOST}, port: ${PG_PORT}, ssl: disable }
    resources:
      - name: app
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

beforeAll(async () => {
  restoreEnv = useFakeAwsEnvironment();
  db = await createTestDatabase();
  rdsIam = await useRdsIamStandIn();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  nock('https://rds.eu-west-1.amazonaws.com').persist().post('/').reply(function reply(_uri, body, callback) {
    const call = rds.record(body, String(this.req.headers.authorization ?? ''));
    const wanted = call.params.DBInstanceIdentifier;
    const found = west.find((instance) => instance.identifier === wanted);
    const answer = (): void => callback(null, wanted
      ? (found ? [200, describeDbInstancesResult([found]), { 'content-type': 'text/xml' }] : [404, queryError(RDS_NS, 'DBInstanceNotFound', `DBInstance ${wanted} not found.`), { 'content-type': 'text/xml' }])
      : [200, describeDbInstancesResult(west), { 'content-type': 'text/xml' }]);
    if (!wanted && held) held.push(answer);
    else answer();
  });
  fakeConnectRole({ region: 'eu-west-1', connectRole: CONNECT_ROLE, connector: CONNECTOR, sts: new QueryLog(), iam, rolePolicies, keyTag: 'rsta', now: () => Date.now() + offset });
  slack = await startSlackDouble();
  slack.addUser({ id: ALICE, name: 'alice', email: 'alice@example.com' });
  slack.addUser({ id: ADMIN, name: 'admin', email: 'admin@example.com' });
});

afterAll(async () => {
  await slack?.close();
  nock.cleanAll();
  nock.enableNetConnect();
  await db?.cleanup();
  await rdsIam?.release();
  restoreEnv();
});

describe.each(STORE_DIALECTS)('RDS discovery across a restart on the %s store', (dialect) => {
  let latch: RunningLatch | undefined;
  let location: TestStoreLocation;

  beforeAll(async () => {
    location = await createStoreLocation(dialect);
    dir = mkdtempSync(join(tmpdir(), 'latch-rds-restart-'));
    writeFileSync(join(dir, 'latch.yaml'), config());
    west = [
      { identifier: 'orders-prod', engine: 'postgres', resourceId: 'db-ORDERSPRODRESOURCEID00001', iamAuth: true, tags: { ...TAGGED } },
      { identifier: 'reports-prod', engine: 'postgres', resourceId: 'db-REPORTSPRODRESOURCEID0002', iamAuth: true, tags: { ...TAGGED, team: 'reports' } },
    ];
    held = null;
  });

  afterAll(async () => {
    for (const answer of held ?? []) answer();
    held = null;
    await latch?.stop({ timeoutMs: 5_000 });
    await location?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<RunningLatch> => startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: location.url, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), now: () => Date.now() + offset, watchConfig: false,
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-rds-restart', SLACK_API_URL: slack.apiUrl },
    runner: { sweep: '*/1 * * * * *' },
  });
  const running = (): RunningLatch => {
    if (!latch) throw new Error('Latch is not running');
    return latch;
  };
  const discoveredEvents = async (): Promise<AuditEvent[]> => (await running().store.auditEvents({ limit: 1000 })).filter((event) => event.type === 'integrations.discovered');
  const names = (): string[] => running().ctx.current().config.integrations.map((integration) => integration.name);

  async function command(text: string): Promise<string> {
    const responseUrl = slack.responseUrl();
    await postToSlackEvents(`http://127.0.0.1:${running().port}`, slashCommandBody({ userId: ALICE, text, triggerId: slack.issueTrigger(), responseUrl }), SIGNING_SECRET);
    const reply = await slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    return String(reply.args.text);
  }

  async function modalChoices(): Promise<string> {
    const opened = slack.callsTo('views.open').length;
    await postToSlackEvents(`http://127.0.0.1:${running().port}`, slashCommandBody({ userId: ALICE, text: 'request', triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() }), SIGNING_SECRET);
    await eventually(() => slack.callsTo('views.open').length > opened, 'the request modal');
    return JSON.stringify(slack.callsTo('views.open').at(-1)?.args.view);
  }

  it('revokes a grant on an instance kept only for it at expiry after a restart, and offers what was found before the first pass ends', async () => {
    latch = await start();
    await eventually(async () => (await discoveredEvents()).length > 0, 'the first discovery pass');
    expect(names()).toEqual(['rds-orders-prod', 'rds-reports-prod']);

    const answer = await command('request rds-orders-prod/app read for 10m');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    if (!id) throw new Error(`no request id in: ${answer}`);
    const approved = await postToSlackEvents(`http://127.0.0.1:${running().port}`, blockActionsBody({ userId: ADMIN, actionId: 'latch.approve', value: id, triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() }), SIGNING_SECRET);
    expect(approved.status).toBe(200);
    await eventually(async () => (await running().store.getRequest(id))?.request.state === 'active', 'the grant on the discovered instance');
    const principal = (await running().store.getRequest(id))?.grants[0]?.principal ?? '';
    expect((await db.role(principal))?.memberOf).toEqual([db.readRole, 'rds_iam'].sort());

    // orders-prod loses its tags: no longer offered, kept for the live grant.
    (west[0] as FakeRdsInstance).tags = { team: 'orders' };
    const seen = (await discoveredEvents()).length;
    offset += 61_000;
    await running().runner.runDue();
    await eventually(async () => (await discoveredEvents()).length > seen, 'the pass that finds orders-prod untagged');
    expect((await discoveredEvents()).at(-1)?.data).toMatchObject({ retained: ['rds-orders-prod'], offered: ['rds-reports-prod'] });

    // A restart while AWS holds every listing: the first pass after it cannot end.
    await running().stop({ timeoutMs: 5_000 });
    held = [];
    const listingsBefore = rds.of('DescribeDBInstances').filter((call) => !call.params.DBInstanceIdentifier).length;
    latch = await start();
    await eventually(() => (held?.length ?? 0) > 0, 'the first pass after the restart to ask AWS');
    expect(rds.of('DescribeDBInstances').filter((call) => !call.params.DBInstanceIdentifier).length).toBe(listingsBefore + 1);
    // The running config is the one before the restart: reports-prod offered, orders-prod kept for its grant only.
    expect(names()).toEqual(['rds-reports-prod', 'rds-orders-prod']);
    const choices = await modalChoices();
    expect(choices).toContain('item:rds-reports-prod/app/read');
    expect(choices).not.toContain('rds-orders-prod');
    expect(await command('request rds-orders-prod/app read for 10m')).toContain('No access flow offers read on rds-orders-prod/app');
    const health = await fetch(`http://127.0.0.1:${running().port}/healthz?details=1`).then((response) => response.json()) as { integrations: { integration: string; discovered?: string[]; retained?: string[] }[] };
    expect(health.integrations.find((entry) => entry.integration === 'rds')).toMatchObject({ discovered: ['rds-reports-prod'], retained: ['rds-orders-prod'] });

    // The grant ends at its expiry, in the database, while the pass is still held.
    offset += 10 * 60_000;
    running().runner.wake();
    await eventually(async () => (await running().store.getRequest(id))?.request.state === 'expired', 'the grant on the vanished instance to expire after the restart', 20_000);
    expect(await db.role(principal)).toBeNull();
    expect(held?.length).toBe(1);

    // The held pass ends: with no live grant left, orders-prod goes; reports-prod stays.
    const answers = held ?? [];
    held = null;
    for (const release of answers) release();
    await eventually(async () => (await discoveredEvents()).some((event) => (event.data.removed as string[]).includes('rds-orders-prod')), 'the pass that lets orders-prod go');
    expect(names()).toEqual(['rds-reports-prod']);
    // Only the listing changed since the restart: the admins were not told anything again.
    expect(slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === ADMIN && String(call.args.text).includes('RDS discovery'))).toEqual([]);
  });
});

describe('RDS discovery removed from the file while Latch was down', () => {
  let latch: RunningLatch | undefined;
  let location: TestStoreLocation;
  let here: string;

  beforeAll(async () => {
    location = await createStoreLocation('sqlite');
    here = mkdtempSync(join(tmpdir(), 'latch-rds-removed-'));
    writeFileSync(join(here, 'latch.yaml'), config());
    west = [
      { identifier: 'orders-prod', engine: 'postgres', resourceId: 'db-ORDERSPRODRESOURCEID00001', iamAuth: true, tags: { ...TAGGED } },
      { identifier: 'reports-prod', engine: 'postgres', resourceId: 'db-REPORTSPRODRESOURCEID0002', iamAuth: true, tags: { ...TAGGED, team: 'reports' } },
    ];
    held = null;
  });

  afterAll(async () => {
    await latch?.stop({ timeoutMs: 5_000 });
    await location?.cleanup();
    if (here) rmSync(here, { recursive: true, force: true });
  });

  const start = async (): Promise<RunningLatch> => startLatch({
    configFile: join(here, 'latch.yaml'), databaseUrl: location.url, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), now: () => Date.now() + offset, watchConfig: false,
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-rds-restart', SLACK_API_URL: slack.apiUrl },
    runner: { sweep: '*/1 * * * * *' },
  });

  it('keeps what it found only for the live grant, which is still revoked at expiry, and lets the rest go at start-up', async () => {
    latch = await start();
    const first = latch;
    await eventually(async () => (await first.store.auditEvents({ limit: 1000 })).some((event) => event.type === 'integrations.discovered'), 'the first discovery pass');
    const responseUrl = slack.responseUrl();
    await postToSlackEvents(`http://127.0.0.1:${first.port}`, slashCommandBody({ userId: ALICE, text: 'request rds-orders-prod/app read for 10m', triggerId: slack.issueTrigger(), responseUrl }), SIGNING_SECRET);
    const reply = await slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
    const id = /AR-[0-9A-Z]{8}/.exec(String(reply.args.text))?.[0] ?? '';
    await postToSlackEvents(`http://127.0.0.1:${first.port}`, blockActionsBody({ userId: ADMIN, actionId: 'latch.approve', value: id, triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() }), SIGNING_SECRET);
    await eventually(async () => (await first.store.getRequest(id))?.request.state === 'active', 'the grant on the discovered instance');
    const principal = (await first.store.getRequest(id))?.grants[0]?.principal ?? '';
    expect(await db.role(principal)).not.toBeNull();
    await first.stop({ timeoutMs: 5_000 });

    // The discovery (and the flow naming it) is taken out of the file while Latch is down.
    writeFileSync(join(here, 'latch.yaml'), `version: 1\nsettings: { instance: ${db.instance}, admins: [admin@example.com] }\n`);
    latch = await start();
    const second = latch;
    const names = (): string[] => second.ctx.current().config.integrations.map((integration) => integration.name);
    await eventually(() => names().length === 1, 'what the removed discovery found, with no live grant, to go');
    expect(names()).toEqual(['rds-orders-prod']);
    const removal = (await second.store.auditEvents({ limit: 1000 })).filter((event) => event.type === 'integrations.discovered').at(-1);
    expect(removal?.data).toMatchObject({ discovery: null, removed: ['rds-reports-prod'] });
    // What is kept for the grant is written back too, so yet another restart keeps it.
    expect((await second.store.rdsDiscoveryListings()).map((listing) => [listing.discovery, listing.region, listing.offered.length, listing.retained.map((source) => source.name)]))
      .toEqual([['rds', 'eu-west-1', 0, ['rds-orders-prod']]]);

    offset += 10 * 60_000;
    second.runner.wake();
    await eventually(async () => (await second.store.getRequest(id))?.request.state === 'expired', 'the grant to expire after the restart', 20_000);
    expect(await db.role(principal)).toBeNull();
  });
});
