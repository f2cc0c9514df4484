import type { LatchConfig } from '../config/schema.js';
import { discoveryDigestText } from '../cards/discovery.js';
import { discover } from '../handlers/discover.js';
import type { LatchContext } from '../handlers/context.js';
import type { Job, NewJob } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

/**
 * The next digest, at the next multiple of `discovery.digestEvery` since the epoch: every
 * instance and every restart computes the same instant and dedupe key, so one digest is
 * sent per period however often Latch starts. None when digests are off.
 */
export function discoveryDigestJobs(config: LatchConfig, now: number): NewJob[] {
  const every = config.discovery.digestEvery;
  if (every === undefined) return [];
  const runAt = (Math.floor(now / every) + 1) * every;
  return [{ kind: 'discovery_digest', requestId: null, runAt, dedupeKey: `discovery_digest:${runAt}` }];
}

/** Scans, records the scan, and tells the admins what changed since the scan before; then schedules the next. */
export const runDiscoveryDigest: JobHandler = async (_job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const { config } = ctx.current();
  // Turned off by a config reload since it was queued: nothing to send, nothing to schedule.
  if (config.discovery.digestEvery === undefined || !ctx.store.discovery) return { status: 'done' };
  const now = ctx.now();
  try {
    // Backends read the server's own environment, as the provisioners do.
    const report = await discover({ config, env: process.env, now, provisioners: ctx.provisioners, store: ctx.store.discovery, recordScan: true });
    await ctx.alertAdmins?.(discoveryDigestText(report));
  } catch (error) {
    return { status: 'retry', error: errorText(error) };
  }
  return {
    status: 'done',
    change: { enqueue: discoveryDigestJobs(config, now), audit: [{ type: 'discovery.digest_sent', requestId: null, actor: 'latch', at: now, data: {} }] },
  };
};
