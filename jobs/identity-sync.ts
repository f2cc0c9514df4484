import { identitySourceName, type LatchConfig } from '../config/schema.js';
import type { LatchContext } from '../handlers/context.js';
import type { Job, NewJob } from '../storage/store.js';
import type { JobHandler, JobOutcome } from './job-handler.js';

/** The next sync of one source; the key makes start-up and the job's own re-enqueue leave one. */
export function identitySyncJob(source: string, at: number, everyMs: number): NewJob {
  return { kind: 'identity_sync', requestId: null, runAt: at, payload: { source }, dedupeKey: `identity_sync:${source}:${Math.floor(at / everyMs)}` };
}

/** A sync asked for from the command line: run by the server as soon as it sees it, once. */
export function onDemandSyncJob(source: string, at: number, allowMassDisable: boolean): NewJob {
  return { kind: 'identity_sync', requestId: null, runAt: at, payload: { source, onDemand: true, allowMassDisable }, dedupeKey: `identity_sync:${source}:demand:${at}` };
}

/** One job per source Latch reads (SCIM is pushed to), due now: a restart syncs at once. */
export function identitySyncJobs(config: LatchConfig, now: number): NewJob[] {
  return config.identitySources.filter((source) => source.type !== 'scim').map((source) => ({ ...identitySyncJob(identitySourceName(source), now, source.syncEvery), dedupeKey: `identity_sync:${identitySourceName(source)}:start:${now}` }));
}

/**
 * Syncs the job's source and queues its next sync. A failed or held sync is not a failed
 * job: the source's status records it, and the next interval tries again.
 */
export const runIdentitySync: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const name = typeof job.payload.source === 'string' ? job.payload.source : '';
  const source = ctx.current().config.identitySources.find((candidate) => identitySourceName(candidate) === name);
  // A source removed from the config stops here; a new one is queued at the next start-up or reload.
  if (!source || source.type === 'scim' || !ctx.identities) return { status: 'done' };
  await ctx.identities.sync(name, { allowMassDisable: job.payload.allowMassDisable === true });
  // `identities sync` asks for one sync now; the interval keeps its own job.
  if (job.payload.onDemand === true) return { status: 'done' };
  const next = ctx.now() + source.syncEvery;
  return { status: 'done', change: { enqueue: [identitySyncJob(name, next, source.syncEvery)] } };
};
