// `/access emergency ...`: break-glass access for the people on call. It takes the same
// path as an automatic approval (pending → approve by the system → the grant job), audited
// as an emergency, and the grant runs before the answer goes back, so the engineer has the
// access within the same request.
import { newId, newRequestId } from '../core/ids.js';
import { emergencyRequester, emergencyTarget, emergencyTerms, schedulesOf, withinDailyLimit, type EmergencyAsk } from '../core/emergency.js';
import { transition } from '../core/lifecycle.js';
import type { OnCallAnswer } from '../core/oncall.js';
import type { AccessRequest, Actor, EmergencyContext, Grant, RequestRecord } from '../core/types.js';
import type { Change } from '../storage/store.js';
import { approvalEffects } from './approval-effects.js';
import type { LatchContext } from './context.js';
import { describeAccess } from './describe.js';
import { emergencyFollowUps } from './emergency-jobs.js';
import { unavailableReason } from './integration-status.js';
import { duplicateDelivery, fail, type Outcome } from './outcome.js';

export interface EmergencyInput extends EmergencyAsk {
  /** An incident id (PagerDuty) or alert id (Opsgenie) the access is for. */
  incident?: string;
}

export type EmergencyOutcome = Outcome<{ record: RequestRecord }>;

const DAY_MS = 86_400_000;
/** How long the command waits for its grant; under Slack's and Teams' patience for an answer. */
const GRANT_WAIT_MS = 10_000;

async function settlesWithin(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

/** How many emergency grants of a flow the person had in the last 24 hours. */
async function usedToday(ctx: LatchContext, email: string, flow: string, now: number): Promise<number> {
  const mine = await ctx.store.listRequests({ involving: email, kinds: ['access'] });
  return mine.filter(({ request }) => request.requester === email && request.context?.emergency?.flow === flow && request.createdAt > now - DAY_MS && request.state !== 'failed').length;
}

async function refuse(ctx: LatchContext, actor: Actor, input: EmergencyInput, refusal: { reason: string; message: string }): Promise<EmergencyOutcome> {
  const committed = await ctx.store.commit({
    deliveryId: actor.deliveryId,
    audit: [{ type: 'emergency.refused', requestId: null, actor: actor.email, at: ctx.now(), data: { via: actor.via, reason: refusal.reason, message: refusal.message, input: { ...input } } }],
  });
  if (!committed.ok && committed.conflict === 'duplicate_delivery') return duplicateDelivery();
  return fail(refusal.reason, refusal.message);
}

async function alert(ctx: LatchContext, text: string): Promise<void> {
  try {
    await ctx.alertAdmins?.(text);
  } catch (error) {
    ctx.log.error({ err: error instanceof Error ? error.message : String(error) }, 'could not alert the admins about an emergency grant');
  }
}

/** Whether the named incident is open, where the provider can tell; null when it cannot. */
async function incidentOpen(ctx: LatchContext, provider: 'pagerduty' | 'opsgenie' | null, id: string): Promise<boolean | null> {
  const incidents = provider ? ctx.oncall?.incidents(provider) : null;
  if (!incidents) return null;
  try {
    return await incidents.isOpen(id);
  } catch (error) {
    ctx.log.warn({ provider, incident: id, err: error instanceof Error ? error.message : String(error) }, 'could not tell whether the incident is open');
    return null;
  }
}

export async function emergencyAccess(ctx: LatchContext, actor: Actor, input: EmergencyInput): Promise<EmergencyOutcome> {
  const active = ctx.current();
  const { config, directory } = active;
  const target = emergencyTarget(config, input);
  if (!target.ok) return refuse(ctx, actor, input, target);
  const what = target.bundle ? `bundle ${target.bundle}` : `${target.items[0]?.resource ?? ''} ${target.items[0]?.permission ?? ''}`.trim();

  // Who is on call is asked now, of every schedule the candidate flows name.
  const answers = new Map<string, OnCallAnswer>();
  for (const schedule of new Set(target.flows.flatMap(schedulesOf))) {
    if (ctx.oncall) answers.set(schedule, await ctx.oncall.lookup(schedule));
  }
  const match = emergencyRequester(target.flows, directory, actor.email, answers, what);
  if (!match.ok) return refuse(ctx, actor, input, match);
  const { flow } = match;
  const terms = emergencyTerms(flow, input);
  if (!terms.ok) return refuse(ctx, actor, input, terms);
  const now = ctx.now();
  for (const item of target.items) {
    const down = unavailableReason(item.integration, now);
    if (down !== null) return refuse(ctx, actor, input, { reason: 'integration_unavailable', message: `${item.integration} is unavailable right now (${down}), so emergency access cannot be granted there. Tell the integration's owner.` });
  }
  const used = await usedToday(ctx, actor.email, flow.name, now);
  const limit = withinDailyLimit(flow, used);
  if (!limit.ok) {
    const refused = await refuse(ctx, actor, input, limit);
    if (!refused.ok && refused.reason !== 'duplicate_delivery') await alert(ctx, `Emergency access limit reached: ${actor.email} asked for emergency access (${what}) after ${used} grants within 24 hours in flow "${flow.name}" (its limit is ${flow.dailyLimit}) and was refused. Reason given: ${terms.reason}`);
    return refused;
  }

  // Incident ids live where the schedule that let the person in lives, unless the flow says otherwise.
  const schedule = config.schedules.find((candidate) => candidate.name === match.onCall?.schedule);
  const provider = flow.incidents ?? (schedule?.pagerduty ? 'pagerduty' : schedule?.opsgenie ? 'opsgenie' : null);
  const incident: EmergencyContext['incident'] = input.incident ? { provider, id: input.incident, open: await incidentOpen(ctx, provider, input.incident) } : null;
  const emergency: EmergencyContext = { flow: flow.name, matched: match.matched, onCall: match.onCall, incident, channel: input.channel };

  const id = newRequestId();
  const request: AccessRequest = {
    id, kind: 'access', parentId: null, flow: flow.name, bundle: target.bundle, requester: actor.email, grantee: actor.email,
    reason: terms.reason, durationMs: terms.durationMs, state: 'pending', version: 0, step: 0, createdAt: now, updatedAt: now, timeoutAt: null,
    decidedAt: null, decidedBy: null, expiresAt: null, endedAt: null, endedBy: null, outcome: null, policy: active.hash, context: { emergency }, startAt: null,
  };
  // The automatic approval's move: nobody approves, the system does, on the record.
  const moved = transition('pending', 'approve', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  const approval = approvalEffects(undefined, request, now);
  Object.assign(request, { state: approval.state, decidedAt: now, decidedBy: 'latch' });
  const grants: Grant[] = target.items.map((item) => ({ id: newId('g'), requestId: id, ...item, state: 'pending', principal: null, grantedAt: null, revokedAt: null, lastError: null }));
  const record: RequestRecord = { request, grants, decisions: [] };
  const audited = { flow: flow.name, grantee: actor.email, reason: request.reason, durationMs: request.durationMs, bundle: request.bundle, items: target.items, via: actor.via, policy: active.hash, emergency };
  const change: Change = {
    deliveryId: actor.deliveryId,
    insertRequest: { request, grants },
    audit: [
      { type: 'request.created', requestId: id, actor: actor.email, at: now, data: audited },
      { type: 'request.approved', requestId: id, actor: 'latch', at: now, data: { automatic: true, emergency: true, flow: flow.name, matched: match.matched, onCall: match.onCall } },
    ],
    enqueue: [...approval.enqueue, ...emergencyFollowUps(config, record, now)],
  };
  const committed = await ctx.store.commit(change);
  if (!committed.ok) {
    if (committed.conflict === 'duplicate_delivery') return duplicateDelivery();
    throw new Error(`storing emergency request ${id} failed: ${committed.conflict}`);
  }
  ctx.log.warn({ requestId: id, requester: actor.email, flow: flow.name, matched: match.matched, onCall: match.onCall?.state, incident: input.incident }, `emergency access ${id}: ${describeAccess(record)}`);
  if (match.onCall?.state === 'stale') ctx.log.warn({ requestId: id, schedule: match.onCall.schedule }, `emergency access ${id} was granted on the last known answer of schedule ${match.onCall.schedule}: its provider cannot be reached`);
  if (incident?.open === false) await alert(ctx, `Emergency access ${id} (${describeAccess(record)}) was taken by ${actor.email} for ${incident.provider ?? ''} incident ${incident.id}, which is not open. Reason given: ${terms.reason}`);
  // The grant runs now, so the access is in place when the answer reaches the engineer; a
  // runner busy with a mass expiry is not waited for past the bound (the answer then says "being granted").
  ctx.wake();
  if (ctx.runJobsNow) await settlesWithin(ctx.runJobsNow(), GRANT_WAIT_MS);
  return { ok: true, record: (await ctx.store.getRequest(id)) ?? record };
}
