import { transition } from '../core/lifecycle.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { notifyJob } from './jobs.js';
import { isInvolved, loadRequest } from './load-request.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';

export type CancelOutcome = Outcome<{ record: RequestRecord }, 'not_found' | 'not_allowed' | 'illegal_transition' | 'busy' | 'duplicate_delivery'>;

/** The requester (or an admin) withdraws a request that is still waiting for approval, activation or its start. */
export async function cancelRequest(ctx: LatchContext, actor: Actor, idText: string): Promise<CancelOutcome> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const loaded = await loadRequest(ctx, idText);
    if (!loaded.ok) return loaded;
    const { request } = loaded.record;
    const roles = [
      ...(request.requester === actor.email ? (['requester'] as const) : []),
      ...(ctx.current().directory.isAdmin(actor.email) ? (['admin'] as const) : []),
    ];
    if (roles.length === 0) {
      return fail('not_allowed', isInvolved(loaded.record, actor.email) ? 'Only the person who asked can cancel this request.' : `Request ${request.id} is not yours to cancel.`);
    }
    const moved = transition(request.state, 'cancel', roles);
    if (!moved.ok) {
      const hint = request.state === 'active' ? ` Use \`revoke ${request.id}\` to give the access back.` : '';
      return fail(moved.reason, `${moved.message}${hint}`);
    }
    const now = ctx.now();
    const committed = await ctx.store.commit({
      deliveryId: actor.deliveryId,
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedAt: now, endedBy: actor.email, updatedAt: now } }],
      cancelJobs: [{ requestId: request.id, kinds: ['timeout', 'remind', 'activate', 'lapse'] }],
      enqueue: [notifyJob(request.id, 'cancelled', now)],
      audit: [{ type: 'request.cancelled', requestId: request.id, actor: actor.email, at: now, data: { via: actor.via } }],
    });
    if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.ok) {
      ctx.wake();
      return { ok: true, record: (await ctx.store.getRequest(request.id)) ?? loaded.record };
    }
  }
  return fail('busy', 'The request is changing right now; please try again in a moment.');
}
