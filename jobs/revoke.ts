import { transition } from '../core/lifecycle.js';
import type { Grant, RequestRecord } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import { incidentNoteJob } from '../handlers/emergency-jobs.js';
import { notifyJob } from '../handlers/jobs.js';
import type { Change, Job } from '../storage/store.js';
import { revokeInputFactory, type RevokeReason } from './revoke-input.js';
import { errorText, type JobHandler } from './job-handler.js';
import { recordProvision, revocationLag } from './metrics.js';

/** active → revoking at the expiry instant. A stale expiry job (the access was extended) does nothing. */
async function startExpiry(ctx: LatchContext, record: RequestRecord): Promise<RequestRecord | 'not_due' | 'conflict'> {
  const { request } = record;
  const now = ctx.now();
  if ((request.expiresAt ?? 0) > now) return 'not_due';
  const moved = transition(request.state, 'expire', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  const committed = await ctx.store.commit({
    updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedBy: 'latch', updatedAt: now } }],
    cancelJobs: [{ requestId: request.id, kinds: ['expiry_warning', 'extend'] }],
  });
  if (!committed.ok) return 'conflict';
  return { ...record, request: { ...request, state: moved.to, endedBy: 'latch', version: request.version + 1, updatedAt: now } };
}

/** Pending extensions of access that has ended can never apply. */
async function cancelPendingExtensions(ctx: LatchContext, parentId: string, now: number): Promise<Change[]> {
  const pending = await ctx.store.listRequests({ parentId, states: ['pending'] });
  return pending.map(({ request }) => ({
    updateRequests: [{ id: request.id, expectState: 'pending' as const, expectVersion: request.version, set: { state: 'cancelled' as const, endedAt: now, endedBy: 'latch', outcome: 'The access ended before the extension was decided.', updatedAt: now } }],
    cancelJobs: [{ requestId: request.id, kinds: ['timeout' as const, 'remind' as const] }],
    audit: [{ type: 'request.cancelled', requestId: request.id, actor: 'latch', at: now, data: { why: 'parent_ended', parent: parentId } }],
  }));
}

export const runRevoke: JobHandler = async (job: Job, ctx: LatchContext) => {
  const reason = (job.payload.reason as RevokeReason | undefined) ?? 'revoked';
  let record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record) return { status: 'bury', error: `request ${job.requestId ?? '?'} not found` };

  if (reason === 'expired' && record.request.state === 'active') {
    const started = await startExpiry(ctx, record);
    if (started === 'not_due') return { status: 'done' };
    if (started === 'conflict') return { status: 'retry', error: 'request changed before the expiry started', delayMs: 0 };
    record = started;
  }
  const cleanup = reason === 'cleanup';
  if (!cleanup && record.request.state !== 'revoking' && record.request.state !== 'revoke_failed') return { status: 'done' };
  if (cleanup && record.request.state !== 'failed') return { status: 'done' };

  const { request } = record;
  const now = ctx.now();
  const revoked: Grant[] = [];
  const failures: string[] = [];
  const revokeInput = await revokeInputFactory(ctx, record, reason);
  for (const grant of record.grants) {
    if (grant.state === 'revoked' || grant.principal === null) continue;
    try {
      const input = revokeInput(grant);
      const started = performance.now();
      await ctx.provisioners.revoke(input);
      recordProvision(grant.integration, 'revoke', performance.now() - started);
      revoked.push(grant);
    } catch (error) {
      failures.push(`${grant.integration}/${grant.resource} (${grant.permission}): ${errorText(error)}`);
    }
  }
  const grantRows: Change = {
    updateGrants: revoked.map((grant) => ({ id: grant.id, set: { state: 'revoked', revokedAt: now, lastError: null } })),
    audit: revoked.map((grant) => ({
      type: 'grant.revoked', requestId: request.id, actor: 'latch', at: now,
      data: { grant: grant.id, integration: grant.integration, resource: grant.resource, permission: grant.permission, principal: grant.principal, how: reason },
    })),
  };

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
  const extensions = await cancelPendingExtensions(ctx, request.id, now);
  return {
    status: 'done',
    change: {
      ...grantRows,
      updateRequests: [
        { id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedAt: now, updatedAt: now, ...(event === 'expired' ? { outcome: null } : {}) } },
        ...extensions.flatMap((change) => change.updateRequests ?? []),
      ],
      cancelJobs: extensions.flatMap((change) => change.cancelJobs ?? []),
      audit: [
        ...(grantRows.audit ?? []),
        { type: `request.${moved.to}`, requestId: request.id, actor: event === 'expired' ? 'latch' : (request.endedBy ?? 'latch'), at: now, data: { expiresAt: request.expiresAt, lagMs: request.expiresAt !== null ? now - request.expiresAt : null } },
        ...extensions.flatMap((change) => change.audit ?? []),
      ],
      enqueue: [notifyJob(request.id, moved.to === 'expired' ? 'expired' : 'revoked', now), ...incidentNoteJob(request, 'ended', now)],
    },
  };
};
