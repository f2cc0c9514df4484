// A chat account is bound to a Latch identity (an e-mail) the first time Latch sees it,
// and from then on its immutable platform id decides who it is. What the platform reports
// later is only compared with the binding: a difference stops the account, tells the
// admins, and waits for `latch identities rebind`. So nobody becomes an approver by
// editing the e-mail on their chat profile.
import type { Logger } from '../handlers/context.js';
import type { IdentityBinding, IdentitySighting, SightingOutcome, Store } from '../storage/store.js';

export type Identification =
  | { ok: true; email: string }
  /** `unknown`: the platform gave no e-mail (or could not be asked) for an account Latch has not bound. */
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'stopped'; message: string };

export type AlertAdmins = (text: string) => Promise<void>;

const PLATFORM_NAMES: Record<string, string> = { slack: 'Slack', teams: 'Teams' };
const platformName = (platform: string): string => PLATFORM_NAMES[platform] ?? platform;

/** E-mails come from chat profiles: shown without the characters chat markup acts on. */
const shown = (email: string | null): string => (email ?? '?').replace(/[<>`*_~|\\[\]()\s]/g, '');

function rebindCommand(binding: IdentityBinding): string {
  return `npm run latch -- identities rebind --platform ${binding.platform} --user ${shown(binding.platformUserId)} --email ${shown(binding.reportedEmail ?? binding.email)}`;
}

/** What the person behind a stopped account is told, on every command, click and form. */
export function refusalFor(binding: IdentityBinding): string {
  if (binding.state === 'duplicate_email') {
    return `Your chat account reports the e-mail ${shown(binding.email)}, which Latch already knows from another ${platformName(binding.platform)} account; an admin must confirm this account before Latch acts for you.`;
  }
  // Changed and changed back: still stopped, since the admins were told and one of them decides.
  if (binding.reportedEmail === binding.email) return `Your chat account's e-mail changed from ${shown(binding.email)} and back; an admin must confirm it before Latch acts for you.`;
  return `Your chat account's e-mail changed from ${shown(binding.email)} to ${shown(binding.reportedEmail)}; an admin must confirm it before Latch acts for you.`;
}

/** What the admins are told when an account is stopped. */
export function alertFor(binding: IdentityBinding, boundTo?: string): string {
  const account = `${platformName(binding.platform)} account ${shown(binding.platformUserId)}`;
  const what = binding.state === 'duplicate_email'
    ? `${account} is new and reports the e-mail ${shown(binding.email)}, which is already bound to ${platformName(binding.platform)} account ${shown(boundTo ?? '?')}.`
    : `${account}, bound to ${shown(binding.email)}, now reports the e-mail ${shown(binding.reportedEmail)}.`;
  return `ALERT: Latch stopped acting for a chat account. ${what} Until an admin confirms it, every command and click from it is refused. If it is right, run \`${rebindCommand(binding)}\`; if not, find out who changed the account.`;
}

export function identificationOf(binding: IdentityBinding): Identification {
  return binding.state === 'bound' ? { ok: true, email: binding.email } : { ok: false, reason: 'stopped', message: refusalFor(binding) };
}

/** Records a sighting and, when it stops an account, logs it and tells the admins. */
export class IdentityBinder {
  constructor(private readonly store: Store, private readonly log: Logger, private readonly alertAdmins: AlertAdmins | undefined) {}

  async observe(sighting: IdentitySighting): Promise<{ identification: Identification; outcome: SightingOutcome }> {
    const { binding, outcome } = await this.store.observeIdentity(sighting);
    if (outcome === 'bound') this.log.info({ platform: binding.platform, user: binding.platformUserId, email: binding.email }, 'a chat account was bound to its e-mail on first sight');
    if (outcome === 'email_changed' || outcome === 'duplicate_email') {
      const boundTo = outcome === 'duplicate_email' ? await this.holderOf(binding) : undefined;
      this.log.warn({ platform: binding.platform, user: binding.platformUserId, reason: outcome, boundEmail: binding.email, reportedEmail: binding.reportedEmail ?? binding.email, ...(boundTo ? { boundTo } : {}) },
        'a chat account reports an e-mail Latch has not bound it to; Latch refuses to act for it until an admin rebinds it');
      if (this.alertAdmins) await this.alertAdmins(alertFor(binding, boundTo));
    }
    return { identification: identificationOf(binding), outcome };
  }

  private async holderOf(binding: IdentityBinding): Promise<string | undefined> {
    const others = (await this.store.listIdentities()).filter((other) => other.platform === binding.platform && other.email === binding.email && other.platformUserId !== binding.platformUserId);
    return others.find((other) => other.state === 'bound')?.platformUserId ?? others[0]?.platformUserId;
  }
}
