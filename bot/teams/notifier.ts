import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import { attachment, type AdaptiveCard } from '../../cards/teams/adaptive.js';
import { approvalCard, credentialsCard, credentialsRemovedCard, requesterCard, threadReply } from '../../cards/teams/cards.js';
import { reviewCard } from '../../cards/teams/review.js';
import { requestView, type RequestView } from '../../cards/request-view.js';
import { isSecurityChannel } from '../../core/emergency.js';
import { currentApprovers } from '../../core/policy.js';
import type { RequestRecord } from '../../core/types.js';
import type { ActiveConfig, Logger } from '../../handlers/context.js';
import type { CredentialDelivery, Notification, NotificationEvent, Notifier } from '../../handlers/notifier.js';
import type { ChatMessage, Store } from '../../storage/store.js';
import { TEAMS, type TeamsIdentities } from './identity.js';
import { withTeamsRetry } from './retry.js';

const ASK_APPROVERS: readonly NotificationEvent[] = ['approval_requested', 'approval_reminder', 'extension_requested'];
const ENDED: readonly NotificationEvent[] = ['expired', 'revoked'];
const ASK_REVIEWERS: readonly NotificationEvent[] = ['review_requested', 'review_reminder'];

export interface TeamsNotifierDeps {
  adapter: CloudAdapter;
  appId: string;
  store: Store;
  people: TeamsIdentities;
  current(): ActiveConfig;
  now(): number;
  log: Logger;
  /** Where Teams channel conversations are reached when no user reference says otherwise. */
  defaultServiceUrl: string;
}

/**
 * Proactive Teams messages: approval cards, updates of every copy, requester news and
 * credentials. A channel gets one card per request, and every change as a reply to it.
 */
export class TeamsNotifier implements Notifier {
  constructor(private readonly deps: TeamsNotifierDeps) {}

  private view(record: RequestRecord): RequestView {
    const { config, directory } = this.deps.current();
    return requestView(record, config, directory, this.deps.now());
  }

  /** Teams ids of the people who may decide now: `refresh` shows them their buttons. */
  async approverIds(record: RequestRecord): Promise<string[]> {
    const { config, directory } = this.deps.current();
    const ids = await Promise.all([...currentApprovers(config, directory, record.request, record.grants, record.decisions)].map((email) => this.deps.people.userIdOf(email)));
    return ids.filter((id): id is string => id !== null);
  }

  private async withConversation(reference: Partial<ConversationReference>, work: (context: TurnContext) => Promise<void>): Promise<void> {
    await withTeamsRetry(() => this.deps.adapter.continueConversationAsync(this.deps.appId, reference, work));
  }

  private async send(reference: Partial<ConversationReference>, content: AdaptiveCard, summary: string): Promise<string> {
    let id = '';
    await this.withConversation(reference, async (context) => {
      const sent = await context.sendActivity({ type: 'message', summary, attachments: [attachment(content)] });
      id = sent?.id ?? '';
    });
    if (!id) throw new Error('Teams accepted the message without an id');
    return id;
  }

  private channelReference(channelId: string, like: Partial<ConversationReference> | null): Partial<ConversationReference> {
    return {
      channelId: 'msteams', serviceUrl: like?.serviceUrl ?? this.deps.defaultServiceUrl,
      conversation: { id: channelId, isGroup: true, conversationType: 'channel', name: '', ...(like?.conversation?.tenantId ? { tenantId: like.conversation.tenantId } : {}) },
      bot: { id: `28:${this.deps.appId}`, name: 'Latch' },
    };
  }

  private async record(requestId: string, conversationId: string, activityId: string, recipient: string | null, purpose: string): Promise<void> {
    await this.deps.store.recordMessage({ requestId, platform: TEAMS, channel: conversationId, messageId: activityId, recipient, purpose, createdAt: this.deps.now() });
  }

  async notify(notification: Notification): Promise<void> {
    const { record, event } = notification;
    const sent = (await this.deps.store.messagesFor(record.request.id)).filter((message) => message.platform === TEAMS);
    const view = this.view(record);
    const requester = await this.deps.people.addressOf(record.request.requester);

    if (ASK_APPROVERS.includes(event)) {
      const purpose = `approval:${notification.key}`;
      const approverIds = await this.approverIds(record);
      const unreachable: string[] = [];
      for (const email of notification.recipients) {
        if (sent.some((message) => message.recipient === email && message.purpose === purpose)) continue;
        const address = await this.deps.people.addressOf(email);
        if (!address) {
          unreachable.push(email);
          continue;
        }
        const id = await this.send(address.reference, approvalCard(view, { decidable: true, approverIds }), notification.text);
        await this.record(record.request.id, address.reference.conversation?.id ?? '', id, email, purpose);
      }
      const channels = notification.channels.filter((target) => target.platform === 'teams');
      await this.tellChannels(notification, view, sent, requester?.reference ?? null, true);
      if (unreachable.length > 0 && requester && !sent.some((message) => message.purpose === `unreachable:${notification.key}`)) {
        const where = channels.length > 0 ? 'The request was posted in the approvals channel instead.' : 'Ask them to open Latch in Teams once, or remind them yourself.';
        const id = await this.send(requester.reference, requesterCard(view, event, `Latch could not reach ${unreachable.join(', ')} in Teams. ${where}`), 'Some approvers could not be reached');
        await this.record(record.request.id, requester.reference.conversation?.id ?? '', id, record.request.requester, `unreachable:${notification.key}`);
      }
      return;
    }

    if (ASK_REVIEWERS.includes(event)) {
      // The review task (and each reminder) is a card of its own in each reviewer's chat.
      const purpose = `review:${notification.key}`;
      for (const email of notification.recipients) {
        if (sent.some((message) => message.recipient === email && message.purpose === purpose)) continue;
        const address = await this.deps.people.addressOf(email);
        if (!address) continue;
        const id = await this.send(address.reference, reviewCard(view), notification.text);
        await this.record(record.request.id, address.reference.conversation?.id ?? '', id, email, purpose);
      }
      return;
    }
    if (event === 'reviewed') {
      for (const message of sent.filter((candidate) => candidate.purpose.startsWith('review:'))) await this.update(message, reviewCard(view));
    }

    await this.updateCards(record, view, sent);
    const purpose = `update:${notification.key}`;
    for (const email of notification.recipients) {
      if (sent.some((message) => message.recipient === email && message.purpose === purpose)) continue;
      const address = await this.deps.people.addressOf(email);
      if (!address) continue;
      const id = await this.send(address.reference, requesterCard(view, event, notification.text), notification.text);
      await this.record(record.request.id, address.reference.conversation?.id ?? '', id, email, purpose);
    }
    // After the DMs: a channel Latch cannot post in makes the job retry, and the people were told already.
    await this.tellChannels(notification, view, sent, requester?.reference ?? null, false);
    if (ENDED.includes(event)) await this.scrubCredentials(view, sent);
  }

  /**
   * The request's card in each channel (posted now if the channel has none yet: a request
   * nobody had to approve gets one at its first change), then the event as a reply to it:
   * sent to the conversation `<channel>;messageid=<card>`, which Teams threads under the card.
   */
  private async tellChannels(notification: Notification, view: RequestView, sent: ChatMessage[], like: Partial<ConversationReference> | null, asking: boolean): Promise<void> {
    const { record, key, history } = notification;
    for (const channel of notification.channels.filter((target) => target.platform === 'teams')) {
      const recipient = `#${channel.id}`;
      let card = sent.find((message) => message.recipient === recipient && message.purpose.startsWith('approval:'));
      if (!card) {
        const id = await this.send(this.channelReference(channel.id, like), approvalCard(view, { decidable: true, approverIds: await this.approverIds(record), ...this.audience(record, channel.id) }), notification.text);
        card = { requestId: record.request.id, platform: TEAMS, channel: channel.id, messageId: id, recipient, purpose: `approval:${key}`, createdAt: this.deps.now() };
        await this.deps.store.recordMessage(card);
        if (asking) continue; // the card is the ask; its thread starts with the first change
      }
      const purpose = `thread:${key}`;
      if (history === null || sent.some((message) => message.recipient === recipient && message.purpose === purpose)) continue;
      const thread = `${card.channel};messageid=${card.messageId}`;
      let id = '';
      await this.withConversation(this.channelReference(thread, like), async (context) => {
        id = (await context.sendActivity(threadReply(history)))?.id ?? '';
      });
      if (!id) throw new Error('Teams accepted the reply without an id');
      await this.record(record.request.id, thread, id, recipient, purpose);
    }
  }

  private async update(message: ChatMessage, content: AdaptiveCard): Promise<void> {
    const owner = message.recipient && !message.recipient.startsWith('#') ? await this.deps.people.addressOf(message.recipient) : null;
    const reference = owner?.reference.conversation?.id === message.channel ? owner.reference : this.channelReference(message.channel, owner?.reference ?? null);
    await this.withConversation(reference, async (context) => {
      await context.updateActivity({ type: 'message', id: message.messageId, conversation: { id: message.channel, isGroup: false, conversationType: '', name: '' }, attachments: [attachment(content)] });
    });
  }

  /** Every copy of the approval card shows the current state; buttons stay only for whoever can still decide. */
  private async updateCards(record: RequestRecord, view: RequestView, sent: ChatMessage[]): Promise<void> {
    const { config, directory } = this.deps.current();
    const deciders = currentApprovers(config, directory, record.request, record.grants, record.decisions);
    const approverIds = await this.approverIds(record);
    for (const message of sent.filter((candidate) => candidate.purpose.startsWith('approval:'))) {
      const decidable = message.recipient !== null && (message.recipient.startsWith('#') || deciders.has(message.recipient));
      await this.update(message, approvalCard(view, { decidable, approverIds, ...(message.recipient?.startsWith('#') ? this.audience(record, message.channel) : {}) }));
    }
  }

  /** A security channel of an emergency flow gets the security notice rather than the plain announcement. */
  private audience(record: RequestRecord, channelId: string): { audience?: 'security' } {
    return isSecurityChannel(this.deps.current().config, record.request.context?.emergency, 'teams', channelId) ? { audience: 'security' } : {};
  }

  private async scrubCredentials(view: RequestView, sent: ChatMessage[]): Promise<void> {
    for (const message of sent.filter((candidate) => candidate.purpose === 'credentials')) await this.update(message, credentialsRemovedCard(view));
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    const address = await this.deps.people.addressOf(delivery.grantee, delivery.accounts);
    if (!address) throw new Error(`${delivery.grantee} has no Teams chat with Latch to receive the credentials`);
    const view = this.view(delivery.record);
    const id = await this.send(address.reference, credentialsCard(view, delivery.items), `Access granted: ${view.title}`);
    await this.record(delivery.record.request.id, address.reference.conversation?.id ?? '', id, delivery.grantee, 'credentials');
    return { delivered: true, where: `teams:${address.reference.conversation?.id ?? ''}` };
  }
}
