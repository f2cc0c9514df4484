import { reviewScreen } from '../review.js';
import type { RequestView } from '../request-view.js';
import { card, escapeMarkdown, execute, facts, text, type AdaptiveCard } from './adaptive.js';

export const REVIEW_VERB = { acknowledge: 'review.acknowledge', flag: 'review.flag' } as const;

/** The review task in a reviewer's chat: a comment box and Acknowledge / Flag while it is open. */
export function reviewCard(view: RequestView, notice?: string): AdaptiveCard {
  const screen = reviewScreen(view);
  return card([
    text(escapeMarkdown(screen.title), { size: 'Medium', weight: 'Bolder' }),
    text(escapeMarkdown(screen.intro)),
    facts(screen.facts.map(([label, value]) => [label, escapeMarkdown(value || '–').replace(/\n/g, ', ')])),
    text(`**${escapeMarkdown(screen.outcome)}**`, { color: view.emergency?.review?.verdict === 'flagged' ? 'Attention' : 'Default' }),
    ...(notice ? [text(escapeMarkdown(notice), { color: 'Attention' })] : []),
    ...(screen.open ? [{ type: 'Input.Text', id: 'comment', placeholder: 'Comment (needed to flag; the admins are told)', isMultiline: true, maxLength: 1000 }] : []),
  ], {
    actions: screen.open ? [
      execute('Acknowledge', REVIEW_VERB.acknowledge, { requestId: view.id }, 'positive'),
      execute('Flag', REVIEW_VERB.flag, { requestId: view.id }, 'destructive'),
    ] : [],
  });
}
