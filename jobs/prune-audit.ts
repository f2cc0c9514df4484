import type { LatchContext } from '../handlers/context.js';
import type { Job, NewJob } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

const DAY_MS = 86_400_000;

/** The daily retention job; enqueueing it twice on the same day leaves one. */
export function pruneAuditJob(at: number): NewJob {
  return { kind: 'prune_audit', requestId: null, runAt: at, dedupeKey: `prune_audit:${new Date(at).toISOString().slice(0, 10)}` };
}

/** Removes audit events older than the retention setting (and old delivery ids), then schedules itself for tomorrow. */
export const runPruneAudit: JobHandler = async (_job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const now = ctx.now();
  const { auditRetention } = ctx.current().config.settings;
  try {
    const removed = await ctx.store.pruneAudit(now - auditRetention, now);
    await ctx.store.pruneDeliveries(now - DAY_MS);
    if (removed > 0) ctx.log.info({ removed, retentionMs: auditRetention }, `audit retention removed ${removed} events`);
  } catch (error) {
    return { status: 'retry', error: errorText(error) };
  }
  return { status: 'done', change: { enqueue: [pruneAuditJob(now + DAY_MS)] } };
};
