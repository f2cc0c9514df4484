// What Latch tells people, as platform-free events. Chat adapters render them (cards,
// DMs, channel posts); without a chat platform they are logged.
import type { ChannelTarget } from '../config/schema.js';
import type { RequestRecord } from '../core/types.js';
import type { PlatformAccount } from '../storage/store.js';

export const NOTIFICATION_EVENTS = [
  'submitted', 'approval_requested', 'approval_reminder', 'approval_escalated', 'step_approved', 'approved', 'denied', 'cancelled', 'timed_out',
  'granted', 'failed', 'revoked', 'expired', 'expiry_warning', 'extended', 'extension_requested', 'extension_refused', 'revoke_failed_alert',
  'activation_ready', 'lapsed', 'review_requested', 'review_reminder', 'review_flagged', 'reviewed',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface Notification {
  event: NotificationEvent;
  record: RequestRecord;
  /** People, by e-mail, who should be told directly. */
  recipients: string[];
  /** Channels that should be told: the card, then each change in its thread (the flow's notify, or a routing rule). */
  channels: ChannelTarget[];
  /** A plain-text summary, for logs and for platforms without rich rendering. */
  text: string;
  /** The line for the thread of the request's channel card; null when the event adds none. */
  history: string | null;
  /** Idempotency key: the same key twice is the same notification. */
  key: string;
}

export interface CredentialDelivery {
  record: RequestRecord;
  grantee: string;
  /** Per grant: what to connect to, rendered from the integration's access-details template. */
  items: { grantId: string; title: string; details: string; secrets: Record<string, string> }[];
  key: string;
  /** The grantee's bound chat accounts (Store.platformIdsFor), read while the backends worked; without them the notifier reads them. */
  accounts?: readonly PlatformAccount[];
}

export interface Notifier {
  notify(notification: Notification): Promise<void>;
  /** Sends credentials to the grantee's DM only. Must never log or store the secrets. */
  deliverCredentials(delivery: CredentialDelivery): Promise<{ delivered: boolean; where: string }>;
}
