import { ActivityTypes, TurnContext, type Activity } from 'botbuilder';
import { attachment, type AdaptiveCard } from '../../cards/teams/adaptive.js';
import { approvalCard, confirmationCard, overlapCard, requestFormCard, VERB } from '../../cards/teams/cards.js';
import { REVIEW_VERB, reviewCard } from '../../cards/teams/review.js';
import { DISCOVERY_VERB, discoveryConfirmCard, discoveryDetailCard, discoveryListCard } from '../../cards/teams/discovery.js';
import { reviewEmergency } from '../../handlers/emergency-review.js';
import { requestView } from '../../cards/request-view.js';
import { parseDuration } from '../../core/duration.js';
import { currentApprovers } from '../../core/policy.js';
import type { Actor, RequestRecord } from '../../core/types.js';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { extendAccess } from '../../handlers/extend.js';
import { loadRequest } from '../../handlers/load-request.js';
import { showRequest } from '../../handlers/queries.js';
import { requestAccess } from '../../handlers/request-access.js';
import { requestAnswer, runButton, runCommand, runDiscoveryDetail, runDiscoveryRemediate, type CommandReply } from '../command-runner.js';
import { parseCommand, type ChatCommand } from '../commands.js';
import { choiceFor, fieldOf, formInput, formOptions, reasonPromptForChoice } from '../request-form.js';
import type { TeamsIdentities } from './identity.js';

const NO_EMAIL = "Latch couldn't find your e-mail address in Teams, so it doesn't know who you are. Ask an admin to check your account.";
const SORRY = 'Something went wrong on our side; nothing was changed. Please try again, and tell an admin if it keeps happening.';

interface ActionValue {
  action?: { type?: string; verb?: string; data?: Record<string, unknown> };
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The Teams turn: commands typed in the personal chat or by @mention, and Universal
 * Action invokes answered with the card to show. Everything acts through the handlers.
 */
export class TeamsBot {
  constructor(private readonly ctx: LatchContext, private readonly people: TeamsIdentities, private readonly log: Logger, private readonly approverIdsFor: (record: RequestRecord) => Promise<string[]>) {}

  async onTurn(context: TurnContext): Promise<void> {
    const { activity } = context;
    if (activity.type === ActivityTypes.InstallationUpdate || activity.type === ActivityTypes.ConversationUpdate) {
      await this.people.identify(context); // bind the account on first sight, remember how to reach the person
      if (activity.type === ActivityTypes.InstallationUpdate && activity.action === 'add' && activity.conversation?.conversationType === 'personal') {
        await context.sendActivity('Hi, I am Latch. Type `help` to see what I can do, or `request` to ask for access.');
      }
      return;
    }
    if (activity.type === ActivityTypes.Message) return this.onMessage(context);
    if (activity.type === ActivityTypes.Invoke && activity.name === 'adaptiveCard/action') return this.onAction(context);
  }

  /** The person behind the activity, or the text that says why Latch will not act for them. */
  private async actor(context: TurnContext): Promise<Actor | { refusal: string }> {
    const who = await this.people.identify(context);
    if (!who.ok) return { refusal: who.reason === 'stopped' ? who.message : NO_EMAIL };
    return { email: who.email, via: 'teams', ...(context.activity.id ? { deliveryId: `teams:${context.activity.id}` } : {}) };
  }

  private async onMessage(context: TurnContext): Promise<void> {
    const actor = await this.actor(context);
    if ('refusal' in actor) return void (await context.sendActivity(actor.refusal));
    // A card submitted with Action.Submit in older clients arrives as a message with a value; Latch only uses Action.Execute.
    const text = TurnContext.removeRecipientMention(context.activity as Partial<Activity>)?.trim() ?? '';
    try {
      // In a channel the conversation id names the thread too (`19:…@thread.tacv2;messageid=…`); the channel is the part before it.
      const conversation = context.activity.conversation;
      const channel = conversation?.conversationType === 'channel' ? (conversation.id.split(';')[0] ?? null) : null;
      const reply = await runCommand(this.ctx, actor, parseCommand(text, ''), '', { platform: 'teams', channel });
      await this.render(context, actor, reply);
    } catch (error) {
      this.log.error({ err: error instanceof Error ? error.message : String(error), user: actor.email }, 'Teams command failed');
      await context.sendActivity(SORRY);
    }
  }

  private async render(context: TurnContext, actor: Actor, reply: CommandReply): Promise<void> {
    switch (reply.kind) {
      case 'silent': return;
      case 'text': return void (await context.sendActivity({ type: 'message', text: reply.text, textFormat: 'markdown' }));
      case 'form': return void (await context.sendActivity({ attachments: [attachment(this.form(actor, reply.prefill))] }));
      case 'overlap': return void (await context.sendActivity({ attachments: [attachment(overlapCard(reply.text, reply.extendable))] }));
      case 'list': {
        const lines = reply.views.slice(0, 40).map((view) => `- **${view.id}** ${view.title}: ${view.status}${view.timeLeft ? `, ${view.timeLeft} left` : ''}`);
        return void (await context.sendActivity({ type: 'message', textFormat: 'markdown', text: lines.length > 0 ? lines.join('\n') : 'You have no open requests and no active access. Type `request` to ask for some.' }));
      }
      case 'discovery': return void (await context.sendActivity({ attachments: [attachment(discoveryListCard(reply.view))] }));
      case 'discovery_detail': return void (await context.sendActivity({ attachments: [attachment(discoveryDetailCard(reply.view))] }));
      case 'approvals': {
        if (reply.views.length === 0) return void (await context.sendActivity('Nothing is waiting for your decision.'));
        const userId = context.activity.from.id;
        const cards = reply.views.slice(0, 5).map((view) => attachment(approvalCard(view, { decidable: true, approverIds: [userId] })));
        return void (await context.sendActivity({ attachments: cards, attachmentLayout: 'list', text: `${reply.views.length} request(s) wait for you.` }));
      }
    }
  }

  private form(actor: Actor, prefill: Extract<ChatCommand, { kind: 'request' }> | Record<string, never>, values?: { target?: string; duration?: string; reason?: string }, errors?: Partial<Record<'target' | 'duration' | 'reason', string>>): AdaptiveCard {
    const typedMs = 'durationMs' in prefill ? prefill.durationMs : undefined;
    const form = formOptions(this.ctx, actor.email, typedMs);
    const typed = typedMs !== undefined ? form.durations.find((text) => parseDuration(text) === typedMs) : undefined;
    const target = values?.target ?? choiceFor(form.choices, prefill);
    const duration = values?.duration ?? typed;
    const reason = values?.reason ?? ('reason' in prefill ? prefill.reason : undefined);
    return requestFormCard({
      choices: form.choices.map((choice) => ({ title: choice.label, value: choice.value })),
      durations: form.durations,
      reasonRequired: form.reasonRequired,
      reasonPrompt: reasonPromptForChoice(this.ctx, actor.email, target, form.reasonPrompt),
      notices: form.unavailable,
      values: { ...(target ? { target } : {}), ...(duration ? { duration } : {}), ...(reason ? { reason } : {}) },
      ...(errors ? { errors } : {}),
    });
  }

  private async answer(context: TurnContext, content: AdaptiveCard): Promise<void> {
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: content } } });
  }

  /** The approval card as this reader should see it now, with `notice` when their action was refused. */
  private async approvalFor(context: TurnContext, actor: Actor, requestId: string, notice?: string): Promise<AdaptiveCard> {
    const loaded = await loadRequest(this.ctx, requestId);
    if (!loaded.ok) return confirmationCard(notice ?? loaded.message);
    const { config, directory } = this.ctx.current();
    const record = loaded.record;
    const deciders = currentApprovers(config, directory, record.request, record.grants, record.decisions);
    const view = requestView(record, config, directory, this.ctx.now());
    return approvalCard(view, { decidable: deciders.has(actor.email), approverIds: await this.approverIdsFor(record), ...(notice ? { notice } : {}) });
  }

  private async onAction(context: TurnContext): Promise<void> {
    const value = (context.activity.value ?? {}) as ActionValue;
    const verb = value.action?.verb ?? '';
    const data = value.action?.data ?? {};
    const requestId = str(data.requestId) ?? '';
    const actor = await this.actor(context);
    if ('refusal' in actor) return this.answer(context, confirmationCard(actor.refusal));
    try {
      switch (verb) {
        case VERB.refresh: {
          // Anyone can send a refresh invoke with any id: show a request only to those who may see it.
          const visible = await showRequest(this.ctx, actor, requestId);
          if (!visible.ok) return this.answer(context, confirmationCard(visible.message));
          return this.answer(context, await this.approvalFor(context, actor, requestId));
        }
        case VERB.approve:
        case VERB.deny: {
          const reply = await runButton(this.ctx, actor, verb, requestId, str(data.reason));
          const refusal = reply.kind === 'text' && reply.refused ? reply.text : undefined;
          // A refused stranger learns why, not what the request is.
          if (refusal && !(await showRequest(this.ctx, actor, requestId)).ok) return this.answer(context, confirmationCard(refusal));
          return this.answer(context, await this.approvalFor(context, actor, requestId, refusal));
        }
        case VERB.revoke: {
          const reply = await runButton(this.ctx, actor, verb, requestId);
          const said = reply.kind === 'text' ? reply.text : 'Already done.';
          // "Revoke now" on an emergency announcement: the announcement stays, showing the new state (and a refusal, if it was one).
          const loaded = await loadRequest(this.ctx, requestId);
          if (loaded.ok && loaded.record.request.context?.emergency) return this.answer(context, await this.approvalFor(context, actor, requestId, said));
          return this.answer(context, confirmationCard(said));
        }
        case VERB.cancel:
        case VERB.activate: {
          const reply = await runButton(this.ctx, actor, verb, requestId);
          return this.answer(context, confirmationCard(reply.kind === 'text' ? reply.text : 'Already done.'));
        }
        case DISCOVERY_VERB.detail: {
          const reply = await runDiscoveryDetail(this.ctx, actor, str(data.integration) ?? '', str(data.principal) ?? '');
          return this.answer(context, reply.kind === 'discovery_detail' ? discoveryDetailCard(reply.view) : confirmationCard(reply.kind === 'text' ? reply.text : 'Already done.'));
        }
        case DISCOVERY_VERB.ask: {
          const reply = await runDiscoveryDetail(this.ctx, actor, str(data.integration) ?? '', str(data.principal) ?? '');
          return this.answer(context, reply.kind === 'discovery_detail' ? discoveryConfirmCard(reply.view) : confirmationCard(reply.kind === 'text' ? reply.text : 'Already done.'));
        }
        case DISCOVERY_VERB.remediate: {
          const reply = await runDiscoveryRemediate(this.ctx, actor, str(data.integration) ?? '', str(data.principal) ?? '');
          return this.answer(context, confirmationCard(reply.kind === 'text' ? reply.text : 'Already done.'));
        }
        case REVIEW_VERB.acknowledge:
        case REVIEW_VERB.flag: {
          const result = await reviewEmergency(this.ctx, actor, requestId, verb === REVIEW_VERB.flag ? 'flagged' : 'acknowledged', str(data.comment));
          // Someone who may not review learns why, not what the grant was.
          if (!result.ok && !['already_reviewed', 'comment_required', 'comment_too_long', 'duplicate_delivery'].includes(result.reason)) return this.answer(context, confirmationCard(result.message));
          const loaded = await loadRequest(this.ctx, requestId);
          if (!loaded.ok || !loaded.record.request.context?.emergency) return this.answer(context, confirmationCard(result.ok ? 'Reviewed.' : result.message));
          const { config, directory } = this.ctx.current();
          const view = requestView(loaded.record, config, directory, this.ctx.now());
          return this.answer(context, reviewCard(view, result.ok || result.reason === 'duplicate_delivery' ? undefined : result.message));
        }
        case VERB.extend: {
          const result = await extendAccess(this.ctx, actor, requestId, parseDuration(str(data.duration) ?? '') ?? 0, str(data.reason));
          const message = result.ok ? (result.autoApproved ? `${requestId} was extended.` : `Extension ${result.extension.request.id} was sent for approval.`) : result.reason === 'duplicate_delivery' ? 'Already done.' : result.message;
          return this.answer(context, confirmationCard(message));
        }
        case VERB.submitRequest: {
          const values = { target: str(data.target) ?? '', duration: str(data.duration), reason: str(data.reason) };
          const result = await requestAccess(this.ctx, actor, formInput(values.target, values.duration, values.reason));
          if (result.ok) return this.answer(context, confirmationCard(requestAnswer(result.record, result.autoApproved, this.ctx.current().config.settings.timeZone)));
          if (result.reason === 'duplicate_delivery') return this.answer(context, confirmationCard('Already received.'));
          const cleaned = { ...(values.target ? { target: values.target } : {}), ...(values.duration ? { duration: values.duration } : {}), ...(values.reason ? { reason: values.reason } : {}) };
          return this.answer(context, this.form(actor, {}, cleaned, { [fieldOf(result.reason)]: result.message }));
        }
        default:
          return this.answer(context, confirmationCard(`Latch does not know the action "${verb.slice(0, 40)}".`));
      }
    } catch (error) {
      this.log.error({ err: error instanceof Error ? error.message : String(error), verb }, 'Teams action failed');
      return this.answer(context, confirmationCard(SORRY));
    }
  }
}
