// The follow-up work an emergency grant implies, as outbox rows: a note on the incident
// when the access is granted and again when it ends.
import type { LatchConfig } from '../config/schema.js';
import type { AccessRequest, RequestRecord } from '../core/types.js';
import type { NewJob } from '../storage/store.js';

export type NoteMoment = 'granted' | 'ended';

/** A note on the incident the grant names; none for a grant that names no incident. */
export function incidentNoteJob(request: AccessRequest, moment: NoteMoment, runAt: number): NewJob[] {
  if (!request.context?.emergency?.incident) return [];
  return [{ kind: 'incident_note', requestId: request.id, runAt, payload: { moment }, dedupeKey: `incident_note:${request.id}:${moment}` }];
}

export function emergencyFollowUps(_config: LatchConfig, record: RequestRecord, now: number): NewJob[] {
  return [...incidentNoteJob(record.request, 'granted', now)];
}
