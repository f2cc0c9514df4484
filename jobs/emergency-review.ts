// Opens the review of an emergency grant (round 0) and reminds its reviewers every
// `reviewReminder` until one of them has reviewed it.
import type { LatchContext } from '../handlers/context.js';
import { reviewJob } from '../handlers/emergency-jobs.js';
import type { Job } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';
import { sendNotification } from './notify.js';

const REVIEW_NOTIFY_ATTEMPTS = 10;

export const runEmergencyReview: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  const emergency = record?.request.context?.emergency;
  if (!record || !emergency) return { status: 'bury', error: `request ${job.requestId ?? '?'} is not an emergency grant` };
  if (emergency.review) return { status: 'done' };
  const round = Number(job.payload.round ?? 0);
  try {
    await sendNotification(ctx, record, round === 0 ? 'review_requested' : 'review_reminder', `job:${job.id}`);
  } catch (error) {
    if (job.attempts >= REVIEW_NOTIFY_ATTEMPTS) return { status: 'bury', error: errorText(error) };
    return { status: 'retry', error: errorText(error) };
  }
  return { status: 'done', change: { enqueue: [reviewJob(ctx.current().config, record.request, ctx.now(), round + 1)] } };
};
