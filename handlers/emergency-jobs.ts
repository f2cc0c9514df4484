// The follow-up work an emergency grant implies, as outbox rows: a note on the incident
// when the access is granted and again when it ends, and the post-incident review.
import type { LatchConfig } from '../config/schema.js';
import type { AccessRequest, RequestRecord } from '../core/types.js';
import type { NewJob } from '../storage/store.js';

export type NoteMoment = 'granted' | 'ended';

/** A note on the incident the grant names; none for a grant that names no incident. */
export function incidentNoteJob(request: AccessRequest, moment: NoteMoment, runAt: number): NewJob[] {
  if (!request.context?.emergency?.incident) return [];
  return [{ kind: 'incident_note', requestId: request.id, runAt, payload: { moment }, dedupeKey: `incident_note:${request.id}:${moment}` }];
}

/** The review: opened at once (round 0), then a reminder every `reviewReminder` of the flow until it is done. */
export function reviewJob(config: LatchConfig, request: AccessRequest, now: number, round = 0): NewJob {
  const flow = config.emergency.find((candidate) => candidate.name === request.context?.emergency?.flow);
  const every = flow?.reviewReminder ?? 86_400_000;
  return { kind: 'emergency_review', requestId: request.id, runAt: round === 0 ? now : now + every, payload: { round }, dedupeKey: `emergency_review:${request.id}:${round}` };
}

export function emergencyFollowUps(config: LatchConfig, record: RequestRecord, now: number): NewJob[] {
  return [...incidentNoteJob(record.request, 'granted', now), reviewJob(config, record.request, now)];
}
