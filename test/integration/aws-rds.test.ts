import nock from 'nock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { AwsRdsProvisioner } from '../../provisioners/aws-rds.js';
import { MysqlProvisioner, RDS_IAM_AUTHENTICATION } from '../../provisioners/mysql.js';
import type { GrantInput } from '../../provisioners/provisioner.js';
import {
  ACCOUNT, FakeRolePolicies, assumeRoleResult, callerIdentityResult, CONNECTOR_ACCOUNT, describeDbInstancesResult, fakeJsonService, fakeQueryService, fakeSessionToken, getRoleResult,
  iamEmptyResponse, QueryLog, queryError, RDS_NS, trustPolicy, useFakeAwsEnvironment, type FakeRdsInstance, type QueryCall,
} from '../support/aws.js';
import { asRoot, createTestDatabase as createMysqlDatabase, type TestDatabase as MysqlDatabase } from '../support/mysql.js';
import { startLoginGate } from '../support/pg-login-gate.js';
import { asSuperuser, createTestDatabase, PG_HOST, PG_PORT, PG_SUPERUSER, type TestDatabase } from '../support/postgres.js';
import { useRdsIamStandIn, type RdsIamStandIn } from '../support/rds-iam-stand-in.js';

// RDS through the database provisioners, against the local PostgreSQL and MariaDB (standing
// in for the instance, reached through the connection's host override) and a fake RDS, STS,
// IAM and Secrets Manager. PostgreSQL gets a stand-in rds_iam role, made by this test. The
// local MariaDB has no AWSAuthenticationPlugin: the IAM-auth statement is proved to reach
// the server and to be refused there with a clear message, the exact statement is the
// exported constant, and the rest of the MySQL life cycle is proved in password mode.

const STS = 'https://sts.eu-west-1.amazonaws.com';
const IAM = 'https://iam.amazonaws.com';
const RDS = 'https://rds.eu-west-1.amazonaws.com';
const SECRETS = 'https://secretsmanager.eu-west-1.amazonaws.com';
const CONNECT_ROLE = `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`;
const CONNECTOR = `arn:aws:iam::${CONNECTOR_ACCOUNT}:user/latch-connector`;
const RESOURCE_ID = 'db-ABCDEFGHIJKLMNOPQRSTUVWXY0';
const SECRET_ARN = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:rds/orders/latch-connector-Xy12Ab`;

let restoreEnv: () => void;
let db: TestDatabase;
let mysqlDb: MysqlDatabase;
let rdsIam: RdsIamStandIn | undefined;
let sts: QueryLog;
let iam: QueryLog;
let rolePolicies: FakeRolePolicies;
let rds: QueryLog;
let secretCalls: { target: string; body: Record<string, unknown> }[];
let instance: FakeRdsInstance;
let secretValue: Record<string, unknown>;
const opened: AwsRdsProvisioner[] = [];

function integration(connection: Record<string, unknown>, engine: 'postgres' | 'mysql' = 'postgres'): Integration {
  const permissions = engine === 'postgres'
    ? { read: { roles: [db.readRole] }, write: { roles: [db.writeRole] } }
    : { read: { roles: [mysqlDb.readRole] } };
  return IntegrationSchema.parse({
    name: 'orders-rds', type: 'aws-rds', owner: 'owner@example.com',
    connection: { region: 'eu-west-1', instanceId: 'orders-prod', ssl: 'disable', instance: engine === 'postgres' ? db.instance : mysqlDb.instance, ...connection },
    resources: [{ name: 'orders', settings: engine === 'postgres' ? { databases: [db.database] } : { database: mysqlDb.database }, permissions }],
  });
}

function provisioner(config: Integration): AwsRdsProvisioner {
  const created = new AwsRdsProvisioner(config, process.env, { maxAttempts: 2 });
  opened.push(created);
  return created;
}

function input(config: Integration, permission: string, principal: string, grantId = 'g_RDS1'): GrantInput {
  const resource = config.resources[0];
  if (!resource) throw new Error('no resource');
  return {
    grantId, requestId: 'AR-RDS1', grantee: 'carol@example.com', integration: config, resource, permission,
    permissionSettings: resource.permissions[permission] ?? {}, principal, expiresAt: Date.now() + 3_600_000,
  };
}

beforeAll(async () => {
  restoreEnv = useFakeAwsEnvironment();
  db = await createTestDatabase();
  mysqlDb = await createMysqlDatabase();
  rdsIam = await useRdsIamStandIn();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
});

beforeEach(() => {
  sts = new QueryLog();
  iam = new QueryLog();
  rolePolicies = new FakeRolePolicies();
  rds = new QueryLog();
  secretCalls = [];
  instance = { identifier: 'orders-prod', engine: 'postgres', resourceId: RESOURCE_ID, iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod' } };
  secretValue = { username: PG_SUPERUSER, password: 'connector-password-from-secrets-manager', engine: 'postgres', host: 'orders-prod.c9akciq32rcb.eu-west-1.rds.amazonaws.com', port: 5432 };
  fakeQueryService(STS, sts, (call: QueryCall) => {
    if (call.action === 'GetCallerIdentity') return [200, callerIdentityResult(CONNECTOR)];
    return [200, assumeRoleResult(call.params.RoleArn ?? '', call.params.RoleSessionName ?? '', {
      accessKeyId: 'ASIAQ3EGRTYLRDS00001', secretAccessKey: 'rdsSeCrEt/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: fakeSessionToken('rds'),
    }, new Date(Date.now() + Number(call.params.DurationSeconds) * 1000))];
  });
  fakeQueryService(IAM, iam, (call: QueryCall) => {
    if (call.action === 'GetRole') return [200, getRoleResult(CONNECT_ROLE, 3600, trustPolicy(CONNECTOR, ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']))];
    return rolePolicies.answer(call) ?? [200, iamEmptyResponse(call.action)];
  });
  fakeQueryService(RDS, rds, (call: QueryCall) => (call.params.DBInstanceIdentifier === instance.identifier
    ? [200, describeDbInstancesResult([instance])]
    : [404, queryError(RDS_NS, 'DBInstanceNotFound', `DBInstance ${call.params.DBInstanceIdentifier ?? ''} not found.`)]));
  fakeJsonService(SECRETS, secretCalls, (target, body) => (target === 'secretsmanager.GetSecretValue' && body.SecretId === SECRET_ARN
    ? [200, { ARN: SECRET_ARN, Name: 'rds/orders/latch-connector', SecretString: JSON.stringify(secretValue), VersionId: 'b3e2f1a0-1111-2222-3333-444455556666', VersionStages: ['AWSCURRENT'], CreatedDate: 1.76e9 }]
    : [400, { __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." }]));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((opened) => opened.close()));
  nock.cleanAll();
});

afterAll(async () => {
  nock.enableNetConnect();
  await db?.cleanup();
  await mysqlDb?.cleanup();
  await rdsIam?.release();
  restoreEnv();
});

describe('aws-rds with IAM database authentication (PostgreSQL)', () => {
  const iamConnection = () => ({ authType: 'IAM Auth', user: PG_SUPERUSER, database: 'postgres', roleArn: CONNECT_ROLE, host: PG_HOST, port: PG_PORT });

  it('creates a login role without a password in rds_iam and the group role, and a session that may connect as that user only', async () => {
    const config = integration(iamConnection());
    const rdsProvisioner = provisioner(config);
    const principal = `${db.instance}_carol_a1b2c3`;
    const output = await rdsProvisioner.grant(input(config, 'read', principal));

    const role = await db.role(principal);
    expect(role).toMatchObject({ canLogin: true, superuser: false, password: null });
    expect(role?.memberOf).toEqual([db.readRole, 'rds_iam'].sort());

    expect(rds.of('DescribeDBInstances').map((call) => call.params.DBInstanceIdentifier)).toEqual(['orders-prod']);
    const [assume] = sts.of('AssumeRole');
    expect(assume?.params.RoleArn).toBe(CONNECT_ROLE);
    expect(assume?.params.DurationSeconds).toBe('3600');
    expect(JSON.parse(assume?.params.Policy ?? '{}')).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'ConnectAsGrantUser', Effect: 'Allow', Action: 'rds-db:connect', Resource: `arn:aws:rds-db:eu-west-1:${ACCOUNT}:dbuser:${RESOURCE_ID}/${principal}` }],
    });

    expect(output.principal).toBe(principal);
    expect(Object.keys(output.secrets ?? {})).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
    expect(output.details).toMatchObject({ username: principal, dbUserArn: `arn:aws:rds-db:eu-west-1:${ACCOUNT}:dbuser:${RESOURCE_ID}/${principal}` });
    expect(output.instructions).toContain(`Get one: aws rds generate-db-auth-token --hostname orders-prod.c9akciq32rcb.eu-west-1.rds.amazonaws.com --port 5432 --region eu-west-1 --username ${principal} --profile latch`);
    expect(output.instructions).toContain(`psql "host=orders-prod.c9akciq32rcb.eu-west-1.rds.amazonaws.com port=5432 dbname=postgres user=${principal} sslmode=verify-full sslrootcert=global-bundle.pem"`);
    expect(output.instructions).toContain(`These credentials allow only rds-db:connect as ${principal} on orders-prod`);
    expect(output.instructions).not.toContain('Console sign-in');
  });

  it('logs the connector in with an RDS IAM token signed for the instance endpoint, its user and region', async () => {
    const endpoint = 'orders-prod.c9akciq32rcb.eu-west-1.rds.amazonaws.com';
    const isToken = (user: string, password: string): boolean => {
      const token = new URL(`https://${password}`);
      return token.host === `${endpoint}:5432` && token.searchParams.get('Action') === 'connect' && token.searchParams.get('DBUser') === user
        && /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/rds-db\/aws4_request$/.test(token.searchParams.get('X-Amz-Credential') ?? '')
        && /^[0-9a-f]{64}$/.test(token.searchParams.get('X-Amz-Signature') ?? '');
    };
    const gate = await startLoginGate(isToken);
    try {
      const config = integration({ ...iamConnection(), host: '127.0.0.1', port: gate.port });
      const principal = `${db.instance}_carol_z9y8x7`;
      await provisioner(config).grant(input(config, 'read', principal));
      expect(gate.logins.length).toBeGreaterThan(0);
      expect(gate.logins.map((login) => [login.user, login.accepted])).toEqual(gate.logins.map(() => [PG_SUPERUSER, true]));
      const token = new URL(`https://${gate.logins[0]?.password ?? ''}`);
      expect(token.searchParams.get('X-Amz-Expires')).toBe('900');
      expect(token.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
      expect((await db.role(principal))?.memberOf).toEqual([db.readRole, 'rds_iam'].sort());
    } finally {
      await gate.close();
    }
  });

  it('issues a new session for the same user on /access credentials, and revokes by dropping the user and denying the session', async () => {
    const config = integration(iamConnection());
    const rdsProvisioner = provisioner(config);
    const principal = `${db.instance}_carol_d4e5f6`;
    const grant = input(config, 'write', principal, 'g_RDS2');
    await rdsProvisioner.grant(grant);
    const again = await rdsProvisioner.resetCredentials(grant);
    expect(again.principal).toBe(principal);
    expect(sts.of('AssumeRole')).toHaveLength(2);
    expect(sts.of('AssumeRole')[1]?.params.Policy).toBe(sts.of('AssumeRole')[0]?.params.Policy);
    expect((await db.role(principal))?.memberOf).toEqual([db.writeRole, 'rds_iam'].sort());

    await rdsProvisioner.revoke(grant);
    expect(await db.role(principal)).toBeNull();
    const [put] = iam.of('PutRolePolicy');
    expect(put?.params.RoleName).toBe('latch-rds-connect');
    expect(JSON.parse(put?.params.PolicyDocument ?? '{}').Statement[0].Condition.StringEquals).toEqual({ 'aws:PrincipalTag/latch-grant': 'g_RDS2' });
    // Revoking what is gone succeeds.
    await rdsProvisioner.revoke(grant);
  });

  it('revokes a batch: the users go in the PostgreSQL provisioner\'s batch, then each grant\'s session is denied', async () => {
    const config = integration(iamConnection());
    const rdsProvisioner = provisioner(config);
    const first = input(config, 'read', `${db.instance}_carol_b1b1b1`, 'g_BATCH1');
    const second = input(config, 'write', `${db.instance}_dave_b2b2b2`, 'g_BATCH2');
    await rdsProvisioner.grant(first);
    await rdsProvisioner.grant(second);
    expect(await rdsProvisioner.revokeMany([first, second])).toEqual([{ ok: true }, { ok: true }]);
    expect(await db.role(first.principal)).toBeNull();
    expect(await db.role(second.principal)).toBeNull();
    const denied = iam.of('PutRolePolicy').map((call) => (JSON.parse(call.params.PolicyDocument ?? '{}') as { Statement: { Condition: { StringEquals: Record<string, string> } }[] }).Statement.at(-1)?.Condition.StringEquals['aws:PrincipalTag/latch-grant']);
    expect(denied).toEqual(['g_BATCH1', 'g_BATCH2']);
  });

  it('refuses iam-auth on an instance whose IAM database authentication is off, naming the fix', async () => {
    instance = { ...instance, iamAuth: false };
    const config = integration(iamConnection());
    await expect(provisioner(config).grant(input(config, 'read', `${db.instance}_carol_g7h8i9`))).rejects.toThrow(
      'integration "orders-rds": the integration says iam-auth, but orders-prod has IAM database authentication off; enable it (aws rds modify-db-instance --db-instance-identifier orders-prod --enable-iam-database-authentication --apply-immediately) or use user-password');
    expect(sts.of('AssumeRole')).toHaveLength(0);
  });

  it('normalises the auth type spellings and rejects others', () => {
    for (const spelling of ['iam-auth', 'IAM Auth', 'iam', 'iam_auth']) expect(provisioner(integration({ ...iamConnection(), authType: spelling })).connection.authType).toBe('iam');
    for (const spelling of ['user-password', 'User / Password', 'password']) expect(provisioner(integration({ authType: spelling })).connection.authType).toBe('password');
    expect(() => provisioner(integration({ authType: 'kerberos' }))).toThrow('integration "orders-rds": connection.authType: "kerberos" is not an auth type; write iam-auth (IAM database authentication) or user-password');
    expect(() => provisioner(integration({ authType: 'iam-auth' }))).toThrow("connection.roleArn: iam-auth needs roleArn: the role whose sessions get rds-db:connect for the grantee's database user");
  });

  // Waits for the other files that use rds_iam to finish: the role is renamed away for a moment.
  it('says the server has no rds_iam when it is not RDS', { timeout: 600_000 }, async () => {
    await (rdsIam as RdsIamStandIn).alone(async () => {
      await asSuperuser((client) => client.query('ALTER ROLE rds_iam RENAME TO rds_iam_away'));
      try {
        const config = integration(iamConnection());
        await expect(provisioner(config).grant(input(config, 'read', `${db.instance}_carol_j1k2l3`))).rejects.toThrow(
          'role rds_iam does not exist, so this server has no RDS IAM database authentication (only Amazon RDS and Aurora PostgreSQL do)');
      } finally {
        await asSuperuser((client) => client.query('ALTER ROLE rds_iam_away RENAME TO rds_iam'));
      }
    });
  });
});

describe('aws-rds with password authentication (connector secret from Secrets Manager)', () => {
  it('reads the connector from the secret the instance tag names, and grants a password login on PostgreSQL', async () => {
    instance = { ...instance, iamAuth: false, tags: { auth_type: 'user-password', 'latch-secret': SECRET_ARN } };
    const config = integration({ authType: 'user-password', host: PG_HOST, port: PG_PORT, database: 'postgres' });
    const rdsProvisioner = provisioner(config);
    const principal = `${db.instance}_carol_m4n5o6`;
    const output = await rdsProvisioner.grant(input(config, 'read', principal));
    expect(secretCalls).toEqual([{ target: 'secretsmanager.GetSecretValue', body: { SecretId: SECRET_ARN } }]);
    const password = output.secrets?.password ?? '';
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect((await db.role(principal))?.memberOf).toEqual([db.readRole]);
    const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: principal, password, database: db.database });
    await client.connect();
    expect((await client.query<{ note: string }>('SELECT note FROM public.items')).rows[0]?.note).toBe('first');
    await client.end();
    expect(sts.of('AssumeRole')).toHaveLength(0);
    await rdsProvisioner.revoke(input(config, 'read', principal));
    expect(await db.role(principal)).toBeNull();
  });

  it('says what the secret lacks, never what it holds', async () => {
    secretValue = { username: PG_SUPERUSER, pass: 'connector-password-from-secrets-manager' };
    const config = integration({ authType: 'user-password', secretArn: SECRET_ARN, host: PG_HOST, port: PG_PORT });
    const error: unknown = await provisioner(config).grant(input(config, 'read', `${db.instance}_carol_p7q8r9`)).catch((caught: unknown) => caught);
    const message = error instanceof Error ? error.message : '';
    expect(message).toBe(`integration "orders-rds": reading the connector's secret ${SECRET_ARN} (secretsmanager:GetSecretValue): the secret has no "password" key`);
    expect(message).not.toContain('connector-password-from-secrets-manager');
  });

  it('asks for the secret when neither the config nor a tag names it', async () => {
    instance = { ...instance, tags: { auth_type: 'user-password' } };
    const config = integration({ authType: 'user-password', host: PG_HOST, port: PG_PORT });
    await expect(provisioner(config).grant(input(config, 'read', `${db.instance}_carol_s1t2u3`))).rejects.toThrow(
      'integration "orders-rds": user-password needs the connector\'s secret: set connection.secretArn or tag orders-prod with latch-secret = the secret\'s ARN');
  });

  it('grants on MariaDB with the connector from the secret', async () => {
    const connector = await mysqlDb.createConnector();
    secretValue = { username: connector.user, password: connector.password };
    instance = { identifier: 'orders-prod', engine: 'mariadb', resourceId: RESOURCE_ID, iamAuth: false, tags: { 'apono-secret': SECRET_ARN } };
    const config = integration({ authType: 'user-password', host: '127.0.0.1', port: 3306 }, 'mysql');
    const rdsProvisioner = provisioner(config);
    const principal = `${mysqlDb.instance}_carol_v4w5`;
    const output = await rdsProvisioner.grant(input(config, 'read', principal));
    expect(output.secrets?.password?.length).toBeGreaterThanOrEqual(20);
    expect(await mysqlDb.accountExists(principal)).toBe(true);
    await rdsProvisioner.revoke(input(config, 'read', principal));
    expect(await mysqlDb.accountExists(principal)).toBe(false);
  });
});

describe('MySQL/MariaDB accounts with RDS IAM authentication', () => {
  it('sends CREATE USER ... IDENTIFIED WITH AWSAuthenticationPlugin AS \'RDS\', which a server without the plugin refuses clearly, leaving nothing behind', async () => {
    expect(RDS_IAM_AUTHENTICATION).toBe("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'");
    const config = IntegrationSchema.parse({
      name: 'orders-rds', type: 'mysql', owner: 'owner@example.com',
      connection: { host: '127.0.0.1', port: 3306, user: 'root', instance: mysqlDb.instance },
      resources: [{ name: 'orders', settings: { database: mysqlDb.database }, permissions: { read: { roles: [mysqlDb.readRole] } } }],
    });
    const mysqlProvisioner = new MysqlProvisioner(config, {}, { userAuth: 'rds-iam' });
    const principal = `${mysqlDb.instance}_carol_x6y7`;
    try {
      const error: unknown = await mysqlProvisioner.grant(input(config, 'read', principal)).catch((caught: unknown) => caught);
      const message = error instanceof Error ? error.message : '';
      expect(message).toContain(`integration "orders-rds": granting read on orders to ${principal} failed: this server has no AWSAuthenticationPlugin, so it cannot authenticate with RDS IAM tokens`);
      // The server's own answer names the plugin the statement asked for.
      expect(message).toMatch(/AWSAuthenticationPlugin/i);
      expect(message.split('AWSAuthenticationPlugin').length).toBeGreaterThan(2);
      expect(await mysqlDb.accountExists(principal)).toBe(false);
      await expect(mysqlProvisioner.resetCredentials(input(config, 'read', principal))).rejects.toThrow('logs in with RDS IAM tokens, not a password; there is no password to reset');
    } finally {
      await mysqlProvisioner.close();
      await asRoot((conn) => conn.query('DROP USER IF EXISTS ?@?', [principal, '%']));
    }
  });
});
