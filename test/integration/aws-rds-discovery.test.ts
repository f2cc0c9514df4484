import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients } from '../../provisioners/aws/clients.js';
import { classifyInstances, discoverRdsInstances, listRdsInstances, type DiscoveryOptions } from '../../provisioners/aws/rds-discovery.js';
import { AwsConnection } from '../../provisioners/aws/settings.js';
import { AwsRdsProvisioner } from '../../provisioners/aws-rds.js';
import {
  ACCOUNT, describeDbInstancesResult, fakeQueryService, listTagsResult, QueryLog, queryError, RDS_NS, useFakeAwsEnvironment, type FakeRdsInstance, type QueryCall,
} from '../support/aws.js';

// Discovery against a fake RDS in two regions: a realistic estate of tagged, untagged,
// mis-tagged and other connectors' instances, over two pages, one answer without TagList
// (so its tags come from ListTagsForResource), and one region the connector may not read.

const SECRET = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:rds/billing/latch-connector-Qw12Er`;
const CONNECT_ROLE = `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`;

let restoreEnv: () => void;
let euWest: QueryLog;
let euCentral: QueryLog;
let clients: AwsClients;

const pageOne: FakeRdsInstance[] = [
  { identifier: 'orders-prod', engine: 'postgres', resourceId: 'db-ORDERSPRODRESOURCEID00001', iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod', team: 'orders' } },
  { identifier: 'billing-prod', engine: 'mysql', resourceId: 'db-BILLINGPRODRESOURCEID0002', iamAuth: false, tags: { auth_type: 'user-password', 'latch-connector-id': 'eu-prod', 'latch-secret': SECRET, region: 'eu-west-1' } },
  { identifier: 'legacy-crm', engine: 'mariadb', resourceId: 'db-LEGACYCRMRESOURCEID000003', iamAuth: false, tags: { auth_type: 'User / Password', 'apono-connector-id': 'eu-prod', 'apono-secret': SECRET } },
  { identifier: 'analytics', engine: 'postgres', resourceId: 'db-ANALYTICSRESOURCEID000004', iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'us-prod' } },
  { identifier: 'scratch', engine: 'postgres', resourceId: 'db-SCRATCHRESOURCEID00000005', iamAuth: false, tags: { owner: 'someone' } },
];
const pageTwo: FakeRdsInstance[] = [
  { identifier: 'search-prod', engine: 'postgres', resourceId: 'db-SEARCHPRODRESOURCEID00006', iamAuth: true, tags: { auth_type: 'iam_auth-v2', 'latch-connector-id': 'eu-prod' } },
  { identifier: 'payments', engine: 'postgres', resourceId: 'db-PAYMENTSRESOURCEID0000007', iamAuth: false, tags: { auth_type: 'user-password', 'latch-connector-id': 'eu-prod' } },
  { identifier: 'ledger', engine: 'postgres', resourceId: 'db-LEDGERRESOURCEID000000008', iamAuth: false, tags: { auth_type: 'user-password', 'latch-connector-id': 'eu-prod', 'latch-secret': SECRET, region: 'us-east-1' } },
  { identifier: 'reports', engine: 'postgres', resourceId: 'db-REPORTSRESOURCEID00000009', iamAuth: false, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod' } },
  { identifier: 'warehouse', engine: 'oracle-ee', resourceId: 'db-WAREHOUSERESOURCEID000010', iamAuth: false, tags: { auth_type: 'user-password', 'latch-connector-id': 'eu-prod', 'latch-secret': SECRET } },
  { identifier: 'tickets', engine: 'postgres', resourceId: 'db-TICKETSRESOURCEID00000011', iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod ' } },
  { identifier: 'inventory', engine: 'mysql', resourceId: 'db-INVENTORYRESOURCEID000012', iamAuth: true },
  { identifier: 'audit-log', engine: 'postgres', resourceId: 'db-AUDITLOGRESOURCEID0000013', iamAuth: true },
];
const listedTags: Record<string, Record<string, string>> = {
  inventory: { auth_type: 'iam', 'latch-connector-id': 'eu-prod' },
};

function options(): DiscoveryOptions {
  return {
    connectorId: 'eu-prod',
    regions: ['eu-west-1', 'eu-central-1'],
    template: {
      owner: 'group:dba',
      connection: { roleArn: CONNECT_ROLE, user: 'latch_connector' },
      resources: [{ name: 'all', permissions: { read: { roles: ['app_readonly'] } } }],
    },
  };
}

beforeAll(() => {
  restoreEnv = useFakeAwsEnvironment();
  nock.disableNetConnect();
});

beforeEach(() => {
  euWest = new QueryLog();
  euCentral = new QueryLog();
  fakeQueryService('https://rds.eu-west-1.amazonaws.com', euWest, (call: QueryCall) => {
    if (call.action === 'DescribeDBInstances') return [200, call.params.Marker === 'page-2' ? describeDbInstancesResult(pageTwo) : describeDbInstancesResult(pageOne, 'page-2')];
    if (call.action === 'ListTagsForResource') {
      const name = (call.params.ResourceName ?? '').split(':').pop() ?? '';
      const tags = listedTags[name];
      return tags ? [200, listTagsResult(tags)] : [403, queryError(RDS_NS, 'AccessDenied', `User: arn:aws:iam::${ACCOUNT}:user/latch-connector is not authorized to perform: rds:ListTagsForResource on resource: ${call.params.ResourceName ?? ''}`)];
    }
    return [400, queryError(RDS_NS, 'InvalidAction', 'unexpected')];
  });
  fakeQueryService('https://rds.eu-central-1.amazonaws.com', euCentral, () => [403, queryError(RDS_NS, 'AccessDenied', `User: arn:aws:iam::${ACCOUNT}:user/latch-connector is not authorized to perform: rds:DescribeDBInstances with an explicit deny in a service control policy`)]);
  clients = new AwsClients('rds-discovery', AwsConnection.parse({ region: 'eu-west-1' }), { maxAttempts: 1 });
});

afterEach(() => {
  clients.destroy();
  nock.cleanAll();
});

afterAll(() => {
  nock.enableNetConnect();
  restoreEnv();
});

describe('RDS discovery by tags', () => {
  it('turns this connector\'s tagged instances into integrations, skips other connectors\' and untagged ones, and reports each malformed one', async () => {
    const result = await discoverRdsInstances(clients, options(), () => 1_764_637_200_000);

    expect(euWest.of('DescribeDBInstances').map((call) => call.params.Marker ?? null)).toEqual([null, 'page-2']);
    expect(euWest.of('ListTagsForResource').map((call) => call.params.ResourceName)).toEqual([
      `arn:aws:rds:eu-west-1:${ACCOUNT}:db:inventory`, `arn:aws:rds:eu-west-1:${ACCOUNT}:db:audit-log`,
    ]);

    expect(result.integrations.map((integration) => [integration.name, integration.connection])).toEqual([
      ['rds-orders-prod', { roleArn: CONNECT_ROLE, user: 'latch_connector', region: 'eu-west-1', instanceId: 'orders-prod', authType: 'iam-auth' }],
      ['rds-billing-prod', { roleArn: CONNECT_ROLE, user: 'latch_connector', region: 'eu-west-1', instanceId: 'billing-prod', authType: 'user-password', secretArn: SECRET }],
      ['rds-legacy-crm', { roleArn: CONNECT_ROLE, user: 'latch_connector', region: 'eu-west-1', instanceId: 'legacy-crm', authType: 'user-password', secretArn: SECRET }],
      ['rds-inventory', { roleArn: CONNECT_ROLE, user: 'latch_connector', region: 'eu-west-1', instanceId: 'inventory', authType: 'iam-auth' }],
    ]);
    for (const integration of result.integrations) {
      expect(integration).toMatchObject({ type: 'aws-rds', owner: { kind: 'group', group: 'dba' }, credentials: { none: true } });
      expect(integration.resources.map((resource) => resource.name)).toEqual(['all']);
      // Each one is a working aws-rds configuration.
      expect(new AwsRdsProvisioner(integration).connection.instanceId).toBe(integration.connection.instanceId);
    }

    expect(result.skipped).toEqual([{ region: 'eu-west-1', instance: 'analytics', connectorId: 'us-prod' }]);
    expect(result.problems.map((problem) => [problem.instance, problem.code, problem.message])).toEqual([
      ['audit-log', 'ACCESS_DENIED', `audit-log (eu-west-1): rds:ListTagsForResource on arn:aws:rds:eu-west-1:${ACCOUNT}:db:audit-log failed: User: arn:aws:iam::${ACCOUNT}:user/latch-connector is not authorized to perform: rds:ListTagsForResource on resource: arn:aws:rds:eu-west-1:${ACCOUNT}:db:audit-log`],
      ['search-prod', 'TAG_INVALID', 'search-prod (eu-west-1): tag auth_type is "iam_auth-v2"; expected iam-auth or user-password'],
      ['payments', 'TAG_MISSING', "payments (eu-west-1): is tagged user-password but has no latch-secret tag with the ARN of the connector's secret"],
      ['ledger', 'TAG_INVALID', `ledger (eu-west-1): tag region is "us-east-1", but the secret's ARN is in eu-west-1`],
      ['reports', 'IAM_AUTH_DISABLED', 'reports (eu-west-1): is tagged iam-auth but has IAM database authentication off (aws rds modify-db-instance --db-instance-identifier reports --enable-iam-database-authentication --apply-immediately)'],
      ['warehouse', 'UNSUPPORTED_ENGINE', 'warehouse (eu-west-1): runs oracle-ee; Latch discovers RDS for PostgreSQL, MySQL and MariaDB'],
      ['tickets', 'TAG_INVALID', 'tickets (eu-west-1): tag latch-connector-id is "eu-prod ", with spaces around the connector id; tag values are exact text'],
      [null, 'ACCESS_DENIED', `eu-central-1: rds:DescribeDBInstances failed: User: arn:aws:iam::${ACCOUNT}:user/latch-connector is not authorized to perform: rds:DescribeDBInstances with an explicit deny in a service control policy`],
    ]);
    expect(result.at).toBe(1_764_637_200_000);
  });

  it('reports an instance whose template values would make an invalid integration, without failing the others', async () => {
    const bad = options();
    bad.template.owner = 'not an owner';
    const result = await discoverRdsInstances(clients, { ...bad, regions: ['eu-west-1'] });
    expect(result.integrations).toEqual([]);
    expect(result.problems.filter((problem) => problem.code === 'INVALID_INTEGRATION').map((problem) => problem.instance)).toEqual(['orders-prod', 'billing-prod', 'legacy-crm', 'inventory']);
    expect(result.problems.find((problem) => problem.instance === 'orders-prod')?.message).toBe('orders-prod (eu-west-1): cannot become an integration: owner: "not an owner" is not an owner; use an e-mail address or group:NAME');
  });

  it('lists once and classifies the same listing again with another template, as a config reload does', async () => {
    const listings = await listRdsInstances(clients, ['eu-west-1', 'eu-central-1']);
    expect(listings.map((listing) => [listing.region, listing.instances?.length ?? null])).toEqual([['eu-west-1', 12], ['eu-central-1', null]]);
    // audit-log's tags could not be read: it is a problem of the listing, not an instance of it.
    expect(listings[0]?.problems.map((problem) => `${problem.code} ${problem.instance ?? ''}`)).toEqual(['ACCESS_DENIED audit-log']);
    expect(euWest.of('DescribeDBInstances')).toHaveLength(2);
    const renamed = classifyInstances(listings, { ...options(), template: { ...options().template, namePrefix: 'eu-' } }, 0);
    expect(renamed.integrations.map((integration) => integration.name)).toEqual(['eu-orders-prod', 'eu-billing-prod', 'eu-legacy-crm', 'eu-inventory']);
    expect(renamed.problems.filter((problem) => problem.instance === null).map((problem) => problem.region)).toEqual(['eu-central-1']);
    expect(euWest.of('DescribeDBInstances')).toHaveLength(2);
  });
});
