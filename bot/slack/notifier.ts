import type { WebClient } from '@slack/web-api';
import { isSecurityChannel } from '../../core/emergency.js';
import { currentApprovers } from '../../core/policy.js';
import type { RequestRecord } from '../../core/types.js';
import { requestView, type RequestView } from '../../cards/request-view.js';
import { approvalCard, credentialsMessage, credentialsRemovedMessage, requesterUpdate, threadReply, type SlackMessage } from '../../cards/slack/messages.js';
import { reviewCard } from '../../cards/slack/review.js';
import type { ActiveConfig, Logger } from '../../handlers/context.js';
import type { CredentialDelivery, Notification, NotificationEvent, Notifier } from '../../handlers/notifier.js';
import type { ChatMessage, Store } from '../../storage/store.js';
import type { SlackHome } from './home.js';
import type { SlackIdentities } from './identity.js';

const ASK_APPROVERS: readonly NotificationEvent[] = ['approval_requested', 'approval_reminder', 'extension_requested'];
const ENDED: readonly NotificationEvent[] = ['expired', 'revoked'];
const ASK_REVIEWERS: readonly NotificationEvent[] = ['review_requested', 'review_reminder'];
const PURPOSE = { approval: 'approval', credentials: 'credentials', update: 'update', thread: 'thread' } as const;

export interface SlackNotifierDeps {
  client: WebClient;
  store: Store;
  identities: SlackIdentities;
  home: SlackHome;
  current(): ActiveConfig;
  now(): number;
  log: Logger;
}

/**
 * Tells people in Slack. Approval cards go to each approver's DM (and the routed
 * channels); each copy is recorded so every later state change edits it in place. A
 * channel gets one card per request, and every change as a reply in its thread.
 */
export class SlackNotifier implements Notifier {
  constructor(private readonly deps: SlackNotifierDeps) {}

  private view(record: RequestRecord): RequestView {
    const { config, directory } = this.deps.current();
    return requestView(record, config, directory, this.deps.now());
  }

  private async post(channel: string, message: SlackMessage): Promise<{ channel: string; ts: string }> {
    const answer = await this.deps.client.chat.postMessage({ channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false });
    if (!answer.ts || !answer.channel) throw new Error('Slack answered chat.postMessage without a message id');
    return { channel: answer.channel, ts: answer.ts };
  }

  private async record(requestId: string, where: { channel: string; ts: string }, recipient: string | null, purpose: string): Promise<void> {
    await this.deps.store.recordMessage({ requestId, platform: 'slack', channel: where.channel, messageId: where.ts, recipient, purpose, createdAt: this.deps.now() });
  }

  /** A notification job may run again after a crash; a copy already posted for the same key is not posted twice. */
  private alreadySent(sent: ChatMessage[], recipient: string | null, purpose: string): boolean {
    return sent.some((message) => message.recipient === recipient && message.purpose === purpose);
  }

  async notify(notification: Notification): Promise<void> {
    const { record, event } = notification;
    const { request } = record;
    const sent = (await this.deps.store.messagesFor(request.id)).filter((message) => message.platform === 'slack');
    const view = this.view(record);

    if (ASK_REVIEWERS.includes(event)) {
      // The review task (and each reminder) is a message of its own in each reviewer's DM.
      const purpose = `review:${notification.key}`;
      for (const email of notification.recipients) {
        if (this.alreadySent(sent, email, purpose)) continue;
        const userId = await this.deps.identities.userIdOf(email);
        if (userId) await this.record(request.id, await this.post(userId, reviewCard(view)), email, purpose);
      }
      return;
    }
    if (event === 'reviewed') {
      for (const message of sent.filter((candidate) => candidate.purpose.startsWith('review:'))) {
        const card = reviewCard(view);
        await this.deps.client.chat.update({ channel: message.channel, ts: message.messageId, text: card.text, blocks: card.blocks });
      }
    }
    if (ASK_APPROVERS.includes(event)) {
      const purpose = `${PURPOSE.approval}:${notification.key}`;
      for (const email of notification.recipients) {
        if (this.alreadySent(sent, email, purpose)) continue;
        const userId = await this.deps.identities.userIdOf(email);
        if (!userId) {
          this.deps.log.warn({ requestId: request.id, approver: email }, 'approver has no Slack account; the card was not sent');
          continue;
        }
        await this.record(request.id, await this.post(userId, approvalCard(view, true)), email, purpose);
      }
      await this.tellChannels(notification, view, sent, true);
    } else {
      await this.updateCards(record, view, sent);
      const purpose = `${PURPOSE.update}:${notification.key}`;
      for (const email of notification.recipients) {
        if (this.alreadySent(sent, email, purpose)) continue;
        const userId = await this.deps.identities.userIdOf(email);
        if (!userId) continue;
        await this.record(request.id, await this.post(userId, requesterUpdate(view, event, notification.text)), email, purpose);
      }
      // After the DMs: a channel Latch cannot post in makes the job retry, and the people were told already.
      await this.tellChannels(notification, view, sent, false);
      if (ENDED.includes(event)) await this.scrubCredentials(view, sent);
    }
    await this.refreshHomes(record, notification.recipients);
  }

  /**
   * The request's card in each channel (posted now if the channel has none yet: a request
   * nobody had to approve gets one at its first change), then the event in its thread.
   */
  private async tellChannels(notification: Notification, view: RequestView, sent: ChatMessage[], asking: boolean): Promise<void> {
    const { record, key, history } = notification;
    for (const channel of notification.channels.filter((target) => target.platform === 'slack')) {
      const recipient = `#${channel.id}`;
      let card = sent.find((message) => message.recipient === recipient && message.purpose.startsWith(`${PURPOSE.approval}:`));
      if (!card) {
        // Buttons show while the request waits, as on every channel copy (see updateCards).
        const where = await this.post(channel.id, approvalCard(view, true, this.audience(record, channel.id)));
        card = { requestId: record.request.id, platform: 'slack', channel: where.channel, messageId: where.ts, recipient, purpose: `${PURPOSE.approval}:${key}`, createdAt: this.deps.now() };
        await this.deps.store.recordMessage(card);
        if (asking) continue; // the card is the ask; its thread starts with the first change
      }
      const purpose = `${PURPOSE.thread}:${key}`;
      if (history === null || this.alreadySent(sent, recipient, purpose)) continue;
      const answer = await this.deps.client.chat.postMessage({ channel: card.channel, thread_ts: card.messageId, ...threadReply(history), unfurl_links: false, unfurl_media: false });
      if (!answer.ts || !answer.channel) throw new Error('Slack answered chat.postMessage without a message id');
      await this.record(record.request.id, { channel: answer.channel, ts: answer.ts }, recipient, purpose);
    }
  }

  /** Every copy of the approval card shows the current state; buttons stay only where their reader can still decide. */
  private async updateCards(record: RequestRecord, view: RequestView, sent: ChatMessage[]): Promise<void> {
    const { config, directory } = this.deps.current();
    const deciders = currentApprovers(config, directory, record.request, record.grants, record.decisions);
    for (const message of sent.filter((candidate) => candidate.purpose.startsWith(`${PURPOSE.approval}:`))) {
      const decidable = message.recipient !== null && (message.recipient.startsWith('#') || deciders.has(message.recipient));
      const card = approvalCard(view, decidable, message.recipient?.startsWith('#') ? this.audience(record, message.channel) : undefined);
      await this.deps.client.chat.update({ channel: message.channel, ts: message.messageId, text: card.text, blocks: card.blocks });
    }
  }

  /** A security channel of an emergency flow gets the security notice rather than the plain announcement. */
  private audience(record: RequestRecord, channelId: string): 'security' | undefined {
    return isSecurityChannel(this.deps.current().config, record.request.context?.emergency, 'slack', channelId) ? 'security' : undefined;
  }

  private async scrubCredentials(view: RequestView, sent: ChatMessage[]): Promise<void> {
    for (const message of sent.filter((candidate) => candidate.purpose === PURPOSE.credentials)) {
      const replacement = credentialsRemovedMessage(view);
      await this.deps.client.chat.update({ channel: message.channel, ts: message.messageId, text: replacement.text, blocks: replacement.blocks });
    }
  }

  private async refreshHomes(record: RequestRecord, recipients: string[]): Promise<void> {
    const people = new Set([record.request.requester, record.request.grantee, ...recipients, ...record.decisions.map((decision) => decision.approver)]);
    for (const email of people) {
      const userId = await this.deps.identities.userIdOf(email);
      if (userId) await this.deps.home.publish(userId, email).catch((error: unknown) => this.deps.log.warn({ err: String(error) }, 'could not refresh an App Home'));
    }
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    const userId = await this.deps.identities.userIdOf(delivery.grantee, delivery.accounts);
    if (!userId) throw new Error(`${delivery.grantee} has no Slack account to receive the credentials`);
    const where = await this.post(userId, credentialsMessage(this.view(delivery.record), delivery.items));
    await this.record(delivery.record.request.id, where, delivery.grantee, PURPOSE.credentials);
    return { delivered: true, where: `slack:${where.channel}` };
  }
}
