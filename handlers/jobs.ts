// The follow-up work a transition implies, as outbox rows. Keys make enqueueing idempotent.
import type { NotificationEvent } from './notifier.js';
import type { NewJob } from '../storage/store.js';

export function notifyJob(requestId: string, event: NotificationEvent, runAt: number, discriminator: string | number = ''): NewJob {
  return { kind: 'notify', requestId, runAt, payload: { event }, dedupeKey: `notify:${requestId}:${event}:${discriminator}` };
}

export function grantJob(requestId: string, runAt: number): NewJob {
  return { kind: 'grant', requestId, runAt, dedupeKey: `grant:${requestId}` };
}

/** One revoke job per request end: `expired` at the expiry instant, or `revoked` now. */
export function revokeJob(requestId: string, runAt: number, reason: 'expired' | 'revoked', discriminator: string | number = ''): NewJob {
  return { kind: 'revoke', requestId, runAt, payload: { reason }, dedupeKey: `revoke:${requestId}:${reason}:${discriminator}` };
}
