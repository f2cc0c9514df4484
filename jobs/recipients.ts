import type { LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import { currentApprovers, findResource } from '../core/policy.js';
import type { RequestRecord } from '../core/types.js';
import type { ChannelTarget } from '../config/schema.js';
import type { NotificationEvent } from '../handlers/notifier.js';

const FOR_APPROVERS: readonly NotificationEvent[] = ['approval_requested', 'approval_reminder', 'extension_requested'];

function ownersOf(config: LatchConfig, directory: Directory, record: RequestRecord): string[] {
  return record.grants.flatMap((grant) => {
    const owner = findResource(config, grant.integration, grant.resource)?.integration.owner;
    if (!owner) return [];
    return owner.kind === 'user' ? [owner.email] : [...directory.membersOf(owner.group)];
  });
}

/** Who hears about an event: approvers for "please decide", the people involved for outcomes, admins for alerts. */
export function recipientsFor(config: LatchConfig, directory: Directory, record: RequestRecord, event: NotificationEvent): { people: string[]; channels: ChannelTarget[] } {
  const { request } = record;
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  const involved = [request.requester, request.grantee];
  let people: string[];
  let channels: ChannelTarget[] = [];
  if (FOR_APPROVERS.includes(event)) {
    people = flow?.notify.approverDMs === false ? [] : [...currentApprovers(config, directory, request, record.grants, record.decisions)];
    channels = flow?.notify.channels ?? [];
  } else if (event === 'approval_escalated') {
    people = [...ownersOf(config, directory, record), ...directory.admins()].filter((email) => !involved.includes(email));
  } else if (event === 'revoke_failed_alert') {
    people = [...directory.admins(), ...ownersOf(config, directory, record)];
  } else {
    people = involved;
  }
  return { people: [...new Set(people)], channels };
}
