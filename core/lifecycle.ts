// The request life cycle. One screen shows every legal move: the table decides what,
// the `by` list decides who. Nothing else in Latch changes a request's state.

export const REQUEST_STATES = [
  'pending', 'approved', 'ready', 'granting', 'active', 'revoking', 'revoke_failed',
  'expired', 'revoked', 'denied', 'cancelled', 'timed_out', 'failed', 'lapsed',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/** Who may fire an event. `system` is the scheduler and the workers, never a person. */
export type ActorRole = 'requester' | 'approver' | 'admin' | 'system';

interface Move { readonly to: RequestState; readonly by: readonly ActorRole[] }

export const lifecycle = {
  pending: {
    approve_step: { to: 'pending', by: ['approver'] }, // one approval recorded, more are needed
    approve: { to: 'approved', by: ['approver', 'system'] }, // system: auto-approval
    deny: { to: 'denied', by: ['approver', 'system'] }, // system: an automatic decision rule
    cancel: { to: 'cancelled', by: ['requester', 'admin', 'system'] }, // system: its access ended first
    timeout: { to: 'timed_out', by: ['system'] },
  },
  approved: {
    provision: { to: 'granting', by: ['system'] },
    hold: { to: 'ready', by: ['system'] }, // the flow activates on click, or the request starts later
  },
  ready: {
    activate: { to: 'approved', by: ['requester', 'system'] }, // system: the scheduled start
    lapse: { to: 'lapsed', by: ['system'] }, // not activated within the flow's window
    cancel: { to: 'cancelled', by: ['requester', 'admin', 'system'] }, // system: the requester left (an identity source)
  },
  granting: {
    granted: { to: 'active', by: ['system'] },
    fail: { to: 'failed', by: ['system'] },
  },
  active: {
    extend: { to: 'active', by: ['approver', 'system'] },
    expire: { to: 'revoking', by: ['system'] },
    revoke: { to: 'revoking', by: ['requester', 'admin', 'system'] }, // system: the grantee left (an identity source)
  },
  revoking: {
    revoked: { to: 'revoked', by: ['system'] },
    expired: { to: 'expired', by: ['system'] },
    stuck: { to: 'revoke_failed', by: ['system'] },
  },
  revoke_failed: {
    revoked: { to: 'revoked', by: ['system'] },
    expired: { to: 'expired', by: ['system'] },
  },
  expired: {},
  revoked: {},
  denied: {},
  cancelled: {},
  timed_out: {},
  failed: {},
  lapsed: {},
} as const satisfies Record<RequestState, Record<string, Move>>;

type Lifecycle = typeof lifecycle;
export type LifecycleEvent = { [S in RequestState]: keyof Lifecycle[S] }[RequestState] & string;

export const TERMINAL_STATES: readonly RequestState[] = REQUEST_STATES.filter(
  (state) => Object.keys(lifecycle[state]).length === 0,
);

/** States in which the backend may hold access for the request. */
export const HOLDS_ACCESS: readonly RequestState[] = ['granting', 'active', 'revoking', 'revoke_failed'];

export type TransitionResult =
  | { ok: true; from: RequestState; to: RequestState }
  | { ok: false; reason: 'illegal_transition' | 'not_allowed'; message: string };

const EVENT_WORDS: Record<string, string> = {
  approve_step: 'approve', approve: 'approve', deny: 'deny', cancel: 'cancel', timeout: 'time out',
  provision: 'grant', granted: 'mark as granted', fail: 'mark as failed', extend: 'extend',
  expire: 'expire', revoke: 'revoke', revoked: 'mark as revoked', expired: 'mark as expired',
  stuck: 'mark as stuck', hold: 'hold', activate: 'activate', lapse: 'let lapse',
};

const STATE_SENTENCES: Record<RequestState, string> = {
  pending: 'is still waiting for approval',
  approved: 'is approved and about to be granted',
  ready: 'is approved and waits to be activated or for its start time',
  granting: 'is being granted right now',
  active: 'is active',
  revoking: 'is being revoked',
  revoke_failed: 'is being revoked (the backend has refused so far; Latch keeps retrying)',
  expired: 'has already expired',
  revoked: 'has already been revoked',
  denied: 'was denied',
  cancelled: 'was cancelled',
  timed_out: 'timed out without a decision',
  failed: 'failed to be granted',
  lapsed: 'lapsed: it was approved but never activated',
};

export function describeState(state: RequestState): string {
  return STATE_SENTENCES[state];
}

export function transition(from: RequestState, event: LifecycleEvent, roles: readonly ActorRole[]): TransitionResult {
  const moves: Record<string, Move> = lifecycle[from];
  const move = moves[event];
  const verb = EVENT_WORDS[event] ?? event;
  if (!move) {
    return { ok: false, reason: 'illegal_transition', message: `You can't ${verb} this request: it ${STATE_SENTENCES[from]}.` };
  }
  if (!move.by.some((role) => roles.includes(role))) {
    const who = move.by.filter((role) => role !== 'system').join(' or ') || 'Latch itself';
    return { ok: false, reason: 'not_allowed', message: `Only ${who === 'Latch itself' ? who : `the ${who}`} can ${verb} this request.` };
  }
  return { ok: true, from, to: move.to };
}
