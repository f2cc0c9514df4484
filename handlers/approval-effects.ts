import type { Flow } from '../config/schema.js';
import { formatDuration } from '../core/duration.js';
import { transition } from '../core/lifecycle.js';
import type { AccessRequest } from '../core/types.js';
import type { NewJob } from '../storage/store.js';
import { grantJob, notifyJob } from './jobs.js';

export function activateJob(requestId: string, runAt: number): NewJob {
  return { kind: 'activate', requestId, runAt, dedupeKey: `activate:${requestId}` };
}

export function lapseJob(requestId: string, runAt: number): NewJob {
  return { kind: 'lapse', requestId, runAt, dedupeKey: `lapse:${requestId}` };
}

/**
 * What an access request's approval leads to. Approved is not yet active: a request with a
 * scheduled start waits for it, and a flow with `activation: on_click` waits for the
 * requester's click (within its window), so the duration starts when the access is used.
 * Otherwise the grant starts now.
 */
export function approvalEffects(flow: Flow | undefined, request: AccessRequest, now: number): { state: 'approved' | 'ready'; enqueue: NewJob[] } {
  const scheduled = request.startAt !== null && request.startAt > now;
  if (!scheduled && flow?.activation !== 'on_click') return { state: 'approved', enqueue: [grantJob(request.id, now)] };
  const held = transition('approved', 'hold', ['system']);
  if (!held.ok) throw new Error(held.message);
  if (scheduled) return { state: 'ready', enqueue: [activateJob(request.id, request.startAt ?? now)] };
  return { state: 'ready', enqueue: [lapseJob(request.id, now + (flow?.activationWindow ?? 0)), notifyJob(request.id, 'activation_ready', now)] };
}

export function lapsedOutcome(flow: Flow | undefined): string {
  return `The approval lapsed: the access was not activated within ${formatDuration(flow?.activationWindow ?? 0)}.`;
}
