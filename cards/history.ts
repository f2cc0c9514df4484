// The request's history as it is told in the thread of its channel card: one line per
// change, saying who did it and why. Platform-free; the renderers escape and post it.
import type { LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import { formatDuration } from '../core/duration.js';
import type { Decision, RequestRecord } from '../core/types.js';
import type { NotificationEvent } from '../handlers/notifier.js';

/** Slack refuses a message text over 4,000 characters and a section over 3,000; a line stays below both. */
export const MAX_HISTORY_LINE = 2_900;

function person(directory: Directory, email: string): string {
  const name = directory.displayName(email);
  return name === email ? email : `${name} (${email})`;
}

function when(at: number | null): string {
  return at === null ? '?' : `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function quoted(text: string | null): string {
  return text ? `: "${text}"` : '';
}

function lastApproval(decisions: readonly Decision[]): Decision | undefined {
  return [...decisions].filter((decision) => decision.verdict === 'approve').sort((a, b) => a.at - b.at).at(-1);
}

function stepLabel(config: LatchConfig, record: RequestRecord, step: number): string {
  const flow = config.flows.find((candidate) => candidate.name === record.request.flow);
  const name = flow?.approval.steps[step]?.name;
  const total = flow?.approval.steps.length ?? 0;
  return `step ${step + 1}${total > 1 ? ` of ${total}` : ''}${name ? ` (${name})` : ''}`;
}

export interface HistoryFacts {
  /** For `extended`: the extension that moved the expiry. */
  extension?: RequestRecord['request'] | null;
}

/** The thread line for an event, or null when the event is no change worth a line (the ask itself). */
export function historyLine(record: RequestRecord, event: NotificationEvent, config: LatchConfig, directory: Directory, facts: HistoryFacts = {}): string | null {
  const { request, decisions } = record;
  const byLatch = request.decidedBy === 'latch';
  const rule = request.context?.automatic?.rule;
  const approval = lastApproval(decisions);
  let line: string | null;
  switch (event) {
    case 'approval_reminder':
      line = `Reminder: still waiting for a decision on ${stepLabel(config, record, request.step)}.`;
      break;
    case 'approval_escalated':
      line = 'Still undecided: the integration\'s owners and the admins were told.';
      break;
    case 'step_approved': {
      if (!approval) return null;
      const moved = request.step !== approval.step;
      const step = stepLabel(config, record, approval.step);
      line = `${step.charAt(0).toUpperCase()}${step.slice(1)} approved by ${person(directory, approval.approver)}${quoted(approval.comment)}.`
        + (moved ? ` Now waiting for ${stepLabel(config, record, request.step)}.` : ' It needs another approval.');
      break;
    }
    case 'approved':
      line = byLatch
        ? `Approved automatically${rule ? ` by rule "${rule}"` : ''}.`
        : `Approved by ${person(directory, request.decidedBy ?? '?')}${quoted(approval?.approver === request.decidedBy ? approval?.comment ?? null : null)}.`;
      if (request.state === 'ready' && request.startAt !== null) line += ` Starts ${when(request.startAt)}.`;
      break;
    case 'activation_ready': {
      const window = config.flows.find((candidate) => candidate.name === request.flow)?.activationWindow;
      line = `Waiting for ${person(directory, request.grantee)} to activate it${window ? ` (within ${formatDuration(window)})` : ''}; the ${formatDuration(request.durationMs)} start then.`;
      break;
    }
    case 'lapsed':
      line = request.outcome ?? 'Lapsed: approved but never activated.';
      break;
    case 'denied':
      line = byLatch ? (request.outcome ?? 'Denied automatically.') : `Denied by ${person(directory, request.decidedBy ?? '?')}${quoted(request.outcome)}.`;
      break;
    case 'cancelled':
      line = request.endedBy && request.endedBy !== 'latch' ? `Cancelled by ${person(directory, request.endedBy)}${quoted(request.outcome)}.` : `Cancelled${request.outcome ? `: ${request.outcome}` : '.'}`;
      break;
    case 'timed_out':
      line = 'Timed out: nobody decided in time.';
      break;
    case 'granted':
      line = `Granted${byLatch ? ` (approved automatically${rule ? ` by rule "${rule}"` : ''})` : ''}, until ${when(request.expiresAt)}.`;
      break;
    case 'failed':
      line = `Granting failed: ${request.outcome ?? 'unknown error'}`;
      break;
    case 'extended': {
      const extension = facts.extension;
      const by = !extension ? '' : extension.decidedBy === 'latch' ? ', approved automatically' : extension.decidedBy ? `, approved by ${person(directory, extension.decidedBy)}` : '';
      line = `Extended${extension ? ` by ${formatDuration(extension.durationMs)} (${extension.id}${by})` : ''}: now ends ${when(request.expiresAt)}.`;
      break;
    }
    case 'revoked':
      line = `Revoked by ${request.endedBy && request.endedBy !== 'latch' ? person(directory, request.endedBy) : 'Latch'}${quoted(request.outcome)}.`;
      break;
    case 'expired':
      line = `Expired at ${when(request.endedAt ?? request.expiresAt)}; the access was removed.`;
      break;
    case 'revoke_failed_alert':
      line = `Revoking keeps failing: ${request.outcome ?? 'unknown error'}. Latch keeps retrying; the admins were alerted.`;
      break;
    default:
      return null;
  }
  return line.length > MAX_HISTORY_LINE ? `${line.slice(0, MAX_HISTORY_LINE - 1)}…` : line;
}
