import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Integration, type Resource } from '../../config/schema.js';
import { AwsIdentityCenterProvisioner } from '../../provisioners/aws-identity-center.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import { useFakeAwsEnvironment } from '../support/aws.js';
import { eventually } from '../support/harness.js';
import { FakeIdentityCenter, INSTANCE, MANAGEMENT, PORTAL, permissionSetArn, STORE } from '../support/aws-identity-center.js';

// The aws-identity-center provisioner against a fake Identity Center on AWS's endpoints:
// what it sends (instance, account, permission set, user), how it waits for AWS, what it
// leaves alone, and what it says when AWS refuses.

const PAYMENTS = '210987654321';
const DATA = '345678901234';
const SANDBOX = '456789012345';
const ALICE_ID = '9067a1b2c3-4d5e6f70-8192-a3b4-c5d6-e7f8091a2b3c';
const BOB_ID = '9067a1b2c3-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const ADMIN = 'ps-3b1c6e0f9a2d4e57';
const READ = 'ps-8e2f4a6c1b3d5e79';
const BREAKGLASS = 'ps-1a2b3c4d5e6f7a8b';

let restoreEnv: () => void;
let fake: FakeIdentityCenter;
const slept: number[] = [];
let now = Date.parse('2026-12-02T01:00:00Z');

function integration(connection: Record<string, string | number | boolean> = {}): Integration {
  return Integration.parse({
    name: 'aws-sso', type: 'aws-identity-center', owner: 'group:platform',
    connection: { region: 'eu-west-1', instanceArn: INSTANCE, identityStoreId: STORE, portalUrl: PORTAL, ...connection },
    resources: [
      { name: 'payments-prod', permissions: { admin: { permissionSet: 'AdministratorAccess' }, read: { permissionSet: 'ReadOnlyAccess' }, breakglass: { permissionSet: 'LatchBreakGlass', latchManaged: true } } },
      { name: 'data', settings: { account: DATA }, permissions: { readonlyaccess: {} } },
      { name: 'org-root', settings: { account: MANAGEMENT }, permissions: { read: { permissionSet: 'ReadOnlyAccess' } } },
      { name: 'sandbox', settings: { account: 'Sandbox' }, permissions: { read: { permissionSet: 'ReadOnlyAccess' } } },
    ],
  });
}

function provisioner(config = integration()): AwsIdentityCenterProvisioner {
  return new AwsIdentityCenterProvisioner(config, process.env, { maxAttempts: 3, now: () => now, poll: { firstDelayMs: 100, maxDelayMs: 400, timeoutMs: 2_000, sleep: async (ms) => { slept.push(ms); } } });
}

function input(config: Integration, resource: string, permission: string, grantee = 'alice@example.com', hours = 2): GrantInput {
  const found = config.resources.find((candidate) => candidate.name === resource);
  if (!found) throw new Error(resource);
  return {
    grantId: 'g_01JIC0000000000000000000', requestId: 'AR-IC000001', grantee, integration: config, resource: found, permission,
    permissionSettings: found.permissions[permission] ?? {}, principal: 'latch_alice_example_com', expiresAt: now + hours * 3_600_000,
  };
}

beforeAll(() => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
});

afterAll(() => {
  nock.enableNetConnect();
  restoreEnv();
});

beforeEach(() => {
  slept.length = 0;
  fake = new FakeIdentityCenter();
  fake.accounts = [
    { id: MANAGEMENT, name: 'acme-management', ous: [] },
    { id: PAYMENTS, name: 'payments-prod', ous: ['ou-a1b2-prod0001'], tags: { env: 'prod', team: 'payments' } },
    { id: DATA, name: 'data-lake', ous: ['ou-a1b2-prod0001'], tags: { env: 'prod', team: 'data' } },
    { id: SANDBOX, name: 'Sandbox', ous: ['ou-a1b2-sbox0001'], tags: { env: 'dev' } },
    { id: '567890123456', name: 'legacy', status: 'SUSPENDED' },
  ];
  fake.permissionSets = [
    { id: ADMIN, name: 'AdministratorAccess', sessionDuration: 'PT8H' },
    { id: READ, name: 'ReadOnlyAccess', sessionDuration: 'PT1H' },
    { id: BREAKGLASS, name: 'LatchBreakGlass', sessionDuration: 'PT12H' },
  ];
  fake.users = [
    { id: ALICE_ID, userName: 'alice', email: 'alice@example.com' },
    { id: BOB_ID, userName: 'bob@example.com', email: 'bob@example.com', uniqueEmail: false },
  ];
  fake.start();
});

afterEach(() => fake.stop());

describe('aws-identity-center grants', () => {
  it('assigns the permission set to the Identity Center user found by e-mail, waits for SUCCEEDED, and says how to sign in', async () => {
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'payments-prod', 'admin'));

    expect(fake.of('GetUserId')).toEqual([{ IdentityStoreId: STORE, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: 'alice@example.com' } } }]);
    expect(fake.of('CreateAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    }]);
    // One IN_PROGRESS answer, then SUCCEEDED, asked for by the request id AWS returned.
    const polls = fake.of('DescribeAccountAssignmentCreationStatus');
    expect(polls).toHaveLength(2);
    expect(polls[0]).toEqual({ InstanceArn: INSTANCE, AccountAssignmentCreationRequestId: 'c7a1e0f2-5b3c-4d8e-9f10-000000000001' });
    expect(slept).toEqual([100, 200]);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);

    expect(output.principal).toBe(`${PAYMENTS}/AdministratorAccess/${ALICE_ID}`);
    expect(output.instructions).toContain('AdministratorAccess in AWS account payments-prod (210987654321) through IAM Identity Center, until 2026-12-02 03:00 UTC.');
    expect(output.instructions).toContain(`Sign in at the AWS access portal: ${PORTAL} (choose payments-prod, then AdministratorAccess)`);
    expect(output.instructions).toContain('[profile latch-payments-prod-AdministratorAccess]\nsso_session = latch\nsso_account_id = 210987654321\nsso_role_name = AdministratorAccess\nregion = eu-west-1');
    expect(output.instructions).toContain(`[sso-session latch]\nsso_start_url = ${PORTAL}\nsso_region = eu-west-1`);
    expect(output.instructions).toContain('aws sso login --profile latch-payments-prod-AdministratorAccess');
    // The permission set's sessions (8 h) outlive the 2 h grant: said, not hidden.
    expect(output.instructions).toContain('Sessions of AdministratorAccess last 8h.');
    expect(output.instructions).toContain('a session you start near the end keeps working until its own end (at most 8h after you start it), even after the assignment is removed.');
    expect(output.secrets).toBeUndefined();
  });

  it('calls Identity Center in its home region when the organization runs in another, and the profile says both', async () => {
    const config = integration({ region: 'us-west-2', ssoRegion: 'eu-west-1', profile: 'acme' });
    const output = await provisioner(config).grant(input(config, 'payments-prod', 'read'));
    expect(fake.of('CreateAccountAssignment')).toHaveLength(1);
    expect(output.instructions).toContain('sso_role_name = ReadOnlyAccess\nregion = us-west-2');
    expect(output.instructions).toContain(`[sso-session acme]\nsso_start_url = ${PORTAL}\nsso_region = eu-west-1`);
  });

  it('reads every page of accounts and permission sets, and finds an account by id and a permission set by the permission\'s name', async () => {
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'data', 'readonlyaccess'));
    expect(fake.of('ListAccounts').map((body) => body.NextToken ?? null)).toEqual([null, 'page-2', 'page-4']);
    expect(fake.of('ListPermissionSets').map((body) => body.NextToken ?? null)).toEqual([null, 'page-2']);
    expect(fake.of('ListPermissionSets')[0]).toEqual({ InstanceArn: INSTANCE });
    expect(fake.of('DescribePermissionSet').map((body) => String(body.PermissionSetArn)).sort()).toEqual([permissionSetArn(ADMIN), permissionSetArn(READ), permissionSetArn(BREAKGLASS)].sort());
    expect(fake.of('CreateAccountAssignment')[0]).toMatchObject({ TargetId: DATA, PermissionSetArn: permissionSetArn(READ), PrincipalId: ALICE_ID });
    expect(output.instructions).not.toContain('keeps working until its own end');
  });

  it('keeps the lists for refreshEvery, then answers from the last ones while reading them again, and looks an unknown account up at once', async () => {
    const config = integration({ refreshEvery: '10m' });
    const ic = provisioner(config);
    await ic.grant(input(config, 'payments-prod', 'read'));
    expect(fake.of('ListAccounts')).toHaveLength(3);
    now += 9 * 60_000;
    await ic.grant(input(config, 'payments-prod', 'admin'));
    expect(fake.of('ListAccounts')).toHaveLength(3);

    // A new account joins; after refreshEvery the next grant does not wait for the listing.
    fake.accounts.push({ id: '678901234567', name: 'payments-dr' });
    now += 2 * 60_000;
    await ic.check({ ...input(config, 'payments-prod', 'read'), principal: `${PAYMENTS}/ReadOnlyAccess/${ALICE_ID}` });
    await eventually(async () => (await ic.listResources()).some((offer) => offer.name === 'payments-dr'), 'the background refresh', 5_000);
    expect(fake.of('ListAccounts')).toHaveLength(6);

    // An account no list has shown yet is read at once rather than refused.
    fake.accounts.push({ id: '789012345678', name: 'payments-new' });
    const base = config.resources[0];
    if (!base) throw new Error('no resource');
    const fresh = { ...config, resources: [{ ...base, name: 'payments-new' }] };
    const output = await ic.grant(input(fresh, 'payments-new', 'read'));
    expect(output.principal).toBe(`789012345678/ReadOnlyAccess/${ALICE_ID}`);
    expect(fake.of('ListAccounts')).toHaveLength(10);
  });

  it('falls back to ListUsers by user name when no e-mail is unique, and names the e-mail it tried when nobody has it', async () => {
    const config = integration();
    await provisioner(config).grant(input(config, 'payments-prod', 'read', 'bob@example.com'));
    expect(fake.of('ListUsers')).toEqual([{ IdentityStoreId: STORE, Filters: [{ AttributePath: 'UserName', AttributeValue: 'bob@example.com' }] }]);
    expect(fake.of('CreateAccountAssignment')[0]).toMatchObject({ PrincipalId: BOB_ID });

    await expect(provisioner(config).grant(input(config, 'payments-prod', 'read', 'carol@example.com'))).rejects.toThrow(
      `IAM Identity Center has no user with the e-mail carol@example.com in identity store ${STORE} (tried emails.value and the user name)`);
    expect(fake.of('CreateAccountAssignment')).toHaveLength(1);
  });

  it('reports a FAILED assignment with AWS\'s reason', async () => {
    fake.creation = { inProgress: 2, fail: 'Received a 404 status error: Not supported account assignment. The permission set is not provisioned to the target account.' };
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'payments-prod', 'admin'))).rejects.toThrow(
      'integration "aws-sso": assigning AdministratorAccess in account payments-prod (210987654321) to alice@example.com failed in AWS: Received a 404 status error: Not supported account assignment. The permission set is not provisioned to the target account.');
    expect(fake.of('DescribeAccountAssignmentCreationStatus')).toHaveLength(3);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(false);
  });

  it('retries a throttled call and reports AccessDenied with the action', async () => {
    fake.failNext.set('CreateAccountAssignment', [[400, { __type: 'ThrottlingException', message: 'Rate exceeded' }]]);
    const config = integration();
    await provisioner(config).grant(input(config, 'payments-prod', 'admin'));
    expect(fake.of('CreateAccountAssignment')).toHaveLength(2);
    expect(fake.of('CreateAccountAssignment')[0]).toEqual(fake.of('CreateAccountAssignment')[1]);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);

    fake.failNext.set('CreateAccountAssignment', [[400, {
      __type: 'AccessDeniedException',
      Message: 'User: arn:aws:iam::111122223333:user/latch-connector is not authorized to perform: sso:CreateAccountAssignment on resource: arn:aws:sso:::instance/ssoins-72230c6c1e9f6e2a',
    }]]);
    await expect(provisioner(config).grant(input(config, 'payments-prod', 'read'))).rejects.toThrow(
      'integration "aws-sso": assigning ReadOnlyAccess in account payments-prod (210987654321) to alice@example.com (sso:CreateAccountAssignment) was denied in eu-west-1: User: arn:aws:iam::111122223333:user/latch-connector is not authorized to perform: sso:CreateAccountAssignment');
  });

  it('keeps throttled calls going until the attempts run out, then says AWS kept throttling', async () => {
    // Organizations throttles with its own error name.
    const throttled: [number, unknown] = [400, { __type: 'TooManyRequestsException', Type: 'client', Message: 'Rate exceeded' }];
    fake.failNext.set('ListAccounts', [throttled, throttled, throttled]);
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'payments-prod', 'admin'))).rejects.toThrow(
      'integration "aws-sso": listing the organization\'s accounts (organizations:ListAccounts): AWS kept throttling the calls after retries; Latch tries again later (Rate exceeded)');
    expect(fake.of('ListAccounts')).toHaveLength(3);
    expect(fake.of('CreateAccountAssignment')).toHaveLength(0);
  });

  it('never offers the management account, a suspended one or one outside the OU and tags in scope', async () => {
    const config = integration({ accountOus: 'ou-a1b2-prod0001', accountTags: 'env=prod', excludeAccounts: 'data-*' });
    const ic = provisioner(config);
    await expect(ic.grant(input(config, 'org-root', 'read'))).rejects.toThrow(`account acme-management (${MANAGEMENT}) is the organization's management account, which this integration never offers (includeManagementAccount)`);
    await expect(ic.grant(input(config, 'sandbox', 'read'))).rejects.toThrow(`account Sandbox (${SANDBOX}) is not in the organizational units ou-a1b2-prod0001`);
    await expect(ic.grant(input(config, 'data', 'readonlyaccess'))).rejects.toThrow(`account data-lake (${DATA}) is excluded by excludeAccounts`);
    expect(fake.of('ListAccountsForParent')).toEqual([{ ParentId: 'ou-a1b2-prod0001' }]);
    expect(fake.of('ListTagsForResource').map((body) => body.ResourceId)).toEqual([MANAGEMENT, PAYMENTS, DATA, SANDBOX, '567890123456']);
    expect(fake.of('CreateAccountAssignment')).toHaveLength(0);

    const offers = await ic.listResources();
    expect(offers).toEqual([{ name: 'payments-prod', description: `AWS account ${PAYMENTS} (payments-prod)`, permissions: ['admin', 'read', 'breakglass'] }]);
    // Cached: the lists were read once for all of this.
    expect(fake.of('ListAccounts')).toHaveLength(3);

    // Outside a narrow scope: every active account but the management one, as a config would name it.
    expect(await provisioner(integration()).listResources()).toEqual([
      { name: 'payments-prod', description: `AWS account ${PAYMENTS} (payments-prod)`, permissions: ['admin', 'read', 'breakglass'] },
      { name: 'data', description: `AWS account ${DATA} (data-lake)`, permissions: ['readonlyaccess', 'administratoraccess', 'latchbreakglass'] },
      { name: 'sandbox', description: `AWS account ${SANDBOX} (Sandbox)`, permissions: ['read', 'administratoraccess', 'latchbreakglass'] },
    ]);

    const withoutSandbox = integration({ excludeOus: 'ou-a1b2-sbox0001' });
    await expect(provisioner(withoutSandbox).grant(input(withoutSandbox, 'sandbox', 'read'))).rejects.toThrow(`account Sandbox (${SANDBOX}) is in ou-a1b2-sbox0001, which excludeOus excludes`);

    const tagged = integration({ accountTags: 'env=dev' });
    await expect(provisioner(tagged).grant(input(tagged, 'payments-prod', 'read'))).rejects.toThrow(`account payments-prod (${PAYMENTS}) lacks the tag env=dev`);
  });
});

describe('aws-identity-center revokes', () => {
  it('deletes the assignment with the same parameters and waits for it', async () => {
    const config = integration();
    const ic = provisioner(config);
    const output = await ic.grant(input(config, 'payments-prod', 'admin'));
    await ic.revoke({ ...input(config, 'payments-prod', 'admin'), principal: output.principal });
    expect(fake.of('DeleteAccountAssignment')).toEqual([{
      InstanceArn: INSTANCE, TargetId: PAYMENTS, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(ADMIN), PrincipalType: 'USER', PrincipalId: ALICE_ID,
    }]);
    expect(fake.of('DescribeAccountAssignmentDeletionStatus')).toHaveLength(2);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(false);
    expect(await ic.check({ ...input(config, 'payments-prod', 'admin'), principal: output.principal })).toBe('absent');
  });

  it('counts an assignment that is already gone as revoked', async () => {
    const config = integration();
    const ic = provisioner(config);
    const principal = `${PAYMENTS}/AdministratorAccess/${ALICE_ID}`;
    fake.deletion = { inProgress: 0, fail: 'Received a 404 status error: Not supported account assignment.' };
    await ic.revoke({ ...input(config, 'payments-prod', 'admin'), principal });
    fake.failNext.set('DeleteAccountAssignment', [[400, { __type: 'ResourceNotFoundException', message: 'AccountAssignment not found' }]]);
    await ic.revoke({ ...input(config, 'payments-prod', 'admin'), principal });
    expect(fake.of('DeleteAccountAssignment')).toHaveLength(2);
  });

  it('removes what was assigned even after the resource points elsewhere, and keeps what another active grant needs', async () => {
    const config = integration();
    const principal = `${PAYMENTS}/AdministratorAccess/${ALICE_ID}`;
    fake.assign(PAYMENTS, ADMIN, ALICE_ID);
    const ic = provisioner(config);
    const revoke = input(config, 'payments-prod', 'admin');
    const other = config.resources[0];
    if (!other) throw new Error('no resource');
    await ic.revoke({ ...revoke, principal, stillHeld: [{ grantId: 'g_other', resource: other, permission: 'admin', permissionSettings: other.permissions.admin ?? {} }] });
    expect(fake.of('DeleteAccountAssignment')).toHaveLength(0);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);

    const moved = { ...revoke, resource: { ...revoke.resource, settings: { account: DATA } } };
    await ic.revoke({ ...moved, principal });
    expect(fake.of('DeleteAccountAssignment')).toEqual([expect.objectContaining({ TargetId: PAYMENTS, PermissionSetArn: permissionSetArn(ADMIN), PrincipalId: ALICE_ID })]);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(false);
  });

  it('leaves a never-recorded grant\'s assignment of a permission set Latch does not manage, and cleans up a Latch-managed one', async () => {
    const config = integration();
    fake.assign(PAYMENTS, ADMIN, ALICE_ID);
    fake.assign(PAYMENTS, BREAKGLASS, ALICE_ID);
    const ic = provisioner(config);
    await ic.revoke(input(config, 'payments-prod', 'admin'));
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);
    await ic.revoke(input(config, 'payments-prod', 'breakglass'));
    expect(fake.of('DeleteAccountAssignment')).toEqual([expect.objectContaining({ TargetId: PAYMENTS, PermissionSetArn: permissionSetArn(BREAKGLASS), PrincipalId: ALICE_ID })]);
    expect(fake.holds(PAYMENTS, BREAKGLASS, ALICE_ID)).toBe(false);
  });

  it('reports a deletion AWS failed while the assignment is still there', async () => {
    const config = integration();
    fake.assign(PAYMENTS, ADMIN, ALICE_ID);
    fake.deletion = { inProgress: 1, fail: 'Internal failure, please retry' };
    await expect(provisioner(config).revoke({ ...input(config, 'payments-prod', 'admin'), principal: `${PAYMENTS}/AdministratorAccess/${ALICE_ID}` })).rejects.toThrow(
      'removing AdministratorAccess in account payments-prod (210987654321) to alice@example.com failed in AWS: Internal failure, please retry');
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);
  });
});

describe('standing access', () => {
  it('is answered at request time, recorded as standing at grant and left in place at revoke', async () => {
    fake.assign(PAYMENTS, ADMIN, ALICE_ID);
    const config = integration();
    const ic = provisioner(config);
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    expect(await ic.checkExisting('alice@example.com', resource, 'admin', resource.permissions.admin ?? {})).toEqual({
      kind: 'held', message: `AdministratorAccess in AWS account payments-prod (${PAYMENTS}) is assigned to you in IAM Identity Center outside Latch; sign in at ${PORTAL}.`,
    });
    expect(fake.of('ListAccountAssignments')[0]).toEqual({ InstanceArn: INSTANCE, AccountId: PAYMENTS, PermissionSetArn: permissionSetArn(ADMIN) });
    expect(await ic.checkExisting('alice@example.com', resource, 'read', resource.permissions.read ?? {})).toBeNull();
    expect(await ic.checkExisting('carol@example.com', resource, 'read', resource.permissions.read ?? {})).toMatchObject({ kind: 'refused', message: expect.stringContaining('no user with the e-mail carol@example.com') });

    // Standing access that appeared between the request and the grant: nothing added, nothing taken.
    const output = await ic.grant(input(config, 'payments-prod', 'admin'));
    expect(output.principal).toBe(`standing:${PAYMENTS}/AdministratorAccess/${ALICE_ID}`);
    expect(output.instructions).toContain('Latch added nothing and will not remove it.');
    await ic.revoke({ ...input(config, 'payments-prod', 'admin'), principal: output.principal });
    expect(fake.of('CreateAccountAssignment')).toHaveLength(0);
    expect(fake.of('DeleteAccountAssignment')).toHaveLength(0);
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);
  });
});

describe('the request-time check', () => {
  it('lets the request through when AWS is slower than its budget, and the lookups go on to fill the caches', async () => {
    fake.assign(PAYMENTS, ADMIN, ALICE_ID);
    const config = integration();
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    // Organizations answers the first ListAccounts slowly; everything after is the fake's.
    fake.stop();
    const accounts = [MANAGEMENT, PAYMENTS].map((id) => ({ Id: id, Arn: `arn:aws:organizations::${MANAGEMENT}:account/o-a1b2c3d4e5/${id}`, Name: id === MANAGEMENT ? 'acme-management' : 'payments-prod', Email: `aws+${id}@example.com`, Status: 'ACTIVE' }));
    nock('https://organizations.us-east-1.amazonaws.com').post('/').delay(400).reply(200, JSON.stringify({ Accounts: accounts }), { 'content-type': 'application/x-amz-json-1.1' });
    fake.start();
    const ic = new AwsIdentityCenterProvisioner(config, process.env, { maxAttempts: 3, checkBudgetMs: 100 });
    expect(await ic.checkExisting('alice@example.com', resource, 'admin', resource.permissions.admin ?? {})).toBeNull();
    await eventually(() => fake.of('ListAccountAssignments').length === 1, 'the check to finish in the background', 5_000);
    expect(fake.of('ListPermissionSets')).toHaveLength(2);
    expect(fake.of('ListAccounts')).toHaveLength(0);
    // The next look at accounts and permission sets is served from what it read.
    expect((await ic.listResources()).map((offer) => offer.name)).toEqual(['payments-prod']);
    expect(fake.of('ListPermissionSets')).toHaveLength(2);
  });
});

describe('Latch-managed permission sets', () => {
  it('lowers the session duration when the config allows it, then assigns', async () => {
    const config = integration({ lowerSessionDuration: true });
    const output = await provisioner(config).grant(input(config, 'payments-prod', 'breakglass', 'alice@example.com', 2));
    expect(fake.of('UpdatePermissionSet')).toEqual([{ InstanceArn: INSTANCE, PermissionSetArn: permissionSetArn(BREAKGLASS), SessionDuration: 'PT2H', Description: 'LatchBreakGlass for engineers' }]);
    expect(fake.of('ProvisionPermissionSet')).toEqual([{ InstanceArn: INSTANCE, PermissionSetArn: permissionSetArn(BREAKGLASS), TargetType: 'ALL_PROVISIONED_ACCOUNTS' }]);
    expect(fake.of('DescribePermissionSetProvisioningStatus')).toEqual([{ InstanceArn: INSTANCE, ProvisionPermissionSetRequestId: 'c1a4a0a0-prov-4d1e-9a77-000000000001' }]);
    const order = fake.calls.map((call) => call.target.split('.').pop()).filter((operation) => operation === 'UpdatePermissionSet' || operation === 'CreateAccountAssignment');
    expect(order).toEqual(['UpdatePermissionSet', 'CreateAccountAssignment']);
    expect(output.instructions).toContain('Sessions of LatchBreakGlass last 2h.');
    expect(output.instructions).not.toContain('keeps working until its own end');

    // A permission set Latch does not manage is never changed, only explained.
    await provisioner(config).grant(input(config, 'payments-prod', 'admin'));
    expect(fake.of('UpdatePermissionSet')).toHaveLength(1);
  });

  it('reconcile lists their assignments, and an orphan is removed', async () => {
    fake.assign(PAYMENTS, BREAKGLASS, ALICE_ID);
    fake.assign(DATA, BREAKGLASS, BOB_ID);
    fake.assign(PAYMENTS, ADMIN, BOB_ID);
    const ic = provisioner();
    const managed = await ic.listManaged();
    expect(managed.map((entry) => entry.principal)).toEqual([`${PAYMENTS}/LatchBreakGlass/${ALICE_ID}`, `${DATA}/LatchBreakGlass/${BOB_ID}`]);
    expect(fake.of('ListAccountsForProvisionedPermissionSet')).toEqual([{ InstanceArn: INSTANCE, PermissionSetArn: permissionSetArn(BREAKGLASS) }]);
    await ic.removeOrphan(integration(), `${DATA}/LatchBreakGlass/${BOB_ID}`);
    // Only an integration of Latch-managed permission sets can tell a grant missing from this list.
    expect(ic.listsGrants).toBe(false);
    const managedOnly = { ...integration(), resources: integration().resources.slice(0, 1).map((resource) => ({ ...resource, permissions: { breakglass: { permissionSet: 'LatchBreakGlass', latchManaged: true } } })) };
    expect(provisioner(managedOnly).listsGrants).toBe(true);
    expect(fake.of('DeleteAccountAssignment')).toEqual([{ InstanceArn: INSTANCE, TargetId: DATA, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn(BREAKGLASS), PrincipalType: 'USER', PrincipalId: BOB_ID }]);
    expect(fake.holds(DATA, BREAKGLASS, BOB_ID)).toBe(false);
    expect(fake.holds(PAYMENTS, ADMIN, BOB_ID)).toBe(true);
  });
});

describe('aws-identity-center config', () => {
  it('refuses a malformed instance ARN and identity store id naming the key', () => {
    expect(() => provisioner(integration({ instanceArn: 'ssoins-72230c6c1e9f6e2a', identityStoreId: 'store-1' }))).toThrow(
      'integration "aws-sso": connection.instanceArn: "ssoins-72230c6c1e9f6e2a" is not an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-1234567890abcdef); integration "aws-sso": connection.identityStoreId: "store-1" is not an identity store id (d-1234567890)');
    expect(fake.calls).toHaveLength(0);
  });

  it('refuses a malformed permission at request time without making the integration\'s other permissions unavailable', async () => {
    const config = integration();
    const base = config.resources[0];
    if (!base) throw new Error('no resource');
    const resource: Resource = { ...base, permissions: { ...base.permissions, broken: { permissionSet: 'Not a name!', latchManaged: 'yes' } } };
    const ic = provisioner({ ...config, resources: [resource] });
    expect(ic.checkRequest(resource, 'broken', resource.permissions.broken ?? {})).toBe(
      'integration "aws-sso" resource "payments-prod" permission "broken".permissionSet: must be a permission set name (1-32 letters, digits and + = , . @ - _); integration "aws-sso" resource "payments-prod" permission "broken".latchManaged: must be true or false');
    expect(ic.checkRequest(resource, 'admin', resource.permissions.admin ?? {})).toBeNull();
    await ic.grant(input({ ...config, resources: [resource] }, 'payments-prod', 'admin'));
    expect(fake.holds(PAYMENTS, ADMIN, ALICE_ID)).toBe(true);
  });
});
