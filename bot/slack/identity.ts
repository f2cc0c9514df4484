import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../handlers/context.js';
import type { IdentityBinding, PlatformAccount, Store } from '../../storage/store.js';
import { IdentityBinder, identificationOf, type AlertAdmins, type Identification } from '../identity-binding.js';

const PLATFORM = 'slack';

/** How long a checked binding is trusted before Slack is asked again (a safety net under `user_change`). */
export const SLACK_REFRESH_MS = 60 * 60_000;

export interface SlackIdentityOptions {
  alertAdmins?: AlertAdmins;
  refreshMs?: number;
}

type Profile = { kind: 'email'; email: string } | { kind: 'none' } | { kind: 'failed' };

/**
 * Slack users are Latch identities by the Slack user id, bound to their profile e-mail the
 * first time Latch sees them. A click costs no Web API call while the binding was checked
 * within the refresh time; `user_change` events and that refresh read the profile again,
 * and a profile whose e-mail is not the bound one stops the account (see identity-binding).
 * One Latch runs with one bot token, so one workspace: an e-mail belongs to one Slack account.
 */
export class SlackIdentities {
  private readonly binder: IdentityBinder;
  private readonly refreshMs: number;

  constructor(private readonly client: WebClient, private readonly store: Store, private readonly log: Logger, private readonly now: () => number, options: SlackIdentityOptions = {}) {
    this.binder = new IdentityBinder(store, log, options.alertAdmins);
    this.refreshMs = options.refreshMs ?? SLACK_REFRESH_MS;
  }

  /** Who this Slack user is to Latch, or why Latch will not act for them. */
  async identify(userId: string): Promise<Identification> {
    const binding = await this.store.identityOf(PLATFORM, userId);
    if (binding && (binding.state !== 'bound' || this.now() - binding.checkedAt < this.refreshMs)) return identificationOf(binding);
    return this.check(userId, binding);
  }

  /** Reads the profile of a known user again (a `user_change` event); users Latch never saw stay unknown. */
  async refresh(userId: string): Promise<void> {
    const binding = await this.store.identityOf(PLATFORM, userId);
    if (binding) await this.check(userId, binding);
  }

  private async check(userId: string, binding: IdentityBinding | null): Promise<Identification> {
    const profile = await this.profileOf(userId);
    // Slack said nothing against the binding (or could not be asked): it stands.
    if (profile.kind !== 'email') return binding ? identificationOf(binding) : { ok: false, reason: 'unknown' };
    return (await this.binder.observe({ platform: PLATFORM, platformUserId: userId, emails: [profile.email], at: this.now(), exclusive: true })).identification;
  }

  private async profileOf(userId: string): Promise<Profile> {
    try {
      const user = (await this.client.users.info({ user: userId })).user;
      const email = user && !user.deleted && !user.is_bot ? user.profile?.email?.toLowerCase() : undefined;
      return email ? { kind: 'email', email } : { kind: 'none' };
    } catch (error) {
      this.log.warn({ userId, err: error instanceof Error ? error.message : String(error) }, 'could not look up a Slack user');
      return { kind: 'failed' };
    }
  }

  /** The Slack account a person acts through; none while that account is stopped. */
  async userIdOf(email: string, accounts?: readonly PlatformAccount[]): Promise<string | null> {
    const known = (accounts ?? await this.store.platformIdsFor(email)).find((entry) => entry.platform === PLATFORM);
    if (known) return known.platformUserId;
    try {
      const answer = await this.client.users.lookupByEmail({ email });
      const id = answer.user?.id;
      const reported = answer.user?.profile?.email?.toLowerCase() ?? email.toLowerCase();
      if (!id) return null;
      const { identification } = await this.binder.observe({ platform: PLATFORM, platformUserId: id, emails: [reported], at: this.now(), exclusive: true });
      return identification.ok && identification.email === email.toLowerCase() ? id : null;
    } catch {
      return null; // not in this workspace
    }
  }
}
