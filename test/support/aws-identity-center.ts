import nock from 'nock';
import { fakeJsonService } from './aws.js';

// A fake IAM Identity Center for the provisioner tests: sso-admin, the identity store and
// Organizations on their real endpoints (JSON 1.1, the operation in X-Amz-Target), holding
// accounts, permission sets, users and assignments, answering with the bodies AWS sends
// (pages of two with NextToken, IN_PROGRESS before SUCCEEDED) and recording every call.

export const REGION = 'eu-west-1';
export const MANAGEMENT = '111111111111';
export const ORG = 'o-a1b2c3d4e5';
export const INSTANCE = 'arn:aws:sso:::instance/ssoins-72230c6c1e9f6e2a';
export const STORE = 'd-9067a1b2c3';
export const PORTAL = 'https://d-9067a1b2c3.awsapps.com/start';

export interface FakeAccount { id: string; name: string; ous?: string[]; tags?: Record<string, string>; status?: string }
export interface FakePermissionSet { id: string; name: string; sessionDuration?: string }
export interface FakeUser { id: string; userName: string; email: string; uniqueEmail?: boolean }
export interface Call { target: string; body: Record<string, unknown> }
type Answer = [number, unknown];

export const permissionSetArn = (id: string): string => `arn:aws:sso:::permissionSet/ssoins-72230c6c1e9f6e2a/${id}`;

function page<T>(items: T[], token: unknown, size = 2): { items: T[]; next?: string } {
  const start = typeof token === 'string' ? Number(token.replace('page-', '')) : 0;
  const next = start + size < items.length ? `page-${start + size}` : undefined;
  return { items: items.slice(start, start + size), ...(next ? { next } : {}) };
}

const error = (status: number, type: string, message: string): Answer => [status, { __type: type, message, Message: message }];

export class FakeIdentityCenter {
  readonly calls: Call[] = [];
  accounts: FakeAccount[] = [];
  permissionSets: FakePermissionSet[] = [];
  users: FakeUser[] = [];
  /** account/permissionSetArn/userId */
  assignments = new Set<string>();
  /** Statuses a creation or deletion reports before its outcome, and the outcome. */
  creation: { inProgress: number; fail?: string } = { inProgress: 1 };
  deletion: { inProgress: number; fail?: string } = { inProgress: 1 };
  /** Answer the next calls of an operation with this instead (throttling, AccessDenied). */
  readonly failNext = new Map<string, Answer[]>();
  private readonly operations = new Map<string, { polls: number; status: 'SUCCEEDED' | 'FAILED'; reason?: string; key: string; kind: 'create' | 'delete'; body: Record<string, unknown> }>();
  private requests = 0;

  start(): void {
    const log = this.calls;
    fakeJsonService(`https://sso.${REGION}.amazonaws.com`, log, (target, body) => this.answer(target, body));
    fakeJsonService(`https://identitystore.${REGION}.amazonaws.com`, log, (target, body) => this.answer(target, body));
    fakeJsonService('https://organizations.us-east-1.amazonaws.com', log, (target, body) => this.answer(target, body));
  }

  stop(): void {
    nock.cleanAll();
  }

  of(operation: string): Record<string, unknown>[] {
    return this.calls.filter((call) => call.target.endsWith(`.${operation}`)).map((call) => call.body);
  }

  holds(accountId: string, setId: string, userId: string): boolean {
    return this.assignments.has(`${accountId}/${permissionSetArn(setId)}/${userId}`);
  }

  assign(accountId: string, setId: string, userId: string): void {
    this.assignments.add(`${accountId}/${permissionSetArn(setId)}/${userId}`);
  }

  private account(entry: FakeAccount): Record<string, unknown> {
    return {
      Id: entry.id, Arn: `arn:aws:organizations::${MANAGEMENT}:account/${ORG}/${entry.id}`, Email: `aws+${entry.name}@example.com`, Name: entry.name,
      Status: entry.status ?? 'ACTIVE', JoinedMethod: entry.id === MANAGEMENT ? 'CREATED' : 'INVITED', JoinedTimestamp: 1.6784e9,
    };
  }

  private answer(target: string, body: Record<string, unknown>): Answer {
    const operation = target.split('.').pop() ?? '';
    const queued = this.failNext.get(operation)?.shift();
    if (queued) return queued;
    switch (operation) {
      case 'ListAccounts': {
        const { items, next } = page(this.accounts, body.NextToken);
        return [200, { Accounts: items.map((entry) => this.account(entry)), ...(next ? { NextToken: next } : {}) }];
      }
      case 'ListAccountsForParent': {
        const { items, next } = page(this.accounts.filter((entry) => entry.ous?.includes(String(body.ParentId))), body.NextToken);
        return [200, { Accounts: items.map((entry) => this.account(entry)), ...(next ? { NextToken: next } : {}) }];
      }
      case 'ListTagsForResource': {
        const entry = this.accounts.find((candidate) => candidate.id === body.ResourceId);
        return [200, { Tags: Object.entries(entry?.tags ?? {}).map(([Key, Value]) => ({ Key, Value })) }];
      }
      case 'ListPermissionSets': {
        const { items, next } = page(this.permissionSets, body.NextToken);
        return [200, { PermissionSets: items.map((set) => permissionSetArn(set.id)), ...(next ? { NextToken: next } : {}) }];
      }
      case 'DescribePermissionSet': {
        const set = this.permissionSets.find((candidate) => permissionSetArn(candidate.id) === body.PermissionSetArn);
        if (!set) return error(400, 'ResourceNotFoundException', 'Could not find PermissionSet with id');
        return [200, { PermissionSet: { Name: set.name, PermissionSetArn: permissionSetArn(set.id), Description: `${set.name} for engineers`, CreatedDate: 1.7e9, SessionDuration: set.sessionDuration ?? 'PT1H' } }];
      }
      case 'UpdatePermissionSet': {
        const set = this.permissionSets.find((candidate) => permissionSetArn(candidate.id) === body.PermissionSetArn);
        if (set) set.sessionDuration = String(body.SessionDuration);
        return [200, {}];
      }
      case 'ProvisionPermissionSet':
        return [200, { PermissionSetProvisioningStatus: { Status: 'IN_PROGRESS', RequestId: 'c1a4a0a0-prov-4d1e-9a77-000000000001', PermissionSetArn: body.PermissionSetArn, CreatedDate: 1.7e9 } }];
      case 'DescribePermissionSetProvisioningStatus':
        return [200, { PermissionSetProvisioningStatus: { Status: 'SUCCEEDED', RequestId: body.ProvisionPermissionSetRequestId, PermissionSetArn: this.permissionSets[0] ? permissionSetArn(this.permissionSets[0].id) : '', CreatedDate: 1.7e9 } }];
      case 'GetUserId': {
        const value = (body.AlternateIdentifier as { UniqueAttribute?: { AttributeValue?: string } }).UniqueAttribute?.AttributeValue;
        const user = this.users.find((candidate) => candidate.uniqueEmail !== false && candidate.email === value);
        if (!user) return error(400, 'ResourceNotFoundException', 'USER not found.');
        return [200, { IdentityStoreId: STORE, UserId: user.id }];
      }
      case 'ListUsers': {
        const filter = (body.Filters as { AttributePath: string; AttributeValue: string }[] | undefined)?.[0];
        const users = this.users.filter((candidate) => filter?.AttributePath === 'UserName' && candidate.userName === filter.AttributeValue);
        return [200, { Users: users.map((user) => ({ IdentityStoreId: STORE, UserId: user.id, UserName: user.userName, Emails: [{ Value: user.email, Primary: true }] })) }];
      }
      case 'ListAccountAssignments': {
        const prefix = `${String(body.AccountId)}/${String(body.PermissionSetArn)}/`;
        const users = [...this.assignments].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
        const { items, next } = page(users, body.NextToken);
        return [200, { AccountAssignments: items.map((PrincipalId) => ({ AccountId: body.AccountId, PermissionSetArn: body.PermissionSetArn, PrincipalType: 'USER', PrincipalId })), ...(next ? { NextToken: next } : {}) }];
      }
      case 'ListAccountsForProvisionedPermissionSet': {
        const accounts = [...new Set([...this.assignments].filter((key) => key.includes(`/${String(body.PermissionSetArn)}/`)).map((key) => key.split('/')[0]))];
        return [200, { AccountIds: accounts }];
      }
      case 'CreateAccountAssignment':
      case 'DeleteAccountAssignment': {
        const kind = operation === 'CreateAccountAssignment' ? 'create' : 'delete';
        const key = `${String(body.TargetId)}/${String(body.PermissionSetArn)}/${String(body.PrincipalId)}`;
        const plan = kind === 'create' ? this.creation : this.deletion;
        this.requests += 1;
        const id = `${kind === 'create' ? 'c' : 'd'}7a1e0f2-5b3c-4d8e-9f10-${String(this.requests).padStart(12, '0')}`;
        this.operations.set(id, { polls: plan.inProgress, status: plan.fail ? 'FAILED' : 'SUCCEEDED', ...(plan.fail ? { reason: plan.fail } : {}), key, kind, body });
        return [200, { [kind === 'create' ? 'AccountAssignmentCreationStatus' : 'AccountAssignmentDeletionStatus']: this.status(id, 'IN_PROGRESS') }];
      }
      case 'DescribeAccountAssignmentCreationStatus':
      case 'DescribeAccountAssignmentDeletionStatus': {
        const id = String(body.AccountAssignmentCreationRequestId ?? body.AccountAssignmentDeletionRequestId);
        const operationState = this.operations.get(id);
        if (!operationState) return error(400, 'ResourceNotFoundException', 'Request not found');
        if (operationState.polls > 0) {
          operationState.polls -= 1;
          return [200, { [operation === 'DescribeAccountAssignmentCreationStatus' ? 'AccountAssignmentCreationStatus' : 'AccountAssignmentDeletionStatus']: this.status(id, 'IN_PROGRESS') }];
        }
        if (operationState.status === 'SUCCEEDED') {
          if (operationState.kind === 'create') this.assignments.add(operationState.key);
          else this.assignments.delete(operationState.key);
        }
        return [200, { [operation === 'DescribeAccountAssignmentCreationStatus' ? 'AccountAssignmentCreationStatus' : 'AccountAssignmentDeletionStatus']: this.status(id, operationState.status, operationState.reason) }];
      }
      default:
        return error(400, 'UnknownOperationException', `${operation} is not faked`);
    }
  }

  private status(id: string, status: string, reason?: string): Record<string, unknown> {
    const operation = this.operations.get(id);
    return {
      Status: status, RequestId: id, ...(reason ? { FailureReason: reason } : {}),
      TargetId: operation?.body.TargetId, TargetType: 'AWS_ACCOUNT', PermissionSetArn: operation?.body.PermissionSetArn,
      PrincipalType: 'USER', PrincipalId: operation?.body.PrincipalId, CreatedDate: 1.7e9,
    };
  }
}
