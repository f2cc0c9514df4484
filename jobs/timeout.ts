import { transition } from '../core/lifecycle.js';
import type { LatchContext } from '../handlers/context.js';
import { notifyJob } from '../handlers/jobs.js';
import type { Job } from '../storage/store.js';
import type { JobHandler, JobOutcome } from './job-handler.js';

/** An undecided request expires at its timeout. Decided ones are left alone. */
export const runTimeout: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'pending') return { status: 'done' };
  const { request } = record;
  const now = ctx.now();
  if ((request.timeoutAt ?? 0) > now) return { status: 'retry', error: 'not due yet', delayMs: (request.timeoutAt ?? now) - now };
  const moved = transition(request.state, 'timeout', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  return {
    status: 'done',
    change: {
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedAt: now, endedBy: 'latch', updatedAt: now } }],
      cancelJobs: [{ requestId: request.id, kinds: ['remind'] }],
      audit: [{ type: 'request.timed_out', requestId: request.id, actor: 'latch', at: now, data: { timeoutAt: request.timeoutAt } }],
      enqueue: [notifyJob(request.id, 'timed_out', now)],
    },
  };
};
