import { transition } from '../core/lifecycle.js';
import type { Grant, RequestRecord } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import { incidentNoteJob } from '../handlers/emergency-jobs.js';
import { notifyJob } from '../handlers/jobs.js';
import type { Change, Job } from '../storage/store.js';
import { revokeInputsFor, type RevokeReason } from './revoke-input.js';
import { errorText, type JobBatchHandler, type JobHandler, type JobOutcome } from './job-handler.js';
import { recordProvision, revocationLag } from './metrics.js';

const reasonOf = (job: Job): RevokeReason => (job.payload.reason as RevokeReason | undefined) ?? 'revoked';

/** A revoke job and the request it ends, once it is known there is backend work to do. */
interface Ending {
  job: Job;
  record: RequestRecord;
  reason: RevokeReason;
}

/** active → revoking at the expiry instant, in the change that cancels the warnings and extensions still to come. */
function expiryStart(record: RequestRecord, now: number): { change: Change; started: RequestRecord } {
  const { request } = record;
  const moved = transition(request.state, 'expire', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  return {
    change: {
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedBy: 'latch', updatedAt: now } }],
      cancelJobs: [{ requestId: request.id, kinds: ['expiry_warning', 'extend'] }],
    },
    started: { ...record, request: { ...request, state: moved.to, endedBy: 'latch', version: request.version + 1, updatedAt: now } },
  };
}

/**
 * Starts the expiries that are due (one commit for all of them) and sorts out the jobs with
 * nothing to do: a stale expiry job (the access was extended) or a request already ended.
 * Settled jobs get their outcome in `outcomes`; the rest come back with their requests.
 */
async function startEndings(ctx: LatchContext, jobs: readonly Job[], outcomes: Map<number, JobOutcome>): Promise<Ending[]> {
  const ids = [...new Set(jobs.flatMap((job) => (job.requestId ? [job.requestId] : [])))];
  const records = new Map((await ctx.store.getRequests(ids)).map((record) => [record.request.id, record]));
  const now = ctx.now();
  const starting: { ending: Ending; change: Change }[] = [];
  const endings: Ending[] = [];
  for (const job of jobs) {
    const record = job.requestId ? records.get(job.requestId) : undefined;
    if (!record) {
      outcomes.set(job.id, { status: 'bury', error: `request ${job.requestId ?? '?'} not found` });
      continue;
    }
    const reason = reasonOf(job);
    const { state, expiresAt } = record.request;
    if (reason === 'expired' && state === 'active') {
      if ((expiresAt ?? 0) > now) {
        outcomes.set(job.id, { status: 'done' });
        continue;
      }
      const { change, started } = expiryStart(record, now);
      starting.push({ ending: { job, record: started, reason }, change });
      continue;
    }
    const due = reason === 'cleanup' ? state === 'failed' : state === 'revoking' || state === 'revoke_failed';
    if (due) endings.push({ job, record, reason });
    else outcomes.set(job.id, { status: 'done' });
  }
  const committed = await Promise.all(ctx.store.commitEach(starting.map(({ change }) => change)));
  starting.forEach(({ ending }, index) => {
    if (committed[index]?.ok) endings.push(ending);
    else outcomes.set(ending.job.id, { status: 'retry', error: 'request changed before the expiry started', delayMs: 0 });
  });
  return endings;
}

/** Pending extensions of access that has ended can never apply; one read for every request of the batch. */
async function pendingExtensionsOf(ctx: LatchContext, parentIds: readonly string[]): Promise<Map<string, RequestRecord[]>> {
  const byParent = new Map<string, RequestRecord[]>();
  if (parentIds.length === 0) return byParent;
  for (const pending of await ctx.store.listRequests({ parentIds, states: ['pending'], limit: 500 * parentIds.length })) {
    const parent = pending.request.parentId;
    if (parent === null) continue;
    byParent.set(parent, [...(byParent.get(parent) ?? []), pending]);
  }
  return byParent;
}

function cancelExtensions(pending: readonly RequestRecord[], parentId: string, now: number): Change {
  return {
    updateRequests: pending.map(({ request }) => ({ id: request.id, expectState: 'pending' as const, expectVersion: request.version, set: { state: 'cancelled' as const, endedAt: now, endedBy: 'latch', outcome: 'The access ended before the extension was decided.', updatedAt: now } })),
    cancelJobs: pending.map(({ request }) => ({ requestId: request.id, kinds: ['timeout' as const, 'remind' as const] })),
    audit: pending.map(({ request }) => ({ type: 'request.cancelled', requestId: request.id, actor: 'latch', at: now, data: { why: 'parent_ended', parent: parentId } })),
  };
}

/** Revokes each live grant of a request in turn; what was revoked and what failed. */
async function revokeGrants(ctx: LatchContext, ending: Ending, inputOf: Awaited<ReturnType<typeof revokeInputsFor>>): Promise<{ revoked: Grant[]; failures: string[] }> {
  const revoked: Grant[] = [];
  const failures: string[] = [];
  for (const grant of ending.record.grants) {
    if (grant.state === 'revoked' || grant.principal === null) continue;
    try {
      const input = inputOf(ending.record, grant);
      const started = performance.now();
      await ctx.provisioners.revoke(input);
      recordProvision(grant.integration, 'revoke', performance.now() - started);
      revoked.push(grant);
    } catch (error) {
      failures.push(`${grant.integration}/${grant.resource} (${grant.permission}): ${errorText(error)}`);
    }
  }
  return { revoked, failures };
}

/** What a request's revoke leaves behind: the grants' rows, and the request's end or its failure. */
function revokeOutcome(ctx: LatchContext, ending: Ending, revoked: readonly Grant[], failures: readonly string[], extensions: readonly RequestRecord[]): JobOutcome {
  const { job, record, reason } = ending;
  const { request } = record;
  const now = ctx.now();
  const grantRows: Change = {
    updateGrants: revoked.map((grant) => ({ id: grant.id, set: { state: 'revoked', revokedAt: now, lastError: null } })),
    audit: revoked.map((grant) => ({
      type: 'grant.revoked', requestId: request.id, actor: 'latch', at: now,
      data: { grant: grant.id, integration: grant.integration, resource: grant.resource, permission: grant.permission, principal: grant.principal, how: reason },
    })),
  };
  const cleanup = reason === 'cleanup';
  if (failures.length > 0) {
    const error = failures.join('; ');
    const { settings } = ctx.current().config;
    const change: Change = { ...grantRows };
    if (!cleanup && request.state === 'revoking' && job.attempts >= settings.revokeAttemptsBeforeAlert) {
      const stuck = transition(request.state, 'stuck', ['system']);
      if (!stuck.ok) throw new Error(stuck.message);
      change.updateRequests = [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: stuck.to, outcome: error, updatedAt: now } }];
      change.audit = [...(change.audit ?? []), { type: 'revoke.failed', requestId: request.id, actor: 'latch', at: now, data: { attempts: job.attempts, error } }];
      change.enqueue = [notifyJob(request.id, 'revoke_failed_alert', now)];
    }
    // A revoke never gives up: it stays visible as revoke_failed and keeps trying.
    return { status: 'retry', error, change };
  }
  if (cleanup) return { status: 'done', change: grantRows };

  const event = reason === 'expired' ? 'expired' : 'revoked';
  const moved = transition(request.state, event, ['system']);
  if (!moved.ok) throw new Error(moved.message);
  if (event === 'expired' && request.expiresAt !== null) revocationLag.observe(Math.max(0, now - request.expiresAt) / 1000);
  const cancelled = cancelExtensions(extensions, request.id, now);
  return {
    status: 'done',
    change: {
      ...grantRows,
      updateRequests: [
        { id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedAt: now, updatedAt: now, ...(event === 'expired' ? { outcome: null } : {}) } },
        ...(cancelled.updateRequests ?? []),
      ],
      cancelJobs: cancelled.cancelJobs ?? [],
      audit: [
        ...(grantRows.audit ?? []),
        { type: `request.${moved.to}`, requestId: request.id, actor: event === 'expired' ? 'latch' : (request.endedBy ?? 'latch'), at: now, data: { expiresAt: request.expiresAt, lagMs: request.expiresAt !== null ? now - request.expiresAt : null } },
        ...(cancelled.audit ?? []),
      ],
      enqueue: [notifyJob(request.id, moved.to === 'expired' ? 'expired' : 'revoked', now), ...incidentNoteJob(request, 'ended', now)],
    },
  };
}

/**
 * Ends the access of a batch of revoke jobs (a mass expiry's, claimed together): one read of
 * their requests, one commit starting the due expiries, one read of what each grantee keeps
 * and one of pending extensions (none can be added once the access is no longer active), then
 * every revoke at once, where they meet in the revoke batcher (one backend call for many).
 * Each job's outcome comes as soon as its own grants are done, as if it ran alone: a slow
 * backend holds back only the jobs with grants in it.
 */
export const runRevokes: JobBatchHandler = (jobs, ctx) => {
  const prepared = (async () => {
    const outcomes = new Map<number, JobOutcome>();
    const endings = await startEndings(ctx, jobs, outcomes);
    const finishing = endings.filter((ending) => ending.reason !== 'cleanup').map((ending) => ending.record.request.id);
    const [inputOf, extensions] = await Promise.all([revokeInputsFor(ctx, endings), pendingExtensionsOf(ctx, finishing)]);
    return { outcomes, endings: new Map(endings.map((ending) => [ending.job.id, ending])), inputOf, extensions };
  })();
  return jobs.map(async (job): Promise<JobOutcome> => {
    const { outcomes, endings, inputOf, extensions } = await prepared;
    const settled = outcomes.get(job.id);
    if (settled) return settled;
    const ending = endings.get(job.id);
    if (!ending) return { status: 'retry', error: 'the revoke batch gave this job no outcome' };
    const { revoked, failures } = await revokeGrants(ctx, ending, inputOf);
    return revokeOutcome(ctx, ending, revoked, failures, extensions.get(ending.record.request.id) ?? []);
  });
};

export const runRevoke: JobHandler = async (job, ctx) => {
  const [outcome] = runRevokes([job], ctx);
  return outcome ?? { status: 'retry', error: 'the revoke gave no outcome' };
};
