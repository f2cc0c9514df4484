// One view model per screen. Block Kit and Adaptive Card renderers both read these, so a
// change to what people see is one edit.
import type { LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import { formatDuration } from '../core/duration.js';
import type { RequestState } from '../core/lifecycle.js';
import { reasonLink } from '../core/reason-rule.js';
import { defaultExtension } from '../core/extension-rule.js';
import type { RequestRecord } from '../core/types.js';

export interface RequestView {
  id: string;
  kind: 'access' | 'extension';
  parentId: string | null;
  /** "read on orders/orders-prod", or the bundle name with its items. */
  title: string;
  items: string[];
  requester: string;
  grantee: string;
  forSomeoneElse: boolean;
  duration: string;
  reason: string | null;
  /** The ticket or incident the reason names, as a link (the flow's `reason.link`). */
  reasonLink: { reference: string; url: string } | null;
  flow: string;
  /** The first 12 characters of the hash of the config the request was evaluated under. */
  policy: string | null;
  state: RequestState;
  status: string;
  /** For pending requests: where in the approval it stands. */
  step: { number: number; total: number; name: string | null; approvalsNeeded: number } | null;
  approvals: string[];
  decidedBy: string | null;
  outcome: string | null;
  expiresAt: number | null;
  timeLeft: string | null;
  open: boolean;
  /** Whether the flow lets this access be extended at all, and what one Extend click adds. */
  extension: { allowed: boolean; by: string };
  /** For an extension: where the access stood when it was asked for, in words. */
  history: string | null;
  /** An emergency (break-glass) grant: why it needed no approver, and the incident it is for. */
  emergency: { because: string; incident: string | null; until: string | null; review: { verdict: 'acknowledged' | 'flagged'; by: string; comment: string | null } | null } | null;
}

function emergencyFacts(request: RequestRecord['request']): RequestView['emergency'] {
  const facts = request.context?.emergency;
  if (!facts) return null;
  const because = facts.matched.startsWith('oncall:')
    ? `on call for "${facts.matched.slice(7)}"${facts.onCall?.state === 'stale' ? ' (by the last answer of its provider, which could not be reached)' : ''}`
    : facts.matched.startsWith('group:') ? `in ${facts.matched}` : 'named in the emergency flow';
  const incident = facts.incident ? `${facts.incident.id}${facts.incident.provider ? ` (${facts.incident.provider === 'pagerduty' ? 'PagerDuty' : 'Opsgenie'}${facts.incident.open === false ? ', not open' : ''})` : ''}` : null;
  const review = facts.review ? { verdict: facts.review.verdict, by: facts.review.by, comment: facts.review.comment } : null;
  return { because, incident, until: request.expiresAt !== null ? `${new Date(request.expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC` : null, review };
}

function historyText(request: RequestRecord['request']): string | null {
  const facts = request.context?.extension;
  if (!facts) return null;
  const count = facts.maxCount !== null ? `extension ${facts.number} of at most ${facts.maxCount}` : `extension ${facts.number}`;
  const used = facts.usedMs > 0 ? `${formatDuration(facts.usedMs)} added before` : 'none before';
  const total = facts.maxTotalMs !== null ? ` (at most ${formatDuration(facts.maxTotalMs)} in all)` : '';
  const ends = facts.parentExpiresAt !== null ? `; ${request.parentId ?? 'the access'} ends ${new Date(facts.parentExpiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC without it` : '';
  return `${count[0]?.toUpperCase() ?? ''}${count.slice(1)}: ${used}${total}${ends}.`;
}

const STATUS: Record<RequestState, string> = {
  pending: 'Waiting for approval',
  approved: 'Approved, being granted',
  ready: 'Approved, waiting to be activated',
  granting: 'Being granted',
  active: 'Active',
  revoking: 'Being revoked',
  revoke_failed: 'Revocation failing, retrying',
  expired: 'Expired',
  revoked: 'Revoked',
  denied: 'Denied',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
  failed: 'Failed',
  lapsed: 'Lapsed: approved but never activated',
};

function person(directory: Directory, email: string): string {
  const name = directory.displayName(email);
  return name === email ? email : `${name} (${email})`;
}

export function requestView(record: RequestRecord, config: LatchConfig, directory: Directory, now: number): RequestView {
  const { request, grants, decisions } = record;
  const items = grants.map((grant) => `${grant.permission} on ${grant.integration}/${grant.resource}`);
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  const stepConfig = flow?.approval.steps[request.step];
  const approvedThisStep = new Set(decisions.filter((decision) => decision.step === request.step && decision.verdict === 'approve').map((decision) => decision.approver));
  const open = request.state === 'pending' || request.state === 'approved' || request.state === 'ready' || request.state === 'granting' || request.state === 'active' || request.state === 'revoking' || request.state === 'revoke_failed';
  // An approved extension has done its work: it moved the access's expiry; nothing is granted.
  let status = request.kind === 'extension' && request.state === 'approved' ? 'Approved: the access was extended' : STATUS[request.state];
  if (request.decidedBy && request.decidedBy !== 'latch' && (request.state === 'denied' || request.state === 'approved' || request.state === 'granting' || request.state === 'active')) {
    status += ` by ${person(directory, request.decidedBy)}`;
  } else if (request.decidedBy === 'latch' && request.state !== 'pending' && request.state !== 'timed_out') {
    const rule = request.context?.automatic?.rule;
    if (request.context?.emergency && (request.state === 'approved' || request.state === 'active' || request.state === 'granting')) status += ' (emergency access, no approver)';
    else if (request.state === 'approved' || request.state === 'active' || request.state === 'granting') status += rule ? ` (approved automatically by rule "${rule}")` : ' (approved automatically)';
    else if (request.state === 'denied' && rule) status += ` automatically by rule "${rule}"`;
  }
  if (request.state === 'ready' && request.startAt !== null) status = `Approved, starts at ${new Date(request.startAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  if ((request.state === 'revoked' || request.state === 'cancelled') && request.endedBy && request.endedBy !== 'latch') status += ` by ${person(directory, request.endedBy)}`;
  return {
    id: request.id,
    kind: request.kind,
    parentId: request.parentId,
    title: request.kind === 'extension' ? `Extend ${request.parentId ?? ''} by ${formatDuration(request.durationMs)}` : request.bundle ? `bundle ${request.bundle}` : (items[0] ?? ''),
    items,
    requester: person(directory, request.requester),
    grantee: person(directory, request.grantee),
    forSomeoneElse: request.requester !== request.grantee,
    duration: formatDuration(request.durationMs),
    reason: request.reason,
    reasonLink: flow ? reasonLink(flow, request.reason) : null,
    flow: request.flow,
    policy: request.policy ? request.policy.slice(0, 12) : null,
    state: request.state,
    status,
    step: request.state === 'pending' && stepConfig && flow
      ? { number: request.step + 1, total: flow.approval.steps.length, name: stepConfig.name ?? null, approvalsNeeded: Math.max(0, stepConfig.required - approvedThisStep.size) }
      : null,
    approvals: decisions.filter((decision) => decision.verdict === 'approve').map((decision) => person(directory, decision.approver)),
    decidedBy: request.decidedBy,
    outcome: request.outcome,
    expiresAt: request.expiresAt,
    timeLeft: request.state === 'active' && request.expiresAt !== null ? formatDuration(Math.max(0, request.expiresAt - now)) : null,
    open,
    extension: { allowed: flow?.extensions.allowed ?? false, by: flow ? formatDuration(defaultExtension(flow)) : '1h' },
    history: historyText(request),
    emergency: emergencyFacts(request),
  };
}

/** What an approver is shown about a request, label and value, unescaped: renderers escape for their platform. */
export function requestFacts(view: RequestView): [string, string][] {
  const pairs: [string, string][] = [
    ['Requester', view.requester],
    ...(view.forSomeoneElse ? [['For', view.grantee] as [string, string]] : []),
    ['Access', view.items.join('\n') || view.title],
    ['Duration', view.duration],
    ['Reason', view.reason ?? ''],
    ['Flow', view.policy ? `${view.flow} (policy ${view.policy})` : view.flow],
    ...(view.history ? [['History', view.history] as [string, string]] : []),
    ...(view.emergency ? [['Emergency', `granted without approval: ${view.emergency.because}`] as [string, string]] : []),
    ...(view.emergency?.incident ? [['Incident', view.emergency.incident] as [string, string]] : []),
    ...(view.emergency?.until ? [['Until', view.emergency.until] as [string, string]] : []),
  ];
  if (view.step) {
    const needed = view.step.approvalsNeeded === 1 ? '1 more approval needed' : `${view.step.approvalsNeeded} more approvals needed`;
    pairs.push(['Approval', `Step ${view.step.number} of ${view.step.total}${view.step.name ? ` (${view.step.name})` : ''}: ${needed}`]);
  }
  return pairs;
}
