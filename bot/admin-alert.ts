// Alerts for Latch's admins that are about Latch itself rather than one request (a config
// Latch refused to load). Each admin is written to directly, on the platform where Latch
// last saw them; without a chat platform the alert is only in the log, at error level.
import type { WebClient } from '@slack/web-api';
import type { CloudAdapter } from 'botbuilder';
import type { ActiveConfig, Logger } from '../handlers/context.js';
import type { Store } from '../storage/store.js';
import type { SlackIdentities } from './slack/identity.js';
import type { TeamsIdentities } from './teams/identity.js';

/** One platform's way of writing to a person; false when the person cannot be reached there. */
export interface AlertChannel {
  platform: string;
  send(email: string, text: string): Promise<boolean>;
}

// Slack refuses message text over 4,000 characters; an alert longer than that is cut.
const MAX_TEXT = 3_500;

export function slackAlertChannel(client: WebClient, identities: SlackIdentities): AlertChannel {
  return {
    platform: 'slack',
    async send(email, text) {
      const userId = await identities.userIdOf(email);
      if (!userId) return false;
      await client.chat.postMessage({ channel: userId, text, unfurl_links: false, unfurl_media: false });
      return true;
    },
  };
}

export function teamsAlertChannel(adapter: CloudAdapter, appId: string, identities: TeamsIdentities): AlertChannel {
  return {
    platform: 'teams',
    async send(email, text) {
      const address = await identities.addressOf(email);
      if (!address) return false;
      await adapter.continueConversationAsync(appId, address.reference, async (context) => {
        await context.sendActivity({ type: 'message', text });
      });
      return true;
    },
  };
}

export class AdminAlerts {
  private readonly channels: AlertChannel[] = [];

  constructor(private readonly store: Store, private readonly current: () => ActiveConfig, private readonly log: Logger) {}

  add(channel: AlertChannel): this {
    this.channels.push(channel);
    return this;
  }

  /** Tells every admin of the config in force. Never throws: an alert that cannot be sent is logged. */
  async alert(text: string): Promise<void> {
    const body = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}\n…` : text;
    const admins = [...this.current().directory.admins()];
    if (this.channels.length === 0 || admins.length === 0) return;
    const unreached: string[] = [];
    for (const email of admins) {
      if (!(await this.tell(email, body))) unreached.push(email);
    }
    if (unreached.length > 0) this.log.warn({ admins: unreached }, 'an admin alert could not be delivered; it is in the log only');
  }

  private async tell(email: string, text: string): Promise<boolean> {
    const seen = (await this.store.platformIdsFor(email)).map((entry) => entry.platform);
    const ordered = [...this.channels].sort((a, b) => rank(seen, a.platform) - rank(seen, b.platform));
    for (const channel of ordered) {
      try {
        if (await channel.send(email, text)) return true;
      } catch (error) {
        this.log.warn({ admin: email, platform: channel.platform, err: error instanceof Error ? error.message : String(error) }, 'could not send an admin alert');
      }
    }
    return false;
  }
}

/** Platforms where the person was seen come first, most recent first; the others keep their order. */
function rank(seen: string[], platform: string): number {
  const index = seen.indexOf(platform);
  return index === -1 ? seen.length : index;
}
