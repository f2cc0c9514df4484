import type { CredentialDelivery, Notification, Notifier } from '../../handlers/notifier.js';

/** Keeps what Latch would have said, so tests assert on the recipient and the words. */
export class RecordingNotifier implements Notifier {
  readonly notifications: Notification[] = [];
  readonly deliveries: CredentialDelivery[] = [];
  failDeliveries = 0;

  async notify(notification: Notification): Promise<void> {
    this.notifications.push(notification);
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    if (this.failDeliveries > 0) {
      this.failDeliveries -= 1;
      throw new Error('chat platform unreachable (injected)');
    }
    this.deliveries.push(delivery);
    return { delivered: true, where: 'dm' };
  }

  events(requestId: string): string[] {
    return this.notifications.filter((n) => n.record.request.id === requestId).map((n) => n.event);
  }

  to(email: string): Notification[] {
    return this.notifications.filter((n) => n.recipients.includes(email));
  }
}
