// Slack's side of `/access discover`: the Details button under each risk opens that
// principal's detail as a new ephemeral message, and its Revoke button (confirmed in
// Slack's own dialog) revokes. Platform work only: the handler decides (admins only, the
// principal found by a fresh scan).
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { discoveryDetailMessage, DISCOVERY_ACTION, parseDetailValue } from '../../cards/slack/discovery.js';
import type { SlackMessage } from '../../cards/slack/messages.js';
import type { Actor } from '../../core/types.js';
import type { LatchContext } from '../../handlers/context.js';
import { runDiscoveryDetail, runDiscoveryRemediate } from '../command-runner.js';
import { responder } from './respond.js';

export interface DiscoveryActionDeps {
  client: WebClient;
  ctx: LatchContext;
  actorFor(userId: string, deliveryId?: string): Promise<Actor | { refusal: string }>;
}

export function registerDiscoveryActions(app: App, deps: DiscoveryActionDeps): void {
  app.action<BlockAction<ButtonAction>>(new RegExp(`^(${DISCOVERY_ACTION.detail}|${DISCOVERY_ACTION.remediate})$`), async ({ ack, body, action }) => {
    await ack();
    const say = async (message: SlackMessage | { text: string }): Promise<void> => {
      if (body.response_url) await responder(body.response_url)({ response_type: 'ephemeral', replace_original: false, ...message });
      else await deps.client.chat.postMessage({ channel: body.user.id, ...message });
    };
    const actor = await deps.actorFor(body.user.id, `slack:action:${body.trigger_id}:${action.action_ts}`);
    if ('refusal' in actor) return say({ text: actor.refusal });
    const target = parseDetailValue(action.value ?? '');
    if (!target) return say({ text: 'That button is not one Latch made; run /access discover again.' });
    try {
      const reply = action.action_id === DISCOVERY_ACTION.remediate
        ? await runDiscoveryRemediate(deps.ctx, actor, target.integration, target.principal)
        : await runDiscoveryDetail(deps.ctx, actor, target.integration, target.principal);
      if (reply.kind === 'discovery_detail') return say(discoveryDetailMessage(reply.view));
      if (reply.kind === 'text') return say({ text: reply.text });
    } catch (error) {
      deps.ctx.log.error({ err: error instanceof Error ? error.message : String(error), action: action.action_id }, 'Slack discovery action failed');
      await say({ text: 'Sorry, that did not work. The error was logged.' });
    }
  });
}
