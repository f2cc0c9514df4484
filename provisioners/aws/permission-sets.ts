import {
  DescribePermissionSetCommand, DescribePermissionSetProvisioningStatusCommand, ListPermissionSetsCommand, ProvisionPermissionSetCommand, UpdatePermissionSetCommand,
} from '@aws-sdk/client-sso-admin';
import type { AwsClients } from './clients.js';
import { AwsProvisionerError, describeAwsError } from './errors.js';

// The Identity Center instance's permission sets, by name, with the session duration each
// one gives (how long a portal or CLI session lasts once issued, whatever the assignment).

export interface PermissionSet {
  arn: string;
  name: string;
  description: string | null;
  /** ISO 8601 as AWS keeps it (PT8H). */
  sessionDuration: string;
  sessionDurationMs: number;
}

/** PT8H, PT1H30M, PT45M → milliseconds; AWS's default (1 h) when AWS gives none. */
export function isoDurationMs(text: string | undefined): number {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(text ?? '');
  if (!match) return 3_600_000;
  return ((Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 60 + Number(match[3] ?? 0)) * 1000;
}

/** Whole hours, as Identity Center takes them: at least 1 h, at most 12 h. */
export function isoHours(ms: number): string {
  return `PT${Math.min(12, Math.max(1, Math.ceil(ms / 3_600_000)))}H`;
}

export async function readPermissionSets(clients: AwsClients, integration: string, instanceArn: string): Promise<PermissionSet[]> {
  const sso = clients.ssoAdmin();
  const where = (step: string): string => `integration "${integration}": ${step}`;
  const arns: string[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const answer = await sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn, ...(NextToken ? { NextToken } : {}) }));
      arns.push(...(answer.PermissionSets ?? []));
      NextToken = answer.NextToken;
    } while (NextToken);
  } catch (error) {
    throw describeAwsError(error, where(`listing the permission sets of ${instanceArn} (sso:ListPermissionSets)`), clients.connection.region);
  }
  // A few at a time: an instance has dozens, and sso-admin throttles a burst of all of them.
  const sets: PermissionSet[] = new Array<PermissionSet>(arns.length);
  let next = 0;
  const describeNext = async (): Promise<void> => {
    for (let index = next++; index < arns.length; index = next++) {
      const arn = arns[index] ?? '';
      try {
        const described = (await sso.send(new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: arn }))).PermissionSet;
        sets[index] = {
          arn, name: described?.Name ?? arn, description: described?.Description ?? null,
          sessionDuration: described?.SessionDuration ?? 'PT1H', sessionDurationMs: isoDurationMs(described?.SessionDuration),
        };
      } catch (error) {
        throw describeAwsError(error, where(`reading permission set ${arn} (sso:DescribePermissionSet)`), clients.connection.region);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, arns.length) }, describeNext));
  return sets;
}

/** The permission set a permission names: exactly when named, in any case when defaulted from the permission's name. */
export function findPermissionSet(sets: readonly PermissionSet[], name: string, exact: boolean): PermissionSet | null {
  return sets.find((set) => set.name === name) ?? (exact ? null : sets.find((set) => set.name.toLowerCase() === name.toLowerCase()) ?? null);
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shortens a permission set's sessions and pushes the change to every account it is
 * provisioned to, waiting for AWS to finish. Sessions issued before keep their own end.
 */
export async function lowerSessionDuration(clients: AwsClients, integration: string, instanceArn: string, set: PermissionSet, duration: string, sleep: (ms: number) => Promise<void> = wait): Promise<void> {
  const sso = clients.ssoAdmin();
  const where = (step: string): string => `integration "${integration}": ${step}`;
  try {
    await sso.send(new UpdatePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: set.arn, SessionDuration: duration, ...(set.description ? { Description: set.description } : {}) }));
  } catch (error) {
    throw describeAwsError(error, where(`lowering the session duration of ${set.name} to ${duration} (sso:UpdatePermissionSet)`), clients.connection.region);
  }
  let status;
  try {
    status = (await sso.send(new ProvisionPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: set.arn, TargetType: 'ALL_PROVISIONED_ACCOUNTS' }))).PermissionSetProvisioningStatus;
    let delay = 500;
    for (let waited = 0; status?.Status === 'IN_PROGRESS' && waited < 120_000; waited += delay, delay = Math.min(delay * 2, 5_000)) {
      await sleep(delay);
      status = (await sso.send(new DescribePermissionSetProvisioningStatusCommand({ InstanceArn: instanceArn, ProvisionPermissionSetRequestId: status.RequestId }))).PermissionSetProvisioningStatus;
    }
  } catch (error) {
    throw describeAwsError(error, where(`provisioning ${set.name} after lowering its session duration (sso:ProvisionPermissionSet)`), clients.connection.region);
  }
  if (status?.Status !== 'SUCCEEDED') throw new AwsProvisionerError(where(`provisioning ${set.name} with session duration ${duration} ${status?.Status === 'IN_PROGRESS' ? 'was still in progress after 2 minutes' : `failed: ${status?.FailureReason ?? 'no reason given'}`}`));
  set.sessionDuration = duration;
  set.sessionDurationMs = isoDurationMs(duration);
}
