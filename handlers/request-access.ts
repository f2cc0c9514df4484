import { newId, newRequestId } from '../core/ids.js';
import { checkRequest, currentApprovers, findResource, type CheckedRequest, type RequestInput } from '../core/policy.js';
import { transition } from '../core/lifecycle.js';
import { reasonLink } from '../core/reason-rule.js';
import { automaticDecision, type AutomaticDecision } from '../core/auto-decision.js';
import { formatDuration } from '../core/duration.js';
import { findOverlap, OPEN_FOR_OVERLAP, type Overlap } from '../core/overlap.js';
import type { AccessRequest, Actor, Grant, RequestRecord } from '../core/types.js';
import type { Change } from '../storage/store.js';
import type { LatchContext } from './context.js';
import { describeAccess } from './describe.js';
import { notifyJob } from './jobs.js';
import { approvalEffects } from './approval-effects.js';
import { duplicateDelivery, fail, type Failure, type Outcome } from './outcome.js';
import { unavailableReason } from './integration-status.js';
import { flowSchedules, refreshOnCall } from './oncall-refresh.js';
import { handoverJob } from './handover-jobs.js';
import { startCommitted, startGrantAtOnce } from './start-at-once.js';

/** The open requests a refused duplicate points at, so the person can extend or wait instead. */
export type OverlapFailure = Failure<'already_requested'> & { existing: { id: string; state: string; expiresAt: number | null }[] };

export type RequestAccessOutcome = Outcome<{ record: RequestRecord; autoApproved: boolean; automatic: AutomaticDecision | null }> | OverlapFailure;

/** Says what the person already has or has asked for, and what to do instead. */
function overlapFailure(overlap: Overlap, total: number, now: number): OverlapFailure {
  const records = [...new Map(overlap.covered.map(({ record }) => [record.request.id, record])).values()];
  const parts = overlap.covered.map(({ item, record }) => {
    const { request } = record;
    const where = request.state === 'active' && request.expiresAt !== null
      ? `active until ${new Date(request.expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC (${formatDuration(Math.max(0, request.expiresAt - now))} left)`
      : request.state === 'pending' ? 'waiting for approval' : 'being granted';
    return `${item.permission} on ${item.integration}/${item.resource} (${request.id}, ${where})`;
  });
  const active = records.filter((record) => record.request.state === 'active');
  const advice = active.length > 0
    ? ` Extend ${active.map((record) => record.request.id).join(' or ')} instead.`
    : ' Wait for that request to be decided, or cancel it first.';
  const what = overlap.covered.length === total
    ? `You already have this access or have asked for it: ${parts.join('; ')}.`
    : `Part of what you asked for you already have or have asked for: ${parts.join('; ')}. Request the rest (${overlap.uncovered.map((item) => `${item.permission} on ${item.integration}/${item.resource}`).join(', ')}) on its own.`;
  return {
    ...fail('already_requested', `${what}${advice} Nothing new was submitted.`),
    existing: records.map((record) => ({ id: record.request.id, state: record.request.state, expiresAt: record.request.expiresAt })),
  };
}

/**
 * A request for a backend that is down now would be approved and then fail: refuse it
 * before anyone is asked, naming the integration and what is wrong.
 */
function whileAvailable(checked: ReturnType<typeof checkRequest>, now: number): ReturnType<typeof checkRequest> | Failure<'integration_unavailable'> {
  if (!checked.ok) return checked;
  for (const item of checked.items) {
    const reason = unavailableReason(item.integration, now);
    if (reason !== null) {
      return fail('integration_unavailable', `${item.integration} is unavailable right now (${reason}), so nothing was submitted. Try again later, or tell the integration's owner.`);
    }
  }
  return checked;
}

/**
 * A grant the backend already knows it would refuse (an AWS session policy too large) is
 * refused now, with what to remove, before anyone approves it. A backend that cannot even be
 * set up says so at grant time, with its own message.
 */
function backendAccepts(ctx: LatchContext, checked: CheckedRequest): CheckedRequest | Failure<'backend_refuses'> {
  const { config } = ctx.current();
  for (const item of checked.items) {
    const found = findResource(config, item.integration, item.resource);
    if (!found || !ctx.provisioners.supports(found.integration)) continue;
    let problem: string | null = null;
    try {
      problem = ctx.provisioners.for(found.integration).checkRequest?.(found.resource, item.permission, found.resource.permissions[item.permission] ?? {}) ?? null;
    } catch {
      continue;
    }
    if (problem !== null) return fail('backend_refuses', `${item.permission} on ${item.integration}/${item.resource} cannot be granted as configured: ${problem} Nothing was submitted.`);
  }
  return checked;
}

/**
 * Access the person already holds outside Latch is answered as such (a grant would add
 * nothing, and its revoke must not take standing access away); a person the backend does
 * not know is told now, not after someone approved. A backend that cannot be asked now
 * does not block the request.
 */
async function notHeldElsewhere(ctx: LatchContext, checked: CheckedRequest): Promise<CheckedRequest | Failure<'already_held' | 'backend_refuses'>> {
  const { config } = ctx.current();
  for (const item of checked.items) {
    const found = findResource(config, item.integration, item.resource);
    if (!found || !ctx.provisioners.supports(found.integration)) continue;
    let existing: { kind: 'held' | 'refused'; message: string } | null = null;
    try {
      existing = await ctx.provisioners.for(found.integration).checkExisting?.(checked.grantee, found.resource, item.permission, found.resource.permissions[item.permission] ?? {}) ?? null;
    } catch (error) {
      ctx.log.warn({ integration: item.integration, resource: item.resource, err: error }, 'could not ask the backend whether the access is already held; the grant checks again');
      continue;
    }
    if (existing?.kind === 'held') return fail('already_held', `You already have this access: ${existing.message} Nothing was submitted.`);
    if (existing?.kind === 'refused') return fail('backend_refuses', `${item.permission} on ${item.integration}/${item.resource} cannot be granted: ${existing.message} Nothing was submitted.`);
  }
  return checked;
}

/** How far ahead a start may be scheduled: far enough for a planned change, short enough that the approval still means something. */
export const MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000;

function startWithinReach<T extends CheckedRequest | Failure>(checked: T, input: RequestInput, now: number): T | Failure<'start_invalid'> {
  if (!checked.ok || input.startAt === undefined) return checked;
  if (!Number.isSafeInteger(input.startAt)) return fail('start_invalid', 'The start time is not a time Latch can read; write it like 22:00 or 2026-12-24 22:00.');
  if (input.startAt > now + MAX_SCHEDULE_AHEAD_MS) return fail('start_invalid', `A request can start at most ${formatDuration(MAX_SCHEDULE_AHEAD_MS)} ahead; ask again closer to the time.`);
  return checked;
}

/** Refuses access the grantee already has or has asked for (the store is read; the policy could not). */
async function withoutOverlap(ctx: LatchContext, checked: CheckedRequest, now: number): Promise<CheckedRequest | OverlapFailure> {
  const open = (await ctx.store.listRequests({ involving: checked.grantee, states: OPEN_FOR_OVERLAP, kinds: ['access'] }))
    .filter((record) => record.request.grantee === checked.grantee);
  const overlap = findOverlap(checked.items, open);
  return overlap.covered.length === 0 ? checked : overlapFailure(overlap, checked.items.length, now);
}

/** A person asks for access. Checked against the flows, then stored with its follow-up jobs in one commit. */
export async function requestAccess(ctx: LatchContext, actor: Actor, input: RequestInput): Promise<RequestAccessOutcome> {
  const active = ctx.current();
  const { config, directory } = active;
  // Who is on call decides who may ask and who approves: read the schedules the flows name first.
  await refreshOnCall(ctx, flowSchedules(config));
  const now = ctx.now();
  const evaluated = startWithinReach(whileAvailable(checkRequest(config, directory, actor.email, input), now), input, now);
  const accepted = evaluated.ok ? backendAccepts(ctx, evaluated) : evaluated;
  const distinct = accepted.ok ? await withoutOverlap(ctx, accepted, now) : accepted;
  const checked = distinct.ok ? await notHeldElsewhere(ctx, distinct) : distinct;
  if (!checked.ok) {
    const refused = await ctx.store.commit({
      deliveryId: actor.deliveryId,
      audit: [{ type: 'request.refused', requestId: null, actor: actor.email, at: now, data: { via: actor.via, reason: checked.reason, message: checked.message, input: { ...input } } }],
    });
    // A redelivery can be checked after its first copy was stored, and then overlaps it: it is the same request, not a second one.
    if (!refused.ok && refused.conflict === 'duplicate_delivery') return duplicateDelivery();
    return checked;
  }

  const id = newRequestId();
  // Rules decide before people are asked; a matching deny wins over the flow's own autoApprove.
  const automatic = automaticDecision(config, directory, { flow: checked.flow.name, requester: actor.email, items: checked.items, durationMs: checked.durationMs }, now);
  const autoDenied = automatic?.verdict === 'deny';
  const autoApproved = !autoDenied && (automatic?.verdict === 'approve' || checked.autoApproved);
  const request: AccessRequest = {
    id, kind: 'access', parentId: null, flow: checked.flow.name, bundle: checked.bundle,
    requester: actor.email, grantee: checked.grantee, reason: checked.reason, durationMs: checked.durationMs,
    state: 'pending', version: 0, step: 0, createdAt: now, updatedAt: now,
    timeoutAt: autoApproved || autoDenied ? null : now + checked.flow.timeout,
    decidedAt: null, decidedBy: null, expiresAt: null, endedAt: null, endedBy: null, outcome: null, policy: active.hash,
    context: automatic ? { automatic: { rule: automatic.rule, verdict: automatic.verdict } } : null,
    startAt: input.startAt !== undefined && input.startAt > now ? input.startAt : null,
  };
  const approval = autoApproved ? approvalEffects(checked.flow, request, now) : null;
  if (autoApproved || autoDenied) {
    const moved = transition('pending', autoDenied ? 'deny' : 'approve', ['system']);
    if (!moved.ok) throw new Error(moved.message);
    Object.assign(request, { state: approval?.state ?? moved.to, decidedAt: now, decidedBy: 'latch' });
    if (autoDenied) Object.assign(request, { endedAt: now, outcome: `Denied automatically by rule "${automatic.rule}"${automatic.reason ? `: ${automatic.reason}` : '.'}` });
  }
  const grants: Grant[] = checked.items.map((item) => ({
    id: newId('g'), requestId: id, ...item, state: 'pending', principal: null, grantedAt: null, revokedAt: null, lastError: null,
  }));
  const record: RequestRecord = { request, grants, decisions: [] };
  const link = reasonLink(checked.flow, request.reason);
  const audited = {
    flow: request.flow, grantee: request.grantee, reason: request.reason, ...(link ? { reasonLink: link.url } : {}),
    durationMs: request.durationMs, bundle: request.bundle, items: checked.items, via: actor.via, policy: active.hash,
  };

  const change: Change = {
    deliveryId: actor.deliveryId,
    insertRequest: { request, grants },
    audit: [{ type: 'request.created', requestId: id, actor: actor.email, at: now, data: audited }],
    enqueue: [],
  };
  if (autoDenied) {
    change.audit?.push({ type: 'request.denied', requestId: id, actor: 'latch', at: now, data: { automatic: true, rule: automatic.rule, comment: automatic.reason } });
    change.enqueue?.push(notifyJob(id, 'denied', now));
  } else if (autoApproved) {
    change.audit?.push({ type: 'request.approved', requestId: id, actor: 'latch', at: now, data: { automatic: true, flow: request.flow, ...(automatic ? { rule: automatic.rule, comment: automatic.reason } : {}) } });
    change.enqueue?.push(...(approval?.enqueue ?? []));
  } else {
    const { reminderInterval } = config.settings;
    change.enqueue?.push(
      notifyJob(id, 'submitted', now),
      notifyJob(id, 'approval_requested', now, 0),
      { kind: 'timeout', requestId: id, runAt: request.timeoutAt ?? now, dedupeKey: `timeout:${id}` },
      ...handoverJob(checked.flow, request, now, [...currentApprovers(config, directory, request, grants, [])]),
    );
    if (now + reminderInterval < (request.timeoutAt ?? 0)) {
      change.enqueue?.push({ kind: 'remind', requestId: id, runAt: now + reminderInterval, payload: { round: 1 }, dedupeKey: `remind:${id}:1` });
    }
  }
  const atOnce = startGrantAtOnce(ctx, change, record);
  const stored = atOnce.change;
  const committed = await ctx.store.commit(stored);
  if (!committed.ok) {
    if (committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    throw new Error(`storing request ${id} failed: ${committed.conflict}`);
  }
  startCommitted(ctx, committed, atOnce);
  ctx.log.info({ requestId: id, requester: actor.email, flow: request.flow, autoApproved, rule: automatic?.rule }, `request ${id}: ${describeAccess(record)}`);
  return { ok: true, record: stored.insertRequest ? { ...record, ...stored.insertRequest } : record, autoApproved, automatic };
}

