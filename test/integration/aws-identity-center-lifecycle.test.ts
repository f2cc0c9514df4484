import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioners, startLatch, type RunningLatch } from '../../bot/latch.js';
import { reconcile } from '../../jobs/reconcile.js';
import { callerIdentityResult, CONNECTOR_ACCOUNT, fakeQueryService, QueryLog, useFakeAwsEnvironment } from '../support/aws.js';
import { FakeIdentityCenter, INSTANCE, MANAGEMENT, PORTAL, permissionSetArn, STORE } from '../support/aws-identity-center.js';
import { eventually } from '../support/harness.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';

// An Identity Center assignment through Latch's own surface: the Slack /access command, the
// job runner, the provisioner Latch registers for aws-identity-center and the Slack double.
// The DM says where to sign in; access the person already had is answered before a request
// exists and outlives Latch's revoke; expiry deletes what Latch assigned.

const SIGNING_SECRET = 'aws-sso-lifecycle-signing-secret-0123456789';
const ALICE = 'UALICESSO';
const PAYMENTS = '210987654321';
const ALICE_ID = '9067a1b2c3-4d5e6f70-8192-a3b4-c5d6-e7f8091a2b3c';
const BOB_ID = '9067a1b2c3-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const ADMIN = 'ps-3b1c6e0f9a2d4e57';
const READ = 'ps-8e2f4a6c1b3d5e79';
const BREAKGLASS = 'ps-1a2b3c4d5e6f7a8b';

const config = `version: 1
settings: { expiryWarning: 1m }
groups:
  - { name: engineers, members: [alice@example.com] }
integrations:
  - name: aws-sso
    type: aws-identity-center
    owner: owner@example.com
    connection: { region: eu-west-1, instanceArn: "${INSTANCE}", identityStoreId: ${STORE}, portalUrl: "${PORTAL}", profile: acme }
    resources:
      - name: payments-prod
        permissions:
          admin: { permissionSet: AdministratorAccess }
          read: { permissionSet: ReadOnlyAccess }
          breakglass: { permissionSet: LatchBreakGlass, latchManaged: true }
flows:
  - name: aws-sso
    requesters: [group:engineers]
    access: [{ integration: aws-sso, resources: any, permissions: [admin, read, breakglass] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 8h }
    justification: optional
    notify: { approverDMs: false }
`;

let restoreEnv: () => void;
let fake: FakeIdentityCenter;
let slack: SlackDouble;
let latch: RunningLatch;
let dir: string;
let offset = 0;

type Call = { method: string; args: Record<string, unknown> };
const textOf = (call: Call): string => JSON.stringify(call.args);

async function command(text: string): Promise<string> {
  const responseUrl = slack.responseUrl();
  await postToSlackEvents(`http://127.0.0.1:${latch.port}`, slashCommandBody({ userId: ALICE, text, triggerId: slack.issueTrigger(), responseUrl }), SIGNING_SECRET);
  const reply = await slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl);
  return String(reply.args.text);
}

beforeAll(async () => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  fake = new FakeIdentityCenter();
  fake.accounts = [{ id: MANAGEMENT, name: 'acme-management' }, { id: PAYMENTS, name: 'payments-prod' }];
  fake.permissionSets = [
    { id: ADMIN, name: 'AdministratorAccess', sessionDuration: 'PT4H' },
    { id: READ, name: 'ReadOnlyAccess', sessionDuration: 'PT1H' },
    { id: BREAKGLASS, name: 'LatchBreakGlass', sessionDuration: 'PT1H' },
  ];
  fake.users = [{ id: ALICE_ID, userName: 'alice', email: 'alice@example.com' }, { id: BOB_ID, userName: 'bob', email: 'bob@example.com' }];
  // Alice's standing read access, given by an administrator; and an assignment of the
  // Latch-managed permission set that no request accounts for.
  fake.assign(PAYMENTS, READ, ALICE_ID);
  fake.assign(PAYMENTS, BREAKGLASS, BOB_ID);
  fake.start();
  fakeQueryService('https://sts.eu-west-1.amazonaws.com', new QueryLog(), () => [200, callerIdentityResult(`arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`)]);

  slack = await startSlackDouble();
  slack.addUser({ id: ALICE, name: 'alice', email: 'alice@example.com' });
  dir = mkdtempSync(join(tmpdir(), 'latch-aws-sso-'));
  writeFileSync(join(dir, 'latch.yaml'), config);
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), provisioners: defaultProvisioners(process.env, 'latch'),
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-aws-sso-lifecycle', SLACK_API_URL: slack.apiUrl },
    runner: { sweep: '*/1 * * * * *' },
    now: () => Date.now() + offset,
  });
});

afterAll(async () => {
  await latch?.stop();
  await slack?.close();
  fake?.stop();
  nock.enableNetConnect();
  if (dir) rmSync(dir, { recursive: true, force: true });
  restoreEnv();
});

describe('an IAM Identity Center assignment through Slack', () => {
  it('assigns, DMs the sign-in instructions, refuses standing access up front and never touches it, reconciles orphans and deletes at expiry', async () => {
    const answer = await command('request payments-prod admin for 2h because INC-42 payment retries');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    if (!id) throw new Error(`no request id in: ${answer}`);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the assignment to be active', 20_000);

    expect(fake.of('CreateAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    }]);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);
    const record = await latch.store.getRequest(id);
    expect(record?.grants[0]?.principal).toBe(`${PAYMENTS}/AdministratorAccess/${ALICE_ID}`);

    await eventually(() => slack.callsTo('chat.postMessage').some((call: Call) => call.args.channel === ALICE && textOf(call).includes('aws sso login')), 'the sign-in DM');
    const dm = slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === ALICE && textOf(call).includes('aws sso login')).map(textOf).join('\n');
    expect(dm).toContain('AdministratorAccess in AWS account payments-prod (210987654321) through IAM Identity Center');
    expect(dm).toContain(PORTAL);
    expect(dm).toContain('aws sso login --profile acme-payments-prod-AdministratorAccess');
    expect(dm).toContain('sso_account_id = 210987654321');
    expect(dm).toContain('Sessions of AdministratorAccess last 4h.');
    expect(dm).toContain('keeps working until its own end');

    // Standing read access: answered before a request exists, nothing asked of AWS to change.
    const before = (await latch.store.listRequests({})).length;
    const refused = await command('request payments-prod read for 1h because INC-43');
    expect(refused).toContain(`You already have this access: ReadOnlyAccess in AWS account payments-prod (${PAYMENTS}) is assigned to you in IAM Identity Center outside Latch; sign in at ${PORTAL}. Nothing was submitted.`);
    expect((await latch.store.listRequests({})).length).toBe(before);

    // Reconcile (at start-up, and on demand): Bob's break-glass assignment, which no request
    // accounts for, is removed; Alice's standing read access is not Latch's to judge.
    await eventually(async () => (await latch.store.auditEvents({})).some((event) => event.type === 'reconcile.report'), 'the start-up reconcile');
    const startup = (await latch.store.auditEvents({})).find((event) => event.type === 'reconcile.report');
    expect(startup?.data).toEqual({ integration: 'aws-sso', removed: [`${PAYMENTS}/LatchBreakGlass/${BOB_ID}`], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 });
    expect(fake.holds(PAYMENTS, BREAKGLASS, BOB_ID)).toBe(false);
    expect(fake.of('DeleteAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(BREAKGLASS), PrincipalType: 'USER', PrincipalId: BOB_ID,
    }]);
    const report = (await reconcile(latch.ctx)).reports.find((entry) => entry.integration === 'aws-sso');
    expect(report).toEqual({ integration: 'aws-sso', removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 });
    expect(fake.holds(PAYMENTS, READ, ALICE_ID)).toBe(true);

    // Expiry deletes Latch's assignment and only that one.
    offset += 2 * 3_600_000 + 1_000;
    await latch.runner.runDue();
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'expired', 'the expiry', 20_000);
    expect(fake.of('DeleteAccountAssignment')[1]).toEqual({
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    });
    expect(fake.of('DeleteAccountAssignment')).toHaveLength(2);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(false);
    expect(fake.holds(PAYMENTS, READ, ALICE_ID)).toBe(true);
  });
});
