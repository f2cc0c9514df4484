import { transition } from '../core/lifecycle.js';
import type { AccessRequest, Grant, Instant } from '../core/types.js';
import { principalName } from '../provisioners/principal-name.js';

export interface GrantingStart {
  state: 'granting';
  expiresAt: Instant;
  /** The grants with their principal names: chosen once, so every retry reuses them. */
  grants: Grant[];
}

/**
 * approved → granting: the expiry is fixed and the principals are named before any backend
 * is touched. The grant job writes it before its first backend call, or the approval writes
 * it itself when the grant starts at once (handlers/start-at-once.ts).
 */
export function grantingStart(request: AccessRequest, grants: readonly Grant[], instance: string, now: Instant): GrantingStart {
  const moved = transition('approved', 'provision', ['system']);
  if (!moved.ok || moved.to !== 'granting') throw new Error(moved.ok ? `approved → ${moved.to} is not granting` : moved.message);
  // A scheduled request ends when its window ends, even when granting starts late (a restart).
  const startedAt = request.startAt !== null && request.startAt <= now ? request.startAt : now;
  return {
    state: moved.to,
    expiresAt: startedAt + request.durationMs,
    grants: grants.map((grant) => ({ ...grant, principal: grant.principal ?? principalName(instance, request.grantee) })),
  };
}
