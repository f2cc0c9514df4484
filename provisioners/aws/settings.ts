import { z } from 'zod';
import type { Integration, Resource } from '../../config/schema.js';
import { parseSettings as parseShared } from '../settings.js';

// The AWS provisioners' part of the config (`connection`, resource `settings`, permission
// settings are free-form maps in config/schema.ts; only these backends know what they mean).
// Every ARN, account id and region is checked against its real shape here, so a typo is a
// config error naming the integration and key before any AWS call is made.

export class AwsSettingsError extends Error {
  override name = 'AwsSettingsError';
}

/** Shows a rejected value without letting it run on: quoted, escaped, shortened. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

export function parseSettings<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  return parseShared(schema, value, where, AwsSettingsError);
}

/** `arn:aws:iam::123456789012:role/path/name` (other partitions too: aws-cn, aws-us-gov). */
export const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
export const POLICY_ARN = /^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;
export const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

export const RoleArn = z.string({ error: 'must be an IAM role ARN' })
  .regex(ROLE_ARN, { error: (issue) => `${show(issue.input)} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME, a 12-digit account id)` });
export const Region = z.string({ error: 'must be an AWS region' })
  .regex(REGION, { error: (issue) => `${show(issue.input)} is not an AWS region such as eu-west-1` });
/** sts:ExternalId: 2-1224 characters of [\w+=,.@:/-]. */
export const ExternalId = z.string({ error: 'must be a string' })
  .regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'must be 2-1224 characters of letters, digits and + = , . @ : / - _' });

const Seconds = (min: number, max: number) => z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a number of seconds' }).int('must be whole seconds').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
);

/** What every AWS integration says about where and as whom Latch calls AWS. */
export const AwsConnection = z.strictObject({
  /** The region of the STS endpoint (regional, as AWS recommends) and of the resources. */
  region: Region.default('us-east-1'),
  /**
   * A role the connector assumes first (an Organization's management or a hub account's
   * role), whose session then assumes the target roles. Role chaining caps every session
   * Latch issues at one hour.
   */
  via: RoleArn.optional(),
  viaExternalId: ExternalId.optional(),
  /** The profile name the DM's instructions use (`aws --profile latch ...`). */
  profile: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a profile name of letters, digits, "_", "." or "-"').default('latch'),
  /** Where the console sign-in link lands. */
  consoleDestination: z.string().regex(/^https:\/\/[A-Za-z0-9.-]+\.aws\.amazon\.com(\/\S*)?$|^https:\/\/[A-Za-z0-9.-]+\.amazonaws\.cn(\/\S*)?$/, 'must be an https URL of the AWS console').default('https://console.aws.amazon.com/'),
  /** Latch's settings.instance (filled in by Latch): the name of the revocation policy carries it. */
  instance: z.string().regex(/^[a-z][a-z0-9]{0,11}$/).default('latch'),
});
export type AwsConnection = z.output<typeof AwsConnection>;

/** aws-iam-role: a resource is one role. */
export const RoleResourceSettings = z.strictObject({
  roleArn: RoleArn,
  externalId: ExternalId.optional(),
  /**
   * The role's MaxSessionDuration, when the connector may not read it (iam:GetRole). Set
   * lower than the role's to keep sessions shorter; higher fails at AssumeRole.
   */
  maxSessionDuration: Seconds(900, 43200).optional(),
});
export type RoleResourceSettings = z.output<typeof RoleResourceSettings>;

/** An inline session policy as written in the config: a JSON object, or its text. */
const InlinePolicy = z.union([z.string().min(1), z.record(z.string(), z.unknown())], { error: 'must be an IAM policy document (a JSON object with Version and Statement, or its text)' });

/** A permission of a role: session policies that narrow what the role may do in this session. */
export const RolePermissionSettings = z.strictObject({
  /** An inline session policy. */
  policy: InlinePolicy.optional(),
  /** Managed policies (at most 10) whose intersection with the role's own the session gets. */
  policyArns: z.array(z.string().regex(POLICY_ARN, { error: (issue) => `${show(issue.input)} is not a managed policy ARN (arn:aws:iam::aws:policy/NAME or arn:aws:iam::123456789012:policy/NAME)` })).optional(),
});
export type RolePermissionSettings = z.output<typeof RolePermissionSettings>;

export function parseAwsConnection(integration: Integration, schema: z.ZodType = AwsConnection): AwsConnection {
  return parseSettings(schema, integration.connection, `integration "${integration.name}": connection`) as AwsConnection;
}

export function parseRoleResource(integration: Integration, resource: Resource): RoleResourceSettings {
  return parseSettings(RoleResourceSettings, resource.settings, `integration "${integration.name}" resource "${resource.name}": settings`);
}

export function parseRolePermission(integration: Integration, resource: Resource, permission: string, settings: unknown): RolePermissionSettings {
  return parseSettings(RolePermissionSettings, settings, `integration "${integration.name}" resource "${resource.name}" permission "${permission}"`);
}

/** The account and name in a role ARN (checked by ROLE_ARN before). */
export function roleParts(arn: string): { account: string; name: string; partition: string } {
  const match = ROLE_ARN.exec(arn);
  if (!match) throw new AwsSettingsError(`${show(arn)} is not an IAM role ARN`);
  return { account: match[1] ?? '', name: match[2] ?? '', partition: arn.split(':')[1] ?? 'aws' };
}

/** The role every S3 (and RDS IAM) grant of an integration assumes, narrowed per grant by its session policy. */
const AccessRole = {
  roleArn: RoleArn,
  externalId: ExternalId.optional(),
  maxSessionDuration: Seconds(900, 43200).optional(),
};

/** aws-s3: the connection names the access role (s3 and KMS rights on the buckets); resources are buckets. */
export const S3Connection = AwsConnection.extend(AccessRole);
export type S3Connection = z.output<typeof S3Connection>;

export const S3ResourceSettings = z.strictObject({
  bucket: z.string({ error: 'is required: the bucket name' })
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: (issue) => `${show(issue.input)} is not an S3 bucket name (3-63 lower-case letters, digits, "." and "-")` }),
  /** Only objects under this key prefix (e.g. finance/2026/); no wildcards: they would widen the grant. */
  prefix: z.string().regex(/^(?!\/)[A-Za-z0-9!_.'()\/=+@,-]{0,512}$/, 'must be an object key prefix such as finance/2026/ (no leading "/", no wildcards)').default(''),
  /** The bucket's region; default the connection's. */
  region: Region.optional(),
});
export type S3ResourceSettings = z.output<typeof S3ResourceSettings>;

export const S3PermissionSettings = z.strictObject({
  /** read: list and get; write: also put, delete and multipart uploads. Default: the permission's name or level. */
  access: z.enum(['read', 'write'], { error: 'must be "read" or "write"' }).optional(),
});

/**
 * The auth type as people and the seed's tags spell it ("iam-auth", "IAM Auth", "iam";
 * "user-password", "User / Password", "password"), as one of two values. Null: neither.
 */
export function normaliseAuthType(value: string): 'iam' | 'password' | null {
  const word = value.trim().toLowerCase().replace(/[\s_/-]+/g, '');
  if (['iam', 'iamauth', 'iamauthentication', 'iamdatabaseauthentication'].includes(word)) return 'iam';
  if (['password', 'userpassword', 'usernamepassword', 'passwordauth', 'passwordauthentication'].includes(word)) return 'password';
  return null;
}

export const AuthType = z.string({ error: 'must be "iam-auth" or "user-password"' }).transform((text, ctx) => {
  const normal = normaliseAuthType(text);
  if (normal === null) {
    ctx.addIssue({ code: 'custom', message: `${show(text)} is not an auth type; write iam-auth (IAM database authentication) or user-password (the connector's password from Secrets Manager)` });
    return z.NEVER;
  }
  return normal;
});

/** arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-6CHARS */
export const SECRET_ARN = /^arn:aws(?:-[a-z]+)*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):secret:[\w/+=.@-]{1,512}$/;
export const SecretArn = z.string({ error: 'must be a Secrets Manager secret ARN' })
  .regex(SECRET_ARN, { error: (issue) => `${show(issue.input)} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:123456789012:secret:NAME)` });

const Port = z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a port number' }).int().min(1).max(65535),
);

/** aws-rds: one RDS instance (PostgreSQL, MySQL or MariaDB); resources and permissions are the database provisioners'. */
export const RdsConnection = AwsConnection.extend({
  instanceId: z.string({ error: 'is required: the DB instance identifier' })
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, { error: (issue) => `${show(issue.input)} is not a DB instance identifier` }),
  authType: AuthType,
  /** The connector's database user: logs in with an IAM token (iam), or is the secret's username (password). */
  user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, 'must be a database user name').optional(),
  /** The database the connector logs in to (PostgreSQL). */
  database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, 'must be a database name').optional(),
  /** password: the secret holding the connector's {"username","password"}; default: the instance's latch-secret tag. */
  secretArn: SecretArn.optional(),
  /** iam: the role grantees' sessions are issued from, narrowed to rds-db:connect as their database user. */
  roleArn: RoleArn.optional(),
  externalId: ExternalId.optional(),
  maxSessionDuration: Seconds(900, 43200).optional(),
  /** Where Latch connects when not to the instance's endpoint (a tunnel, a proxy); tokens are still signed for the endpoint. */
  host: z.string().min(1).optional(),
  port: Port.optional(),
  /** verify-full (default): TLS with the RDS CA bundle in sslRootCert. disable: only for local tests and tunnels that encrypt. */
  ssl: z.enum(['verify-full', 'disable'], { error: 'must be "verify-full" (default) or "disable"' }).default('verify-full'),
  sslRootCert: z.string().min(1).optional(),
  maxConnections: Port.optional(),
  /** MySQL/MariaDB: the host part of the accounts Latch creates. */
  userHost: z.string().min(1).optional(),
}).superRefine((settings, ctx) => {
  if (settings.authType === 'iam' && !settings.roleArn) ctx.addIssue({ code: 'custom', path: ['roleArn'], message: 'iam-auth needs roleArn: the role whose sessions get rds-db:connect for the grantee\'s database user' });
  if (settings.authType === 'iam' && !settings.user) ctx.addIssue({ code: 'custom', path: ['user'], message: 'iam-auth needs user: the connector\'s database user (GRANT rds_iam on PostgreSQL; AWSAuthenticationPlugin on MySQL)' });
  if (settings.authType === 'iam' && settings.secretArn) ctx.addIssue({ code: 'custom', path: ['secretArn'], message: 'iam-auth logs the connector in with IAM tokens; a secret is for user-password only (one auth type per instance)' });
});
export type RdsConnection = z.output<typeof RdsConnection>;
