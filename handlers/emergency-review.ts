// The post-incident review of an emergency grant: one of the flow's reviewers acknowledges
// it or flags it, with a comment. The outcome is kept on the request (conditional on its
// version, so two reviewers clicking at once record one review), reminders stop, and a
// flag is sent to the admins.
import { emergencyReviewers } from '../core/emergency.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { notifyJob } from './jobs.js';
import { loadRequest } from './load-request.js';
import { CONFLICT_RETRIES, duplicateDelivery, fail, type Outcome } from './outcome.js';

export type ReviewVerdict = 'acknowledged' | 'flagged';
export type ReviewOutcome = Outcome<{ record: RequestRecord }, 'not_found' | 'not_emergency' | 'not_a_reviewer' | 'already_reviewed' | 'comment_required' | 'comment_too_long' | 'busy' | 'duplicate_delivery'>;

const MAX_COMMENT = 1000;

export async function reviewEmergency(ctx: LatchContext, actor: Actor, idText: string, verdict: ReviewVerdict, comment?: string): Promise<ReviewOutcome> {
  const note = comment?.trim() || null;
  if (verdict === 'flagged' && !note) return fail('comment_required', 'Say what is wrong when you flag an emergency grant; the admins are told with your comment.');
  if (note && note.length > MAX_COMMENT) return fail('comment_too_long', `The comment is too long (${note.length} characters; at most ${MAX_COMMENT}).`);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt += 1) {
    const loaded = await loadRequest(ctx, idText);
    if (!loaded.ok) return loaded;
    const { request } = loaded.record;
    const emergency = request.context?.emergency;
    if (!emergency) return fail('not_emergency', `${request.id} is not an emergency grant; only those are reviewed.`);
    const { config, directory } = ctx.current();
    if (!emergencyReviewers(config, directory, emergency, request.grantee).has(actor.email)) {
      return fail('not_a_reviewer', actor.email === request.grantee ? 'You cannot review your own emergency access.' : `You are not a reviewer of emergency flow "${emergency.flow}".`);
    }
    if (emergency.review) return fail('already_reviewed', `${request.id} was already ${emergency.review.verdict} by ${emergency.review.by}.`);
    const now = ctx.now();
    const review = { verdict, by: actor.email, at: now, comment: note };
    const committed = await ctx.store.commit({
      deliveryId: actor.deliveryId,
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { context: { ...request.context, emergency: { ...emergency, review } }, updatedAt: now } }],
      audit: [{ type: 'emergency.reviewed', requestId: request.id, actor: actor.email, at: now, data: { verdict, comment: note, via: actor.via, flow: emergency.flow } }],
      cancelJobs: [{ requestId: request.id, kinds: ['emergency_review'] }],
      enqueue: [notifyJob(request.id, 'reviewed', now), ...(verdict === 'flagged' ? [notifyJob(request.id, 'review_flagged', now)] : [])],
    });
    if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    if (committed.ok) {
      ctx.wake();
      return { ok: true, record: (await ctx.store.getRequest(request.id)) ?? loaded.record };
    }
  }
  return fail('busy', 'The request is changing right now; please try again in a moment.');
}
