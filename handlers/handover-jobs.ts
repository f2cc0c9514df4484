// A pending request whose current step is decided by whoever is on call is checked
// periodically: when the shift changed hands, the new people on call get the card.
import type { Flow } from '../config/schema.js';
import type { AccessRequest } from '../core/types.js';
import type { NewJob } from '../storage/store.js';
import { stepSchedules } from './oncall-refresh.js';

/** How often a pending shift-approved request compares who is on call with who has its card. */
export const HANDOVER_CHECK_MS = 60_000;

/** The next check; `routed` is who has the current step's card (the people on call when it was last routed). */
export function handoverJob(flow: Flow, request: AccessRequest, now: number, routed: readonly string[], round = 1): NewJob[] {
  if (!flow.approval.steps.some((step) => stepSchedules(step).length > 0)) return [];
  return [{ kind: 'oncall_handover', requestId: request.id, runAt: now + HANDOVER_CHECK_MS, payload: { round, step: request.step, routed: [...routed] }, dedupeKey: `oncall_handover:${request.id}:${round}` }];
}
