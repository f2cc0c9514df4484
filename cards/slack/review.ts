import type { ModalView } from '@slack/types';
import { reviewScreen } from '../review.js';
import type { RequestView } from '../request-view.js';
import { actions, clip, context, escapeMrkdwn, fields, header, plain, section, type SlackBlock } from './block-kit.js';
import type { SlackMessage } from './messages.js';

export const REVIEW_ACTION = { acknowledge: 'latch.review_acknowledge', flag: 'latch.review_flag' } as const;
export const REVIEW_VIEW = 'latch.review';
export const REVIEW_FIELD = { block: 'review_comment', action: 'comment' } as const;

/** The review task in a reviewer's DM; after the review it shows the outcome without buttons. */
export function reviewCard(view: RequestView): SlackMessage {
  const screen = reviewScreen(view);
  const blocks: SlackBlock[] = [
    header(screen.title),
    section(escapeMrkdwn(screen.intro)),
    fields(screen.facts.map(([label, value]) => [label, escapeMrkdwn(value || '–')])),
    section(`*${escapeMrkdwn(screen.outcome)}*`, `review:${view.id}`),
  ];
  if (screen.open) {
    blocks.push(actions(`review:${view.id}:actions`, [
      { text: 'Acknowledge', actionId: REVIEW_ACTION.acknowledge, value: view.id, style: 'primary' },
      { text: 'Flag', actionId: REVIEW_ACTION.flag, value: view.id, style: 'danger' },
    ]));
  } else blocks.push(context('Reviewed; nothing more to do.'));
  return { text: `${screen.title}: ${screen.outcome}.`, blocks };
}

/** The comment form behind both buttons: optional to acknowledge, required to flag. */
export function reviewModal(requestId: string, verdict: 'acknowledged' | 'flagged'): ModalView {
  const flag = verdict === 'flagged';
  return {
    type: 'modal', callback_id: REVIEW_VIEW, title: plain(flag ? 'Flag emergency access' : 'Acknowledge', 24), submit: plain(flag ? 'Flag' : 'Acknowledge', 24), close: plain('Back', 24),
    private_metadata: `${verdict}|${requestId}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`${flag ? 'Flag' : 'Acknowledge'} emergency access *${requestId}*.`, 3000) } },
      { type: 'input', block_id: REVIEW_FIELD.block, label: plain(flag ? 'What is wrong? (the admins are told)' : 'Comment'), optional: !flag, element: { type: 'plain_text_input', action_id: REVIEW_FIELD.action, multiline: true, max_length: 1000 } },
    ],
  };
}
