import {
  CreateAccountAssignmentCommand, DeleteAccountAssignmentCommand, DescribeAccountAssignmentCreationStatusCommand, DescribeAccountAssignmentDeletionStatusCommand,
  ListAccountAssignmentsCommand, ListAccountsForProvisionedPermissionSetCommand, type AccountAssignmentOperationStatus,
} from '@aws-sdk/client-sso-admin';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, describeAwsError, isCode } from './errors.js';

// Assigning a permission set to a user in an account, and taking it away. Both calls only
// start the work; AWS reports the outcome through a status to poll, so a grant is done when
// the status says SUCCEEDED, never when the call returns.

export interface Assignment {
  accountId: string;
  permissionSetArn: string;
  userId: string;
}

export interface PollOptions {
  /** The first wait, doubled after each IN_PROGRESS up to maxDelayMs. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Give up (and let the job retry) after this long. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(read: () => Promise<AccountAssignmentOperationStatus | undefined>, first: AccountAssignmentOperationStatus | undefined, options: PollOptions, what: string): Promise<AccountAssignmentOperationStatus> {
  const sleep = options.sleep ?? wait;
  let delay = options.firstDelayMs ?? 500;
  let waited = 0;
  let status = first;
  while (status?.Status === 'IN_PROGRESS' || status === undefined) {
    if (waited >= (options.timeoutMs ?? 120_000)) throw new AwsProvisionerError(`${what} was still in progress after ${Math.round(waited / 1000)} s; Latch checks again on the next attempt`);
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, options.maxDelayMs ?? 5_000);
    status = await read();
  }
  return status;
}

export class AccountAssignments {
  constructor(private readonly clients: AwsClients, private readonly integration: string, private readonly instanceArn: string, private readonly options: PollOptions = {}) {}

  private where(step: string): string {
    return `integration "${this.integration}": ${step}`;
  }

  /** Whether the user holds the permission set in the account now (directly, not through a group). */
  async exists(assignment: Assignment): Promise<boolean> {
    const found = await this.list(assignment.accountId, assignment.permissionSetArn);
    return found.includes(assignment.userId);
  }

  /** The users the permission set is assigned to in the account. */
  async list(accountId: string, permissionSetArn: string): Promise<string[]> {
    const users: string[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const answer = await this.clients.ssoAdmin().send(new ListAccountAssignmentsCommand({ InstanceArn: this.instanceArn, AccountId: accountId, PermissionSetArn: permissionSetArn, ...(NextToken ? { NextToken } : {}) }));
        for (const entry of answer.AccountAssignments ?? []) if (entry.PrincipalType === 'USER' && entry.PrincipalId) users.push(entry.PrincipalId);
        NextToken = answer.NextToken;
      } while (NextToken);
    } catch (error) {
      throw describeAwsError(error, this.where(`listing the assignments of ${permissionSetArn} in account ${accountId} (sso:ListAccountAssignments)`), this.clients.connection.region);
    }
    return users;
  }

  /** The accounts a permission set is provisioned to (where it can have assignments). */
  async provisionedAccounts(permissionSetArn: string): Promise<string[]> {
    const accounts: string[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const answer = await this.clients.ssoAdmin().send(new ListAccountsForProvisionedPermissionSetCommand({ InstanceArn: this.instanceArn, PermissionSetArn: permissionSetArn, ...(NextToken ? { NextToken } : {}) }));
        accounts.push(...(answer.AccountIds ?? []));
        NextToken = answer.NextToken;
      } while (NextToken);
    } catch (error) {
      throw describeAwsError(error, this.where(`listing the accounts ${permissionSetArn} is provisioned to (sso:ListAccountsForProvisionedPermissionSet)`), this.clients.connection.region);
    }
    return accounts;
  }

  async create(assignment: Assignment, label: string): Promise<void> {
    const sso = this.clients.ssoAdmin();
    const what = `assigning ${label}`;
    let started;
    try {
      started = await sso.send(new CreateAccountAssignmentCommand({ ...this.target(assignment) }));
    } catch (error) {
      throw this.explain(error, `${what} (sso:CreateAccountAssignment)`);
    }
    const requestId = started.AccountAssignmentCreationStatus?.RequestId;
    const status = await poll(async () => {
      try {
        return (await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: this.instanceArn, AccountAssignmentCreationRequestId: requestId }))).AccountAssignmentCreationStatus;
      } catch (error) {
        throw describeAwsError(error, this.where(`${what}: reading its status (sso:DescribeAccountAssignmentCreationStatus)`), this.clients.connection.region);
      }
    }, started.AccountAssignmentCreationStatus, this.options, this.where(what));
    if (status.Status !== 'SUCCEEDED') throw new AwsProvisionerError(this.where(`${what} failed in AWS: ${status.FailureReason ?? 'no reason given'}`), 'FAILED');
  }

  /** Takes the assignment away; one that is already gone counts as taken away. */
  async delete(assignment: Assignment, label: string): Promise<void> {
    const sso = this.clients.ssoAdmin();
    const what = `removing ${label}`;
    let started;
    try {
      started = await sso.send(new DeleteAccountAssignmentCommand({ ...this.target(assignment) }));
    } catch (error) {
      if (isCode(error, 'ResourceNotFound')) return;
      throw this.explain(error, `${what} (sso:DeleteAccountAssignment)`);
    }
    const requestId = started.AccountAssignmentDeletionStatus?.RequestId;
    const status = await poll(async () => {
      try {
        return (await sso.send(new DescribeAccountAssignmentDeletionStatusCommand({ InstanceArn: this.instanceArn, AccountAssignmentDeletionRequestId: requestId }))).AccountAssignmentDeletionStatus;
      } catch (error) {
        throw describeAwsError(error, this.where(`${what}: reading its status (sso:DescribeAccountAssignmentDeletionStatus)`), this.clients.connection.region);
      }
    }, started.AccountAssignmentDeletionStatus, this.options, this.where(what));
    if (status.Status === 'SUCCEEDED') return;
    // AWS fails a deletion of what is not there; the access is gone all the same.
    if (!(await this.exists(assignment))) return;
    throw new AwsProvisionerError(this.where(`${what} failed in AWS: ${status.FailureReason ?? 'no reason given'}`), 'FAILED');
  }

  private target(assignment: Assignment): { InstanceArn: string; TargetId: string; TargetType: 'AWS_ACCOUNT'; PermissionSetArn: string; PrincipalType: 'USER'; PrincipalId: string } {
    return { InstanceArn: this.instanceArn, TargetId: assignment.accountId, TargetType: 'AWS_ACCOUNT', PermissionSetArn: assignment.permissionSetArn, PrincipalType: 'USER', PrincipalId: assignment.userId };
  }

  private explain(error: unknown, what: string): AwsProvisionerError {
    if (isCode(error, 'Conflict')) {
      return new AwsProvisionerError(this.where(`${what}: AWS is still working on another change of this permission set (for example provisioning it to the account); Latch tries again shortly (${error instanceof Error ? error.message : String(error)})`), 'ConflictException', { cause: error });
    }
    return describeAwsError(error, this.where(what), this.clients.connection.region);
  }
}
