import type { NotificationEvent } from '../../handlers/notifier.js';
import { requestFacts, type RequestView } from '../request-view.js';
import { card, escapeMarkdown, execute, facts, text, type AdaptiveCard, type CardElement } from './adaptive.js';

export const VERB = {
  approve: 'approve', deny: 'deny', cancel: 'cancel', revoke: 'revoke', extend: 'extend', refresh: 'refresh', submitRequest: 'request.submit', activate: 'activate',
} as const;

function factsOf(view: RequestView): [string, string][] {
  return requestFacts(view).map(([label, value]) => {
    if (label !== 'Reason') return [label, escapeMarkdown(value).replace(/\n/g, ', ')];
    if (!value) return [label, 'none given'];
    const link = view.reasonLink ? ` ([${escapeMarkdown(view.reasonLink.reference)}](${view.reasonLink.url}))` : '';
    return [label, `${escapeMarkdown(value).replace(/\n/g, ', ')}${link}`];
  });
}

function status(view: RequestView): CardElement {
  const color = view.state === 'denied' || view.state === 'failed' || view.state === 'revoke_failed' ? 'Attention' : view.state === 'active' || view.state === 'approved' ? 'Good' : 'Default';
  const extra = view.state === 'active' && view.timeLeft ? `, ${view.timeLeft} left` : view.outcome && (view.state === 'denied' || view.state === 'failed') ? `: ${escapeMarkdown(view.outcome)}` : '';
  return text(`**${escapeMarkdown(view.status)}**${extra}`, { color });
}

/**
 * The approval card. `approverIds` are the Teams ids that may decide now: `refresh` makes
 * Teams fetch their personal version (with buttons) while everyone else sees the status.
 */
export function approvalCard(view: RequestView, options: { decidable: boolean; approverIds: string[]; notice?: string; audience?: 'security' }): AdaptiveCard {
  if (view.emergency) return emergencyCard(view, options);
  const body: CardElement[] = [
    text(view.kind === 'extension' ? `Extension ${view.id}` : `Access request ${view.id}`, { size: 'Medium', weight: 'Bolder' }),
    text(`${escapeMarkdown(view.requester)} ${view.kind === 'extension' ? 'asks to extend access' : 'asks for access'}: **${escapeMarkdown(view.title)}** for ${view.duration}.`),
    facts(factsOf(view)),
    status(view),
  ];
  if (view.approvals.length > 0) body.push(text(`Approved so far by ${escapeMarkdown(view.approvals.join(', '))}`, { isSubtle: true, size: 'Small' }));
  if (options.notice) body.push(text(escapeMarkdown(options.notice), { color: 'Attention' }));
  const open = options.decidable && view.state === 'pending';
  if (open) body.push({ type: 'Input.Text', id: 'reason', placeholder: 'Reason (needed to deny, shown to the requester)', isMultiline: true, maxLength: 1000 });
  return card(body, {
    actions: open ? [execute('Approve', VERB.approve, { requestId: view.id }, 'positive'), execute('Deny', VERB.deny, { requestId: view.id }, 'destructive')] : [],
    ...(view.state === 'pending' && options.approverIds.length > 0 ? { refresh: { action: execute('Refresh', VERB.refresh, { requestId: view.id }), userIds: options.approverIds.slice(0, 60) } } : {}),
  });
}

/** The announcement of an emergency grant (see the Slack card): loud, with "Revoke now" while it is active. */
function emergencyCard(view: RequestView, options: { decidable: boolean; notice?: string; audience?: 'security' }): AdaptiveCard {
  const security = options.audience === 'security';
  const body: CardElement[] = [
    text(security ? `🚨 SECURITY NOTICE: break-glass access ${view.id}` : `🚨 EMERGENCY ACCESS ${view.id}`, { size: 'Large', weight: 'Bolder', color: 'Attention' }),
    text(`${escapeMarkdown(view.requester)} took emergency access: **${escapeMarkdown(view.title)}** for ${view.duration}, without approval.`),
    facts(factsOf(view)),
    status(view),
    text(security
      ? 'This channel is told of every emergency grant of this flow. Revoke now ends it at once; the grant is also reviewed afterwards.'
      : 'Break-glass access is granted at once to the people on call, announced here and to security, and reviewed afterwards.', { isSubtle: true, size: 'Small' }),
  ];
  if (options.notice) body.push(text(escapeMarkdown(options.notice), { color: 'Attention' }));
  return card(body, { actions: options.decidable && view.state === 'active' ? [execute('Revoke now', VERB.revoke, { requestId: view.id }, 'destructive')] : [] });
}

export function requesterCard(view: RequestView, event: NotificationEvent, summary: string): AdaptiveCard {
  const actions: CardElement[] = [];
  if (event === 'expiry_warning' && view.state === 'active') {
    if (view.extension.allowed) actions.push(execute(`Extend ${view.extension.by}`, VERB.extend, { requestId: view.id, duration: view.extension.by }, 'positive'));
    actions.push(execute('Revoke now', VERB.revoke, { requestId: view.id }));
  }
  if (event === 'submitted' && view.state === 'pending' && view.kind === 'access') actions.push(execute('Cancel request', VERB.cancel, { requestId: view.id }));
  if (event === 'activation_ready' && view.state === 'ready') actions.push(execute('Activate now', VERB.activate, { requestId: view.id }, 'positive'), execute('Cancel', VERB.cancel, { requestId: view.id }));
  return card([text(escapeMarkdown(summary)), text(`${view.id} · ${escapeMarkdown(view.title)} · ${view.duration}`, { isSubtle: true, size: 'Small' })], { actions });
}

/** A line of the request's history, as a reply in the thread of its channel card. Plain text: nothing in it is markup. */
export function threadReply(line: string): { type: 'message'; text: string; textFormat: 'plain' } {
  return { type: 'message', text: line, textFormat: 'plain' };
}

export interface CredentialItem {
  title: string;
  details: string;
  secrets: Record<string, string>;
}

/** The only card that carries secrets: sent in the grantee's personal chat. */
export function credentialsCard(view: RequestView, items: CredentialItem[]): AdaptiveCard {
  const body: CardElement[] = [text(`Access granted: ${view.id}`, { size: 'Medium', weight: 'Bolder' }), text(`Your access to **${escapeMarkdown(view.title)}** is active for ${view.duration}.`)];
  for (const item of items.slice(0, 12)) {
    body.push(text(`**${escapeMarkdown(item.title)}**`), { type: 'TextBlock', text: item.details, wrap: true, fontType: 'Monospace' });
    for (const [name, value] of Object.entries(item.secrets)) body.push(facts([[escapeMarkdown(name), value]]));
  }
  body.push(text('Only you can see this chat. The credentials stop working when the access ends; Latch removes them from this card then.', { isSubtle: true, size: 'Small' }));
  return card(body, {
    actions: [
      ...(view.extension.allowed ? [execute(`Extend ${view.extension.by}`, VERB.extend, { requestId: view.id, duration: view.extension.by })] : []),
      execute('Revoke now', VERB.revoke, { requestId: view.id }, 'destructive'),
    ],
  });
}

export function credentialsRemovedCard(view: RequestView): AdaptiveCard {
  return card([text(`Access ${view.id} (${escapeMarkdown(view.title)}) has ended: ${escapeMarkdown(view.status.toLowerCase())}. Its credentials were removed from this card.`)]);
}

export interface RequestFormInput {
  choices: { title: string; value: string }[];
  durations: string[];
  values?: { target?: string; duration?: string; reason?: string };
  errors?: Partial<Record<'target' | 'duration' | 'reason', string>>;
  reasonRequired: boolean;
  /** The reason field's label (a flow's prompt, e.g. "Ticket or incident id"). */
  reasonPrompt?: string;
  /** Warnings to show above the form, e.g. an integration that is down. */
  notices?: string[];
}

/** The request form; after a failed submit it comes back with the error under the field. */
export function requestFormCard(input: RequestFormInput): AdaptiveCard {
  const error = (field: 'target' | 'duration' | 'reason'): CardElement[] => (input.errors?.[field] ? [text(escapeMarkdown(input.errors[field] ?? ''), { color: 'Attention', size: 'Small' })] : []);
  return card([
    text('Request access', { size: 'Medium', weight: 'Bolder' }),
    ...(input.notices ?? []).slice(0, 5).map((notice) => text(`⚠ ${escapeMarkdown(notice)}`, { color: 'Warning', size: 'Small' })),
    { type: 'Input.ChoiceSet', id: 'target', label: 'What do you need?', isRequired: true, errorMessage: 'Choose what you need.', choices: input.choices.slice(0, 100), ...(input.values?.target ? { value: input.values.target } : {}) },
    ...error('target'),
    { type: 'Input.ChoiceSet', id: 'duration', label: 'For how long?', isRequired: true, errorMessage: 'Choose a duration.', choices: input.durations.map((value) => ({ title: value, value })), value: input.values?.duration ?? input.durations[0] ?? '1h' },
    ...error('duration'),
    { type: 'Input.Text', id: 'reason', label: input.reasonPrompt ?? 'Why do you need it?', isMultiline: true, maxLength: 1000, isRequired: input.reasonRequired, errorMessage: 'Say why you need this access.', ...(input.values?.reason ? { value: input.values.reason } : {}) },
    ...error('reason'),
  ], { actions: [execute('Request', VERB.submitRequest, {}, 'positive')] });
}

export function confirmationCard(message: string): AdaptiveCard {
  return card([text(escapeMarkdown(message))]);
}

/** The answer to a request for access the person already has: what exists, and Extend instead. */
export function overlapCard(message: string, extendable: string[]): AdaptiveCard {
  return card([text(escapeMarkdown(message))], {
    actions: extendable.slice(0, 5).map((id) => execute(extendable.length === 1 ? 'Extend 1h instead' : `Extend ${id} by 1h`, VERB.extend, { requestId: id, duration: '1h' }, 'positive')),
  });
}
