// Writes an emergency grant into the incident's timeline (PagerDuty incident notes,
// Opsgenie alert notes): who got what, until when and why, and again when it ended. Runs
// from the outbox, so a provider that is down is retried with backoff.
import { formatInstant } from '../core/start-time.js';
import type { RequestRecord } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import { describeAccess } from '../handlers/describe.js';
import type { NoteMoment } from '../handlers/emergency-jobs.js';
import type { Job } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

const NOTE_ATTEMPTS = 30;
const GRANTING = ['approved', 'granting'];

export function noteText(record: RequestRecord, moment: NoteMoment, timeZone: string): string {
  const { request } = record;
  const facts = request.context?.emergency;
  const why = facts?.matched.startsWith('oncall:') ? `, on call for ${facts.matched.slice(7)}` : '';
  if (moment === 'granted') {
    const until = request.expiresAt !== null ? ` until ${formatInstant(request.expiresAt, timeZone)}` : '';
    return `Latch: emergency access granted to ${request.grantee}${why}: ${describeAccess(record)}${until}. Reason: ${request.reason ?? '(none)'}. Request ${request.id}; it is reviewed afterwards.`;
  }
  const how = request.state === 'expired' ? 'expired' : `was revoked by ${request.endedBy ?? 'Latch'}`;
  return `Latch: emergency access ${request.id} of ${request.grantee} (${describeAccess(record)}) ${how} at ${formatInstant(request.endedAt ?? request.updatedAt, timeZone)}.`;
}

export const runIncidentNote: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  const incident = record?.request.context?.emergency?.incident;
  if (!record || !incident) return { status: 'bury', error: `request ${job.requestId ?? '?'} names no incident` };
  const moment: NoteMoment = job.payload.moment === 'ended' ? 'ended' : 'granted';
  // The note says until when: it waits for the grant it describes.
  if (moment === 'granted' && GRANTING.includes(record.request.state)) return { status: 'retry', error: 'the access is still being granted', delayMs: 1_000 };
  if (moment === 'granted' && record.request.state === 'failed') return { status: 'done' };
  const provider = incident.provider ? ctx.oncall?.incidents(incident.provider) : null;
  if (!provider) return { status: 'bury', error: incident.provider ? `${incident.provider === 'pagerduty' ? 'PAGERDUTY_TOKEN' : 'OPSGENIE_API_KEY'} is not set, so incident ${incident.id} was not told` : `Latch does not know where incident ${incident.id} lives; set incidents: on the emergency flow` };
  const text = noteText(record, moment, ctx.current().config.settings.timeZone);
  try {
    await provider.addNote(incident.id, text, record.request.grantee);
  } catch (error) {
    if (job.attempts >= NOTE_ATTEMPTS) return { status: 'bury', error: `gave up after ${job.attempts} attempts: ${errorText(error)}` };
    return { status: 'retry', error: errorText(error) };
  }
  const now = ctx.now();
  return { status: 'done', change: { audit: [{ type: 'incident.noted', requestId: record.request.id, actor: 'latch', at: now, data: { provider: incident.provider, incident: incident.id, moment } }] } };
};
