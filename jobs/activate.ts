import { transition } from '../core/lifecycle.js';
import type { LatchContext } from '../handlers/context.js';
import { lapsedOutcome } from '../handlers/approval-effects.js';
import { grantJob, notifyJob } from '../handlers/jobs.js';
import type { Change, Job } from '../storage/store.js';
import type { JobHandler, JobOutcome } from './job-handler.js';

/** ready → lapsed: the flow's activation window ran out, or a scheduled window passed unused. */
function lapse(ctx: LatchContext, requestId: string, version: number, outcome: string, now: number): Change {
  const moved = transition('ready', 'lapse', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  return {
    updateRequests: [{ id: requestId, expectState: 'ready', expectVersion: version, set: { state: moved.to, endedAt: now, endedBy: 'latch', outcome, updatedAt: now } }],
    cancelJobs: [{ requestId, kinds: ['activate', 'lapse'] }],
    audit: [{ type: 'request.lapsed', requestId, actor: 'latch', at: now, data: { why: outcome } }],
    enqueue: [notifyJob(requestId, 'lapsed', now)],
  };
}

/** A scheduled start has come: grant now, for what is left of the scheduled window. */
export const runActivate: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record) return { status: 'bury', error: `request ${job.requestId ?? '?'} not found` };
  const { request } = record;
  if (request.state !== 'ready') return { status: 'done' };
  const now = ctx.now();
  const startAt = request.startAt ?? now;
  if (startAt > now) return { status: 'retry', error: 'the scheduled start has not come yet', delayMs: startAt - now };
  if (startAt + request.durationMs <= now) {
    return { status: 'done', change: lapse(ctx, request.id, request.version, 'The scheduled time passed while Latch could not grant it; nothing was granted.', now) };
  }
  const moved = transition(request.state, 'activate', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  return {
    status: 'done',
    change: {
      updateRequests: [{ id: request.id, expectState: 'ready', expectVersion: request.version, set: { state: moved.to, updatedAt: now } }],
      audit: [{ type: 'request.activated', requestId: request.id, actor: 'latch', at: now, data: { scheduledFor: startAt } }],
      enqueue: [grantJob(request.id, now)],
    },
  };
};

/** The approval waited for its Activate click for the whole window. */
export const runLapse: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'ready') return { status: 'done' };
  const flow = ctx.current().config.flows.find((candidate) => candidate.name === record.request.flow);
  return { status: 'done', change: lapse(ctx, record.request.id, record.request.version, lapsedOutcome(flow), ctx.now()) };
};
