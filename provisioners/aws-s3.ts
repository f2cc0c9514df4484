import type { Integration, Resource } from '../config/schema.js';
import { bucketEncryption, bucketStatements, kmsStatement, LONGEST_KEY_ARN, type BucketScope, type S3Access } from './aws/s3-policy.js';
import type { SessionGrantPlan } from './aws/session-grant.js';
import { sessionPolicy, sessionPolicyProblem, type PolicyStatement } from './aws/session-policy.js';
import { AwsSessionProvisioner, type AwsProvisionerOptions } from './aws/session-provisioner.js';
import { AwsSettingsError, parseAwsConnection, parseSettings, S3Connection, S3PermissionSettings, S3ResourceSettings, type S3Connection as S3ConnectionSettings } from './aws/settings.js';
import { awsErrorMessage } from './aws/errors.js';
import type { HealthCheck, ProvisionerFactory } from './provisioner.js';

// S3 buckets: every grant is a session of the integration's access role, narrowed by its
// session policy to one bucket (and key prefix), read or write. When the bucket's default
// encryption is a customer-managed KMS key, the same session may use that key (decrypt;
// also generate data keys to write), found when the grant is made (aws/s3-policy.ts).

export class AwsS3Provisioner extends AwsSessionProvisioner {
  readonly type = 'aws-s3';
  private readonly access: S3ConnectionSettings;

  constructor(integration: Integration, _env: NodeJS.ProcessEnv = process.env, options: AwsProvisionerOptions = {}) {
    const connection = parseAwsConnection(integration, S3Connection) as S3ConnectionSettings;
    super(integration, connection, options);
    this.access = connection;
  }

  protected async grantPlan(resource: Resource, permission: string, settings: unknown): Promise<SessionGrantPlan> {
    const { scope, access } = this.parse(resource, permission, settings);
    const encryption = await bucketEncryption(this.clients, this.integration.name, scope);
    const key = encryption.kind === 'customer-key' ? kmsStatement(encryption.keyArn, access, scope.region) : null;
    const plan = this.plan(resource, permission, scope, access, key);
    const where = scope.prefix ? `s3://${scope.bucket}/${scope.prefix}` : `s3://${scope.bucket}/`;
    const keyLine = encryption.kind === 'customer-key'
      ? `The bucket is encrypted with KMS key ${encryption.keyArn}; this session may ${access === 'write' ? 'decrypt and generate data keys with it' : 'decrypt with it'} through S3.`
      : null;
    return {
      ...plan,
      instructions: [`${access === 'write' ? 'Read and write' : 'Read'} ${where}: aws --profile ${this.connection.profile} s3 ls ${where}`, ...(keyLine ? [keyLine] : [])],
      details: { bucket: scope.bucket, prefix: scope.prefix, ...(encryption.kind === 'customer-key' ? { kmsKey: encryption.keyArn } : {}) },
    };
  }

  /** Each bucket's default encryption can be read, and its KMS key resolved: what every grant needs. */
  protected override async extraHealth(): Promise<HealthCheck[]> {
    const checks: HealthCheck[] = [];
    const seen = new Set<string>();
    for (const resource of this.integration.resources) {
      let scope: BucketScope;
      try {
        scope = this.parse(resource, Object.keys(resource.permissions)[0] ?? 'read', { access: 'read' }).scope;
      } catch {
        continue; // Reported with the permission's own check.
      }
      if (seen.has(scope.bucket)) continue;
      seen.add(scope.bucket);
      try {
        const encryption = await bucketEncryption(this.clients, this.integration.name, scope);
        const what = encryption.kind === 'customer-key' ? `customer-managed KMS key ${encryption.keyArn} (grants add its kms:Decrypt / kms:GenerateDataKey)` : encryption.kind === 'aws-managed-key' ? 'the AWS-managed aws/s3 key' : encryption.kind === 'sse-s3' ? 'SSE-S3' : 'no default encryption';
        checks.push({ name: `bucket ${scope.bucket}`, ok: true, detail: `bucket ${scope.bucket} is encrypted with ${what}` });
      } catch (error) {
        checks.push({ name: `bucket ${scope.bucket}`, ok: false, detail: awsErrorMessage(error) });
      }
    }
    return checks;
  }

  /** Measured with the longest key ARN AWS issues, so a request that passes here fits whatever key the bucket has. */
  protected configPlan(resource: Resource, permission: string, settings: unknown): SessionGrantPlan {
    const { scope, access } = this.parse(resource, permission, settings);
    return this.plan(resource, permission, scope, access, kmsStatement(LONGEST_KEY_ARN, access, scope.region));
  }

  private plan(resource: Resource, permission: string, scope: BucketScope, access: S3Access, key: PolicyStatement | null): SessionGrantPlan {
    const policy = sessionPolicy([...bucketStatements(scope, access), ...(key ? [key] : [])]);
    const problem = sessionPolicyProblem(policy, `${permission} on ${resource.name}`);
    if (problem) throw new AwsSettingsError(problem);
    const { roleArn, externalId, maxSessionDuration } = this.access;
    return { target: { roleArn, externalId, maxSessionDuration }, policy };
  }

  private parse(resource: Resource, permission: string, settings: unknown): { scope: BucketScope; access: S3Access } {
    const bucket = parseSettings(S3ResourceSettings, resource.settings, `integration "${this.integration.name}" resource "${resource.name}": settings`);
    const parsed = parseSettings(S3PermissionSettings, settings, `integration "${this.integration.name}" resource "${resource.name}" permission "${permission}"`);
    const level = resource.levels[permission];
    const access = parsed.access ?? (permission === 'read' || permission === 'write' ? permission : level === 'read' ? 'read' : level === 'write' || level === 'admin' ? 'write' : null);
    if (!access) throw new AwsSettingsError(`integration "${this.integration.name}" resource "${resource.name}" permission "${permission}": say what it allows with access: read or access: write`);
    return { scope: { bucket: bucket.bucket, prefix: bucket.prefix, region: bucket.region ?? this.connection.region }, access };
  }
}

export const createAwsS3Provisioner: ProvisionerFactory = (integration, env) => new AwsS3Provisioner(integration, env);
