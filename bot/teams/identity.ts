import { TeamsInfo, TurnContext, type ConversationReference } from 'botbuilder';
import type { Logger } from '../../handlers/context.js';
import type { PlatformAccount, Store } from '../../storage/store.js';
import { IdentityBinder, identificationOf, type AlertAdmins, type Identification } from '../identity-binding.js';

export const TEAMS = 'teams';

/**
 * Teams users are Latch identities by their AAD object id (their 29: id only when Teams
 * sends none), bound to their e-mail (or UPN) the first time Latch sees them. Teams tells
 * a bot of no profile changes, so each turn reads the member again (one Bot Connector call)
 * and compares: a member whose e-mail and UPN are both not the bound e-mail is stopped
 * (see identity-binding). The personal-chat conversation reference is kept so Latch can
 * write to them later.
 */
export class TeamsIdentities {
  private readonly binder: IdentityBinder;

  constructor(private readonly store: Store, private readonly log: Logger, private readonly now: () => number, options: { alertAdmins?: AlertAdmins } = {}) {
    this.binder = new IdentityBinder(store, log, options.alertAdmins);
  }

  /** Who sent this activity, or why Latch will not act for them; remembers how to reach them. */
  async identify(context: TurnContext): Promise<Identification> {
    const from = context.activity.from;
    if (!from?.id) return { ok: false, reason: 'unknown' };
    const key = from.aadObjectId ? from.aadObjectId.toLowerCase() : from.id;
    let binding = await this.store.identityOf(TEAMS, key);
    // Accounts bound before Latch keyed Teams by AAD object id move to it the first time they are seen with it.
    if (!binding && key !== from.id && (await this.store.rekeyIdentity(TEAMS, from.id, key))) {
      this.log.info({ userId: from.id, aadObjectId: key }, 'a Teams account moved to its AAD object id');
      binding = await this.store.identityOf(TEAMS, key);
    }
    if (binding && binding.state !== 'bound') return identificationOf(binding);
    let emails: string[];
    try {
      const member = await TeamsInfo.getMember(context, from.id);
      emails = [member.email, member.userPrincipalName].filter((value): value is string => Boolean(value)).map((value) => value.toLowerCase());
    } catch (error) {
      this.log.warn({ userId: from.id, err: error instanceof Error ? error.message : String(error) }, 'could not look up a Teams member');
      return binding ? identificationOf(binding) : { ok: false, reason: 'unknown' };
    }
    const [first, ...rest] = emails;
    if (!first) return binding ? identificationOf(binding) : { ok: false, reason: 'unknown' };
    const personal = context.activity.conversation?.conversationType === 'personal';
    const address = personal ? JSON.stringify(TurnContext.getConversationReference(context.activity)) : undefined;
    const { identification } = await this.binder.observe({
      platform: TEAMS, platformUserId: key, emails: [first, ...rest], at: this.now(), chatId: from.id, ...(address !== undefined ? { address } : {}),
    });
    return identification;
  }

  /** The Teams account and personal chat of a person, if they ever talked to Latch in Teams (and the account is not stopped). */
  async addressOf(email: string, accounts?: readonly PlatformAccount[]): Promise<{ userId: string; reference: Partial<ConversationReference> } | null> {
    const account = (accounts ?? await this.store.platformIdsFor(email)).find((entry) => entry.platform === TEAMS && entry.address);
    return account?.address ? { userId: account.chatId ?? account.platformUserId, reference: JSON.parse(account.address) as Partial<ConversationReference> } : null;
  }

  /** The id Teams addresses a person by (cards' refresh.userIds). */
  async userIdOf(email: string): Promise<string | null> {
    const account = (await this.store.platformIdsFor(email)).find((entry) => entry.platform === TEAMS);
    return account ? (account.chatId ?? account.platformUserId) : null;
  }
}
