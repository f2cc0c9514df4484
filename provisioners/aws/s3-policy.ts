import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { GetBucketEncryptionCommand } from '@aws-sdk/client-s3';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, awsErrorMessage, describeAwsError, isAccessDenied, isCode } from './errors.js';
import type { PolicyStatement } from './session-policy.js';

// What read and write mean on one bucket (and prefix), as session policy statements, and
// the KMS statements the bucket's default encryption needs, found when the grant is made:
// a bucket encrypted with a customer-managed key is unreadable without kms:Decrypt on that
// key, and unwritable without kms:GenerateDataKey, so the grant carries both in the same
// session policy (one request, one grant, one revoke). SSE-S3 and the AWS-managed aws/s3
// key need nothing: S3 uses them on the caller's behalf.

export type S3Access = 'read' | 'write';

export interface BucketScope {
  bucket: string;
  /** Object key prefix, without a leading "/", e.g. "finance/2026/"; empty for the whole bucket. */
  prefix: string;
  region: string;
}

const READ_OBJECT = ['s3:GetObject', 's3:GetObjectVersion'];
const WRITE_OBJECT = ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];

/** A key ARN as long as any AWS issues, for measuring a session policy before the key is known. */
export const LONGEST_KEY_ARN = 'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab';

export function bucketStatements(scope: BucketScope, access: S3Access): PolicyStatement[] {
  const bucketArn = `arn:aws:s3:::${scope.bucket}`;
  const list: PolicyStatement = { Sid: 'ListBucket', Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn };
  // Listing is limited to the prefix too; "prefix" alone lets the console and CLI open the folder.
  if (scope.prefix) list.Condition = { StringLike: { 's3:prefix': [scope.prefix, `${scope.prefix}*`] } };
  const objects: PolicyStatement = {
    Sid: access === 'write' ? 'ReadWriteObjects' : 'ReadObjects',
    Effect: 'Allow',
    Action: access === 'write' ? [...READ_OBJECT, ...WRITE_OBJECT] : READ_OBJECT,
    Resource: `${bucketArn}/${scope.prefix}*`,
  };
  return [list, objects];
}

/** read: kms:Decrypt; write: also kms:GenerateDataKey (uploads; multipart uploads decrypt too). Only through S3 in the bucket's region. */
export function kmsStatement(keyArn: string, access: S3Access, region: string): PolicyStatement {
  return {
    Sid: 'BucketKey',
    Effect: 'Allow',
    Action: access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : 'kms:Decrypt',
    Resource: keyArn,
    Condition: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
  };
}

export type BucketEncryption =
  | { kind: 'none' | 'sse-s3' | 'aws-managed-key' }
  | { kind: 'customer-key'; keyArn: string };

/**
 * The bucket's default encryption (s3:GetEncryptionConfiguration), with a KMS key id, key
 * ARN or alias resolved to the key's ARN (kms:DescribeKey), which is what a policy's
 * Resource must name.
 */
export async function bucketEncryption(clients: AwsClients, integration: string, scope: BucketScope): Promise<BucketEncryption> {
  const where = `integration "${integration}": reading the default encryption of bucket ${scope.bucket} (s3:GetEncryptionConfiguration)`;
  let rule;
  try {
    const answer = await clients.s3(scope.region).send(new GetBucketEncryptionCommand({ Bucket: scope.bucket }));
    rule = answer.ServerSideEncryptionConfiguration?.Rules?.find((candidate) => candidate.ApplyServerSideEncryptionByDefault)?.ApplyServerSideEncryptionByDefault;
  } catch (error) {
    if (isCode(error, 'ServerSideEncryptionConfigurationNotFoundError')) return { kind: 'none' };
    if (isCode(error, 'NoSuchBucket')) throw new AwsProvisionerError(`${where}: the bucket does not exist (or is in another partition)`, 'NoSuchBucket', { cause: error });
    throw describeAwsError(error, where, scope.region);
  }
  if (!rule) return { kind: 'none' };
  if (rule.SSEAlgorithm !== 'aws:kms' && rule.SSEAlgorithm !== 'aws:kms:dsse') return { kind: 'sse-s3' };
  const keyId = rule.KMSMasterKeyID;
  if (!keyId) return { kind: 'aws-managed-key' };
  // The key's region: an ARN says it; a bare id or alias is in the bucket's region.
  const keyRegion = keyId.startsWith('arn:') ? keyId.split(':')[3] ?? scope.region : scope.region;
  try {
    const answer = await clients.kms(keyRegion).send(new DescribeKeyCommand({ KeyId: keyId }));
    const metadata = answer.KeyMetadata;
    if (!metadata?.Arn) throw new AwsProvisionerError(`integration "${integration}": kms:DescribeKey of ${keyId} returned no key ARN`);
    return metadata.KeyManager === 'AWS' ? { kind: 'aws-managed-key' } : { kind: 'customer-key', keyArn: metadata.Arn };
  } catch (error) {
    if (error instanceof AwsProvisionerError) throw error;
    // A key ARN needs no lookup to be named in a policy; only whether AWS manages it is unknown, and naming it is harmless.
    if (isAccessDenied(error) && /:key\//.test(keyId)) return { kind: 'customer-key', keyArn: keyId };
    throw new AwsProvisionerError(`integration "${integration}": bucket ${scope.bucket} is encrypted with KMS key ${keyId}, which Latch could not resolve to a key ARN (kms:DescribeKey): ${awsErrorMessage(error)}. `
      + 'Allow kms:DescribeKey on the key for the connector; without the key, the grantee could not read the objects.', isAccessDenied(error) ? 'AccessDenied' : null, { cause: error });
  }
}
