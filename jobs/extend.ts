import type { LatchContext } from '../handlers/context.js';
import type { Job } from '../storage/store.js';
import { grantInput } from './grant.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

/** Tells each backend the new expiry after an extension (PostgreSQL VALID UNTIL and the like). */
export const runExtend: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'active' || record.request.expiresAt === null) return { status: 'done' };
  try {
    for (const grant of record.grants.filter((candidate) => candidate.state === 'active')) {
      const input = grantInput(ctx, record, grant);
      await ctx.provisioners.for(input.integration).extend(input);
    }
    return { status: 'done' };
  } catch (error) {
    return { status: 'retry', error: errorText(error) };
  }
};
