// What a reviewer of an emergency grant reads, for both renderers: the grant's facts and
// where its review stands.
import { requestFacts, type RequestView } from './request-view.js';

export interface ReviewScreen {
  title: string;
  intro: string;
  facts: [string, string][];
  /** "Not reviewed yet", or who acknowledged or flagged it and what they said. */
  outcome: string;
  /** Acknowledge / Flag are offered while nobody has reviewed it. */
  open: boolean;
}

export function reviewScreen(view: RequestView): ReviewScreen {
  const review = view.emergency?.review ?? null;
  const outcome = review
    ? `${review.verdict === 'flagged' ? 'Flagged' : 'Acknowledged'} by ${review.by}${review.comment ? `: "${review.comment}"` : ''}`
    : 'Not reviewed yet';
  return {
    title: `Review emergency access ${view.id}`,
    intro: `${view.requester} took ${view.title} for ${view.duration} without approval. Acknowledge it if it was right, or flag it with a comment for the admins.`,
    facts: [...requestFacts(view), ['State', view.status]],
    outcome,
    open: review === null,
  };
}
