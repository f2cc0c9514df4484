import type { ChannelTarget, LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import { emergencyChannels, emergencyReviewers } from '../core/emergency.js';
import { currentApprovers, findResource } from '../core/policy.js';
import { notifyPlan } from '../core/routing.js';
import type { RequestRecord } from '../core/types.js';
import type { NotificationEvent } from '../handlers/notifier.js';

const FOR_APPROVERS: readonly NotificationEvent[] = ['approval_requested', 'approval_reminder', 'extension_requested'];

/**
 * What a channel hears of: the card when approvers are asked (or, for a request nobody had
 * to approve, at its first change), then every change of the request in the card's thread.
 * What only the requester needs (submitted, expiry warnings) stays in their DMs.
 */
const FOR_CHANNELS: readonly NotificationEvent[] = [
  ...FOR_APPROVERS, 'approval_escalated', 'step_approved', 'approved', 'denied', 'cancelled', 'timed_out',
  'activation_ready', 'lapsed', 'granted', 'failed', 'extended', 'revoked', 'expired', 'revoke_failed_alert',
];

function ownersOf(config: LatchConfig, directory: Directory, record: RequestRecord): string[] {
  return record.grants.flatMap((grant) => {
    const owner = findResource(config, grant.integration, grant.resource)?.integration.owner;
    if (!owner) return [];
    return owner.kind === 'user' ? [owner.email] : [...directory.membersOf(owner.group)];
  });
}

/** Latch decided it without a person: the flow's autoApprove or an automatic decision rule. */
export function decidedAutomatically(record: RequestRecord): boolean {
  return record.request.decidedBy === 'latch';
}

/** Who hears about an event: approvers for "please decide", the people involved for outcomes, admins for alerts; channels by routing. */
export function recipientsFor(config: LatchConfig, directory: Directory, record: RequestRecord, event: NotificationEvent): { people: string[]; channels: ChannelTarget[] } {
  const { request } = record;
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  const plan = flow ? notifyPlan(config, flow, record.grants) : null;
  const involved = [request.requester, request.grantee];
  let people: string[];
  if (FOR_APPROVERS.includes(event)) {
    people = plan?.approverDMs === false ? [] : [...currentApprovers(config, directory, request, record.grants, record.decisions)];
  } else if (event === 'approval_escalated') {
    people = [...ownersOf(config, directory, record), ...directory.admins()].filter((email) => !involved.includes(email));
  } else if (event === 'revoke_failed_alert') {
    people = [...directory.admins(), ...ownersOf(config, directory, record)];
  } else if (event === 'approved' && request.kind === 'extension') {
    // The access's own "extended" message tells them, with who approved it.
    people = [];
  } else {
    people = involved;
  }
  // An emergency grant has no flow plan: it is announced where it was asked for and where its emergency flow says, never quietly.
  const emergency = request.context?.emergency;
  if (emergency && (event === 'review_requested' || event === 'review_reminder')) return { people: [...emergencyReviewers(config, directory, emergency, request.grantee)], channels: [] };
  if (event === 'review_flagged') return { people: [...directory.admins()], channels: [] };
  if (event === 'reviewed') return { people: [], channels: [] };
  if (emergency) return { people: [...new Set(people)], channels: FOR_CHANNELS.includes(event) ? emergencyChannels(config, emergency) : [] };
  const quiet = !plan || !FOR_CHANNELS.includes(event) || (plan.quietWhenAutomatic && decidedAutomatically(record));
  return { people: [...new Set(people)], channels: quiet ? [] : plan.channels };
}
