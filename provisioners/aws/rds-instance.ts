import { DescribeDBInstancesCommand, type DBInstance } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, describeAwsError, isCode } from './errors.js';
import { SECRET_ARN } from './settings.js';

// What Latch needs to know of an RDS instance, read with DescribeDBInstances: where it
// answers, its engine, whether IAM database authentication is on, and its DbiResourceId
// (`db-...`), which is what an rds-db:connect ARN names, never the instance identifier.

export type RdsEngine = 'postgres' | 'mysql' | 'mariadb';

export interface RdsInstance {
  identifier: string;
  arn: string;
  account: string;
  partition: string;
  region: string;
  endpoint: string;
  port: number;
  /** The DbiResourceId, e.g. db-ABCDEFGHIJKLMNOPQRSTUVWXY0. */
  resourceId: string;
  /** postgres, mysql, mariadb; null for engines Latch does not provision (oracle-ee, aurora-*...). */
  engine: RdsEngine | null;
  engineName: string;
  iamAuth: boolean;
  status: string;
  tags: Record<string, string>;
}

function engineOf(name: string): RdsEngine | null {
  return name === 'postgres' || name === 'mysql' || name === 'mariadb' ? name : null;
}

/** The instance as Latch uses it, or a sentence on what is missing from AWS's answer. */
export function toRdsInstance(instance: DBInstance, region: string): RdsInstance | string {
  const identifier = instance.DBInstanceIdentifier ?? '?';
  const arn = instance.DBInstanceArn ?? '';
  const parts = arn.split(':');
  if (!instance.Endpoint?.Address || !instance.Endpoint.Port) return `instance ${identifier} has no endpoint yet (status ${instance.DBInstanceStatus ?? 'unknown'})`;
  if (!instance.DbiResourceId) return `instance ${identifier} has no DbiResourceId in DescribeDBInstances`;
  return {
    identifier, arn, account: parts[4] ?? '', partition: parts[1] ?? 'aws', region: parts[3] || region,
    endpoint: instance.Endpoint.Address, port: instance.Endpoint.Port, resourceId: instance.DbiResourceId,
    engine: engineOf(instance.Engine ?? ''), engineName: instance.Engine ?? '?', iamAuth: instance.IAMDatabaseAuthenticationEnabled === true,
    status: instance.DBInstanceStatus ?? 'unknown',
    tags: Object.fromEntries((instance.TagList ?? []).filter((tag) => tag.Key !== undefined).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
  };
}

export async function describeInstance(clients: AwsClients, integration: string, identifier: string, region: string): Promise<RdsInstance> {
  const where = `integration "${integration}": reading RDS instance ${identifier} (rds:DescribeDBInstances)`;
  let found: DBInstance | undefined;
  try {
    found = (await clients.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }))).DBInstances?.[0];
  } catch (error) {
    if (isCode(error, 'DBInstanceNotFound', 'DBInstanceNotFoundFault')) throw new AwsProvisionerError(`${where}: there is no such instance in ${region}`, 'DBInstanceNotFound', { cause: error });
    throw describeAwsError(error, where, region);
  }
  if (!found) throw new AwsProvisionerError(`${where}: there is no such instance in ${region}`, 'DBInstanceNotFound');
  const instance = toRdsInstance(found, region);
  if (typeof instance === 'string') throw new AwsProvisionerError(`${where}: ${instance}`);
  return instance;
}

export interface ConnectorSecret {
  username: string;
  password: string;
}

/**
 * The connector's database credentials from Secrets Manager: a JSON object with username
 * and password (the shape RDS-managed secrets have too). The value is never put in a
 * message, only which key is missing.
 */
export async function readConnectorSecret(clients: AwsClients, integration: string, secretArn: string): Promise<ConnectorSecret> {
  const region = SECRET_ARN.exec(secretArn)?.[1];
  if (!region) throw new AwsProvisionerError(`integration "${integration}": ${secretArn} is not a Secrets Manager secret ARN`);
  const where = `integration "${integration}": reading the connector's secret ${secretArn} (secretsmanager:GetSecretValue)`;
  let text: string | undefined;
  try {
    text = (await clients.secrets(region).send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    throw describeAwsError(error, where, region);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    throw new AwsProvisionerError(`${where}: the secret is not a JSON object with "username" and "password"`);
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  for (const key of ['username', 'password']) {
    if (typeof record[key] !== 'string' || record[key] === '') throw new AwsProvisionerError(`${where}: the secret has no "${key}" key`);
  }
  return { username: String(record.username), password: String(record.password) };
}
