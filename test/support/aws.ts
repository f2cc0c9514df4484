import nock from 'nock';

// A fake AWS for the provisioner tests: nock on the real endpoints, answering with the
// bodies AWS sends (query-protocol XML for STS, IAM and RDS, REST-XML for S3, JSON for KMS
// and Secrets Manager), and recording every call's parameters so a test asserts on exactly
// what Latch sent.

export const CONNECTOR_ACCOUNT = '111122223333';
export const ACCOUNT = '123456789012';

/** Fake connector keys from the environment, as the standard provider chain reads them. */
export function useFakeAwsEnvironment(): () => void {
  const saved = { ...process.env };
  process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  };
}

export interface QueryCall {
  action: string;
  params: Record<string, string>;
  /** The access key id the call was signed with (SigV4 Authorization header). */
  signedBy: string | null;
}

/** Records query-protocol calls (form bodies) per host. */
export class QueryLog {
  readonly calls: QueryCall[] = [];

  record(body: unknown, authorization?: string): QueryCall {
    const text = typeof body === 'string' ? body : '';
    const params = Object.fromEntries(new URLSearchParams(text));
    const call = { action: params.Action ?? '', params, signedBy: /Credential=([A-Z0-9]+)\//.exec(authorization ?? '')?.[1] ?? null };
    this.calls.push(call);
    return call;
  }

  of(action: string): QueryCall[] {
    return this.calls.filter((call) => call.action === action);
  }
}

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function queryResponse(action: string, namespace: string, result: string): string {
  return `<${action}Response xmlns="${namespace}">
  <${action}Result>
${result}
  </${action}Result>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</${action}Response>`;
}

export function queryError(namespace: string, code: string, message: string, type = 'Sender'): string {
  return `<ErrorResponse xmlns="${namespace}">
  <Error>
    <Type>${type}</Type>
    <Code>${code}</Code>
    <Message>${xmlEscape(message)}</Message>
  </Error>
  <RequestId>4d5b6c07-2f5e-4a0b-9d7a-5e0f1e2d3c4b</RequestId>
</ErrorResponse>`;
}

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const RDS_NS = 'http://rds.amazonaws.com/doc/2014-10-31/';

/** A session token of the length AWS issues with tags and a session policy (they grow with both). */
export function fakeSessionToken(seed: string): string {
  const base = Buffer.from(`IQoJb3JpZ2luX2VjE${seed}`).toString('base64');
  return `FwoGZXIvYXdzE${base.repeat(Math.ceil(700 / base.length)).slice(0, 700)}`;
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export function assumeRoleResult(roleArn: string, sessionName: string, credentials: IssuedCredentials, expiration: Date, sourceIdentity?: string): string {
  const roleName = roleArn.split('/').pop() ?? 'role';
  const account = roleArn.split(':')[4] ?? ACCOUNT;
  return queryResponse('AssumeRole', STS_NS, `    ${sourceIdentity ? `<SourceIdentity>${xmlEscape(sourceIdentity)}</SourceIdentity>` : ''}
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account}:assumed-role/${roleName}/${xmlEscape(sessionName)}</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:${xmlEscape(sessionName)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${credentials.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey>
      <SessionToken>${credentials.sessionToken}</SessionToken>
      <Expiration>${expiration.toISOString()}</Expiration>
    </Credentials>
    <PackedPolicySize>9</PackedPolicySize>`);
}

export function callerIdentityResult(arn: string): string {
  const account = arn.split(':')[4] ?? CONNECTOR_ACCOUNT;
  return queryResponse('GetCallerIdentity', STS_NS, `    <Arn>${arn}</Arn>
    <UserId>AIDASAMPLEUSERID</UserId>
    <Account>${account}</Account>`);
}

export function trustPolicy(connectorArn: string, actions: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: connectorArn }, Action: actions.length === 1 ? actions[0] : actions }],
  });
}

export function getRoleResult(roleArn: string, maxSessionDuration: number, trust: string): string {
  const roleName = roleArn.split('/').pop() ?? 'role';
  return queryResponse('GetRole', IAM_NS, `    <Role>
      <Path>/</Path>
      <AssumeRolePolicyDocument>${encodeURIComponent(trust)}</AssumeRolePolicyDocument>
      <MaxSessionDuration>${maxSessionDuration}</MaxSessionDuration>
      <RoleId>AROA3XFRBF535PLBIFPI4</RoleId>
      <RoleName>${roleName}</RoleName>
      <Arn>${roleArn}</Arn>
      <CreateDate>2024-03-18T09:12:44Z</CreateDate>
      <RoleLastUsed/>
    </Role>`);
}

export function iamEmptyResponse(action: string): string {
  return `<${action}Response xmlns="${IAM_NS}">
  <ResponseMetadata>
    <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
  </ResponseMetadata>
</${action}Response>`;
}

export function getRolePolicyResult(roleName: string, policyName: string, document: string): string {
  return queryResponse('GetRolePolicy', IAM_NS, `    <PolicyName>${policyName}</PolicyName>
    <RoleName>${roleName}</RoleName>
    <PolicyDocument>${encodeURIComponent(document)}</PolicyDocument>`);
}

/** Every query-protocol call to `origin` lands in `log` and is answered by `answer`. */
export function fakeQueryService(origin: string, log: QueryLog, answer: (call: QueryCall) => [number, string]): nock.Scope {
  return nock(origin).persist().post('/').reply(function reply(_uri, body) {
    const call = log.record(body, String(this.req.headers.authorization ?? ''));
    const [status, text] = answer(call);
    return [status, text, { 'content-type': 'text/xml' }];
  });
}

/** The federation endpoint: getSigninToken answers with a token; the calls are recorded. */
export function fakeFederation(log: URLSearchParams[], token = 'VCQgs5qZZt3Q6fn8Tr5EXAMPLE-signin-token-0123456789'): nock.Scope {
  return nock('https://signin.aws.amazon.com').persist().get('/federation').query(true).reply((uri) => {
    const query = new URLSearchParams(uri.split('?')[1] ?? '');
    log.push(query);
    return [200, JSON.stringify({ SigninToken: token }), { 'content-type': 'application/json' }];
  });
}

export interface FakeRdsInstance {
  identifier: string;
  engine: string;
  address?: string;
  port?: number;
  resourceId: string;
  iamAuth: boolean;
  region?: string;
  account?: string;
  status?: string;
  /** Left out: the answer carries no TagList (older API versions), and ListTagsForResource has them. */
  tags?: Record<string, string>;
}

export function rdsInstanceXml(instance: FakeRdsInstance): string {
  const region = instance.region ?? 'eu-west-1';
  const account = instance.account ?? ACCOUNT;
  const address = instance.address ?? `${instance.identifier}.c9akciq32rcb.${region}.rds.amazonaws.com`;
  const port = instance.port ?? (instance.engine === 'postgres' ? 5432 : 3306);
  const tags = Object.entries(instance.tags ?? {}).map(([key, value]) => `          <Tag><Key>${xmlEscape(key)}</Key><Value>${xmlEscape(value)}</Value></Tag>`).join('\n');
  return `      <DBInstance>
        <DBInstanceIdentifier>${instance.identifier}</DBInstanceIdentifier>
        <DBInstanceClass>db.t4g.medium</DBInstanceClass>
        <Engine>${instance.engine}</Engine>
        <EngineVersion>${instance.engine === 'postgres' ? '16.4' : '8.0.39'}</EngineVersion>
        <DBInstanceStatus>${instance.status ?? 'available'}</DBInstanceStatus>
        <MasterUsername>dbadmin</MasterUsername>
        <Endpoint>
          <Address>${address}</Address>
          <Port>${port}</Port>
          <HostedZoneId>Z29XKXDKYMONMX</HostedZoneId>
        </Endpoint>
        <AllocatedStorage>100</AllocatedStorage>
        <AvailabilityZone>${region}a</AvailabilityZone>
        <MultiAZ>false</MultiAZ>
        <PubliclyAccessible>false</PubliclyAccessible>
        <StorageEncrypted>true</StorageEncrypted>
        <DbiResourceId>${instance.resourceId}</DbiResourceId>
        <DBInstanceArn>arn:aws:rds:${region}:${account}:db:${instance.identifier}</DBInstanceArn>
        <IAMDatabaseAuthenticationEnabled>${instance.iamAuth}</IAMDatabaseAuthenticationEnabled>
${instance.tags === undefined ? '' : `        <TagList>
${tags}
        </TagList>
`}      </DBInstance>`;
}

export function describeDbInstancesResult(instances: FakeRdsInstance[], marker?: string): string {
  return queryResponse('DescribeDBInstances', RDS_NS, `    ${marker ? `<Marker>${marker}</Marker>` : ''}
    <DBInstances>
${instances.map(rdsInstanceXml).join('\n')}
    </DBInstances>`);
}

export function listTagsResult(tags: Record<string, string>): string {
  return queryResponse('ListTagsForResource', RDS_NS, `    <TagList>
${Object.entries(tags).map(([key, value]) => `      <Tag><Key>${xmlEscape(key)}</Key><Value>${xmlEscape(value)}</Value></Tag>`).join('\n')}
    </TagList>`);
}

/** A JSON-protocol service (KMS, Secrets Manager): the X-Amz-Target and body of each call are recorded. */
export function fakeJsonService(origin: string, log: { target: string; body: Record<string, unknown> }[], answer: (target: string, body: Record<string, unknown>) => [number, unknown]): nock.Scope {
  return nock(origin).persist().post('/').reply(function reply(_uri, body) {
    const target = String(this.req.headers['x-amz-target'] ?? '');
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown>;
    log.push({ target, body: parsed });
    const [status, result] = answer(target, parsed);
    return [status, JSON.stringify(result), { 'content-type': 'application/x-amz-json-1.1' }];
  });
}

/** Inline role policies as IAM keeps them: PutRolePolicy stores, GetRolePolicy reads back (NoSuchEntity when absent). */
export class FakeRolePolicies {
  readonly documents = new Map<string, string>();

  /** The answer for GetRolePolicy / PutRolePolicy, or null for any other action. */
  answer(call: QueryCall): [number, string] | null {
    const key = `${call.params.RoleName ?? ''}/${call.params.PolicyName ?? ''}`;
    if (call.action === 'PutRolePolicy') {
      this.documents.set(key, call.params.PolicyDocument ?? '');
      return [200, iamEmptyResponse('PutRolePolicy')];
    }
    if (call.action !== 'GetRolePolicy') return null;
    const document = this.documents.get(key);
    if (document === undefined) return [404, queryError(IAM_NS, 'NoSuchEntity', `The role policy with name ${call.params.PolicyName ?? ''} cannot be found.`)];
    return [200, getRolePolicyResult(call.params.RoleName ?? '', call.params.PolicyName ?? '', document)];
  }

  statements(roleName: string, policyName = 'latch-revoked-sessions'): { Sid: string; Effect: string; Condition: Record<string, Record<string, string>> }[] {
    const document = this.documents.get(`${roleName}/${policyName}`);
    return document ? (JSON.parse(document) as { Statement: { Sid: string; Effect: string; Condition: Record<string, Record<string, string>> }[] }).Statement : [];
  }
}

export interface FakeConnectRoleOptions {
  region: string;
  /** The role whose sessions get rds-db:connect, and the connector that assumes it. */
  connectRole: string;
  connector: string;
  sts: QueryLog;
  iam: QueryLog;
  rolePolicies: FakeRolePolicies;
  /** Four letters that mark this test's session keys. */
  keyTag: string;
  now: () => number;
}

/**
 * STS issuing sessions of the connect role (for as long as asked, on the test's clock), and
 * IAM showing that role trusting the connector with session tags and source identity and
 * keeping the inline policies written to it: what every aws-rds grant talks to.
 */
export function fakeConnectRole(options: FakeConnectRoleOptions): void {
  const tag = options.keyTag;
  fakeQueryService(`https://sts.${options.region}.amazonaws.com`, options.sts, (call) => {
    if (call.action === 'GetCallerIdentity') return [200, callerIdentityResult(options.connector)];
    return [200, assumeRoleResult(call.params.RoleArn ?? '', call.params.RoleSessionName ?? '', {
      accessKeyId: `ASIAQ3EGRTYL${tag.toUpperCase()}0001`, secretAccessKey: `${tag}SeCrEt/K7MDENG/bPxRfiCYEXAMPLEKEY`, sessionToken: fakeSessionToken(tag),
    }, new Date(options.now() + Number(call.params.DurationSeconds) * 1000))];
  });
  fakeQueryService('https://iam.amazonaws.com', options.iam, (call) => (call.action === 'GetRole'
    ? [200, getRoleResult(options.connectRole, 3600, trustPolicy(options.connector, ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']))]
    : options.rolePolicies.answer(call) ?? [200, iamEmptyResponse(call.action)]));
}
