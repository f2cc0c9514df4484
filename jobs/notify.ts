import type { Flow } from '../config/schema.js';
import { formatDuration } from '../core/duration.js';
import { defaultExtension } from '../core/extension-rule.js';
import type { AccessRequest, RequestRecord } from '../core/types.js';
import { historyLine } from '../cards/history.js';
import type { LatchContext } from '../handlers/context.js';
import { describeAccess } from '../handlers/describe.js';
import { NOTIFICATION_EVENTS, type NotificationEvent } from '../handlers/notifier.js';
import type { Job } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';
import { alertWindowOf } from './alert-window.js';
import { recipientsFor } from './recipients.js';

const NOTIFY_ATTEMPTS = 10;

/** What the approver said with their approval, for the requester. */
function approvalNote(record: RequestRecord): string {
  const approval = record.decisions.filter((decision) => decision.verdict === 'approve').sort((a, b) => a.at - b.at).at(-1);
  return approval?.comment ? ` ("${approval.comment}")` : '';
}

/** The review's outcome and comment, as the request's latest review left it (see handlers/emergency-review.ts). */
function reviewNote(record: RequestRecord): string {
  const review = record.request.context?.emergency?.review;
  return review ? ` (${review.by}${review.comment ? `: "${review.comment}"` : ''})` : '';
}

export function summary(record: RequestRecord, event: NotificationEvent, now: number, flow?: Flow, extension?: AccessRequest | null): string {
  const { request } = record;
  const lastApprover = record.decisions.filter((decision) => decision.verdict === 'approve').sort((a, b) => a.at - b.at).at(-1)?.approver;
  const extendedBy = !extension ? '' : ` (extended by ${formatDuration(extension.durationMs)}, ${extension.decidedBy && extension.decidedBy !== 'latch' ? `approved by ${extension.decidedBy}` : 'approved automatically'})`;
  const extendHint = flow && !flow.extensions.allowed ? ' Its flow allows no extensions.' : ` Extend it with \`extend ${request.id} ${formatDuration(flow ? defaultExtension(flow) : 3_600_000)}\`.`;
  const what = describeAccess(record);
  const who = request.requester === request.grantee ? request.requester : `${request.requester} (for ${request.grantee})`;
  const left = request.expiresAt ? formatDuration(Math.max(0, request.expiresAt - now)) : '';
  const texts: Record<NotificationEvent, string> = {
    submitted: request.kind === 'extension'
      ? `Your request ${request.id} to extend ${request.parentId ?? ''} by ${formatDuration(request.durationMs)} was sent for approval.`
      : `Your request ${request.id} for ${what} was sent for approval.`,
    approval_requested: `${who} asks for ${what}. Reason: ${request.reason ?? '(none given)'}. Request ${request.id}.`,
    approval_reminder: `Reminder: ${who} is still waiting for ${what} (request ${request.id}).`,
    approval_escalated: `Nobody has decided request ${request.id} from ${who} for ${what} yet.`,
    extension_requested: `${who} asks to extend ${request.parentId ?? ''} by ${formatDuration(request.durationMs)}. Reason: ${request.reason ?? '(none given)'}. Request ${request.id}.`,
    step_approved: `Request ${request.id} (${what}) passed an approval step${lastApprover ? `, approved by ${lastApprover}${approvalNote(record)}` : ''}; it now waits for step ${request.step + 1}.`,
    approved: `Request ${request.id} (${what}) was approved by ${request.decidedBy ?? 'Latch'}${approvalNote(record)}.`,
    denied: `Request ${request.id} (${what}) was denied by ${request.decidedBy ?? '?'}${request.outcome ? `: ${request.outcome}` : '.'}`,
    cancelled: `Request ${request.id} (${what}) was cancelled${request.outcome ? `: ${request.outcome}` : '.'}`,
    timed_out: `Request ${request.id} (${what}) timed out without a decision.`,
    granted: `Access granted: ${what}, until ${request.expiresAt ? new Date(request.expiresAt).toISOString() : '?'} (request ${request.id}). Connection details were sent by direct message.`,
    failed: `Request ${request.id} (${what}) could not be granted: ${request.outcome ?? 'unknown error'}.`,
    revoked: `Access ${request.id} (${what}) was revoked by ${request.endedBy ?? 'an admin'}${request.outcome ? `: ${request.outcome}` : '.'}`,
    expired: `Access ${request.id} (${what}) has expired and was removed.`,
    expiry_warning: `Access ${request.id} (${what}) ends in ${left}.${extendHint}`,
    extended: `Access ${request.id} now ends at ${request.expiresAt ? new Date(request.expiresAt).toISOString() : '?'}${extendedBy}.`,
    extension_refused: `The extension of ${request.parentId ?? request.id} was refused.`,
    activation_ready: `Request ${request.id} (${what}) is approved. Activate it when you need it: the ${formatDuration(request.durationMs)} start then${flow ? `; the approval lapses if it is not activated within ${formatDuration(flow.activationWindow)}` : ''}.`,
    lapsed: `Request ${request.id} (${what}): ${request.outcome ?? 'the approval lapsed before the access was activated.'} Request it again when you need it.`,
    review_requested: `Please review emergency access ${request.id}: ${who} took ${what} without approval. Reason: ${request.reason ?? '(none given)'}. Acknowledge it, or flag it with a comment.`,
    review_reminder: `Reminder: emergency access ${request.id} (${who}, ${what}) still waits for your review.`,
    review_flagged: `FLAGGED: the review of emergency access ${request.id} (${who}, ${what}) flagged it${reviewNote(record)}.`,
    reviewed: `Emergency access ${request.id} was reviewed.`,
    revoke_failed_alert: `ALERT: revoking ${request.id} (${what}, held by ${request.grantee}) keeps failing: ${request.outcome ?? 'unknown error'}. Latch keeps retrying.`,
  };
  return texts[event];
}

/** The extension that moved the access's expiry last: the one an `extended` message is about. */
async function latestExtension(ctx: LatchContext, record: RequestRecord): Promise<AccessRequest | null> {
  const children = await ctx.store.listRequests({ parentId: record.request.id, kinds: ['extension'], states: ['approved'] });
  return children.map((child) => child.request).sort((a, b) => (a.decidedAt ?? 0) - (b.decidedAt ?? 0)).at(-1) ?? null;
}

async function hasCards(ctx: LatchContext, record: RequestRecord): Promise<boolean> {
  return (await ctx.store.messagesFor(record.request.id)).length > 0;
}

const inFlight = new Map<string, Promise<void>>();

/**
 * Notifications of one request go out one at a time, in the order their jobs started: the
 * runner works jobs in parallel, and a thread must read in the order things happened (and
 * its card must be posted once).
 */
async function oneAtATime(requestId: string, work: () => Promise<void>): Promise<void> {
  const before = inFlight.get(requestId) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(work);
  inFlight.set(requestId, run);
  try {
    await run;
  } finally {
    if (inFlight.get(requestId) === run) inFlight.delete(requestId);
  }
}

export async function sendNotification(ctx: LatchContext, record: RequestRecord, event: NotificationEvent, key: string): Promise<void> {
  const { config, directory } = ctx.current();
  const routed = recipientsFor(config, directory, record, event);
  const { channels } = routed;
  let { people } = routed;
  const flow = config.flows.find((candidate) => candidate.name === record.request.flow);
  const extension = event === 'extended' ? await latestExtension(ctx, record) : null;
  const history = channels.length > 0 ? historyLine(record, event, config, directory, { extension }) : null;
  let text = summary(record, event, ctx.now(), flow, extension);
  if (event === 'revoke_failed_alert') {
    const failing = await failingRevocationsBeside(ctx, record);
    if (failing.others > 0) text += ` ${failing.others} other revocation(s) on ${failing.integrations.join(', ')} are failing too.`;
    if (!alertWindowOf(ctx.store).admit(failing.integrations.map((name) => `revoke:${name}`), ctx.now())) people = [];
  }
  // Every event still reaches the notifier, which keeps the cards already posted up to date.
  if (people.length === 0 && channels.length === 0 && !(await hasCards(ctx, record))) return;
  await oneAtATime(record.request.id, () => ctx.notifier.notify({ event, record, recipients: people, channels, text, history, key }));
}

/** The integrations a failing revocation is stuck on, and how many other requests are stuck on them. */
async function failingRevocationsBeside(ctx: LatchContext, record: RequestRecord): Promise<{ integrations: string[]; others: number }> {
  const integrations = [...new Set(record.grants.filter((grant) => grant.state !== 'revoked').map((grant) => grant.integration))];
  const stuck = await ctx.store.listRequests({ states: ['revoke_failed'] });
  const others = stuck.filter((other) => other.request.id !== record.request.id && other.grants.some((grant) => grant.state !== 'revoked' && integrations.includes(grant.integration))).length;
  return { integrations, others };
}

export const runNotify: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const event = job.payload.event as NotificationEvent;
  if (!NOTIFICATION_EVENTS.includes(event)) return { status: 'bury', error: `unknown notification event ${String(job.payload.event)}` };
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record) return { status: 'bury', error: `request ${job.requestId ?? '?'} not found` };
  try {
    await sendNotification(ctx, record, event, `job:${job.id}`);
    return { status: 'done' };
  } catch (error) {
    if (job.attempts >= NOTIFY_ATTEMPTS) return { status: 'bury', error: `gave up after ${job.attempts} attempts: ${errorText(error)}` };
    return { status: 'retry', error: errorText(error) };
  }
};

/** Warns the grantee shortly before access ends; a warning made stale by an extension stays silent. */
export const runExpiryWarning: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'active' || record.request.expiresAt === null) return { status: 'done' };
  const lead = ctx.current().config.settings.expiryWarning;
  const left = record.request.expiresAt - ctx.now();
  // Too early means an extension moved the expiry; too late (Latch was down) is no warning at all.
  if (left > lead + 1_000 || left <= 0) return { status: 'done' };
  try {
    await sendNotification(ctx, record, 'expiry_warning', `job:${job.id}`);
    return { status: 'done' };
  } catch (error) {
    return job.attempts >= NOTIFY_ATTEMPTS ? { status: 'bury', error: errorText(error) } : { status: 'retry', error: errorText(error) };
  }
};
