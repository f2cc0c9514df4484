import type { LatchContext } from '../handlers/context.js';
import { notifyJob } from '../handlers/jobs.js';
import type { Job, NewJob } from '../storage/store.js';
import type { JobHandler, JobOutcome } from './job-handler.js';

/** Reminds the approvers of an undecided request, and escalates once it has waited too long. */
export const runRemind: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'pending') return { status: 'done' };
  const { request } = record;
  const { reminderInterval, escalateAfter } = ctx.current().config.settings;
  const now = ctx.now();
  const round = Number(job.payload.round ?? 1);
  const enqueue: NewJob[] = [notifyJob(request.id, 'approval_reminder', now, round)];
  if (now - request.createdAt >= escalateAfter) enqueue.push(notifyJob(request.id, 'approval_escalated', now));
  const next = now + reminderInterval;
  if (request.timeoutAt === null || next < request.timeoutAt) {
    enqueue.push({ kind: 'remind', requestId: request.id, runAt: next, payload: { round: round + 1 }, dedupeKey: `remind:${request.id}:${round + 1}` });
  }
  return { status: 'done', change: { enqueue } };
};
