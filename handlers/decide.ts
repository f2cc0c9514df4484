import { checkApprover, checkRequest, type RequestInput } from '../core/policy.js';
import { newId, normalizeRequestId } from '../core/ids.js';
import { transition } from '../core/lifecycle.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { Change } from '../storage/store.js';
import type { LatchContext } from './context.js';
import { alreadyDecided } from './describe.js';
import { applyExtension, mergeChanges } from './extension-effects.js';
import { notifyJob } from './jobs.js';
import { approvalEffects } from './approval-effects.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';
import { flowSchedules, refreshOnCall } from './oncall-refresh.js';
import { startCommitted, startGrantAtOnce } from './start-at-once.js';

export type DecisionReason =
  | 'not_found' | 'already_decided' | 'not_an_approver' | 'self_approval' | 'already_approved_step'
  | 'approved_earlier_step' | 'flow_gone' | 'parent_ended' | 'busy' | 'comment_too_long' | 'duplicate_delivery' | 'policy_changed';

export type DecisionOutcome = Outcome<{ record: RequestRecord; result: 'approved' | 'step_approved' | 'denied' }, DecisionReason>;

const MAX_COMMENT = 1000;

/**
 * An approver approves or denies. The approver's right is re-checked against the config
 * in force now, and the write is conditional on the request's version: of any number of
 * concurrent clicks exactly one decides, and the rest are told who did.
 */
export async function decide(ctx: LatchContext, actor: Actor, requestIdText: string, verdict: 'approve' | 'deny', comment?: string): Promise<DecisionOutcome> {
  const requestId = normalizeRequestId(requestIdText);
  if (!requestId) return fail('not_found', `"${requestIdText}" is not a request id; ids look like AR-7K3M9QX2.`);
  const note = comment?.trim() || null;
  if (note && note.length > MAX_COMMENT) return fail('comment_too_long', `The comment is too long (${note.length} characters; at most ${MAX_COMMENT}).`);

  let onCallRead = false;
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const record = await ctx.store.getRequest(requestId);
    if (!record) return fail('not_found', `There is no request ${requestId}.`);
    const { request } = record;
    const now = ctx.now();
    const refuse = async (reason: DecisionReason, message: string): Promise<DecisionOutcome> => {
      const audited = await ctx.store.commit({ deliveryId: actor.deliveryId, audit: [{ type: 'decision.refused', requestId, actor: actor.email, at: now, data: { verdict, reason, message, state: request.state, via: actor.via } }] });
      if (!audited.ok && audited.conflict === 'duplicate_delivery') return duplicateDelivery();
      return fail(reason, message);
    };
    if (request.state !== 'pending') return refuse('already_decided', alreadyDecided(record));
    // A shift approver is whoever is on call now, not when the card was sent. Asked only for a
    // request still to decide (a click on a decided one needs no PagerDuty call), then the
    // request is read again, since the schedules may have taken a while to answer. A config
    // naming no schedule has nothing to ask, and the request just read stands.
    const schedules = !onCallRead && ctx.oncall ? flowSchedules(ctx.current().config) : [];
    onCallRead = true;
    if (schedules.length > 0) {
      await refreshOnCall(ctx, schedules);
      continue;
    }

    const active = ctx.current();
    const { config, directory } = active;
    const allowed = checkApprover(config, directory, request, record.grants, record.decisions, actor.email);
    // One voice per person per step: having approved, an approver cannot later deny the same step.
    if (!allowed.ok) return refuse(allowed.reason, allowed.message);
    const stale = verdict === 'approve' ? policyChangedRefusal(record, active) : null;
    if (stale) return refuse('policy_changed', stale);

    let parent: RequestRecord | null = null;
    if (request.kind === 'extension' && verdict === 'approve' && allowed.completesRequest) {
      parent = request.parentId ? await ctx.store.getRequest(request.parentId) : null;
      if (!parent || parent.request.state !== 'active') {
        await ctx.store.commit({
          updateRequests: [{ id: request.id, expectState: 'pending', expectVersion: request.version, set: { state: 'cancelled', endedAt: now, endedBy: 'latch', outcome: 'The access ended before the extension was approved.', updatedAt: now } }],
          cancelJobs: [{ requestId: request.id, kinds: ['timeout', 'remind'] }],
          audit: [{ type: 'request.cancelled', requestId: request.id, actor: 'latch', at: now, data: { why: 'parent_ended' } }],
        });
        return fail('parent_ended', `The access ${request.parentId ?? ''} already ended, so extension ${request.id} can no longer be approved.`);
      }
    }

    const event = verdict === 'deny' ? 'deny' : allowed.completesRequest ? 'approve' : 'approve_step';
    const moved = transition(request.state, event, ['approver']);
    if (!moved.ok) return refuse('already_decided', moved.message);
    const decision = { id: newId('d'), requestId, step: request.step, approver: actor.email, verdict, comment: note, at: now };
    const nextStep = event === 'approve_step' && allowed.completesStep ? request.step + 1 : request.step;
    const decided = event !== 'approve_step';

    let change: Change = {
      deliveryId: actor.deliveryId,
      insertDecisions: [decision],
      updateRequests: [{
        id: requestId, expectState: 'pending', expectVersion: request.version,
        set: { state: moved.to, step: nextStep, updatedAt: now, ...(decided ? { decidedAt: now, decidedBy: actor.email, ...(verdict === 'deny' ? { outcome: note, endedAt: now } : {}) } : {}) },
      }],
      audit: [{
        type: event === 'approve_step' ? 'request.step_approved' : event === 'approve' ? 'request.approved' : 'request.denied',
        requestId, actor: actor.email, at: now, data: { step: request.step, comment: note, via: actor.via, configHash: active.hash },
      }],
      enqueue: [],
      cancelJobs: decided ? [{ requestId, kinds: ['timeout', 'remind'] }] : [],
    };
    if (event === 'approve_step') {
      change.enqueue?.push(notifyJob(requestId, 'step_approved', now, decision.id));
      if (nextStep !== request.step) change.enqueue?.push(notifyJob(requestId, 'approval_requested', now, nextStep));
    } else if (event === 'deny') {
      change.enqueue?.push(notifyJob(requestId, 'denied', now));
    } else if (request.kind === 'extension' && parent) {
      change = mergeChanges(change, applyExtension(config, parent.request, request, now, actor.email));
      change.enqueue?.push(notifyJob(requestId, 'approved', now));
    } else {
      const approval = approvalEffects(config.flows.find((flow) => flow.name === request.flow), request, now);
      const update = change.updateRequests?.[0];
      if (update) update.set.state = approval.state;
      change.enqueue?.push(...approval.enqueue, notifyJob(requestId, 'approved', now));
    }

    const atOnce = startGrantAtOnce(ctx, change, record);
    const committed = await ctx.store.commit(atOnce.change);
    if (committed.ok) {
      startCommitted(ctx, committed, atOnce);
      const updated = atOnce.after ?? await ctx.store.getRequest(requestId);
      const result = event === 'approve_step' ? 'step_approved' : event === 'approve' ? 'approved' : 'denied';
      ctx.log.info({ requestId, approver: actor.email, result }, `request ${requestId} ${result} by ${actor.email}`);
      return { ok: true, record: updated ?? record, result };
    }
    if (committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.conflict === 'duplicate_decision') return refuse('already_approved_step', 'You have already decided on this step of the request.');
    // Someone else changed the request (or its parent) between our read and our write: read again and re-decide.
  }
  return fail('busy', `Request ${requestId} is changing very quickly right now; please try again in a moment.`);
}

/**
 * A request evaluated under an earlier config is evaluated again under the one in force
 * before anyone approves it: what the new config no longer allows is not granted.
 * Denying needs no such check.
 */
function policyChangedRefusal(record: RequestRecord, active: { config: Parameters<typeof checkRequest>[0]; directory: Parameters<typeof checkRequest>[1]; hash: string }): string | null {
  const { request, grants } = record;
  if (request.kind !== 'access' || request.policy === null || request.policy === active.hash) return null;
  const first = grants[0];
  const what: RequestInput = request.bundle ? { bundle: request.bundle } : first ? { resource: `${first.integration}/${first.resource}`, permission: first.permission } : {};
  const checked = checkRequest(active.config, active.directory, request.requester, {
    ...what, flow: request.flow, durationMs: request.durationMs, grantee: request.grantee, ...(request.reason ? { reason: request.reason } : {}),
  });
  if (checked.ok) return null;
  return `The config changed since ${request.id} was requested (policy ${request.policy.slice(0, 12)}, now ${active.hash.slice(0, 12)}) and no longer allows it: ${checked.message} Nothing was approved; you can still deny it.`;
}
