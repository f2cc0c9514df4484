// `npm run latch -- integrations discover-rds FILE`: the real script in a child process,
// against a local RDS double (AWS_ENDPOINT_URL_RDS points the SDK at it) that answers
// DescribeDBInstances per region, as the request's signature scope names it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, describeDbInstancesResult, queryError, RDS_NS, type FakeRdsInstance } from '../support/aws.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:rds/billing/latch-connector-Qw12Er`;

const estate: Record<string, FakeRdsInstance[]> = {
  'eu-west-1': [
    { identifier: 'orders-prod', engine: 'postgres', resourceId: 'db-ORDERSPRODRESOURCEID00001', iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'eu-prod' } },
    { identifier: 'analytics', engine: 'postgres', resourceId: 'db-ANALYTICSRESOURCEID000004', iamAuth: true, tags: { auth_type: 'iam-auth', 'latch-connector-id': 'us-prod' } },
    { identifier: 'payments', engine: 'postgres', resourceId: 'db-PAYMENTSRESOURCEID0000007', iamAuth: false, tags: { auth_type: 'user-password', 'latch-connector-id': 'eu-prod' } },
  ],
  'eu-central-1': [
    { identifier: 'billing-fra', engine: 'mysql', region: 'eu-central-1', resourceId: 'db-BILLINGFRARESOURCEID00002', iamAuth: false, tags: { auth_type: 'User / Password', 'latch-connector-id': 'eu-prod', 'latch-secret': SECRET } },
  ],
};

let dir = '';
let server: Server;
let port = 0;
const seen: string[] = [];

interface Run { code: number; stdout: string; stderr: string }

function latch(args: readonly string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], {
      cwd: ROOT, timeout: 80_000,
      env: {
        ...process.env, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        AWS_SESSION_TOKEN: '', AWS_PROFILE: '', AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_RDS: `http://127.0.0.1:${port}`,
      },
    }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-discover-'));
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    request.on('end', () => {
      const region = /Credential=[A-Z0-9]+\/\d{8}\/([a-z0-9-]+)\/rds\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? '?';
      const action = new URLSearchParams(body).get('Action') ?? '';
      seen.push(`${region}:${action}`);
      const instances = estate[region];
      response.setHeader('content-type', 'text/xml');
      if (action !== 'DescribeDBInstances' || !instances) {
        response.statusCode = 400;
        response.end(queryError(RDS_NS, 'InvalidAction', `unexpected ${action} in ${region}`));
        return;
      }
      response.end(describeDbInstancesResult(instances));
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await new Promise<void>((closed) => server.close(() => closed()));
  rmSync(dir, { recursive: true, force: true });
});

describe('latch integrations discover-rds', () => {
  it('prints this connector\'s tagged instances as aws-rds integrations, and names what is wrong with the others', async () => {
    const file = join(dir, 'discover.yaml');
    writeFileSync(file, `connectorId: eu-prod
regions: [eu-west-1, eu-central-1]
owner: group:dba
connection: { roleArn: "arn:aws:iam::${ACCOUNT}:role/latch-rds-connect", user: latch_connector }
resources:
  - name: all
    permissions:
      read: { roles: [app_readonly] }
`);
    const run = await latch(['integrations', 'discover-rds', file]);
    expect(seen).toEqual(['eu-west-1:DescribeDBInstances', 'eu-central-1:DescribeDBInstances']);
    expect(parse(run.stdout)).toEqual({
      integrations: [
        {
          name: 'rds-orders-prod', type: 'aws-rds', owner: 'group:dba',
          connection: { roleArn: `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`, user: 'latch_connector', region: 'eu-west-1', instanceId: 'orders-prod', authType: 'iam-auth' },
          resources: [{ name: 'all', permissions: { read: { roles: ['app_readonly'] } } }],
        },
        {
          name: 'rds-billing-fra', type: 'aws-rds', owner: 'group:dba',
          connection: { roleArn: `arn:aws:iam::${ACCOUNT}:role/latch-rds-connect`, user: 'latch_connector', region: 'eu-central-1', instanceId: 'billing-fra', authType: 'user-password', secretArn: SECRET },
          resources: [{ name: 'all', permissions: { read: { roles: ['app_readonly'] } } }],
        },
      ],
    });
    expect(run.stderr.split('\n').filter((line) => /^(SKIP|PROBLEM|\d)/.test(line))).toEqual([
      'SKIP analytics (eu-west-1): tagged for connector us-prod',
      "PROBLEM TAG_MISSING payments (eu-west-1): is tagged user-password but has no latch-secret tag with the ARN of the connector's secret",
      '2 integration(s), 1 skipped, 1 problem(s)',
    ]);
    expect(run.code).toBe(1);
  }, 90_000);

  it('says what the discovery file lacks', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'regions: [eu-west-9x]\nowner: group:dba\nresources: []\n');
    const run = await latch(['integrations', 'discover-rds', file]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`${file}: connectorId: is required: this Latch's connector id`);
    expect(run.stderr).toContain(`${file}: regions.0: "eu-west-9x" is not an AWS region such as eu-west-1`);
    expect(run.stderr).toContain(`${file}: resources: say what each discovered instance offers`);
  }, 90_000);
});
