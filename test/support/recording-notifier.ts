import type { CredentialDelivery, Notification, Notifier } from '../../handlers/notifier.js';

/** Keeps what Latch would have said, so tests assert on the recipient and the words. */
export class RecordingNotifier implements Notifier {
  readonly notifications: Notification[] = [];
  readonly deliveries: CredentialDelivery[] = [];
  /** Everything in the order it happened: `notify:<event>:<request>`, `credentials:<request>`. */
  readonly sequence: string[] = [];
  failDeliveries = 0;

  async notify(notification: Notification): Promise<void> {
    this.notifications.push(notification);
    this.sequence.push(`notify:${notification.event}:${notification.record.request.id}`);
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    if (this.failDeliveries > 0) {
      this.failDeliveries -= 1;
      throw new Error('chat platform unreachable (injected)');
    }
    this.deliveries.push(delivery);
    this.sequence.push(`credentials:${delivery.record.request.id}`);
    return { delivered: true, where: 'dm' };
  }

  events(requestId: string): string[] {
    return this.notifications.filter((n) => n.record.request.id === requestId).map((n) => n.event);
  }

  to(email: string): Notification[] {
    return this.notifications.filter((n) => n.recipients.includes(email));
  }
}
