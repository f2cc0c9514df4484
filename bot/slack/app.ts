import { App, LogLevel, type BlockAction, type ButtonAction, type RespondFn, type ViewSubmitAction } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import { WebClient } from '@slack/web-api';
import type { FastifyInstance } from 'fastify';
import { requestView } from '../../cards/request-view.js';
import { approvalCard, listMessage } from '../../cards/slack/messages.js';
import { FIELD, VIEW, denyModal, durationOptions, extendModal, requestModal, type RequestChoice } from '../../cards/slack/modals.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { flowsFor, offeredItems } from '../../core/policy.js';
import type { Actor } from '../../core/types.js';
import { cancelRequest } from '../../handlers/cancel.js';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { decide } from '../../handlers/decide.js';
import { extendAccess } from '../../handlers/extend.js';
import { loadRequest } from '../../handlers/load-request.js';
import { listApprovals, listMine } from '../../handlers/queries.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { helpText, parseCommand, type ChatCommand } from '../commands.js';
import { SlackHome } from './home.js';
import { SlackIdentities } from './identity.js';
import { SlackNotifier } from './notifier.js';
import { FastifySlackReceiver } from './receiver.js';

export interface SlackOptions {
  server: FastifyInstance;
  signingSecret: string;
  botToken: string;
  /** Slack Web API base, e.g. https://slack.com/api/ (SLACK_API_URL points it at a double). */
  apiUrl?: string;
  log: Logger;
  ctx: LatchContext;
}

const NO_EMAIL = "Latch couldn't find an e-mail address on your Slack profile, so it doesn't know who you are. Ask your Slack admin to add one, then try again.";
const SORRY = 'Something went wrong on our side; nothing was changed. Please try again, and tell an admin if it keeps happening.';

function boltLogger(log: Logger): SlackLogger {
  const text = (parts: unknown[]): string => parts.map(String).join(' ');
  return {
    debug: () => {}, info: () => {}, setLevel: () => {}, getLevel: () => LogLevel.WARN, setName: () => {},
    warn: (...parts: unknown[]) => log.warn({}, `slack: ${text(parts)}`),
    error: (...parts: unknown[]) => log.error({}, `slack: ${text(parts)}`),
  };
}

/** Everything this person may ask for, as modal choices. */
function choicesFor(ctx: LatchContext, email: string): { choices: RequestChoice[]; maxMs: number; reasonRequired: boolean } {
  const { config, directory } = ctx.current();
  const flows = flowsFor(config, email, directory);
  const choices = new Map<string, RequestChoice>();
  for (const flow of flows) {
    for (const item of offeredItems(config, flow)) {
      const value = `item:${item.integration}/${item.resource}/${item.permission}`;
      choices.set(value, { value, label: `${item.resource} · ${item.permission} (${item.integration})` });
    }
    for (const entry of flow.access) if ('bundle' in entry) choices.set(`bundle:${entry.bundle}`, { value: `bundle:${entry.bundle}`, label: `Bundle: ${entry.bundle}` });
  }
  return {
    choices: [...choices.values()],
    maxMs: Math.max(0, ...flows.map((flow) => flow.duration.max)),
    reasonRequired: flows.length > 0 && flows.every((flow) => flow.justification === 'required'),
  };
}

function targetFromChoice(value: string): { resource?: string; permission?: string; bundle?: string } {
  if (value.startsWith('bundle:')) return { bundle: value.slice(7) };
  const [integration, resource, permission] = value.replace(/^item:/, '').split('/');
  return { resource: `${integration ?? ''}/${resource ?? ''}`, permission: permission ?? '' };
}

const FIELD_OF: Record<string, string> = {
  duration_over_max: FIELD.duration.block, duration_invalid: FIELD.duration.block,
  justification_required: FIELD.reason.block, reason_too_long: FIELD.reason.block,
};

/**
 * The Slack adapter: verify, acknowledge at once, then turn each command, click or form
 * into one handler call and render its answer. No policy and no state writes here.
 */
export function createSlackApp(options: SlackOptions): { app: App; notifier: SlackNotifier; identities: SlackIdentities; home: SlackHome } {
  const { log } = options;
  const clientOptions = { slackApiUrl: options.apiUrl ?? 'https://slack.com/api/', retryConfig: { retries: 3, factor: 2, minTimeout: 250, maxTimeout: 4_000 } };
  const client = new WebClient(options.botToken, clientOptions);
  const receiver = new FastifySlackReceiver({ server: options.server, signingSecret: options.signingSecret, log });
  const app = new App({ token: options.botToken, receiver, clientOptions, logger: boltLogger(log), tokenVerificationEnabled: false, ignoreSelf: false });
  const ctx = (): LatchContext => options.ctx;
  const people = new SlackIdentities(client, options.ctx.store, log, () => ctx().now());
  const home = new SlackHome(client, options.ctx);
  const notifier = new SlackNotifier({ client, store: options.ctx.store, identities: people, home, current: () => ctx().current(), now: () => ctx().now(), log });

  async function actorFor(userId: string, deliveryId?: string): Promise<Actor | null> {
    const email = await people.emailOf(userId);
    return email ? { email, via: 'slack', ...(deliveryId ? { deliveryId } : {}) } : null;
  }

  async function tell(respond: RespondFn | undefined, userId: string, text: string): Promise<void> {
    if (respond) await respond({ response_type: 'ephemeral', replace_original: false, text });
    else await client.chat.postMessage({ channel: userId, text });
  }

  async function openRequestModal(triggerId: string, actor: Actor, prefill: Extract<ChatCommand, { kind: 'request' }>, respond: RespondFn): Promise<void> {
    const { choices, maxMs, reasonRequired } = choicesFor(ctx(), actor.email);
    if (choices.length === 0) {
      await respond({ response_type: 'ephemeral', text: 'No access flow lets you request anything yet. Ask an admin to add you to one.' });
      return;
    }
    const matches = (choice: RequestChoice): boolean => {
      const [, path = ''] = choice.value.split(':', 2);
      const [integration, resource, permission] = path.split('/');
      const named = prefill.resource === resource || prefill.resource === `${integration ?? ''}/${resource ?? ''}`;
      return named && (prefill.permission === undefined || prefill.permission === permission);
    };
    const wanted = prefill.bundle ? `bundle:${prefill.bundle}` : prefill.resource ? choices.find(matches)?.value : undefined;
    const durations = durationOptions(maxMs, parseDuration);
    let typed = prefill.durationMs !== undefined ? durations.find((option) => parseDuration(option.value ?? '') === prefill.durationMs)?.value : undefined;
    if (!typed && prefill.durationMs !== undefined && prefill.durationMs <= maxMs) {
      // Keep what was typed (e.g. 90m) even when it is not one of the usual choices.
      typed = formatDuration(prefill.durationMs);
      durations.push({ text: { type: 'plain_text', text: typed }, value: typed });
    }
    await client.views.open({
      trigger_id: triggerId,
      view: requestModal({
        choices, durations, reasonRequired, privateMetadata: '',
        ...(wanted ? { initialChoice: wanted } : {}),
        ...(typed ?? durations[0]?.value ? { initialDuration: typed ?? durations[0]?.value } : {}),
        ...(prefill.reason ? { initialReason: prefill.reason } : {}),
      }),
    });
  }

  app.command('/access', async ({ command, ack, respond }) => {
    await ack();
    const parsed = parseCommand(command.text, '/access ');
    const actor = await actorFor(command.user_id, `slack:command:${command.trigger_id}`);
    if (!actor) return void (await respond({ response_type: 'ephemeral', text: NO_EMAIL }));
    try {
      await runCommand(parsed, actor, command.trigger_id, respond);
    } catch (error) {
      log.error({ err: error instanceof Error ? error.message : String(error), user: actor.email }, 'Slack command failed');
      await respond({ response_type: 'ephemeral', text: SORRY });
    }
  });

  async function runCommand(parsed: ChatCommand, actor: Actor, triggerId: string, respond: RespondFn): Promise<void> {
    const { config, directory } = ctx().current();
    const now = ctx().now();
    const say = (text: string): Promise<unknown> => respond({ response_type: 'ephemeral', text });
    switch (parsed.kind) {
      case 'help': return void (await say(helpText('/access ')));
      case 'invalid': return void (await say(parsed.message));
      case 'request': {
        const complete = (parsed.resource && parsed.permission) || parsed.bundle;
        if (!complete) return openRequestModal(triggerId, actor, parsed, respond);
        const result = await requestAccess(ctx(), actor, parsed);
        if (result.ok) return void (await say(`${result.autoApproved ? 'Approved automatically' : 'Sent for approval'}: *${result.record.request.id}*. I'll message you as it moves.`));
        if (result.reason === 'duplicate_delivery') return;
        if (result.reason === 'justification_required') return openRequestModal(triggerId, actor, parsed, respond);
        return void (await say(`${result.message}\nUsage: \`/access request [resource] [permission] [for DURATION] [because REASON]\``));
      }
      case 'list': {
        const mine = await listMine(ctx(), actor);
        return void (await respond({ response_type: 'ephemeral', ...listMessage(mine.map((record) => requestView(record, config, directory, now))) }));
      }
      case 'approvals': {
        const waiting = await listApprovals(ctx(), actor);
        if (waiting.length === 0) return void (await say('Nothing is waiting for your decision.'));
        const cards = waiting.slice(0, 8).map((record) => approvalCard(requestView(record, config, directory, now), true));
        return void (await respond({ response_type: 'ephemeral', text: `${waiting.length} request(s) wait for you.`, blocks: cards.flatMap((card) => card.blocks).slice(0, 50) }));
      }
      case 'extend': {
        const result = await extendAccess(ctx(), actor, parsed.id, parsed.durationMs, parsed.reason);
        if (result.ok) return void (await say(result.autoApproved ? `${parsed.id} now ends later. ` : `Extension *${result.extension.request.id}* was sent for approval.`));
        if (result.reason !== 'duplicate_delivery') await say(result.message);
        return;
      }
      case 'revoke': {
        const result = await revokeAccess(ctx(), actor, parsed.id, parsed.reason);
        if (result.ok) return void (await say(`Revoking ${parsed.id} now.`));
        if (result.reason !== 'duplicate_delivery') await say(result.message);
        return;
      }
      case 'cancel': {
        const result = await cancelRequest(ctx(), actor, parsed.id);
        if (result.ok) return void (await say(`Cancelled ${parsed.id}.`));
        if (result.reason !== 'duplicate_delivery') await say(result.message);
        return;
      }
      case 'emergency':
        return void (await say('Emergency (break-glass) access is not enabled in this Latch yet. Request access the usual way, or ask an admin.'));
      case 'audit': {
        if (!directory.isAdmin(actor.email)) return void (await say('Only Latch admins can read the audit log.'));
        const events = (await ctx().store.auditEvents({})).slice(-parsed.limit);
        const lines = events.map((event) => `#${event.seq} ${new Date(event.at).toISOString()} ${event.type} ${event.requestId ?? ''} by ${event.actor}`);
        return void (await say(lines.length > 0 ? `\`\`\`${lines.join('\n').slice(0, 3800)}\`\`\`` : 'The audit log is empty.'));
      }
    }
  }

  app.action<BlockAction<ButtonAction>>(/^latch\.(approve|deny|cancel|revoke|extend)$/, async ({ ack, body, action, respond }) => {
    await ack();
    const requestId = action.value ?? '';
    const userId = body.user.id;
    const reply = body.response_url ? respond : undefined;
    const actor = await actorFor(userId, `slack:action:${body.trigger_id}:${action.action_ts}`);
    if (!actor) return tell(reply, userId, NO_EMAIL);
    try {
      switch (action.action_id) {
        case 'latch.approve': {
          const result = await decide(ctx(), actor, requestId, 'approve');
          if (result.ok) return tell(reply, userId, result.result === 'approved' ? `You approved ${result.record.request.id}.` : `You approved ${result.record.request.id}; it now needs more approvals.`);
          if (result.reason !== 'duplicate_delivery') await tell(reply, userId, result.message);
          return;
        }
        case 'latch.deny': {
          const loaded = await loadRequest(ctx(), requestId);
          if (!loaded.ok) return tell(reply, userId, loaded.message);
          const { config, directory } = ctx().current();
          await client.views.open({ trigger_id: body.trigger_id, view: denyModal(loaded.record.request.id, requestView(loaded.record, config, directory, ctx().now()).title) });
          return;
        }
        case 'latch.cancel': {
          const result = await cancelRequest(ctx(), actor, requestId);
          if (result.ok) return tell(reply, userId, `Cancelled ${result.record.request.id}.`);
          if (result.reason !== 'duplicate_delivery') await tell(reply, userId, result.message);
          return;
        }
        case 'latch.revoke': {
          const result = await revokeAccess(ctx(), actor, requestId);
          if (result.ok) return tell(reply, userId, `Revoking ${result.record.request.id} now.`);
          if (result.reason !== 'duplicate_delivery') await tell(reply, userId, result.message);
          return;
        }
        case 'latch.extend': {
          const loaded = await loadRequest(ctx(), requestId);
          if (!loaded.ok) return tell(reply, userId, loaded.message);
          const { config, directory } = ctx().current();
          const flow = config.flows.find((candidate) => candidate.name === loaded.record.request.flow);
          if (!flow) return tell(reply, userId, `Flow "${loaded.record.request.flow}" no longer exists, so this access cannot be extended.`);
          const view = requestView(loaded.record, config, directory, ctx().now());
          await client.views.open({ trigger_id: body.trigger_id, view: extendModal(view.id, view.title, durationOptions(flow.duration.max, parseDuration), flow.justification === 'required') });
          return;
        }
      }
    } catch (error) {
      log.error({ err: error instanceof Error ? error.message : String(error), action: action.action_id }, 'Slack action failed');
      await tell(reply, userId, SORRY);
    }
  });

  const valueOf = (view: ViewSubmitAction['view'], field: { block: string; action: string }): string | undefined => {
    const entry = view.state.values[field.block]?.[field.action];
    return entry?.selected_option?.value ?? entry?.value ?? undefined;
  };

  app.view<ViewSubmitAction>(VIEW.request, async ({ ack, body, view }) => {
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if (!actor) return void (await ack({ response_action: 'errors', errors: { [FIELD.target.block]: NO_EMAIL } }));
    const choice = valueOf(view, FIELD.target) ?? '';
    const durationText = valueOf(view, FIELD.duration);
    const durationMs = durationText ? parseDuration(durationText) ?? undefined : undefined;
    const result = await requestAccess(ctx(), actor, { ...targetFromChoice(choice), ...(durationMs !== undefined ? { durationMs } : {}), ...(valueOf(view, FIELD.reason) ? { reason: valueOf(view, FIELD.reason) } : {}) });
    if (!result.ok && result.reason !== 'duplicate_delivery') {
      return void (await ack({ response_action: 'errors', errors: { [FIELD_OF[result.reason] ?? FIELD.target.block]: result.message } }));
    }
    await ack();
  });

  app.view<ViewSubmitAction>(VIEW.denyReason, async ({ ack, body, view }) => {
    await ack();
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if (!actor) return void (await client.chat.postMessage({ channel: body.user.id, text: NO_EMAIL }));
    const result = await decide(ctx(), actor, view.private_metadata, 'deny', valueOf(view, FIELD.reason));
    const text = result.ok ? `You denied ${result.record.request.id}.` : result.reason === 'duplicate_delivery' ? null : result.message;
    if (text) await client.chat.postMessage({ channel: body.user.id, text });
  });

  app.view<ViewSubmitAction>(VIEW.extend, async ({ ack, body, view }) => {
    const actor = await actorFor(body.user.id, `slack:view:${body.trigger_id}`);
    if (!actor) return void (await ack({ response_action: 'errors', errors: { [FIELD.duration.block]: NO_EMAIL } }));
    const durationMs = parseDuration(valueOf(view, FIELD.duration) ?? '') ?? 0;
    const result = await extendAccess(ctx(), actor, view.private_metadata, durationMs, valueOf(view, FIELD.reason));
    if (!result.ok && result.reason !== 'duplicate_delivery') {
      return void (await ack({ response_action: 'errors', errors: { [result.reason === 'duration_over_max' || result.reason === 'duration_invalid' ? FIELD.duration.block : FIELD.reason.block]: result.message } }));
    }
    await ack();
    if (result.ok) await client.chat.postMessage({ channel: body.user.id, text: result.autoApproved ? `${result.record.request.id} was extended.` : `Extension ${result.extension.request.id} was sent for approval.` });
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    const email = await people.emailOf(event.user);
    if (email) await home.publish(event.user, email);
  });

  return { app, notifier, identities: people, home };
}
