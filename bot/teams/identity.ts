import { TeamsInfo, TurnContext, type ConversationReference } from 'botbuilder';
import type { Logger } from '../../handlers/context.js';
import type { Store } from '../../storage/store.js';

export const TEAMS = 'teams';

/**
 * Teams users are Latch identities by e-mail (from TeamsInfo, else the UPN). Their
 * personal-chat conversation reference is kept so Latch can write to them later.
 */
export class TeamsIdentities {
  constructor(private readonly store: Store, private readonly log: Logger, private readonly now: () => number) {}

  /** Who sent this activity, learning (and remembering) it from Teams when needed. */
  async emailOf(context: TurnContext): Promise<string | null> {
    const from = context.activity.from;
    if (!from?.id) return null;
    const personal = context.activity.conversation?.conversationType === 'personal';
    const address = personal ? JSON.stringify(TurnContext.getConversationReference(context.activity)) : undefined;
    let email = await this.store.emailFor(TEAMS, from.id);
    if (!email) {
      try {
        const member = await TeamsInfo.getMember(context, from.id);
        email = (member.email ?? member.userPrincipalName ?? '').toLowerCase() || null;
      } catch (error) {
        this.log.warn({ userId: from.id, err: error instanceof Error ? error.message : String(error) }, 'could not look up a Teams member');
        return null;
      }
    }
    if (email && (address !== undefined || !(await this.store.emailFor(TEAMS, from.id)))) {
      await this.store.linkIdentity(TEAMS, from.id, email, this.now(), address);
    }
    return email;
  }

  /** The Teams account and personal chat of a person, if they ever talked to Latch in Teams. */
  async addressOf(email: string): Promise<{ userId: string; reference: Partial<ConversationReference> } | null> {
    const account = (await this.store.platformIdsFor(email)).find((entry) => entry.platform === TEAMS && entry.address);
    return account?.address ? { userId: account.platformUserId, reference: JSON.parse(account.address) as Partial<ConversationReference> } : null;
  }

  async userIdOf(email: string): Promise<string | null> {
    return (await this.store.platformIdsFor(email)).find((entry) => entry.platform === TEAMS)?.platformUserId ?? null;
  }
}
