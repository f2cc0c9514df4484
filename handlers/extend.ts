import { newId, newRequestId } from '../core/ids.js';
import { checkExtension, extensionHistory, type ExtensionHistory } from '../core/extension-rule.js';
import { approvalImpossible } from '../core/policy.js';
import type { AccessRequest, Actor, Grant, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { applyExtension, mergeChanges } from './extension-effects.js';
import { notifyJob } from './jobs.js';
import { isInvolved, loadRequest } from './load-request.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';
import type { Change } from '../storage/store.js';

export type ExtendReason = 'not_found' | 'not_allowed' | 'not_active' | 'not_extendable' | 'duration_over_max' | 'duration_invalid' | 'already_pending' | 'nobody_can_approve' | 'flow_gone' | 'busy' | 'duplicate_delivery'
  | 'extension_step' | 'extension_limit' | 'extension_too_early';
export type ExtendOutcome = Outcome<{ record: RequestRecord; extension: RequestRecord; autoApproved: boolean }, ExtendReason>;

/**
 * Asks for more time on active access. The extension is a request of its own, approved
 * like the original unless the flow approves extensions automatically; once approved,
 * the expiry moves in the same commit.
 */
export async function extendAccess(ctx: LatchContext, actor: Actor, idText: string, durationMs: number, reason?: string): Promise<ExtendOutcome> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const loaded = await loadRequest(ctx, idText);
    if (!loaded.ok) return loaded;
    const parent = loaded.record;
    const { request } = parent;
    if (!isInvolved(parent, actor.email)) return fail('not_allowed', `Request ${request.id} is not yours to extend.`);
    if (request.kind !== 'access') return fail('not_extendable', `${request.id} is itself an extension; extend ${request.parentId ?? 'the original request'} instead.`);
    if (request.state !== 'active') return fail('not_active', `Only active access can be extended; ${request.id} is ${request.state.replace('_', ' ')}.`);
    const active = ctx.current();
    const { config, directory } = active;
    // Break-glass access is short by design: more time is a new emergency grant, announced and counted again.
    if (request.context?.emergency) return fail('not_extendable', `${request.id} is emergency access, which cannot be extended; ask for emergency access again (it is announced and counts against the daily limit), or request access the usual way.`);
    const flow = config.flows.find((candidate) => candidate.name === request.flow);
    if (!flow) return fail('flow_gone', `Flow "${request.flow}" no longer exists, so ${request.id} cannot be extended.`);
    const now = ctx.now();
    const history = await historyOf(ctx, parent);
    const refused = checkExtension(flow, request, history, durationMs, now);
    if (refused) return fail(refused.reason, refused.message);
    const pending = await ctx.store.listRequests({ parentId: request.id, states: ['pending'] });
    if (pending.length > 0) return fail('already_pending', `Extension ${pending[0]?.request.id ?? ''} of ${request.id} is already waiting for approval.`);

    const autoApproved = flow.approval.autoApprove || flow.extensions.autoApprove;
    if (!autoApproved) {
      const impossible = approvalImpossible(config, directory, flow, { requester: actor.email, grantee: request.grantee, items: parent.grants });
      if (impossible) return fail('nobody_can_approve', impossible.message.replace('this request', 'this extension'));
    }

    const id = newRequestId();
    const extension: AccessRequest = {
      id, kind: 'extension', parentId: request.id, flow: request.flow, bundle: request.bundle, requester: actor.email, grantee: request.grantee,
      reason: reason?.trim().slice(0, 1000) || null, durationMs, state: autoApproved ? 'approved' : 'pending', version: 0, step: 0,
      createdAt: now, updatedAt: now, timeoutAt: autoApproved ? null : Math.min(now + flow.timeout, request.expiresAt ?? now + flow.timeout),
      decidedAt: autoApproved ? now : null, decidedBy: autoApproved ? 'latch' : null, expiresAt: null, endedAt: null, endedBy: null, outcome: null,
      policy: active.hash,
      startAt: null,
      context: {
        extension: {
          number: history.count + 1, usedMs: history.usedMs, maxCount: flow.extensions.maxCount ?? null,
          maxTotalMs: flow.extensions.maxTotal ?? null, parentExpiresAt: request.expiresAt,
        },
      },
    };
    const grants: Grant[] = parent.grants.map((grant) => ({ ...grant, id: newId('g'), requestId: id, state: 'pending', principal: null, grantedAt: null, revokedAt: null, lastError: null }));
    let change: Change = {
      deliveryId: actor.deliveryId,
      insertRequest: { request: extension, grants },
      audit: [{ type: 'extension.created', requestId: id, actor: actor.email, at: now, data: { parent: request.id, byMs: durationMs, reason: extension.reason, via: actor.via, policy: active.hash } }],
      enqueue: [],
    };
    if (autoApproved) {
      change = mergeChanges(change, applyExtension(config, request, extension, now, 'latch'));
    } else {
      change.enqueue?.push(notifyJob(id, 'submitted', now), notifyJob(id, 'extension_requested', now), { kind: 'timeout', requestId: id, runAt: extension.timeoutAt ?? now, dedupeKey: `timeout:${id}` });
    }
    const committed = await ctx.store.commit(change);
    if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.ok) {
      ctx.wake();
      const [updatedParent, stored] = await Promise.all([ctx.store.getRequest(request.id), ctx.store.getRequest(id)]);
      return { ok: true, record: updatedParent ?? parent, extension: stored ?? { request: extension, grants, decisions: [] }, autoApproved };
    }
  }
  return fail('busy', 'The request is changing right now; please try again in a moment.');
}

/** What the access has used of its extension allowance: its approved extensions so far. */
export async function historyOf(ctx: LatchContext, parent: RequestRecord): Promise<ExtensionHistory> {
  const approved = await ctx.store.listRequests({ parentId: parent.request.id, kinds: ['extension'], states: ['approved'] });
  return extensionHistory(parent, approved.map((record) => record.request));
}
