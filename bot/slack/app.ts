import { App, LogLevel, type BlockAction, type ButtonAction, type ViewSubmitAction } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import { WebClient } from '@slack/web-api';
import type { FastifyInstance } from 'fastify';
import { requestView } from '../../cards/request-view.js';
import { approvalCard, listMessage, overlapMessage } from '../../cards/slack/messages.js';
import { FIELD, VIEW, denyModal, durationOptions, extendModal, requestModal } from '../../cards/slack/modals.js';
import { parseDuration } from '../../core/duration.js';
import type { Actor } from '../../core/types.js';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { extendAccess, historyOf } from '../../handlers/extend.js';
import { extensionBlocked, extensionDurations } from '../../core/extension-rule.js';
import { reasonRule } from '../../core/reason-rule.js';
import { showRequest } from '../../handlers/queries.js';
import { requestAccess } from '../../handlers/request-access.js';
import { runButton, runCommand, type CommandReply } from '../command-runner.js';
import { parseCommand, type ChatCommand } from '../commands.js';
import { choiceFor, durationChoices, fieldOf, formInput, formOptions, reasonPromptForChoice } from '../request-form.js';
import { cachedBotAuthorization } from './bot-authorization.js';
import { SlackHome } from './home.js';
import { SlackIdentities } from './identity.js';
import { SlackNotifier } from './notifier.js';
import { registerReviewActions } from './review-actions.js';
import { registerDiscoveryActions } from './discovery-actions.js';
import { discoveryDetailMessage, discoveryListMessage } from '../../cards/slack/discovery.js';
import { FastifySlackReceiver, type SlackReceiver } from './receiver.js';
import { responder, type Respond } from './respond.js';
import { SocketModeSlackReceiver, type SlackTokenRefused } from './socket-receiver.js';

/**
 * How Slack reaches Latch; everything past the receiver is the same either way. Socket Mode
 * (an app-level token) needs no inbound URL; HTTP takes `POST /slack/events`, signed.
 */
export type SlackTransport =
  | { kind: 'http'; signingSecret: string }
  | { kind: 'socket'; appToken: string };

/** Socket Mode when SLACK_APP_TOKEN is set, HTTP when SLACK_SIGNING_SECRET is; both need SLACK_BOT_TOKEN. */
export function slackTransportFrom(env: NodeJS.ProcessEnv): SlackTransport | null {
  if (!env.SLACK_BOT_TOKEN) return null;
  if (env.SLACK_APP_TOKEN) return { kind: 'socket', appToken: env.SLACK_APP_TOKEN };
  return env.SLACK_SIGNING_SECRET ? { kind: 'http', signingSecret: env.SLACK_SIGNING_SECRET } : null;
}

export interface SlackOptions {
  server: FastifyInstance;
  transport: SlackTransport;
  /** False once Latch is stopping (Socket Mode then leaves new envelopes for redelivery; HTTP answers 503 in the server). */
  accepting?: () => boolean;
  /** Slack refused the app-level token after Latch was up (at start, receiver.start() rejects instead). */
  onFatal?: (error: SlackTokenRefused) => void;
  botToken: string;
  /** Slack Web API base, e.g. https://slack.com/api/ (SLACK_API_URL points it at a double). */
  apiUrl?: string;
  log: Logger;
  ctx: LatchContext;
  /** Tells Latch's admins about an account whose e-mail no longer matches its binding. */
  alertAdmins?: (text: string) => Promise<void>;
}

const NO_EMAIL = "Latch couldn't find an e-mail address on your Slack profile, so it doesn't know who you are. Ask your Slack admin to add one, then try again.";
const SORRY = 'Something went wrong on our side; nothing was changed. Please try again, and tell an admin if it keeps happening.';
const BUTTON_VERBS = { 'latch.approve': 'approve', 'latch.cancel': 'cancel', 'latch.revoke': 'revoke', 'latch.activate': 'activate' } as const;

function boltLogger(log: Logger): SlackLogger {
  const text = (parts: unknown[]): string => parts.map(String).join(' ');
  return {
    debug: () => {}, info: () => {}, setLevel: () => {}, getLevel: () => LogLevel.WARN, setName: () => {},
    warn: (...parts: unknown[]) => log.warn({}, `slack: ${text(parts)}`),
    error: (...parts: unknown[]) => log.error({}, `slack: ${text(parts)}`),
  };
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The Slack adapter: verify, acknowledge at once, then turn each command, click or form
 * into one handler call and render its answer. No policy and no state writes here.
 */
export function createSlackApp(options: SlackOptions): { app: App; receiver: SlackReceiver; notifier: SlackNotifier; identities: SlackIdentities; home: SlackHome } {
  const { log, ctx } = options;
  const clientOptions = { slackApiUrl: options.apiUrl ?? 'https://slack.com/api/', retryConfig: { retries: 3, factor: 2, minTimeout: 250, maxTimeout: 4_000 } };
  const client = new WebClient(options.botToken, clientOptions);
  const { transport } = options;
  const receiver: SlackReceiver = transport.kind === 'socket'
    ? new SocketModeSlackReceiver({ appToken: transport.appToken, apiUrl: options.apiUrl, server: options.server, log, accepting: options.accepting, onFatal: options.onFatal })
    : new FastifySlackReceiver({ server: options.server, signingSecret: transport.signingSecret, log });
  // No conversation store: Latch keeps no conversation state in Bolt, and the default one costs every event a lookup.
  const app = new App({ authorize: cachedBotAuthorization(client, options.botToken), receiver, clientOptions, logger: boltLogger(log), ignoreSelf: false, convoStore: false });
  const people = new SlackIdentities(client, ctx.store, log, () => ctx.now(), options.alertAdmins ? { alertAdmins: options.alertAdmins } : {});
  const home = new SlackHome(client, ctx);
  const notifier = new SlackNotifier({ client, store: ctx.store, identities: people, home, current: () => ctx.current(), now: () => ctx.now(), log });

  /** The person behind a Slack user, or the text that says why Latch will not act for them. */
  async function actorFor(userId: string, deliveryId?: string): Promise<Actor | { refusal: string }> {
    const who = await people.identify(userId);
    if (!who.ok) return { refusal: who.reason === 'stopped' ? who.message : NO_EMAIL };
    return { email: who.email, via: 'slack', ...(deliveryId ? { deliveryId } : {}) };
  }

  /** An ephemeral answer where Slack gave a response URL (messages), a DM otherwise (App Home, modals). */
  async function tell(respond: Respond | undefined, userId: string, text: string): Promise<void> {
    if (respond) await respond({ response_type: 'ephemeral', replace_original: false, text });
    else await client.chat.postMessage({ channel: userId, text });
  }

  async function openRequestModal(triggerId: string, actor: Actor, prefill: Extract<ChatCommand, { kind: 'request' }>, respond: Respond): Promise<void> {
    const form = formOptions(ctx, actor.email, prefill.durationMs);
    if (form.choices.length === 0) return tell(respond, '', 'No access flow lets you request anything yet. Ask an admin to add you to one.');
    const typed = prefill.durationMs !== undefined ? form.durations.find((text) => parseDuration(text) === prefill.durationMs) : undefined;
    const initialChoice = choiceFor(form.choices, prefill);
    const initialDuration = typed ?? form.durations[0];
    await client.views.open({
      trigger_id: triggerId,
      view: requestModal({
        choices: form.choices, durations: durationOptions(form.durations), reasonRequired: form.reasonRequired, reasonPrompt: reasonPromptForChoice(ctx, actor.email, initialChoice, form.reasonPrompt), privateMetadata: '', notices: form.unavailable,
        ...(initialChoice ? { initialChoice } : {}), ...(initialDuration ? { initialDuration } : {}), ...(prefill.reason ? { initialReason: prefill.reason } : {}),
      }),
    });
  }

  async function render(reply: CommandReply, respond: Respond, userId: string): Promise<void> {
    switch (reply.kind) {
      case 'silent': return;
      case 'text': return tell(respond, userId, reply.text);
      case 'list': return respond({ response_type: 'ephemeral', ...listMessage(reply.views) });
      case 'approvals': {
        if (reply.views.length === 0) return tell(respond, userId, 'Nothing is waiting for your decision.');
        const blocks = reply.views.slice(0, 8).flatMap((view) => approvalCard(view, true).blocks).slice(0, 50);
        return respond({ response_type: 'ephemeral', text: `${reply.views.length} request(s) wait for you.`, blocks });
      }
      case 'overlap': return respond({ response_type: 'ephemeral', replace_original: false, ...overlapMessage(reply.text, reply.extendable) });
      case 'form': return; // opened by the caller, which holds the trigger id
      case 'discovery': return respond({ response_type: 'ephemeral', ...discoveryListMessage(reply.view) });
      case 'discovery_detail': return respond({ response_type: 'ephemeral', replace_original: false, ...discoveryDetailMessage(reply.view) });
    }
  }

  app.command('/access', async ({ command, ack }) => {
    await ack();
    const respond = responder(command.response_url);
    const actor = await actorFor(command.user_id, `slack:command:${command.trigger_id}`);
    if ('refusal' in actor) return tell(respond, command.user_id, actor.refusal);
    try {
      // Direct messages (D…) are no channel: an emergency grant asked for there is announced only where its flow says.
      const channel = command.channel_id && !command.channel_id.startsWith('D') ? command.channel_id : null;
      const reply = await runCommand(ctx, actor, parseCommand(command.text, '/access '), '/access ', { platform: 'slack', channel });
      if (reply.kind === 'form') return openRequestModal(command.trigger_id, actor, reply.prefill, respond);
      await render(reply, respond, command.user_id);
    } catch (error) {
      log.error({ err: errorText(error), user: actor.email }, 'Slack command failed');
      await tell(respond, command.user_id, SORRY);
    }
  });

  app.action<BlockAction<ButtonAction>>(/^latch\.(approve|deny|cancel|revoke|extend|activate)$/, async ({ ack, body, action }) => {
    await ack();
    const requestId = action.value ?? '';
    const userId = body.user.id;
    const reply = body.response_url ? responder(body.response_url) : undefined;
    const actor = await actorFor(userId, `slack:action:${body.trigger_id}:${action.action_ts}`);
    if ('refusal' in actor) return tell(reply, userId, actor.refusal);
    try {
      if (action.action_id === 'latch.deny' || action.action_id === 'latch.extend') {
        // Both need more input first: open a modal; its submission acts.
        // Only someone who may see the request gets a modal that describes it.
        const loaded = await showRequest(ctx, actor, requestId);
        if (!loaded.ok) return tell(reply, userId, loaded.message);
        const { config, directory } = ctx.current();
        const view = requestView(loaded.record, config, directory, ctx.now());
        if (action.action_id === 'latch.deny') return void (await client.views.open({ trigger_id: body.trigger_id, view: denyModal(view.id, view.title) }));
        const flow = config.flows.find((candidate) => candidate.name === loaded.record.request.flow);
        if (!flow) return tell(reply, userId, `Flow "${loaded.record.request.flow}" no longer exists, so this access cannot be extended.`);
        // Offer only what the extension rules allow now; when they allow nothing, say why instead of opening a form.
        const history = await historyOf(ctx, loaded.record);
        const blocked = loaded.record.request.state === 'active' ? extensionBlocked(flow, loaded.record.request, history, ctx.now()) : null;
        if (blocked) return tell(reply, userId, blocked.message);
        const durations = extensionDurations(flow, history, (max) => durationChoices(max), parseDuration);
        return void (await client.views.open({ trigger_id: body.trigger_id, view: extendModal(view.id, view.title, durationOptions(durations), reasonRule(flow).required) }));
      }
      const answer = await runButton(ctx, actor, BUTTON_VERBS[action.action_id as keyof typeof BUTTON_VERBS], requestId);
      if (answer.kind === 'text') await tell(reply, userId, answer.text);
    } catch (error) {
      log.error({ err: errorText(error), action: action.action_id }, 'Slack action failed');
      await tell(reply, userId, SORRY);
    }
  });

  const valueOf = (view: ViewSubmitAction['view'], field: { block: string; action: string }): string | undefined => {
    const entry = view.state.values[field.block]?.[field.action];
    return entry?.selected_option?.value ?? entry?.value ?? undefined;
  };
  const blockOf = { target: FIELD.target.block, duration: FIELD.duration.block, reason: FIELD.reason.block } as const;

  // Modal submissions are answered within Slack's 3 s with inline errors, so they validate before acknowledging.
  app.view<ViewSubmitAction>(VIEW.request, async ({ ack, body, view }) => {
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if ('refusal' in actor) return void (await ack({ response_action: 'errors', errors: { [FIELD.target.block]: actor.refusal } }));
    const result = await requestAccess(ctx, actor, formInput(valueOf(view, FIELD.target) ?? '', valueOf(view, FIELD.duration), valueOf(view, FIELD.reason)));
    if (!result.ok && result.reason !== 'duplicate_delivery') return void (await ack({ response_action: 'errors', errors: { [blockOf[fieldOf(result.reason)]]: result.message } }));
    await ack();
  });

  app.view<ViewSubmitAction>(VIEW.denyReason, async ({ ack, body, view }) => {
    await ack();
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if ('refusal' in actor) return tell(undefined, body.user.id, actor.refusal);
    const answer = await runButton(ctx, actor, 'deny', view.private_metadata, valueOf(view, FIELD.reason));
    if (answer.kind === 'text') await tell(undefined, body.user.id, answer.text);
  });

  app.view<ViewSubmitAction>(VIEW.extend, async ({ ack, body, view }) => {
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if ('refusal' in actor) return void (await ack({ response_action: 'errors', errors: { [FIELD.duration.block]: actor.refusal } }));
    const result = await extendAccess(ctx, actor, view.private_metadata, parseDuration(valueOf(view, FIELD.duration) ?? '') ?? 0, valueOf(view, FIELD.reason));
    if (!result.ok && result.reason !== 'duplicate_delivery') {
      // This modal has no target field: anything not about the reason is shown on the duration.
      const block = fieldOf(result.reason) === 'reason' ? FIELD.reason.block : FIELD.duration.block;
      return void (await ack({ response_action: 'errors', errors: { [block]: result.message } }));
    }
    await ack();
    if (result.ok) await tell(undefined, body.user.id, result.autoApproved ? `${result.record.request.id} was extended.` : `Extension ${result.extension.request.id} was sent for approval.`);
  });

  registerReviewActions(app, { client, ctx, actorFor });
  registerDiscoveryActions(app, { client, ctx, actorFor });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    const who = await people.identify(event.user);
    if (who.ok) await home.publish(event.user, who.email);
  });

  // Slack's word that a profile changed: its e-mail is read again and compared with the binding.
  app.event('user_change', async ({ event }) => {
    await people.refresh(event.user.id);
  });

  return { app, receiver, notifier, identities: people, home };
}
