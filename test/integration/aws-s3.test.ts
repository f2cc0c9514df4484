import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { AwsS3Provisioner } from '../../provisioners/aws-s3.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import {
  ACCOUNT, FakeRolePolicies, assumeRoleResult, callerIdentityResult, CONNECTOR_ACCOUNT, fakeFederation, fakeQueryService, fakeSessionToken, getRoleResult, iamEmptyResponse,
  QueryLog, trustPolicy, useFakeAwsEnvironment, type QueryCall,
} from '../support/aws.js';

// S3 grants against a fake STS, IAM, S3 (REST-XML) and KMS (JSON): the session policy is
// scoped to the bucket and prefix, and carries the KMS statements the bucket's default
// encryption needs, with an alias resolved to the key's ARN.

const STS = 'https://sts.eu-west-1.amazonaws.com';
const IAM = 'https://iam.amazonaws.com';
const KMS = 'https://kms.eu-west-1.amazonaws.com';
const BUCKET = 'acme-finance-reports';
const S3 = `https://${BUCKET}.s3.eu-west-1.amazonaws.com`;
const ACCESS_ROLE = `arn:aws:iam::${ACCOUNT}:role/latch-s3-access`;
const CONNECTOR = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;
const KEY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ALIAS_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/finance-reports`;

let restoreEnv: () => void;
let sts: QueryLog;
let iam: QueryLog;
let rolePolicies: FakeRolePolicies;
let kmsCalls: { target: string; body: Record<string, unknown> }[];
let s3Calls: string[];
let encryption: string | null;
let describeKey: (keyId: string) => [number, Record<string, unknown>];
const opened: AwsS3Provisioner[] = [];

function encryptionXml(algorithm: string, keyId?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ApplyServerSideEncryptionByDefault>
      <SSEAlgorithm>${algorithm}</SSEAlgorithm>${keyId ? `\n      <KMSMasterKeyID>${keyId}</KMSMasterKeyID>` : ''}
    </ApplyServerSideEncryptionByDefault>
    <BucketKeyEnabled>true</BucketKeyEnabled>
  </Rule>
</ServerSideEncryptionConfiguration>`;
}

function keyMetadata(arn: string, manager: 'CUSTOMER' | 'AWS'): Record<string, unknown> {
  return {
    KeyMetadata: {
      AWSAccountId: ACCOUNT, Arn: arn, KeyId: arn.split('/').pop(), CreationDate: 1.7e9, Enabled: true, KeyState: 'Enabled',
      KeyManager: manager, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS', MultiRegion: false,
      Description: manager === 'AWS' ? 'Default key that protects my S3 objects when no other key is defined' : 'finance reports',
    },
  };
}

function integration(prefix = 'finance/2026/'): Integration {
  return IntegrationSchema.parse({
    name: 'data', type: 'aws-s3', owner: 'owner@example.com',
    connection: { region: 'eu-west-1', roleArn: ACCESS_ROLE, instance: 'latch' },
    resources: [{
      name: 'finance-reports',
      settings: { bucket: BUCKET, ...(prefix ? { prefix } : {}) },
      permissions: { read: { level: 'read' }, write: { level: 'write' }, upload: { access: 'write' } },
    }],
  });
}

function input(config: Integration, permission: string): GrantInput {
  const resource = config.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId: 'g_S3GRANT1', requestId: 'AR-S3REQ1', grantee: 'bob@example.com', integration: config, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal: 'latch_bob_abc123', expiresAt: Date.now() + 3_600_000,
  };
}

function provisioner(config = integration()): AwsS3Provisioner {
  const created = new AwsS3Provisioner(config, process.env, { maxAttempts: 2 });
  opened.push(created);
  return created;
}

function sessionPolicy(): unknown {
  return JSON.parse(sts.of('AssumeRole')[0]?.params.Policy ?? 'null');
}

beforeAll(() => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
});

beforeEach(() => {
  sts = new QueryLog();
  iam = new QueryLog();
  rolePolicies = new FakeRolePolicies();
  kmsCalls = [];
  s3Calls = [];
  encryption = encryptionXml('aws:kms', ALIAS_ARN);
  describeKey = (keyId) => (keyId === ALIAS_ARN ? [200, keyMetadata(KEY_ARN, 'CUSTOMER')] : [400, { __type: 'NotFoundException', message: `Alias ${keyId} is not found.` }]);
  fakeQueryService(STS, sts, (call: QueryCall) => {
    if (call.action === 'GetCallerIdentity') return [200, callerIdentityResult(CONNECTOR)];
    return [200, assumeRoleResult(call.params.RoleArn ?? '', call.params.RoleSessionName ?? '', {
      accessKeyId: 'ASIAQ3EGRTYLS3000001', secretAccessKey: 's3SeCrEt/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: fakeSessionToken('s3'),
    }, new Date(Date.now() + Number(call.params.DurationSeconds) * 1000))];
  });
  fakeQueryService(IAM, iam, (call: QueryCall) => {
    if (call.action === 'GetRole') return [200, getRoleResult(ACCESS_ROLE, 43_200, trustPolicy(CONNECTOR, ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']))];
    return rolePolicies.answer(call) ?? [200, iamEmptyResponse(call.action)];
  });
  nock(S3).persist().get('/').query({ encryption: '' }).reply(() => {
    s3Calls.push('GetBucketEncryption');
    if (encryption === null) {
      return [404, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code><Message>The server side encryption configuration was not found</Message><BucketName>${BUCKET}</BucketName><RequestId>9Q2KX1</RequestId><HostId>abc=</HostId></Error>`, { 'content-type': 'application/xml' }];
    }
    return [200, encryption, { 'content-type': 'application/xml' }];
  });
  nock(KMS).persist().post('/').reply(function reply(_uri, body) {
    const target = String(this.req.headers['x-amz-target'] ?? '');
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown>;
    kmsCalls.push({ target, body: parsed });
    const [status, answer] = describeKey(String(parsed.KeyId));
    return [status, JSON.stringify(answer), { 'content-type': 'application/x-amz-json-1.1' }];
  });
  fakeFederation([]);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((opened) => opened.close()));
  nock.cleanAll();
});

afterAll(() => {
  nock.enableNetConnect();
  restoreEnv();
});

describe('aws-s3: session policies scoped to the bucket, with the bucket key', () => {
  it('read: list and get under the prefix, and kms:Decrypt on the key the alias names', async () => {
    const config = integration();
    const output = await provisioner(config).grant(input(config, 'read'));
    expect(sts.of('AssumeRole')[0]?.params.RoleArn).toBe(ACCESS_ROLE);
    expect(s3Calls).toEqual(['GetBucketEncryption']);
    expect(kmsCalls).toEqual([{ target: 'TrentService.DescribeKey', body: { KeyId: ALIAS_ARN } }]);
    expect(sessionPolicy()).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ListBucket', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}`, Condition: { StringLike: { 's3:prefix': ['finance/2026/', 'finance/2026/*'] } } },
        { Sid: 'ReadObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${BUCKET}/finance/2026/*` },
        { Sid: 'BucketKey', Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY_ARN, Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } },
      ],
    });
    expect(output.details).toMatchObject({ bucket: BUCKET, prefix: 'finance/2026/', kmsKey: KEY_ARN });
    expect(output.instructions).toContain(`Read s3://${BUCKET}/finance/2026/: aws --profile latch s3 ls s3://${BUCKET}/finance/2026/`);
    expect(output.instructions).toContain(`The bucket is encrypted with KMS key ${KEY_ARN}; this session may decrypt with it through S3.`);
  });

  it('write: also put, delete and multipart uploads, and kms:GenerateDataKey', async () => {
    const config = integration('');
    await provisioner(config).grant(input(config, 'write'));
    expect(sessionPolicy()).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ListBucket', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
        {
          Sid: 'ReadWriteObjects', Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          Resource: `arn:aws:s3:::${BUCKET}/*`,
        },
        { Sid: 'BucketKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY_ARN, Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } },
      ],
    });
  });

  it('uses a key ARN as it is, and access: write on a permission of another name', async () => {
    encryption = encryptionXml('aws:kms:dsse', KEY_ARN);
    describeKey = () => [200, keyMetadata(KEY_ARN, 'CUSTOMER')];
    const config = integration();
    await provisioner(config).grant(input(config, 'upload'));
    const statements = (sessionPolicy() as { Statement: { Sid: string; Action: unknown; Resource: unknown }[] }).Statement;
    expect(statements.find((statement) => statement.Sid === 'BucketKey')).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY_ARN });
  });

  it('adds no KMS statement for SSE-S3, without asking KMS', async () => {
    encryption = encryptionXml('AES256');
    const config = integration();
    await provisioner(config).grant(input(config, 'write'));
    expect((sessionPolicy() as { Statement: { Sid: string }[] }).Statement.map((statement) => statement.Sid)).toEqual(['ListBucket', 'ReadWriteObjects']);
    expect(kmsCalls).toEqual([]);
  });

  it('adds no KMS statement for the AWS-managed aws/s3 key, nor for a bucket without default encryption', async () => {
    encryption = encryptionXml('aws:kms', 'alias/aws/s3');
    describeKey = () => [200, keyMetadata(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/0f9e8d7c-aaaa-bbbb-cccc-111122223333`, 'AWS')];
    const config = integration();
    const s3 = provisioner(config);
    await s3.grant(input(config, 'read'));
    expect((sessionPolicy() as { Statement: { Sid: string }[] }).Statement.map((statement) => statement.Sid)).toEqual(['ListBucket', 'ReadObjects']);
    expect(kmsCalls[0]?.body).toEqual({ KeyId: 'alias/aws/s3' });

    encryption = null;
    await s3.grant(input(config, 'read'));
    expect(JSON.parse(sts.of('AssumeRole')[1]?.params.Policy ?? '{}')).toEqual({ Version: '2012-10-17', Statement: (sessionPolicy() as { Statement: unknown[] }).Statement });
  });

  it('refuses the grant when the bucket key cannot be resolved, rather than handing out unreadable access', async () => {
    describeKey = () => [400, { __type: 'AccessDeniedException', message: `User: ${CONNECTOR} is not authorized to perform: kms:DescribeKey on resource: ${ALIAS_ARN}` }];
    const config = integration();
    await expect(provisioner(config).grant(input(config, 'read'))).rejects.toThrow(
      `integration "data": bucket ${BUCKET} is encrypted with KMS key ${ALIAS_ARN}, which Latch could not resolve to a key ARN (kms:DescribeKey): User: ${CONNECTOR} is not authorized to perform: kms:DescribeKey on resource: ${ALIAS_ARN}. Allow kms:DescribeKey on the key for the connector`);
    expect(sts.of('AssumeRole')).toHaveLength(0);
  });

  it('revokes by denying the grant\'s sessions on the access role only', async () => {
    const config = integration();
    await provisioner(config).revoke(input(config, 'read'));
    const [put] = iam.of('PutRolePolicy');
    expect(put?.params.RoleName).toBe('latch-s3-access');
    const document = JSON.parse(put?.params.PolicyDocument ?? '{}') as { Statement: { Condition: { StringEquals: Record<string, string> } }[] };
    expect(document.Statement.map((statement) => statement.Condition.StringEquals)).toEqual([{ 'aws:PrincipalTag/latch-grant': 'g_S3GRANT1' }]);
  });

  it('health: the access role\'s trust policy, and each bucket\'s encryption with its key resolved', async () => {
    const health = await provisioner().checkHealth();
    expect(health.ok).toBe(true);
    expect(health.checks.map((check) => check.detail)).toEqual([
      `Latch calls AWS as ${CONNECTOR}`,
      `${ACCESS_ROLE} allows sessions of up to 43200 s`,
      `the trust policy of ${ACCESS_ROLE} allows sts:TagSession and sts:SetSourceIdentity`,
      `bucket ${BUCKET} is encrypted with customer-managed KMS key ${KEY_ARN} (grants add its kms:Decrypt / kms:GenerateDataKey)`,
    ]);
    describeKey = () => [400, { __type: 'AccessDeniedException', message: `User: ${CONNECTOR} is not authorized to perform: kms:DescribeKey on resource: ${ALIAS_ARN}` }];
    const denied = await provisioner().checkHealth();
    expect(denied.ok).toBe(false);
    expect(denied.checks.at(-1)).toMatchObject({ name: `bucket ${BUCKET}`, ok: false });
    expect(denied.checks.at(-1)?.detail).toContain('Allow kms:DescribeKey on the key for the connector');
  });

  it('says which permissions do not say read or write', () => {
    const config = IntegrationSchema.parse({
      name: 'data', type: 'aws-s3', owner: 'owner@example.com', connection: { roleArn: ACCESS_ROLE },
      resources: [{ name: 'logs', settings: { bucket: 'acme-logs' }, permissions: ['audit'] }],
    });
    const resource = config.resources[0];
    if (!resource) throw new Error('no resource');
    expect(provisioner(config).checkRequest(resource, 'audit', {})).toBe('integration "data" resource "logs" permission "audit": say what it allows with access: read or access: write');
    expect(() => new AwsS3Provisioner({ ...config, connection: { roleArn: 'arn:aws:iam::1234:role/x' } })).toThrow('integration "data": connection.roleArn: "arn:aws:iam::1234:role/x" is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME, a 12-digit account id)');
  });
});
