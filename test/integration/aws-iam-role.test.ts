import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { AwsIamRoleProvisioner } from '../../provisioners/aws-iam-role.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import {
  ACCOUNT, FakeRolePolicies, assumeRoleResult, callerIdentityResult, CONNECTOR_ACCOUNT, fakeFederation, fakeQueryService, fakeSessionToken, getRoleResult,
  IAM_NS, QueryLog, queryError, STS_NS, trustPolicy, useFakeAwsEnvironment, type QueryCall,
} from '../support/aws.js';

// The IAM role provisioner against a fake STS, IAM and federation endpoint (nock on the
// real hostnames): what AssumeRole is asked for, what the grantee receives, how early
// revocation is written, and what each AWS refusal turns into.

const STS = 'https://sts.eu-west-1.amazonaws.com';
const IAM = 'https://iam.amazonaws.com';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/prod-admin`;
const CONNECTOR_USER = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;
const NOW = Date.parse('2026-12-02T01:00:00Z');

let restoreEnv: () => void;
let sts: QueryLog;
let iam: QueryLog;
let rolePolicies: FakeRolePolicies;
let federation: URLSearchParams[];
let now = NOW;
let stsAnswer: (call: QueryCall) => [number, string];
let iamAnswer: (call: QueryCall) => [number, string];
let connectorArn = CONNECTOR_USER;
let roleMax = 43_200;
let trustActions = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'];
let issued = 0;
const opened: AwsIamRoleProvisioner[] = [];

function integration(resourceSettings: Record<string, unknown> = {}, permissions?: Record<string, unknown>, connection: Record<string, unknown> = {}): Integration {
  return IntegrationSchema.parse({
    name: 'aws-prod', type: 'aws-iam-role', owner: 'owner@example.com',
    connection: { region: 'eu-west-1', instance: 'latch', ...connection },
    resources: [{
      name: 'prod-admin',
      settings: { roleArn: ROLE, externalId: 'latch-ext-42', ...resourceSettings },
      permissions: permissions ?? {
        read: { policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
        deploy: {
          policy: { Version: '2012-10-17', Statement: [{ Sid: 'Deploy', Effect: 'Allow', Action: ['ecs:UpdateService', 'ecs:DescribeServices'], Resource: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/prod/*` }] },
          policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
        },
      },
    }],
  });
}

function provisioner(config = integration()): AwsIamRoleProvisioner {
  const created = new AwsIamRoleProvisioner(config, process.env, { now: () => now, maxAttempts: 3 });
  opened.push(created);
  return created;
}

function input(config: Integration, permission: string, durationMs: number, grantee = 'alice@example.com'): GrantInput {
  const resource = config.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId: 'g_01HZX5Q9AWS', requestId: 'AR-7K2M9Q', grantee, integration: config, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal: 'latch_alice_abc123', expiresAt: now + durationMs,
  };
}

function defaultSts(call: QueryCall): [number, string] {
  if (call.action === 'GetCallerIdentity') return [200, callerIdentityResult(connectorArn)];
  if (call.action === 'AssumeRole') {
    issued += 1;
    const duration = Number(call.params.DurationSeconds ?? 3600);
    return [200, assumeRoleResult(call.params.RoleArn ?? '', call.params.RoleSessionName ?? '', {
      accessKeyId: `ASIAQ3EGRTYLIS${String(issued).padStart(6, '0')}`, secretAccessKey: `sEcReT/${issued}/K7MDENG/bPxRfiCYEXAMPLEKEY`, sessionToken: fakeSessionToken(String(issued)),
    }, new Date(now + duration * 1000), call.params.SourceIdentity)];
  }
  return [400, queryError(STS_NS, 'InvalidAction', `unexpected ${call.action}`)];
}

function defaultIam(call: QueryCall): [number, string] {
  if (call.action === 'GetRole') return [200, getRoleResult(ROLE, roleMax, trustPolicy(CONNECTOR_USER, trustActions))];
  const stored = rolePolicies.answer(call);
  if (stored) return stored;
  return [400, queryError(IAM_NS, 'InvalidAction', `unexpected ${call.action}`)];
}

beforeAll(() => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
});

beforeEach(() => {
  now = NOW;
  connectorArn = CONNECTOR_USER;
  roleMax = 43_200;
  trustActions = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'];
  issued = 0;
  sts = new QueryLog();
  iam = new QueryLog();
  rolePolicies = new FakeRolePolicies();
  federation = [];
  stsAnswer = defaultSts;
  iamAnswer = defaultIam;
  fakeQueryService(STS, sts, (call) => stsAnswer(call));
  fakeQueryService(IAM, iam, (call) => iamAnswer(call));
  fakeFederation(federation);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((opened) => opened.close()));
  nock.cleanAll();
});

afterAll(() => {
  nock.enableNetConnect();
  restoreEnv();
});

describe('aws-iam-role: granting', () => {
  it('assumes the role for the remaining access time with the session name, tags, SourceIdentity, external id and session policies', async () => {
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'deploy', 2 * 3_600_000));
    const [call] = sts.of('AssumeRole');
    expect(call?.params).toEqual({
      Action: 'AssumeRole', Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: 'alice@example.com',
      DurationSeconds: '7200',
      ExternalId: 'latch-ext-42',
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Deploy', Effect: 'Allow', Action: ['ecs:UpdateService', 'ecs:DescribeServices'], Resource: `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/prod/*` }] }),
      'PolicyArns.member.1.arn': 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      'Tags.member.1.Key': 'latch-requester', 'Tags.member.1.Value': 'alice@example.com',
      'Tags.member.2.Key': 'latch-request', 'Tags.member.2.Value': 'AR-7K2M9Q',
      'Tags.member.3.Key': 'latch-grant', 'Tags.member.3.Value': 'g_01HZX5Q9AWS',
      SourceIdentity: 'alice@example.com',
    });
    expect(iam.of('GetRole').map((entry) => entry.params.RoleName)).toEqual(['prod-admin']);

    expect(output.principal).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/prod-admin/alice@example.com`);
    expect(output.secrets?.AWS_ACCESS_KEY_ID).toBe('ASIAQ3EGRTYLIS000001');
    expect(output.secrets?.AWS_SECRET_ACCESS_KEY).toBe('sEcReT/1/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(output.secrets?.AWS_SESSION_TOKEN).toBe(fakeSessionToken('1'));
    expect(output.details).toMatchObject({ roleArn: ROLE, region: 'eu-west-1', profile: 'latch', credentialsExpire: new Date(NOW + 7_200_000).toISOString() });
    expect(output.instructions).toContain('These credentials work until 2026-12-02 03:00 UTC.');
    expect(output.instructions).toContain('They end with your access; if it is extended, get credentials for the added time with /access credentials AR-7K2M9Q.');
    expect(output.instructions).toContain('AWS stops these credentials (and the console session) within a few minutes, not at once');

    // The console link: getSigninToken with the session's own credentials, for as long as they last.
    expect(federation).toHaveLength(1);
    const signin = federation[0];
    expect(signin?.get('Action')).toBe('getSigninToken');
    expect(signin?.get('SessionDuration')).toBe('7200');
    expect(JSON.parse(signin?.get('Session') ?? '{}')).toEqual({ sessionId: 'ASIAQ3EGRTYLIS000001', sessionKey: 'sEcReT/1/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: fakeSessionToken('1') });
    const link = new URL(output.secrets?.['Console sign-in (valid 15 minutes)'] ?? '');
    expect(`${link.origin}${link.pathname}`).toBe('https://signin.aws.amazon.com/federation');
    expect(Object.fromEntries(link.searchParams)).toEqual({ Action: 'login', Issuer: 'latch-latch', Destination: 'https://console.aws.amazon.com/', SigninToken: 'VCQgs5qZZt3Q6fn8Tr5EXAMPLE-signin-token-0123456789' });
    // Nothing secret in what the access-details template or the audit may show.
    expect(JSON.stringify(output.details)).not.toContain('sEcReT');
    expect(output.instructions).not.toContain('sEcReT');
  });

  it('turns a requester e-mail AWS would refuse into a valid session name and tag value', async () => {
    const config = integration();
    await provisioner(config).grant(input(config, 'read', 3_600_000, "o'brien+ops!@example.com"));
    const [call] = sts.of('AssumeRole');
    expect(call?.params.RoleSessionName).toBe('o-brien+ops-@example.com');
    expect(call?.params.SourceIdentity).toBe('o-brien+ops-@example.com');
    expect(call?.params['Tags.member.1.Value']).toBe('o-brien+ops-@example.com');
    expect(call?.params.RoleSessionName).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(call?.params.Policy).toBeUndefined();
  });

  it('asks for at least 15 minutes even when less is left, and caps at the role maximum as a refreshable grant', async () => {
    const config = integration();
    const roleProvisioner = provisioner(config);
    await roleProvisioner.grant(input(config, 'read', 10 * 60_000));
    roleMax = 3600;
    const capped = provisioner(config);
    const long = input(config, 'read', 20 * 3_600_000);
    const output = await capped.grant(long);
    expect(sts.of('AssumeRole').map((call) => call.params.DurationSeconds)).toEqual(['900', '3600']);
    expect(output.instructions).toContain('Your access lasts until 2026-12-02 21:00 UTC, longer than AWS allows one session: get the next credentials with /access credentials AR-7K2M9Q when these run out.');

    // Five hours on, the next credentials are again one session, still within the access.
    now += 5 * 3_600_000;
    const next = await capped.resetCredentials(long);
    const last = sts.of('AssumeRole').at(-1);
    expect(last?.params.DurationSeconds).toBe('3600');
    expect(last?.params['Tags.member.3.Value']).toBe('g_01HZX5Q9AWS');
    expect(next.secrets?.AWS_ACCESS_KEY_ID).toBe('ASIAQ3EGRTYLIS000003');
    // Near the end, the session lasts exactly what is left.
    now = long.expiresAt - 1_800_000;
    await capped.resetCredentials(long);
    expect(sts.of('AssumeRole').at(-1)?.params.DurationSeconds).toBe('1800');
  });

  it('caps sessions at one hour when the connector itself is a role session, and leaves SessionDuration out of the console link', async () => {
    connectorArn = `arn:aws:sts::${CONNECTOR_ACCOUNT}:assumed-role/latch-task/6f1e2d3c`;
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'read', 8 * 3_600_000));
    expect(sts.of('AssumeRole')[0]?.params.DurationSeconds).toBe('3600');
    expect(federation[0]?.has('SessionDuration')).toBe(false);
    expect(output.instructions).toContain('(one hour when reached through another role)');
  });

  it('assumes connection.via first and issues the grant from that session, capped at one hour', async () => {
    const via = `arn:aws:iam::${ACCOUNT}:role/latch-hub`;
    const config = integration({}, undefined, { via, viaExternalId: 'hub-ext-1' });
    await provisioner(config).grant(input(config, 'read', 6 * 3_600_000));
    const calls = sts.of('AssumeRole');
    expect(calls.map((call) => [call.params.RoleArn, call.params.RoleSessionName, call.params.ExternalId, call.params.DurationSeconds ?? null])).toEqual([
      [via, 'latch-connector-latch', 'hub-ext-1', null],
      [ROLE, 'alice@example.com', 'latch-ext-42', '3600'],
    ]);
    // The hub session is not tagged as a person's; only the grant's session is.
    expect(calls[0]?.params['Tags.member.1.Key']).toBeUndefined();
    expect(sts.of('GetCallerIdentity')).toHaveLength(0);
    // The hub is assumed with the connector's keys; everything after with the hub session's.
    expect(calls.map((call) => call.signedBy)).toEqual(['AKIAIOSFODNN7EXAMPLE', 'ASIAQ3EGRTYLIS000001']);
    expect(iam.of('GetRole').map((call) => call.signedBy)).toEqual(['ASIAQ3EGRTYLIS000001']);
    expect(federation[0]?.has('SessionDuration')).toBe(false);
  });

  it('names the region when STS is not activated there', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole'
      ? [403, queryError(STS_NS, 'RegionDisabledException', 'STS is not activated in this region for account:123456789012. Your account administrator can activate STS in this region using the IAM Console.')]
      : defaultSts(call));
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'read', 3_600_000))).rejects.toThrow('failed: STS is not activated in eu-west-1 for the account; activate the region in IAM account settings or set connection.region to an active one');
  });

  it('uses settings.maxSessionDuration without reading the role', async () => {
    const config = integration({ maxSessionDuration: 1800 });
    await provisioner(config).grant(input(config, 'read', 3_600_000));
    expect(sts.of('AssumeRole')[0]?.params.DurationSeconds).toBe('1800');
    expect(iam.of('GetRole')).toHaveLength(0);
  });
});

describe('aws-iam-role: AWS refusals', () => {
  it('says the role allows shorter sessions than asked for, and how to fix it', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole'
      ? [400, queryError(STS_NS, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.')]
      : defaultSts(call));
    const config = integration({ maxSessionDuration: 7200 });
    await expect(provisioner(config).grant(input(config, 'read', 2 * 3_600_000))).rejects.toThrow(
      'integration "aws-prod": assuming arn:aws:iam::123456789012:role/prod-admin for read on prod-admin: the role allows shorter sessions than Latch asked for (7200 s). '
      + "Latch asked for 7200 s because settings.maxSessionDuration said 7200 s. Lower the resource's settings.maxSessionDuration, or raise the role's MaxSessionDuration (IAM > Roles > Maximum session duration). "
      + '(The requested DurationSeconds exceeds the MaxSessionDuration set for this role.)');
  });

  it('names the trust policy when AWS denies tagging the session', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole'
      ? [403, queryError(STS_NS, 'AccessDenied', `User: ${CONNECTOR_USER} is not authorized to perform: sts:TagSession on resource: ${ROLE}`)]
      : defaultSts(call));
    const config = integration();
    const error: unknown = await provisioner(config).grant(input(config, 'read', 3_600_000)).catch((caught: unknown) => caught);
    expect(error instanceof Error ? error.message : 'no error').toContain("was denied: the role's trust policy lets the connector assume it but not sts:TagSession; add \"sts:TagSession\" to the Action of the trust policy statement that names the connector");
    expect(sts.of('AssumeRole')).toHaveLength(1);
  });

  it('says which side may be missing when AssumeRole itself is denied', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole'
      ? [403, queryError(STS_NS, 'AccessDenied', `User: ${CONNECTOR_USER} is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`)]
      : defaultSts(call));
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'read', 3_600_000))).rejects.toThrow(
      `either the connector's own IAM policy does not allow sts:AssumeRole on ${ROLE}, or the role's trust policy does not name the connector with this external id, or it lacks sts:TagSession / sts:SetSourceIdentity`);
  });

  it('retries a throttled AssumeRole and then succeeds', async () => {
    let throttled = 0;
    stsAnswer = (call) => {
      if (call.action === 'AssumeRole' && throttled === 0) {
        throttled += 1;
        return [400, queryError(STS_NS, 'Throttling', 'Rate exceeded')];
      }
      return defaultSts(call);
    };
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'read', 3_600_000));
    expect(sts.of('AssumeRole')).toHaveLength(2);
    expect(sts.of('AssumeRole')[0]?.params).toEqual(sts.of('AssumeRole')[1]?.params);
    expect(output.secrets?.AWS_ACCESS_KEY_ID).toBe('ASIAQ3EGRTYLIS000001');
  });

  it('gives up on throttling after the configured attempts with a clear message', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole' ? [400, queryError(STS_NS, 'Throttling', 'Rate exceeded')] : defaultSts(call));
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'read', 3_600_000))).rejects.toThrow('AWS kept throttling the calls in eu-west-1 after retries; Latch tries again later (Rate exceeded)');
    expect(sts.of('AssumeRole')).toHaveLength(3);
  });

  it('explains PackedPolicyTooLarge from AWS', async () => {
    stsAnswer = (call) => (call.action === 'AssumeRole'
      ? [400, queryError(STS_NS, 'PackedPolicyTooLarge', 'Packed policy consumes 112% of allotted space, please use smaller policy for the session.')]
      : defaultSts(call));
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'deploy', 3_600_000))).rejects.toThrow(
      'AWS refused the session policy as too large after packing (Packed policy consumes 112% of allotted space, please use smaller policy for the session.). Ask for a narrower permission');
  });
});

describe('aws-iam-role: session policy size, before anyone approves', () => {
  function bigPolicy(statements: number): Record<string, unknown> {
    return {
      Version: '2012-10-17',
      Statement: Array.from({ length: statements }, (_, index) => ({
        Sid: `Bucket${index}`, Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: [`arn:aws:s3:::team-data-bucket-number-${index}`, `arn:aws:s3:::team-data-bucket-number-${index}/*`],
      })),
    };
  }

  it('refuses an inline policy over 2,048 characters with what to remove, and AWS is never called', async () => {
    const config = integration({}, { wide: { policy: bigPolicy(14), policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] } });
    const roleProvisioner = provisioner(config);
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    const problem = roleProvisioner.checkRequest(resource, 'wide', resource.permissions.wide ?? {});
    const chars = JSON.stringify(bigPolicy(14)).length + 'arn:aws:iam::aws:policy/ReadOnlyAccess'.length;
    expect(problem).toBe(`wide on prod-admin needs a session policy of ${chars.toLocaleString('en-US')} characters, and AWS allows 2,048 for the inline policy and managed policy ARNs together: `
      + `remove at least ${(chars - 2048).toLocaleString('en-US')} characters. The largest parts are statement "Bucket10" (176), statement "Bucket11" (176), statement "Bucket12" (176). `
      + 'Ask for a narrower permission, or let the owner move statements into a managed policy.');
    await expect(roleProvisioner.grant(input(config, 'wide', 3_600_000))).rejects.toThrow('needs a session policy of');
    expect(sts.calls).toHaveLength(0);
  });

  it('refuses more than 10 managed policy ARNs, naming the ones over the limit', () => {
    const arns = Array.from({ length: 12 }, (_, index) => `arn:aws:iam::${ACCOUNT}:policy/team-${index}`);
    const config = integration({}, { many: { policyArns: arns } });
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    expect(provisioner(config).checkRequest(resource, 'many', resource.permissions.many ?? {})).toBe(
      `many on prod-admin names 12 managed policies, and AWS allows at most 10 in one session: remove 2 of them (arn:aws:iam::${ACCOUNT}:policy/team-10, arn:aws:iam::${ACCOUNT}:policy/team-11), or combine them into one managed policy.`);
  });

  it('accepts what fits', () => {
    const config = integration();
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    expect(provisioner(config).checkRequest(resource, 'deploy', resource.permissions.deploy ?? {})).toBeNull();
  });
});

describe('aws-iam-role: early revoke', () => {
  it('writes a deny for the grant\'s sessions issued before the revoke, and keeps earlier revocations that may still matter', async () => {
    const config = integration();
    const roleProvisioner = provisioner(config);
    const grant = input(config, 'read', 3_600_000);
    now = Date.parse('2026-12-02T01:20:07.532Z');
    await roleProvisioner.revoke(grant);
    const [put] = iam.of('PutRolePolicy');
    expect(put?.params.RoleName).toBe('prod-admin');
    expect(put?.params.PolicyName).toBe('latch-revoked-sessions');
    const first = {
      Sid: 'LatchRevokedg01HZX5Q9AWS', Effect: 'Deny', Action: '*', Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-12-02T01:20:07Z' }, StringEquals: { 'aws:PrincipalTag/latch-grant': 'g_01HZX5Q9AWS' } },
    };
    expect(JSON.parse(put?.params.PolicyDocument ?? '{}')).toEqual({ Version: '2012-10-17', Statement: [first] });

    // A second grant revoked later: the policy now holds both; one from 13 hours ago is gone.
    const stale = { ...first, Sid: 'LatchRevokedgOLD', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-12-01T12:00:00Z' }, StringEquals: { 'aws:PrincipalTag/latch-grant': 'g_OLD' } } };
    rolePolicies.documents.set('prod-admin/latch-revoked-sessions', JSON.stringify({ Version: '2012-10-17', Statement: [stale, first] }));
    now = Date.parse('2026-12-02T01:45:00Z');
    await roleProvisioner.revoke({ ...grant, grantId: 'g_SECOND' });
    const second = JSON.parse(iam.of('PutRolePolicy')[1]?.params.PolicyDocument ?? '{}') as { Statement: { Sid: string; Condition: unknown }[] };
    expect(second.Statement.map((statement) => statement.Sid)).toEqual(['LatchRevokedg01HZX5Q9AWS', 'LatchRevokedgSECOND']);
    expect(second.Statement[1]?.Condition).toEqual({ DateLessThan: { 'aws:TokenIssueTime': '2026-12-02T01:45:00Z' }, StringEquals: { 'aws:PrincipalTag/latch-grant': 'g_SECOND' } });
    expect(sts.of('AssumeRole')).toHaveLength(0);
  });

  it('keeps every statement when revokes on the same role run at the same time', async () => {
    const config = integration();
    const roleProvisioner = provisioner(config);
    const grants = ['g_PAR1', 'g_PAR2', 'g_PAR3', 'g_PAR4'].map((grantId) => ({ ...input(config, 'read', 3_600_000), grantId }));
    await Promise.all(grants.map((grant) => roleProvisioner.revoke(grant)));
    expect(rolePolicies.statements('prod-admin').map((statement) => statement.Condition.StringEquals?.['aws:PrincipalTag/latch-grant']).sort()).toEqual(['g_PAR1', 'g_PAR2', 'g_PAR3', 'g_PAR4']);
  });

  it('writes the deny again when another Latch process wrote its version over it, and fails when that keeps happening', async () => {
    const config = integration();
    const roleProvisioner = provisioner(config);
    const other = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'LatchRevokedgOTHER', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-12-02T00:59:00Z' }, StringEquals: { 'aws:PrincipalTag/latch-grant': 'g_OTHER' } } }] });
    let overwrites = 1;
    iamAnswer = (call) => {
      const answer = defaultIam(call);
      // Another process's write lands right after ours, without our statement.
      if (call.action === 'PutRolePolicy' && overwrites > 0) {
        overwrites -= 1;
        rolePolicies.documents.set('prod-admin/latch-revoked-sessions', other);
      }
      return answer;
    };
    await roleProvisioner.revoke(input(config, 'read', 3_600_000));
    expect(iam.of('PutRolePolicy')).toHaveLength(2);
    expect(rolePolicies.statements('prod-admin').map((statement) => statement.Sid)).toEqual(['LatchRevokedgOTHER', 'LatchRevokedg01HZX5Q9AWS']);

    overwrites = 3;
    await expect(roleProvisioner.revoke({ ...input(config, 'read', 3_600_000), grantId: 'g_UNLUCKY' })).rejects.toThrow(
      'another writer kept replacing the policy, 3 times; the revoke is retried. Until it holds, the grant\'s credentials keep working until they expire.');
  });

  it('fails the revoke honestly when the deny cannot be written', async () => {
    iamAnswer = (call) => (call.action === 'PutRolePolicy'
      ? [403, queryError(IAM_NS, 'AccessDenied', `User: ${CONNECTOR_USER} is not authorized to perform: iam:PutRolePolicy on resource: role prod-admin`)]
      : defaultIam(call));
    const config = integration();
    await expect(provisioner(config).revoke(input(config, 'read', 3_600_000))).rejects.toThrow(
      /revoking the sessions of grant g_01HZX5Q9AWS on arn:aws:iam::123456789012:role\/prod-admin \(inline policy latch-revoked-sessions\): writing it \(iam:PutRolePolicy\) was denied: .*iam:PutRolePolicy.* Until it is written, the grant's credentials keep working until they expire\./);
  });
});

describe('aws-iam-role: health', () => {
  it('says when the trust policy lacks sts:TagSession and sts:SetSourceIdentity', async () => {
    trustActions = ['sts:AssumeRole'];
    const health = await provisioner().checkHealth();
    expect(health.ok).toBe(false);
    expect(health.checks).toEqual([
      { name: 'connector', ok: true, detail: `Latch calls AWS as ${CONNECTOR_USER}` },
      { name: 'role prod-admin', ok: true, detail: `${ROLE} allows sessions of up to 43200 s` },
      {
        name: 'trust policy prod-admin', ok: false,
        detail: `the trust policy of ${ROLE} does not allow sts:TagSession and sts:SetSourceIdentity: AssumeRole with Latch's session tags and SourceIdentity fails with AccessDenied. Add "sts:TagSession", "sts:SetSourceIdentity" to the Action of the statement that lets the connector assume the role`,
      },
    ]);
  });

  it('is healthy with a complete trust policy, and names a chained connector', async () => {
    connectorArn = `arn:aws:sts::${CONNECTOR_ACCOUNT}:assumed-role/latch-task/6f1e2d3c`;
    const health = await provisioner().checkHealth();
    expect(health.ok).toBe(true);
    expect(health.checks[0]?.detail).toBe(`Latch calls AWS as ${connectorArn} (a role session: the sessions it issues last at most one hour)`);
    expect(health.checks[2]?.detail).toBe(`the trust policy of ${ROLE} allows sts:TagSession and sts:SetSourceIdentity`);
  });

  it('refuses connector keys in the config', () => {
    expect(() => new AwsIamRoleProvisioner({ ...integration(), credentials: { env: 'AWS_SECRET' } })).toThrow('AWS credentials come from the standard provider chain');
  });
});

describe('aws-iam-role: secrets stay out of the logs', () => {
  it('blanks a role session\'s secret key, session token and sign-in token wherever they show up', async () => {
    const { redactValue, rememberSecretsFrom, scrubText } = await import('../../bot/redact.js');
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'read', 3_600_000));
    const secrets = output.secrets ?? {};
    const logged = JSON.stringify(redactValue({ issued: { secretAccessKey: secrets.AWS_SECRET_ACCESS_KEY, sessionKey: secrets.AWS_SECRET_ACCESS_KEY } }));
    expect(logged).not.toContain('sEcReT');
    const line = scrubText(`assumed: token ${secrets.AWS_SESSION_TOKEN ?? ''} link ${secrets['Console sign-in (valid 15 minutes)'] ?? ''} aws_secret_access_key=${secrets.AWS_SECRET_ACCESS_KEY ?? ''}`);
    expect(line).not.toContain(fakeSessionToken('1').slice(0, 40));
    expect(line).not.toContain('VCQgs5qZZt3Q6fn8Tr5EXAMPLE');
    expect(line).not.toContain('sEcReT');
    // The connector's own key, from the environment, by its value.
    rememberSecretsFrom(process.env);
    expect(scrubText(`oops ${process.env.AWS_SECRET_ACCESS_KEY ?? ''}`)).toBe('oops [REDACTED]');
  });
});
