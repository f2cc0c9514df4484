import type { CredentialDelivery, Notification, Notifier } from '../handlers/notifier.js';
import type { PlatformAccount, Store } from '../storage/store.js';

/**
 * With Slack and Teams both on, each person hears from Latch where Latch last saw them
 * (people are one identity across platforms); someone never seen goes to the first
 * platform, which may still find them by e-mail. Channels go to their own platform.
 */
export class PlatformNotifier implements Notifier {
  constructor(private readonly store: Store, private readonly platforms: { name: string; notifier: Notifier }[]) {}

  private async platformOf(email: string, accounts?: readonly PlatformAccount[]): Promise<string> {
    const seen = accounts ?? await this.store.platformIdsFor(email);
    const known = seen.find((entry) => this.platforms.some((platform) => platform.name === entry.platform));
    return known?.platform ?? this.platforms[0]?.name ?? '';
  }

  async notify(notification: Notification): Promise<void> {
    const byPlatform = new Map<string, string[]>(this.platforms.map((platform) => [platform.name, []]));
    for (const email of notification.recipients) byPlatform.get(await this.platformOf(email))?.push(email);
    const failures: unknown[] = [];
    for (const { name, notifier } of this.platforms) {
      const recipients = byPlatform.get(name) ?? [];
      const channels = notification.channels.filter((channel) => channel.platform === name);
      try {
        // Every platform hears of every event: it may have cards of its own to update.
        await notifier.notify({ ...notification, recipients, channels });
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }

  async deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }> {
    const preferred = await this.platformOf(delivery.grantee, delivery.accounts);
    const ordered = [...this.platforms].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
    let lastError: unknown = null;
    for (const { notifier } of ordered) {
      try {
        return await notifier.deliverCredentials(delivery);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(`no chat platform could reach ${delivery.grantee}`);
  }
}
