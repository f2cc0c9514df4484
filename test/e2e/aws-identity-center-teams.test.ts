import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioners } from '../../bot/latch.js';
import { callerIdentityResult, CONNECTOR_ACCOUNT, fakeQueryService, QueryLog, useFakeAwsEnvironment } from '../support/aws.js';
import { FakeIdentityCenter, INSTANCE, MANAGEMENT, PORTAL, permissionSetArn, STORE } from '../support/aws-identity-center.js';
import { eventually } from '../support/harness.js';
import { startTeamsE2E, T, type TeamsE2E } from './teams-harness.js';

// Request in Teams, approve in Teams, the Identity Center assignment, the sign-in
// instructions in the requester's chat, and the assignment deleted at expiry.

const PAYMENTS = '210987654321';
const ALICE_ID = '9067a1b2c3-4d5e6f70-8192-a3b4-c5d6-e7f8091a2b3c';
const ADMIN = 'ps-3b1c6e0f9a2d4e57';

const config = `version: 1
settings: { expiryWarning: 1m }
integrations:
  - name: aws-sso
    type: aws-identity-center
    owner: lead@example.com
    connection: { region: eu-west-1, instanceArn: "${INSTANCE}", identityStoreId: ${STORE}, portalUrl: "${PORTAL}" }
    resources:
      - name: payments-prod
        permissions:
          admin: { permissionSet: AdministratorAccess }
flows:
  - name: aws-admin
    requesters: [alice@example.com]
    access: [{ integration: aws-sso, resources: any, permissions: [admin] }]
    approval: { steps: [{ approvers: [lead@example.com] }] }
    duration: { default: 1h, max: 4h }
`;

let restoreEnv: () => void;
let fake: FakeIdentityCenter;
let e2e: TeamsE2E;
const json = (value: unknown): string => JSON.stringify(value ?? null);

beforeAll(async () => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
  fake = new FakeIdentityCenter();
  fake.accounts = [{ id: MANAGEMENT, name: 'acme-management' }, { id: PAYMENTS, name: 'payments-prod' }];
  fake.permissionSets = [{ id: ADMIN, name: 'AdministratorAccess', sessionDuration: 'PT1H' }];
  fake.users = [{ id: ALICE_ID, userName: 'alice', email: 'alice@example.com' }];
  fake.start();
  fakeQueryService('https://sts.eu-west-1.amazonaws.com', new QueryLog(), () => [200, callerIdentityResult(`arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`)]);
  e2e = await startTeamsE2E({ config, provisioners: defaultProvisioners(process.env, 'latch') });
});

afterAll(async () => {
  const rejected = e2e?.connector.cardErrors ?? [];
  await e2e?.close();
  fake?.stop();
  nock.enableNetConnect();
  restoreEnv();
  expect(rejected).toEqual([]);
});

describe('an Identity Center assignment through Teams', () => {
  it('is made when the approver approves in Teams, explained in the requester\'s chat, and deleted at expiry', async () => {
    await Promise.all([e2e.install(T.alice), e2e.install(T.lead)]);
    const submitted = await e2e.act(T.alice, 'request.submit', { target: 'item:aws-sso/payments-prod/admin', duration: '1h', reason: 'INC-77 failed payouts' });
    const id = /AR-[0-9A-Z]{8}/.exec(json(submitted.body))?.[0];
    if (!id) throw new Error(`no id in ${json(submitted.body)}`);
    await e2e.settle();
    expect(fake.of('CreateAccountAssignment')).toEqual([]);

    const approved = await e2e.act(T.lead, 'approve', { requestId: id });
    expect(approved.status).toBe(200);
    await eventually(async () => (await e2e.latch.store.getRequest(id))?.request.state === 'active', 'the assignment', 20_000);
    expect(fake.of('CreateAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    }]);

    await eventually(() => json(e2e.connector.activitiesTo(e2e.personalChat(T.alice))).includes('aws sso login'), 'the sign-in instructions in Teams');
    const chat = json(e2e.connector.activitiesTo(e2e.personalChat(T.alice)));
    expect(chat).toContain('AdministratorAccess in AWS account payments-prod (210987654321) through IAM Identity Center');
    expect(chat).toContain(PORTAL);
    expect(chat).toContain('aws sso login --profile latch-payments-prod-AdministratorAccess');
    expect(json(e2e.connector.activitiesTo(e2e.personalChat(T.lead)))).not.toContain('aws sso login');

    e2e.advance(3_600_000 + 1_000);
    await e2e.settle();
    await eventually(async () => (await e2e.latch.store.getRequest(id))?.request.state === 'expired', 'the expiry', 20_000);
    expect(fake.of('DeleteAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    }]);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(false);
  });
});
