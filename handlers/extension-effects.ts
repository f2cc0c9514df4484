import { transition } from '../core/lifecycle.js';
import type { LatchConfig } from '../config/schema.js';
import type { AccessRequest } from '../core/types.js';
import type { Change } from '../storage/store.js';
import { notifyJob, revokeJob } from './jobs.js';

/**
 * What an approved extension writes: the access's expiry moves, the expiry and warning
 * jobs move with it, and the backend is told the new expiry. Commits with the approval.
 */
export function applyExtension(config: LatchConfig, parent: AccessRequest, extension: AccessRequest, now: number, decidedBy: string): Change {
  const moved = transition(parent.state, 'extend', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  const newExpiry = (parent.expiresAt ?? now) + extension.durationMs;
  const warningAt = newExpiry - config.settings.expiryWarning;
  return {
    updateRequests: [{ id: parent.id, expectState: parent.state, expectVersion: parent.version, set: { expiresAt: newExpiry, updatedAt: now } }],
    cancelJobs: [{ requestId: parent.id, kinds: ['revoke', 'expiry_warning'] }],
    enqueue: [
      revokeJob(parent.id, newExpiry, 'expired', newExpiry),
      { kind: 'extend', requestId: parent.id, runAt: now, payload: { expiresAt: newExpiry }, dedupeKey: `extend:${parent.id}:${newExpiry}` },
      ...(warningAt > now ? [{ kind: 'expiry_warning' as const, requestId: parent.id, runAt: warningAt, dedupeKey: `warn:${parent.id}:${newExpiry}` }] : []),
      notifyJob(parent.id, 'extended', now, extension.id),
    ],
    audit: [{
      type: 'request.extended', requestId: parent.id, actor: decidedBy, at: now,
      data: { extension: extension.id, previousExpiry: parent.expiresAt, expiresAt: newExpiry, byMs: extension.durationMs },
    }],
  };
}

/** Merges changes that must commit together. */
export function mergeChanges(...changes: Change[]): Change {
  const merged: Change = {};
  for (const change of changes) {
    for (const [key, value] of Object.entries(change) as [keyof Change, unknown][]) {
      if (Array.isArray(value)) (merged as Record<string, unknown[]>)[key] = [...(((merged as Record<string, unknown[]>)[key]) ?? []), ...value];
      else if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
  }
  return merged;
}
