import { currentApprovers } from '../core/policy.js';
import type { Actor, RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { isInvolved, loadRequest } from './load-request.js';
import { fail, type Outcome } from './outcome.js';

const OPEN_STATES = ['pending', 'approved', 'granting', 'active', 'revoking', 'revoke_failed'] as const;

/** My open requests and active access, newest first, plus my recent closed ones. */
export async function listMine(ctx: LatchContext, actor: Actor, options: { includeClosed?: boolean; limit?: number } = {}): Promise<RequestRecord[]> {
  return ctx.store.listRequests({
    involving: actor.email,
    ...(options.includeClosed ? {} : { states: OPEN_STATES }),
    limit: options.limit ?? 50,
  });
}

/** Requests whose current step this person may decide, under the config in force now. */
export async function listApprovals(ctx: LatchContext, actor: Actor): Promise<RequestRecord[]> {
  const { config, directory } = ctx.current();
  const pending = await ctx.store.listRequests({ states: ['pending'], limit: 1000 });
  return pending.filter((record) => currentApprovers(config, directory, record.request, record.grants, record.decisions).has(actor.email));
}

/** One request, for the people involved in it, its approvers and admins. */
export async function showRequest(ctx: LatchContext, actor: Actor, idText: string): Promise<Outcome<{ record: RequestRecord }, 'not_found' | 'not_allowed'>> {
  const loaded = await loadRequest(ctx, idText);
  if (!loaded.ok) return loaded;
  const { config, directory } = ctx.current();
  const record = loaded.record;
  const decided = record.decisions.some((decision) => decision.approver === actor.email);
  const approver = currentApprovers(config, directory, record.request, record.grants, record.decisions).has(actor.email);
  if (isInvolved(record, actor.email) || decided || approver || directory.isAdmin(actor.email)) return { ok: true, record };
  return fail('not_allowed', `Request ${record.request.id} is not yours to see.`);
}
