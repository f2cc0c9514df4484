import type { NotificationEvent } from '../../handlers/notifier.js';
import { requestFacts, type RequestView } from '../request-view.js';
import { actions, clip, context, escapeMrkdwn, fields, header, section, type SlackBlock } from './block-kit.js';

export const ACTION = {
  approve: 'latch.approve',
  deny: 'latch.deny',
  cancel: 'latch.cancel',
  revoke: 'latch.revoke',
  extend: 'latch.extend',
  activate: 'latch.activate',
} as const;

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const STATE_ICON: Record<string, string> = {
  pending: ':hourglass_flowing_sand:', approved: ':white_check_mark:', granting: ':gear:', active: ':large_green_circle:',
  revoking: ':gear:', revoke_failed: ':warning:', expired: ':lock:', revoked: ':lock:', denied: ':no_entry:', cancelled: ':heavy_minus_sign:',
  timed_out: ':alarm_clock:', failed: ':x:',
};

function facts(view: RequestView): [string, string][] {
  return requestFacts(view).map(([label, value]) => {
    if (label !== 'Reason') return [label, escapeMrkdwn(value)];
    if (!value) return [label, '_none given_'];
    const link = view.reasonLink ? `\n<${view.reasonLink.url}|${escapeMrkdwn(view.reasonLink.reference)}>` : '';
    return [label, `${escapeMrkdwn(value)}${link}`];
  });
}

function statusLine(view: RequestView): string {
  const icon = STATE_ICON[view.state] ?? '';
  const extra = view.state === 'active' && view.timeLeft ? `, ${view.timeLeft} left` : view.outcome && (view.state === 'denied' || view.state === 'failed' || view.state === 'revoke_failed') ? `: ${escapeMrkdwn(view.outcome)}` : '';
  return `${icon} *${escapeMrkdwn(view.status)}*${extra}`;
}

/**
 * The approval card. While the request waits for this step it carries Approve / Deny;
 * every later state re-renders it without buttons, showing the outcome and who decided.
 */
export function approvalCard(view: RequestView, decidable: boolean, audience?: 'security'): SlackMessage {
  if (view.emergency) return emergencyCard(view, decidable, audience);
  const verb = view.kind === 'extension' ? 'asks to extend access' : 'asks for access';
  const blocks: SlackBlock[] = [
    header(view.kind === 'extension' ? `Extension ${view.id}` : `Access request ${view.id}`),
    section(`*${escapeMrkdwn(view.requester)}* ${verb}: *${escapeMrkdwn(view.title)}* for ${view.duration}.`),
    fields(facts(view)),
    section(statusLine(view), `status:${view.id}`),
  ];
  if (decidable && view.state === 'pending') {
    blocks.push(actions(`decide:${view.id}`, [
      { text: 'Approve', actionId: ACTION.approve, value: view.id, style: 'primary' },
      { text: 'Deny', actionId: ACTION.deny, value: view.id, style: 'danger' },
    ]));
  }
  if (view.approvals.length > 0) blocks.push(context(`Approved so far by ${escapeMrkdwn(view.approvals.join(', '))}`));
  return { text: `${view.requester} ${verb}: ${view.title} for ${view.duration} (${view.status}). Request ${view.id}.`, blocks };
}

/**
 * The announcement of an emergency grant, in the channel it was asked in, the flow's
 * channels and the security channels: loud, with who, what, why and until when, and
 * "Revoke now" while it is active (the leads and admins may use it; others are refused).
 */
function emergencyCard(view: RequestView, decidable: boolean, audience?: 'security'): SlackMessage {
  const security = audience === 'security';
  const blocks: SlackBlock[] = [
    header(security ? `:rotating_light: SECURITY NOTICE: break-glass access ${view.id}` : `:rotating_light: EMERGENCY ACCESS ${view.id}`),
    section(`${security ? '<!here> ' : ''}*${escapeMrkdwn(view.requester)}* took emergency access: *${escapeMrkdwn(view.title)}* for ${view.duration}, without approval.`),
    fields(facts(view)),
    section(statusLine(view), `status:${view.id}`),
    context(security
      ? 'This channel is told of every emergency grant of this flow. Revoke now ends it at once; the grant is also reviewed afterwards.'
      : 'Break-glass access is granted at once to the people on call, announced here and to security, and reviewed afterwards.'),
  ];
  if (decidable && view.state === 'active') blocks.push(actions(`emergency:${view.id}`, [{ text: 'Revoke now', actionId: ACTION.revoke, value: view.id, style: 'danger' }]));
  return { text: `${security ? 'SECURITY NOTICE' : 'EMERGENCY ACCESS'}: ${view.requester} took ${view.title} for ${view.duration} without approval (${view.status}). Request ${view.id}.`, blocks };
}

/** What the requester is told as their request moves. */
export function requesterUpdate(view: RequestView, event: NotificationEvent, summary: string): SlackMessage {
  const blocks: SlackBlock[] = [section(escapeMrkdwn(summary)), context(`${view.id} · ${escapeMrkdwn(view.title)} · ${view.duration}`)];
  if (event === 'expiry_warning' && view.state === 'active') {
    blocks.push(actions(`warn:${view.id}`, [
      ...(view.extension.allowed ? [{ text: 'Extend', actionId: ACTION.extend, value: view.id, style: 'primary' as const }] : []),
      { text: 'Revoke now', actionId: ACTION.revoke, value: view.id },
    ]));
  }
  if (event === 'activation_ready' && view.state === 'ready') {
    blocks.push(actions(`activate:${view.id}`, [
      { text: 'Activate now', actionId: ACTION.activate, value: view.id, style: 'primary' },
      { text: 'Cancel', actionId: ACTION.cancel, value: view.id },
    ]));
  }
  if (event === 'submitted' && view.state === 'pending' && view.kind === 'access') {
    blocks.push(actions(`mine:${view.id}`, [{ text: 'Cancel request', actionId: ACTION.cancel, value: view.id }]));
  }
  return { text: summary, blocks };
}

/** A line of the request's history, as a reply in the thread of its channel card. Text only: Slack's 4,000 characters hold it. */
export function threadReply(line: string): { text: string } {
  return { text: clip(escapeMrkdwn(line), 3_900) };
}

export interface CredentialItem {
  title: string;
  details: string;
  secrets: Record<string, string>;
}

/** The only message that ever carries secrets: a DM to the grantee. */
export function credentialsMessage(view: RequestView, items: CredentialItem[]): SlackMessage {
  const blocks: SlackBlock[] = [header(`Access granted: ${view.id}`), section(`Your access to *${escapeMrkdwn(view.title)}* is active for ${view.duration}.`)];
  for (const item of items.slice(0, 12)) {
    const secretLines = Object.entries(item.secrets).map(([name, value]) => `*${escapeMrkdwn(name)}:* \`${escapeMrkdwn(value)}\``);
    blocks.push(section([`*${escapeMrkdwn(item.title)}*`, `\`\`\`${escapeMrkdwn(item.details)}\`\`\``, ...secretLines].join('\n')));
  }
  blocks.push(context('Only you can see this message. The credentials stop working when the access ends; Latch removes them from this message then.'));
  blocks.push(actions(`granted:${view.id}`, [
    ...(view.extension.allowed ? [{ text: 'Extend', actionId: ACTION.extend, value: view.id }] : []),
    { text: 'Revoke now', actionId: ACTION.revoke, value: view.id, style: 'danger' },
  ]));
  return { text: `Access granted: ${view.title} (${view.id}). Connection details are in this message.`, blocks };
}

/** Replaces the credential DM once the access has ended. */
export function credentialsRemovedMessage(view: RequestView): SlackMessage {
  const text = `Access ${view.id} (${view.title}) has ended: ${view.status.toLowerCase()}. Its credentials were removed from this message.`;
  return { text, blocks: [section(`:lock: ${escapeMrkdwn(text)}`)] };
}

export function listMessage(mine: RequestView[]): SlackMessage {
  if (mine.length === 0) return { text: 'You have no open requests and no active access. Ask with `/access request`.', blocks: [section('You have no open requests and no active access. Ask with `/access request`.')] };
  const lines = mine.slice(0, 40).map((view) => `• *${view.id}* ${escapeMrkdwn(view.title)}: ${escapeMrkdwn(view.status)}${view.timeLeft ? `, ${view.timeLeft} left` : ''}`);
  return { text: lines.join('\n'), blocks: [section(lines.join('\n'))] };
}

/** The answer to a request for access the person already has: what exists, and Extend instead. */
export function overlapMessage(text: string, extendable: string[]): SlackMessage {
  const blocks: SlackBlock[] = [section(escapeMrkdwn(text))];
  if (extendable.length > 0) {
    blocks.push(actions('overlap', extendable.slice(0, 5).map((id) => ({ text: extendable.length === 1 ? 'Extend instead' : `Extend ${id}`, actionId: ACTION.extend, value: id, style: 'primary' as const }))));
  }
  return { text, blocks };
}
