// What Latch last learned of each integration's health. Reconcile refreshes it every
// 15 minutes; the request form names what is down and requests for it are refused
// before anyone approves something that cannot be granted.

export interface IntegrationStatus {
  ok: boolean;
  /** What is wrong, in words for the requester, when not ok. */
  detail: string | null;
  at: number;
}

// An answer this old says nothing about now: better to try the backend than to refuse on it.
const TRUST_FOR_MS = 30 * 60_000;

const statuses = new Map<string, IntegrationStatus>();

export function recordIntegrationStatus(integration: string, status: IntegrationStatus): void {
  statuses.set(integration, status);
}

/** The reason an integration cannot be used now, or null when it can (or nothing recent is known). */
export function unavailableReason(integration: string, now: number): string | null {
  const status = statuses.get(integration);
  if (!status || status.ok || now - status.at > TRUST_FOR_MS) return null;
  return status.detail ?? 'its health check failed';
}

export function forgetIntegrationStatuses(): void {
  statuses.clear();
}
