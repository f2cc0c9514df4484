import { describe, expect, it } from 'vitest';
import {
  HOLDS_ACCESS, REQUEST_STATES, TERMINAL_STATES, describeState, lifecycle, transition,
  type ActorRole, type LifecycleEvent, type RequestState,
} from '../../core/lifecycle.js';

// The table is the specification: these tests walk it rather than restate it, so a row
// added to core/lifecycle.ts is covered the moment it exists.

const ROLES: readonly ActorRole[] = ['requester', 'approver', 'admin', 'system'];

interface Row { readonly to: RequestState; readonly by: readonly ActorRole[] }

function rowOf(state: RequestState): [LifecycleEvent, Row][] {
  const moves: Record<string, Row> = lifecycle[state];
  return Object.entries(moves).map(([event, move]) => [event as LifecycleEvent, move]);
}

const LEGAL = REQUEST_STATES.flatMap((state) => rowOf(state).map(([event, move]) => ({ state, event, ...move })));
const EVENTS = [...new Set(LEGAL.map((move) => move.event))];
const ILLEGAL = REQUEST_STATES.flatMap((state) => {
  const legal = new Set(rowOf(state).map(([event]) => event));
  return EVENTS.filter((event) => !legal.has(event)).map((event) => ({ state, event }));
});

describe('the life-cycle table', () => {
  it('has a row for every request state and no row for anything else', () => {
    expect(Object.keys(lifecycle).sort()).toEqual([...REQUEST_STATES].sort());
  });

  it('ends a request only in expired, revoked, denied, cancelled, timed_out, failed or lapsed', () => {
    expect([...TERMINAL_STATES].sort()).toEqual(['cancelled', 'denied', 'expired', 'failed', 'lapsed', 'revoked', 'timed_out']);
    for (const state of TERMINAL_STATES) expect(rowOf(state)).toEqual([]);
  });

  it('never leaves a non-terminal state without a way out', () => {
    for (const state of REQUEST_STATES.filter((candidate) => !TERMINAL_STATES.includes(candidate))) {
      expect(rowOf(state).length, state).toBeGreaterThan(0);
    }
  });

  it('only moves to states that exist, and every terminal state is reachable', () => {
    for (const move of LEGAL) expect(REQUEST_STATES).toContain(move.to);
    for (const state of TERMINAL_STATES) expect(LEGAL.some((move) => move.to === state), state).toBe(true);
  });

  it('keeps a revoke that keeps failing among the states that may hold access, not a terminal one', () => {
    expect(TERMINAL_STATES).not.toContain('revoke_failed');
    expect(HOLDS_ACCESS).toEqual(['granting', 'active', 'revoking', 'revoke_failed']);
  });

  it('has a sentence for every state', () => {
    for (const state of REQUEST_STATES) expect(describeState(state)).toMatch(/\w/);
  });
});

describe('legal transitions', () => {
  it.each(LEGAL)('$state --$event--> $to, fired by $by', ({ state, event, to, by }) => {
    for (const role of by) {
      expect(transition(state, event, [role])).toEqual({ ok: true, from: state, to });
    }
  });

  it.each(LEGAL)('$state --$event--> refused to anyone but $by', ({ state, event, by }) => {
    for (const role of ROLES.filter((candidate) => !by.includes(candidate))) {
      const result = transition(state, event, [role]);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe('not_allowed');
        expect(result.message).toMatch(/^Only .+ can .+ this request\.$/);
      }
    }
  });

  it('refuses a person with no role at all', () => {
    expect(transition('pending', 'approve', [])).toMatchObject({ ok: false, reason: 'not_allowed' });
  });

  it('lets a person with several roles act through any one of them', () => {
    expect(transition('active', 'revoke', ['approver', 'admin'])).toEqual({ ok: true, from: 'active', to: 'revoking' });
  });

  it('lets an approver approve, but not the requester', () => {
    expect(transition('pending', 'approve', ['approver'])).toEqual({ ok: true, from: 'pending', to: 'approved' });
    expect(transition('pending', 'approve', ['requester'])).toEqual({
      ok: false, reason: 'not_allowed', message: 'Only the approver can approve this request.',
    });
  });

  it('keeps a request pending while more approvals are needed', () => {
    expect(transition('pending', 'approve_step', ['approver'])).toEqual({ ok: true, from: 'pending', to: 'pending' });
  });

  it('lets only Latch itself grant, time out, expire and finish revoking', () => {
    expect(transition('approved', 'provision', ['admin'])).toEqual({
      ok: false, reason: 'not_allowed', message: 'Only Latch itself can grant this request.',
    });
    for (const [state, event] of [['pending', 'timeout'], ['active', 'expire'], ['revoking', 'revoked'], ['granting', 'fail']] as const) {
      expect(transition(state, event, ['admin', 'approver', 'requester'])).toMatchObject({ ok: false, reason: 'not_allowed' });
      expect(transition(state, event, ['system']).ok).toBe(true);
    }
  });

  it('lets the requester or an admin revoke active access early, but not an approver', () => {
    expect(transition('active', 'revoke', ['requester'])).toEqual({ ok: true, from: 'active', to: 'revoking' });
    expect(transition('active', 'revoke', ['admin'])).toEqual({ ok: true, from: 'active', to: 'revoking' });
    expect(transition('active', 'revoke', ['approver'])).toMatchObject({ ok: false, reason: 'not_allowed', message: 'Only the requester or admin can revoke this request.' });
  });

  it('keeps retrying a stuck revoke until it lands', () => {
    expect(transition('revoking', 'stuck', ['system'])).toEqual({ ok: true, from: 'revoking', to: 'revoke_failed' });
    expect(transition('revoke_failed', 'revoked', ['system'])).toEqual({ ok: true, from: 'revoke_failed', to: 'revoked' });
    expect(transition('revoke_failed', 'expired', ['system'])).toEqual({ ok: true, from: 'revoke_failed', to: 'expired' });
  });
});

describe('illegal transitions', () => {
  it('covers every state × event pair that is not in the table', () => {
    expect(LEGAL.length + ILLEGAL.length).toBe(REQUEST_STATES.length * EVENTS.length);
  });

  it.each(ILLEGAL)('$state cannot $event', ({ state, event }) => {
    // Even the most powerful combination of roles cannot make an illegal move legal.
    const result = transition(state, event, ROLES);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe('illegal_transition');
      expect(result.message).toMatch(/^You can't .+ this request: it .+\.$/);
      expect(result.message).toContain(`it ${describeState(state)}.`);
    }
  });

  it('tells an approver who clicks too late that the request was already denied', () => {
    expect(transition('denied', 'approve', ['approver'])).toEqual({
      ok: false, reason: 'illegal_transition', message: "You can't approve this request: it was denied.",
    });
  });

  it('tells a requester that access which already ended cannot be extended', () => {
    expect(transition('expired', 'extend', ['requester', 'approver'])).toEqual({
      ok: false, reason: 'illegal_transition', message: "You can't extend this request: it has already expired.",
    });
    expect(transition('revoked', 'extend', ['approver'])).toMatchObject({ message: "You can't extend this request: it has already been revoked." });
  });

  it('does not let a request that is already approved be cancelled or approved again', () => {
    expect(transition('approved', 'cancel', ['requester'])).toMatchObject({ reason: 'illegal_transition', message: "You can't cancel this request: it is approved and about to be granted." });
    expect(transition('approved', 'approve', ['approver'])).toMatchObject({ reason: 'illegal_transition' });
  });

  it('does not let a pending request be revoked (it holds no access yet): it must be cancelled', () => {
    expect(transition('pending', 'revoke', ['requester'])).toMatchObject({ reason: 'illegal_transition', message: "You can't revoke this request: it is still waiting for approval." });
    expect(transition('pending', 'cancel', ['requester']).ok).toBe(true);
  });

  it('checks the table before the role, so nobody learns who could have acted on a finished request', () => {
    expect(transition('timed_out', 'approve', ['requester'])).toMatchObject({ reason: 'illegal_transition', message: "You can't approve this request: it timed out without a decision." });
  });
});
