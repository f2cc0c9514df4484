// A leaver: a person an identity source reports disabled, suspended or gone. Everything
// Latch gave them ends at once, through the same revoke and cancel path people use, with
// Latch as the actor and the source's word as the reason. Safe to run again: it acts only
// on what is still open, so a crash half-way is finished by the next sync.
import { transition, type RequestState } from '../core/lifecycle.js';
import { currentApprovers } from '../core/policy.js';
import type { RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { notifyJob, revokeJob } from './jobs.js';

const ACTOR = 'latch';
const OPEN: readonly RequestState[] = ['pending', 'ready', 'active'];

export interface OffboardReport {
  email: string;
  revoked: string[];
  cancelled: string[];
  /** Pending requests the person could decide, whose cards went to the approvers left. */
  rerouted: string[];
}

/** Ends an active grant for a reason an identity source gave (a leaver, a mover), through the revoke job. */
export async function revokeForIdentity(ctx: LatchContext, record: RequestRecord, reason: string, data: Record<string, unknown>): Promise<boolean> {
  const { request } = record;
  const moved = transition(request.state, 'revoke', ['system']);
  if (!moved.ok) return false;
  const now = ctx.now();
  const committed = await ctx.store.commit({
    updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedBy: ACTOR, outcome: reason, updatedAt: now } }],
    cancelJobs: [{ requestId: request.id, kinds: ['revoke', 'expiry_warning', 'extend'] }],
    enqueue: [revokeJob(request.id, now, 'revoked')],
    audit: [{ type: 'request.revoke_requested', requestId: request.id, actor: ACTOR, at: now, data: { via: 'identity', comment: reason, ...data, expiresAt: request.expiresAt } }],
  });
  return committed.ok;
}

async function cancelRequest(ctx: LatchContext, record: RequestRecord, reason: string, leaver: string): Promise<boolean> {
  const { request } = record;
  const moved = transition(request.state, 'cancel', ['system']);
  if (!moved.ok) return false;
  const now = ctx.now();
  const committed = await ctx.store.commit({
    updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, endedAt: now, endedBy: ACTOR, outcome: reason, updatedAt: now } }],
    cancelJobs: [{ requestId: request.id, kinds: ['timeout', 'remind', 'activate', 'lapse'] }],
    enqueue: [notifyJob(request.id, 'cancelled', now)],
    audit: [{ type: 'request.cancelled', requestId: request.id, actor: ACTOR, at: now, data: { via: 'identity', reason, leaver } }],
  });
  return committed.ok;
}

/**
 * Sends the approval card of a pending request to the approvers who do not have one yet,
 * once the leaver dropped out of its approver set; the leaver's own copy loses its buttons
 * at the request's next change, and a click on it is refused (core/policy.ts).
 */
async function reroute(ctx: LatchContext, record: RequestRecord, leaver: string, reason: string): Promise<boolean> {
  const messages = await ctx.store.messagesFor(record.request.id);
  const cards = messages.filter((message) => message.purpose.startsWith('approval:'));
  if (!cards.some((message) => message.recipient === leaver)) return false;
  const { config, directory } = ctx.current();
  const approvers = currentApprovers(config, directory, record.request, record.grants, record.decisions);
  const holding = new Set(cards.map((message) => message.recipient));
  const fresh = [...approvers].filter((email) => !holding.has(email));
  const recorded = (await ctx.store.auditEvents({ requestId: record.request.id })).some((event) => event.type === 'request.approvers_changed' && event.data.removed === leaver);
  if (recorded) return false;
  // The cards first: the notifier skips a copy already sent under the same key, so a crash before the audit event only repeats nothing.
  if (fresh.length > 0) {
    await ctx.notifier.notify({
      event: 'approval_requested', record, recipients: fresh, channels: [],
      text: `Request ${record.request.id} by ${record.request.requester} needs your approval: ${leaver} can no longer decide it.`,
      history: null, key: `reroute:${leaver}`,
    });
  }
  await ctx.store.commit({ audit: [{ type: 'request.approvers_changed', requestId: record.request.id, actor: ACTOR, at: ctx.now(), data: { removed: leaver, reason, added: fresh, approvers: [...approvers] } }] });
  return true;
}

/**
 * Ends the leaver's access and requests and, with `reroute`, takes them out of the
 * approvals they were asked for (done when the source first reports them gone).
 */
export async function offboard(ctx: LatchContext, email: string, reason: string, options: { reroute: boolean }): Promise<OffboardReport> {
  const report: OffboardReport = { email, revoked: [], cancelled: [], rerouted: [] };
  const theirs = await ctx.store.listRequests({ involving: email, states: OPEN, limit: 10_000 });
  for (const record of theirs) {
    const { request } = record;
    if (request.state === 'active' && request.grantee === email) {
      if (await revokeForIdentity(ctx, record, reason, { leaver: email })) report.revoked.push(request.id);
    } else if (request.state !== 'active') {
      if (await cancelRequest(ctx, record, reason, email)) report.cancelled.push(request.id);
    }
  }
  if (report.revoked.length + report.cancelled.length > 0) ctx.wake();
  if (!options.reroute) return report;
  const waiting = await ctx.store.listRequests({ states: ['pending'], limit: 10_000 });
  for (const record of waiting) {
    if (record.request.requester === email || record.request.grantee === email) continue;
    try {
      if (await reroute(ctx, record, email, reason)) report.rerouted.push(record.request.id);
    } catch (error) {
      ctx.log.warn({ requestId: record.request.id, leaver: email, err: error instanceof Error ? error.message : String(error) }, 'could not send the approval card to the approvers left; they see it in their approvals list');
    }
  }
  return report;
}
