import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchConfig } from '../../config/schema.js';
import { discover } from '../../handlers/discover.js';
import { ACCOUNT, IAM_NS, QueryLog, queryError, queryResponse, useFakeAwsEnvironment, type QueryCall, fakeQueryService, xmlEscape } from '../support/aws.js';

// IAM as AWS answers it (query-protocol XML through nock): a user with AdministratorAccess
// whose only key was last used 200 days ago, a role with an inline read policy used two
// days ago, a role with iam:* never used, the role Latch hands out sessions of, and an AWS
// service-linked role. ListRoles answers in two pages.

const NOW = Date.UTC(2026, 11, 1, 12);
const DAY = 86_400_000;
const iso = (at: number): string => new Date(at).toISOString();
const arn = (kind: 'user' | 'role', name: string, path = '/'): string => `arn:aws:iam::${ACCOUNT}:${kind}${path}${name}`;
const ADMIN_POLICY = 'arn:aws:iam::aws:policy/AdministratorAccess';
const enc = (document: unknown): string => xmlEscape(encodeURIComponent(JSON.stringify(document)));

function roleXml(name: string, path = '/'): string {
  return `<member><Path>${path}</Path><RoleName>${name}</RoleName><RoleId>AROA${name.toUpperCase().replace(/[^A-Z]/g, '').padEnd(17, 'X').slice(0, 17)}</RoleId><Arn>${arn('role', name, path)}</Arn><CreateDate>${iso(NOW - 500 * DAY)}</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument></member>`;
}

const roleLastUsed: Record<string, number | null> = { 'staging-svc': NOW - 2 * DAY, 'iam-admin': null };
const inline: Record<string, { name: string; document: unknown }> = {
  'staging-svc': { name: 'read-artifacts', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: 'arn:aws:s3:::artifacts/*' }] } },
  'iam-admin': { name: 'everything-iam', document: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'iam:*', Resource: '*' } } },
};

function answer(call: QueryCall): [number, string] {
  const ok = (result: string): [number, string] => [200, queryResponse(call.action, IAM_NS, result)];
  const roleName = call.params.RoleName ?? '';
  switch (call.action) {
    case 'ListUsers':
      return ok(`<Users><member><Path>/</Path><UserName>alice</UserName><UserId>AIDAALICEXXXXXXXXXXXX</UserId><Arn>${arn('user', 'alice')}</Arn><CreateDate>${iso(NOW - 900 * DAY)}</CreateDate></member></Users><IsTruncated>false</IsTruncated>`);
    case 'ListAttachedUserPolicies':
      return ok(`<AttachedPolicies><member><PolicyName>AdministratorAccess</PolicyName><PolicyArn>${ADMIN_POLICY}</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>`);
    case 'GetPolicy':
      return ok(`<Policy><PolicyName>AdministratorAccess</PolicyName><Arn>${ADMIN_POLICY}</Arn><DefaultVersionId>v3</DefaultVersionId></Policy>`);
    case 'GetPolicyVersion':
      if (call.params.VersionId !== 'v3') return [400, queryError(IAM_NS, 'NoSuchEntity', 'no such version')];
      return ok(`<PolicyVersion><Document>${enc({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] })}</Document><VersionId>v3</VersionId><IsDefaultVersion>true</IsDefaultVersion></PolicyVersion>`);
    case 'ListUserPolicies':
      return ok('<PolicyNames/><IsTruncated>false</IsTruncated>');
    case 'ListAccessKeys':
      return ok(`<AccessKeyMetadata><member><UserName>alice</UserName><AccessKeyId>AKIAALICEKEY00000001</AccessKeyId><Status>Active</Status><CreateDate>${iso(NOW - 800 * DAY)}</CreateDate></member></AccessKeyMetadata><IsTruncated>false</IsTruncated>`);
    case 'GetAccessKeyLastUsed':
      return ok(`<UserName>alice</UserName><AccessKeyLastUsed><LastUsedDate>${iso(NOW - 200 * DAY)}</LastUsedDate><ServiceName>s3</ServiceName><Region>eu-west-1</Region></AccessKeyLastUsed>`);
    case 'ListRoles':
      if (call.params.Marker === 'page2') return ok(`<Roles>${roleXml('iam-admin')}${roleXml('AWSServiceRoleForSupport', '/aws-service-role/support.amazonaws.com/')}</Roles><IsTruncated>false</IsTruncated>`);
      return ok(`<Roles>${roleXml('staging-svc')}${roleXml('deploy')}</Roles><IsTruncated>true</IsTruncated><Marker>page2</Marker>`);
    case 'ListAttachedRolePolicies':
      return ok('<AttachedPolicies/><IsTruncated>false</IsTruncated>');
    case 'ListRolePolicies':
      return ok(`<PolicyNames>${inline[roleName] ? `<member>${inline[roleName]!.name}</member>` : ''}</PolicyNames><IsTruncated>false</IsTruncated>`);
    case 'GetRolePolicy':
      return ok(`<RoleName>${roleName}</RoleName><PolicyName>${call.params.PolicyName ?? ''}</PolicyName><PolicyDocument>${enc(inline[roleName]?.document ?? {})}</PolicyDocument>`);
    case 'GetRole': {
      const used = roleLastUsed[roleName];
      return ok(`<Role><Path>/</Path><RoleName>${roleName}</RoleName><RoleId>AROAXXXXXXXXXXXXXXXXX</RoleId><Arn>${arn('role', roleName)}</Arn><CreateDate>${iso(NOW - 500 * DAY)}</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>${used ? `<RoleLastUsed><LastUsedDate>${iso(used)}</LastUsedDate><Region>eu-west-1</Region></RoleLastUsed>` : '<RoleLastUsed/>'}</Role>`);
    }
    default:
      return [400, queryError(IAM_NS, 'InvalidAction', `unexpected ${call.action}`)];
  }
}

const config = LatchConfig.parse({
  version: 1,
  settings: { admins: ['sec@example.com'] },
  integrations: [{
    name: 'aws-prod', type: 'aws-iam-role', owner: 'sec@example.com', labels: ['production'], connection: { region: 'eu-west-1' },
    resources: [{ name: 'deploy', settings: { roleArn: arn('role', 'deploy') }, permissions: ['assume'] }],
  }],
});

let restoreEnv: () => void;
const log = new QueryLog();

beforeAll(() => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
  fakeQueryService('https://iam.amazonaws.com', log, answer);
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  restoreEnv();
});

describe('scanning AWS IAM for standing access', () => {
  it('finds users and roles through every page, classes their policies, and ranks the dormant administrators first', async () => {
    const report = await discover({ config, env: {}, now: NOW });
    expect(report.integrations).toEqual([expect.objectContaining({ integration: 'aws-prod', ok: true, principals: 3 })]);
    // Both dormant identity controllers score alike (ties go by name); the used reader comes last.
    expect(report.principals.map((principal) => principal.principal)).toEqual([arn('role', 'iam-admin'), arn('user', 'alice'), arn('role', 'staging-svc')]);

    const [iamAdmin, alice, staging] = report.principals;
    expect(alice!.score).toBe(iamAdmin!.score);
    expect(staging!.score).toBeLessThan(alice!.score);
    expect(alice).toMatchObject({ level: 'identity', usage: 'dormant', sensitivity: 3 });
    expect(alice!.reasons).toContain('dormant: last used 200 days ago');
    expect(alice!.reasons[0]).toBe('identity control: * (through AdministratorAccess)');
    expect(iamAdmin).toMatchObject({ level: 'identity', usage: 'dormant' });
    expect(staging).toMatchObject({ level: 'read', usage: 'active' });
    expect(staging!.privileges).toContainEqual(expect.objectContaining({ kind: 'policy', name: 's3:GetObject', on: 'arn:aws:s3:::artifacts/*', via: ['read-artifacts (inline)'] }));
  });

  it('leaves out the role Latch hands out and AWS service-linked roles, and reads RoleLastUsed from GetRole', () => {
    expect(log.of('ListRoles').map((call) => call.params.Marker ?? null)).toEqual([null, 'page2']);
    expect(log.of('GetRole').map((call) => call.params.RoleName).sort()).toEqual(['iam-admin', 'staging-svc']);
    expect(log.of('GetPolicyVersion')[0]!.params).toMatchObject({ PolicyArn: ADMIN_POLICY, VersionId: 'v3' });
    expect(log.calls.every((call) => call.signedBy === 'AKIAIOSFODNN7EXAMPLE')).toBe(true);
  });

  it('reports an account it may not read as not scanned, with the action AWS refused', async () => {
    nock.cleanAll();
    fakeQueryService('https://iam.amazonaws.com', new QueryLog(), (call) => (call.action === 'ListUsers' ? [403, queryError(IAM_NS, 'AccessDenied', `User: connector is not authorized to perform: iam:ListUsers`)] : answer(call)));
    const report = await discover({ config, env: {}, now: NOW });
    expect(report.principals).toEqual([]);
    expect(report.integrations[0]).toMatchObject({ ok: false });
    expect(report.integrations[0]!.error).toContain('iam:ListUsers');
  });
});
