import type { Logger } from '../handlers/context.js';
import type { CredentialDelivery, Notification, Notifier } from '../handlers/notifier.js';

/**
 * The notifier when no chat platform is configured: it writes who would have been told
 * what. Credentials are never written; the log says they could not be delivered.
 */
export class LogNotifier implements Notifier {
  constructor(private readonly log: Logger) {}

  async notify(notification: Notification): Promise<void> {
    this.log.info(
      { event: notification.event, requestId: notification.record.request.id, recipients: notification.recipients, channels: notification.channels.map((c) => `${c.platform}:${c.id}`) },
      notification.text,
    );
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    const withSecrets = delivery.items.filter((item) => Object.keys(item.secrets).length > 0).length;
    this.log.warn(
      { requestId: delivery.record.request.id, grantee: delivery.grantee, items: delivery.items.map((item) => item.title), withSecrets },
      'no chat platform is configured: access details and credentials cannot be delivered to the grantee',
    );
    return { delivered: false, where: 'nowhere' };
  }
}
