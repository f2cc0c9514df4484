import type { LatchConfig } from '../config/schema.js';
import type { LatchContext } from '../handlers/context.js';
import type { Job, NewJob } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

// One pass of an rdsDiscovery block per interval, through the outbox like every periodic
// job: the next pass is queued in the same transaction that finishes this one, so a crash
// between passes loses none, and the key leaves one job per block and period.

export function rdsDiscoveryJob(name: string, at: number, everyMs: number): NewJob {
  return { kind: 'rds_discovery', requestId: null, runAt: at, payload: { discovery: name }, dedupeKey: `rds_discovery:${name}:${Math.floor(at / everyMs)}` };
}

/** A pass of every block now: at start-up (the listing read back from the store may be old) and for blocks a reload adds. */
export function rdsDiscoveryJobs(config: Pick<LatchConfig, 'rdsDiscovery'>, now: number): NewJob[] {
  return config.rdsDiscovery.map((block) => ({ ...rdsDiscoveryJob(block.name, now, block.interval), dedupeKey: `rds_discovery:${block.name}:start:${now}` }));
}

export const runRdsDiscovery: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const name = typeof job.payload.discovery === 'string' ? job.payload.discovery : '';
  const block = ctx.current().config.rdsDiscovery.find((candidate) => candidate.name === name);
  // A block removed from the config stops here; one added is queued by the reload.
  if (!block || !ctx.rdsDiscovery) return { status: 'done' };
  try {
    await ctx.rdsDiscovery.run(name);
  } catch (error) {
    // AWS's answers are problems, not errors: what is left is the store, and the interval tries again.
    ctx.log.warn({ discovery: name, err: errorText(error) }, `RDS discovery ${name} failed`);
  }
  return { status: 'done', change: { enqueue: [rdsDiscoveryJob(name, ctx.now() + block.interval, block.interval)] } };
};
