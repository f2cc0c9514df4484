// Slack's side of the post-incident review: Acknowledge and Flag on the review message open
// a small form for the comment; its submission is the review. Platform work only: the
// handler decides.
import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { REVIEW_ACTION, REVIEW_FIELD, REVIEW_VIEW, reviewModal } from '../../cards/slack/review.js';
import type { Actor } from '../../core/types.js';
import type { LatchContext } from '../../handlers/context.js';
import { reviewEmergency } from '../../handlers/emergency-review.js';

export interface ReviewActionDeps {
  client: WebClient;
  ctx: LatchContext;
  actorFor(userId: string, deliveryId?: string): Promise<Actor | { refusal: string }>;
}

export function registerReviewActions(app: App, deps: ReviewActionDeps): void {
  app.action<BlockAction<ButtonAction>>(new RegExp(`^(${REVIEW_ACTION.acknowledge}|${REVIEW_ACTION.flag})$`), async ({ ack, body, action }) => {
    await ack();
    const verdict = action.action_id === REVIEW_ACTION.flag ? 'flagged' : 'acknowledged';
    await deps.client.views.open({ trigger_id: body.trigger_id, view: reviewModal(action.value ?? '', verdict) });
  });

  // Validated before acknowledging, so a refusal shows under the comment field.
  app.view<ViewSubmitAction>(REVIEW_VIEW, async ({ ack, body, view }) => {
    const [verdictText, requestId = ''] = view.private_metadata.split('|');
    const actor = await deps.actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if ('refusal' in actor) return void (await ack({ response_action: 'errors', errors: { [REVIEW_FIELD.block]: actor.refusal } }));
    const comment = view.state.values[REVIEW_FIELD.block]?.[REVIEW_FIELD.action]?.value ?? undefined;
    const result = await reviewEmergency(deps.ctx, actor, requestId, verdictText === 'flagged' ? 'flagged' : 'acknowledged', comment);
    if (!result.ok && result.reason !== 'duplicate_delivery') return void (await ack({ response_action: 'errors', errors: { [REVIEW_FIELD.block]: result.message } }));
    await ack();
  });
}
