import { transition } from '../core/lifecycle.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { formatInstant } from '../core/start-time.js';
import { grantJob } from './jobs.js';
import { isInvolved, loadRequest } from './load-request.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';
import { startCommitted, startGrantAtOnce } from './start-at-once.js';

export type ActivateOutcome = Outcome<{ record: RequestRecord }, 'not_found' | 'not_allowed' | 'illegal_transition' | 'scheduled' | 'busy' | 'duplicate_delivery'>;

/** The requester activates approved access: the grant, and its duration, start now. */
export async function activateAccess(ctx: LatchContext, actor: Actor, idText: string): Promise<ActivateOutcome> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const loaded = await loadRequest(ctx, idText);
    if (!loaded.ok) return loaded;
    const { request } = loaded.record;
    if (request.requester !== actor.email && request.grantee !== actor.email) {
      return fail('not_allowed', isInvolved(loaded.record, actor.email) ? 'Only the person who receives the access can activate it.' : `Request ${request.id} is not yours to activate.`);
    }
    const now = ctx.now();
    if (request.state === 'ready' && request.startAt !== null && request.startAt > now) {
      return fail('scheduled', `${request.id} starts by itself at ${formatInstant(request.startAt, ctx.current().config.settings.timeZone)}.`);
    }
    const moved = transition(request.state, 'activate', ['requester']);
    if (!moved.ok) return fail(moved.reason, moved.message);
    const atOnce = startGrantAtOnce(ctx, {
      deliveryId: actor.deliveryId,
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, updatedAt: now } }],
      cancelJobs: [{ requestId: request.id, kinds: ['lapse'] }],
      enqueue: [grantJob(request.id, now)],
      audit: [{ type: 'request.activated', requestId: request.id, actor: actor.email, at: now, data: { via: actor.via } }],
    }, loaded.record);
    const committed = await ctx.store.commit(atOnce.change);
    if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.ok) {
      startCommitted(ctx, committed, atOnce);
      return { ok: true, record: atOnce.after ?? (await ctx.store.getRequest(request.id)) ?? loaded.record };
    }
  }
  return fail('busy', 'The request is changing right now; please try again in a moment.');
}
