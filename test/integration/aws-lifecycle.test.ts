import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioners, startLatch, type RunningLatch } from '../../bot/latch.js';
import { reconcile } from '../../jobs/reconcile.js';
import {
  ACCOUNT, FakeRolePolicies, assumeRoleResult, callerIdentityResult, CONNECTOR_ACCOUNT, fakeFederation, fakeQueryService, fakeSessionToken, getRoleResult, iamEmptyResponse,
  QueryLog, trustPolicy, useFakeAwsEnvironment, type QueryCall,
} from '../support/aws.js';
import { eventually } from '../support/harness.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { postToSlackEvents, slashCommandBody, viewSubmissionBody } from '../support/slack-signing.js';

// An IAM role grant through Latch's own surface: a Slack /access command, the job runner,
// the provisioner Latch registers for aws-iam-role, and the Slack double recording every
// message. The credentials reach the requester's DM and nowhere else; the channel's card
// and its thread say what happened without them.

const SIGNING_SECRET = 'aws-lifecycle-signing-secret-0123456789';
const ALICE = 'UALICEAWS';
const CHANNEL = 'C0AWSOPS1';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/prod-admin`;
const CONNECTOR = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;

let restoreEnv: () => void;
let slack: SlackDouble;
let latch: RunningLatch;
let dir: string;
let sts: QueryLog;
let iam: QueryLog;
let rolePolicies: FakeRolePolicies;
let issued = 0;

const bigPolicy = {
  Version: '2012-10-17',
  Statement: Array.from({ length: 14 }, (_, index) => ({ Sid: `Bucket${index}`, Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::team-data-bucket-number-${index}`, `arn:aws:s3:::team-data-bucket-number-${index}/*`] })),
};

const config = `version: 1
settings: { expiryWarning: 1m }
groups:
  - { name: engineers, members: [alice@example.com] }
integrations:
  - name: aws
    type: aws-iam-role
    owner: owner@example.com
    connection: { region: eu-west-1 }
    resources:
      - name: prod-admin
        settings: { roleArn: "${ROLE}" }
        permissions:
          read: { policyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess] }
          wide: { policy: ${JSON.stringify(JSON.stringify(bigPolicy))} }
flows:
  - name: aws
    requesters: [group:engineers]
    access: [{ integration: aws, resources: any, permissions: [read, wide] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 24h }
    justification: optional
    notify: { approverDMs: false, channels: [{ platform: slack, id: ${CHANNEL} }] }
`;

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
  sts = new QueryLog();
  iam = new QueryLog();
  rolePolicies = new FakeRolePolicies();
  fakeQueryService('https://sts.eu-west-1.amazonaws.com', sts, (call: QueryCall) => {
    if (call.action === 'GetCallerIdentity') return [200, callerIdentityResult(CONNECTOR)];
    issued += 1;
    return [200, assumeRoleResult(call.params.RoleArn ?? '', call.params.RoleSessionName ?? '', {
      accessKeyId: `ASIAQ3EGRTYLIFE0000${issued}`, secretAccessKey: `lifeSeCrEt${issued}/K7MDENG/bPxRfiCYEXAMPLEKEY`, sessionToken: fakeSessionToken(`life${issued}`),
    }, new Date(Date.now() + Number(call.params.DurationSeconds) * 1000), call.params.SourceIdentity)];
  });
  fakeQueryService('https://iam.amazonaws.com', iam, (call: QueryCall) => {
    if (call.action === 'GetRole') return [200, getRoleResult(ROLE, 43_200, trustPolicy(CONNECTOR, ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']))];
    return rolePolicies.answer(call) ?? [200, iamEmptyResponse(call.action)];
  });
  fakeFederation([], 'LIFEsigninTOKEN-0123456789abcdefghijklmnop');

  slack = await startSlackDouble();
  slack.addUser({ id: ALICE, name: 'alice', email: 'alice@example.com' });
  slack.addChannel({ id: CHANNEL, name: 'aws-ops' });
  dir = mkdtempSync(join(tmpdir(), 'latch-aws-life-'));
  writeFileSync(join(dir, 'latch.yaml'), config);
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), provisioners: defaultProvisioners(process.env, 'latch'),
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-aws-lifecycle', SLACK_API_URL: slack.apiUrl },
    runner: { sweep: '*/1 * * * * *' },
  });
});

afterAll(async () => {
  await latch?.stop();
  await slack?.close();
  nock.cleanAll();
  nock.enableNetConnect();
  if (dir) rmSync(dir, { recursive: true, force: true });
  restoreEnv();
});

describe('an AWS role session through Slack', () => {
  it('sends the credentials to the requester\'s DM only, re-issues them on /access credentials, refuses an over-large policy up front, and denies the session on revoke', async () => {
    const answer = await command('request prod-admin read for 2h because INC-7 checking alarms');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    if (!id) throw new Error(`no request id in: ${answer}`);
    expect(id).not.toBe('');
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the AWS grant to be active');
    await latch.runner.runDue();

    const [assume] = sts.of('AssumeRole');
    expect(assume?.params).toMatchObject({ RoleArn: ROLE, RoleSessionName: 'alice@example.com', SourceIdentity: 'alice@example.com', DurationSeconds: '7200', 'Tags.member.2.Value': id });
    const secrets = ['lifeSeCrEt1/K7MDENG/bPxRfiCYEXAMPLEKEY', fakeSessionToken('life1').slice(0, 60), 'LIFEsigninTOKEN-0123456789abcdefghijklmnop'];

    const dm = slack.dmOf(ALICE);
    await eventually(() => slack.callsTo('chat.postMessage').some((call: Call) => call.args.channel === ALICE && textOf(call).includes(secrets[0] ?? '?')), 'the credentials DM');
    const carrying = slack.calls.filter((call: Call) => secrets.some((secret) => textOf(call).includes(secret)));
    expect(carrying.map((call: Call) => `${call.method}:${String(call.args.channel)}`)).toEqual([`chat.postMessage:${ALICE}`]);
    const credentialsDm = textOf(carrying[0] as Call);
    for (const secret of secrets) expect(credentialsDm).toContain(secret);
    expect(credentialsDm).toContain('aws --profile latch sts get-caller-identity');
    expect(dm).toBeTruthy();

    await eventually(() => slack.messagesIn(CHANNEL).length > 0, 'the channel card');
    const channelText = JSON.stringify(slack.callsTo('chat.postMessage').filter((call: Call) => call.args.channel === CHANNEL));
    expect(channelText).toContain(id);
    for (const secret of [...secrets, 'ASIAQ3EGRTYLIFE00001']) expect(channelText).not.toContain(secret);

    // Reconcile cannot list STS sessions, and knows it: the active grant is not "missing".
    const aws = (await reconcile(latch.ctx)).reports.find((report) => report.integration === 'aws');
    expect(aws).toEqual({ integration: 'aws', removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 });

    // The next session, for what is left, by DM again.
    const reset = await command(`credentials ${id}`);
    expect(reset).not.toMatch(/cannot|could not/i);
    await eventually(() => slack.calls.some((call: Call) => textOf(call).includes('lifeSeCrEt2/')), 'the second credentials DM');
    expect(slack.calls.filter((call: Call) => textOf(call).includes('lifeSeCrEt2/')).map((call: Call) => String(call.args.channel))).toEqual([ALICE]);
    expect(sts.of('AssumeRole')).toHaveLength(2);

    // A permission whose session policy AWS would refuse is refused before a request exists.
    const before = (await latch.store.listRequests({})).length;
    const refused = await command('request prod-admin wide for 1h because INC-8');
    expect(refused).toContain('wide on aws/prod-admin cannot be granted as configured: wide on prod-admin needs a session policy of');
    expect(refused).toContain('Nothing was submitted.');
    expect((await latch.store.listRequests({})).length).toBe(before);
    // The same in the request modal: an error under the field, before the request exists.
    const body = viewSubmissionBody({
      userId: ALICE, callbackId: 'latch.request', triggerId: slack.issueTrigger(),
      values: {
        target: { target: { type: 'static_select', selected_option: { value: 'item:aws/prod-admin/wide' } } },
        duration: { duration: { type: 'static_select', selected_option: { value: '1h' } } },
        reason: { reason: { type: 'plain_text_input', value: 'INC-9' } },
      },
    });
    const submitted = await postToSlackEvents(`http://127.0.0.1:${latch.port}`, body, SIGNING_SECRET);
    const modal = JSON.parse(submitted.text) as { response_action: string; errors: { target: string } };
    expect(modal.response_action).toBe('errors');
    expect(modal.errors.target).toContain('remove at least 438 characters. The largest parts are statement "Bucket10" (176)');
    expect((await latch.store.listRequests({})).length).toBe(before);
    expect(sts.of('AssumeRole')).toHaveLength(2);

    const revoked = await command(`revoke ${id}`);
    expect(revoked).toContain(id);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'revoked', 'the revoke');
    const record = await latch.store.getRequest(id);
    const grantId = record?.grants[0]?.id ?? '';
    const [put] = iam.of('PutRolePolicy');
    const statement = (JSON.parse(put?.params.PolicyDocument ?? '{}') as { Statement: { Effect: string; Condition: Record<string, Record<string, string>> }[] }).Statement[0];
    expect(statement?.Effect).toBe('Deny');
    expect(statement?.Condition.StringEquals).toEqual({ 'aws:PrincipalTag/latch-grant': grantId });
    const issuedBefore = Date.parse(statement?.Condition.DateLessThan?.['aws:TokenIssueTime'] ?? '');
    expect(Math.abs(issuedBefore - (record?.request.endedAt ?? record?.request.updatedAt ?? 0))).toBeLessThan(10_000);
  });
});
