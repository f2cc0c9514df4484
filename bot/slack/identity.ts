import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../handlers/context.js';
import type { Store } from '../../storage/store.js';

const PLATFORM = 'slack';

/**
 * Slack users are Latch identities by their profile e-mail. Answers are kept in the store
 * so a click costs no Web API call once a person is known.
 */
export class SlackIdentities {
  constructor(private readonly client: WebClient, private readonly store: Store, private readonly log: Logger, private readonly now: () => number) {}

  async emailOf(userId: string): Promise<string | null> {
    const known = await this.store.emailFor(PLATFORM, userId);
    if (known) return known;
    try {
      const answer = await this.client.users.info({ user: userId });
      const user = answer.user;
      const email = user && !user.deleted && !user.is_bot ? user.profile?.email?.toLowerCase() : undefined;
      if (!email) return null;
      await this.store.linkIdentity(PLATFORM, userId, email, this.now());
      return email;
    } catch (error) {
      this.log.warn({ userId, err: error instanceof Error ? error.message : String(error) }, 'could not look up a Slack user');
      return null;
    }
  }

  async userIdOf(email: string): Promise<string | null> {
    const known = (await this.store.platformIdsFor(email)).find((entry) => entry.platform === PLATFORM);
    if (known) return known.platformUserId;
    try {
      const answer = await this.client.users.lookupByEmail({ email });
      const id = answer.user?.id;
      if (!id) return null;
      await this.store.linkIdentity(PLATFORM, id, email, this.now());
      return id;
    } catch {
      return null; // not in this workspace
    }
  }
}
