import type { LatchContext } from '../handlers/context.js';
import type { RequestRecord } from '../core/types.js';
import type { Change, Job } from '../storage/store.js';

export type JobOutcome =
  /** Finished; `change` commits in the same transaction that marks the job done. */
  | { status: 'done'; change?: Change }
  /** Try again later; `change` (e.g. "revoke is stuck") commits first. */
  | { status: 'retry'; error: string; change?: Change; delayMs?: number }
  /** Never run again. */
  | { status: 'bury'; error: string };

/**
 * Runs one job. `known`: the job's request as the commit that inserted the job claimed left it
 * (LatchContext.jobsAtOnce), when that commit handed it over; otherwise the handler reads it.
 */
export type JobHandler = (job: Job, ctx: LatchContext, known?: RequestRecord) => Promise<JobOutcome>;

/**
 * Runs jobs of one kind claimed together, sharing their reads and backend calls: one promise
 * of an outcome per job, in order, each settling when that job is done, as the job's own
 * handler would.
 */
export type JobBatchHandler = (jobs: readonly Job[], ctx: LatchContext) => Promise<JobOutcome>[];

export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
