import { isEmergencyLead } from '../core/emergency.js';
import { transition } from '../core/lifecycle.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { revokeJob } from './jobs.js';
import { isInvolved, loadRequest } from './load-request.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';

export type RevokeOutcome = Outcome<{ record: RequestRecord }, 'not_found' | 'not_allowed' | 'illegal_transition' | 'busy' | 'duplicate_delivery'>;

const STATE_HINTS: Partial<Record<string, string>> = {
  pending: 'It is still waiting for approval: cancel it instead.',
  approved: 'It is being granted right now; revoke it again in a moment.',
  granting: 'It is being granted right now; revoke it again in a moment.',
};

/** Ends active access before its time: by the person who has it, the requester, or an admin. */
export async function revokeAccess(ctx: LatchContext, actor: Actor, idText: string, comment?: string): Promise<RevokeOutcome> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const loaded = await loadRequest(ctx, idText);
    if (!loaded.ok) return loaded;
    const { request } = loaded.record;
    if (request.kind === 'extension') return fail('illegal_transition', `${request.id} is an extension; revoke the access it extends, ${request.parentId ?? ''}.`);
    const { config, directory } = ctx.current();
    // The leads an emergency flow names may end its grants as an admin would ("Revoke now" on the announcement).
    const emergencyFlow = request.context?.emergency ? config.emergency.find((flow) => flow.name === request.context?.emergency?.flow) : undefined;
    const roles = [
      ...(isInvolved(loaded.record, actor.email) ? (['requester'] as const) : []),
      ...(directory.isAdmin(actor.email) || isEmergencyLead(emergencyFlow, directory, actor.email) ? (['admin'] as const) : []),
    ];
    if (roles.length === 0) {
      const who = request.context?.emergency ? 'the person who has the access, the emergency flow\'s leads or an admin' : 'the person who has the access, the requester or an admin';
      return fail('not_allowed', `Request ${request.id} is not yours to revoke; only ${who} can.`);
    }
    const moved = transition(request.state, 'revoke', roles);
    if (!moved.ok) {
      const hint = STATE_HINTS[request.state];
      return fail(moved.reason, hint ? `${moved.message} ${hint}` : moved.message);
    }
    const now = ctx.now();
    const note = comment?.trim().slice(0, 1000) || null;
    const committed = await ctx.store.commit({
      deliveryId: actor.deliveryId,
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedBy: actor.email, outcome: note, updatedAt: now } }],
      cancelJobs: [{ requestId: request.id, kinds: ['revoke', 'expiry_warning', 'extend'] }],
      enqueue: [revokeJob(request.id, now, 'revoked')],
      audit: [{ type: 'request.revoke_requested', requestId: request.id, actor: actor.email, at: now, data: { via: actor.via, comment: note, expiresAt: request.expiresAt } }],
    });
    if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.ok) {
      ctx.wake();
      return { ok: true, record: (await ctx.store.getRequest(request.id)) ?? loaded.record };
    }
  }
  return fail('busy', 'The request is changing right now; please try again in a moment.');
}
