import { newId, newRequestId } from '../core/ids.js';
import { checkRequest, type RequestInput } from '../core/policy.js';
import { transition } from '../core/lifecycle.js';
import { reasonLink } from '../core/reason-rule.js';
import type { AccessRequest, Actor, Grant, RequestRecord } from '../core/types.js';
import type { Change } from '../storage/store.js';
import type { LatchContext } from './context.js';
import { describeAccess } from './describe.js';
import { grantJob, notifyJob } from './jobs.js';
import { duplicateDelivery, fail, type Failure, type Outcome } from './outcome.js';
import { unavailableReason } from './integration-status.js';

export type RequestAccessOutcome = Outcome<{ record: RequestRecord; autoApproved: boolean }>;

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

/** A person asks for access. Checked against the flows, then stored with its follow-up jobs in one commit. */
export async function requestAccess(ctx: LatchContext, actor: Actor, input: RequestInput): Promise<RequestAccessOutcome> {
  const active = ctx.current();
  const { config, directory } = active;
  const now = ctx.now();
  const checked = whileAvailable(checkRequest(config, directory, actor.email, input), now);
  if (!checked.ok) {
    await ctx.store.commit({
      deliveryId: actor.deliveryId,
      audit: [{ type: 'request.refused', requestId: null, actor: actor.email, at: now, data: { via: actor.via, reason: checked.reason, message: checked.message, input: { ...input } } }],
    });
    return checked;
  }

  const id = newRequestId();
  const autoApproved = checked.autoApproved;
  const request: AccessRequest = {
    id, kind: 'access', parentId: null, flow: checked.flow.name, bundle: checked.bundle,
    requester: actor.email, grantee: checked.grantee, reason: checked.reason, durationMs: checked.durationMs,
    state: 'pending', version: 0, step: 0, createdAt: now, updatedAt: now,
    timeoutAt: autoApproved ? null : now + checked.flow.timeout,
    decidedAt: null, decidedBy: null, expiresAt: null, endedAt: null, endedBy: null, outcome: null, policy: active.hash,
  };
  if (autoApproved) {
    const moved = transition('pending', 'approve', ['system']);
    if (!moved.ok) throw new Error(moved.message);
    Object.assign(request, { state: moved.to, decidedAt: now, decidedBy: 'latch' });
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
  if (autoApproved) {
    change.audit?.push({ type: 'request.approved', requestId: id, actor: 'latch', at: now, data: { automatic: true, flow: request.flow } });
    change.enqueue?.push(grantJob(id, now));
  } else {
    const { reminderInterval } = config.settings;
    change.enqueue?.push(
      notifyJob(id, 'submitted', now),
      notifyJob(id, 'approval_requested', now, 0),
      { kind: 'timeout', requestId: id, runAt: request.timeoutAt ?? now, dedupeKey: `timeout:${id}` },
    );
    if (now + reminderInterval < (request.timeoutAt ?? 0)) {
      change.enqueue?.push({ kind: 'remind', requestId: id, runAt: now + reminderInterval, payload: { round: 1 }, dedupeKey: `remind:${id}:1` });
    }
  }
  const committed = await ctx.store.commit(change);
  if (!committed.ok) {
    if (committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    throw new Error(`storing request ${id} failed: ${committed.conflict}`);
  }
  ctx.wake();
  ctx.log.info({ requestId: id, requester: actor.email, flow: request.flow, autoApproved }, `request ${id}: ${describeAccess(record)}`);
  return { ok: true, record, autoApproved };
}

