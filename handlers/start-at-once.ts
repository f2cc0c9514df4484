import type { RequestRecord } from '../core/types.js';
import type { Change, CommitResult } from '../storage/store.js';
import type { LatchContext } from './context.js';
import { grantingStart } from './granting-start.js';

/** An approving change, and the request as its commit leaves it when that commit starts the grant. */
export interface GrantAtOnce {
  change: Change;
  /**
   * The request, its grants and decisions as the change writes them, when it starts the grant:
   * the grant job starts from it instead of reading back what its own commit just wrote. Null
   * when the grant does not start at once.
   */
  after: RequestRecord | null;
}

/**
 * The change that approves a request, and so makes its grant job due now, also starts the
 * grant when the runner can take it at once: the job is inserted claimed by this runner, and
 * the request goes on to granting with its expiry and principals fixed (the grant job's own
 * first write). When the commit returns, startCommitted hands the job to the runner and it
 * goes straight to the backend: no claim of the runner's own, no wait for one under way, no
 * commit in between, no read of the request. A person is waiting for these credentials. When
 * the runner cannot take it now (stopped, full) the change is returned as it was.
 *
 * `record` is the request as the change found it (for a new request, as it inserts it).
 */
export function startGrantAtOnce(ctx: LatchContext, change: Change, record: RequestRecord): GrantAtOnce {
  const unchanged = { change, after: null };
  const now = ctx.now();
  const { id } = record.request;
  const job = change.enqueue?.find((each) => each.kind === 'grant' && each.requestId === id && each.runAt <= now);
  const claim = job ? ctx.jobsAtOnce?.claim('grant') : null;
  if (!job || !claim || !change.enqueue) return unchanged;
  const enqueue = change.enqueue.map((each) => (each === job ? { ...each, claim } : each));
  const started = grantingStart(record.request, record.grants, ctx.current().config.settings.instance, now);
  const decisions = [...record.decisions, ...(change.insertDecisions ?? []).filter((decision) => decision.requestId === id)];

  const inserted = change.insertRequest;
  if (inserted?.request.id === id) {
    if (inserted.request.state !== 'approved') return { change: { ...change, enqueue }, after: null };
    const request = { ...inserted.request, state: started.state, expiresAt: started.expiresAt };
    return { change: { ...change, enqueue, insertRequest: { request, grants: started.grants } }, after: { request, grants: started.grants, decisions } };
  }
  const updates = change.updateRequests?.filter((update) => update.id === id) ?? [];
  const approving = updates.find((update) => update.set.state === 'approved');
  if (!approving) return { change: { ...change, enqueue }, after: null };
  const set = { ...approving.set, state: started.state, expiresAt: started.expiresAt };
  const touchesGrants = change.updateGrants?.some((update) => record.grants.some((grant) => grant.id === update.id));
  // What the commit leaves is known only when this update and the principals are all it writes of the request.
  const after = updates.length === 1 && !touchesGrants
    ? { request: { ...record.request, ...set, version: approving.expectVersion + 1 }, grants: started.grants, decisions }
    : null;
  return {
    change: {
      ...change,
      enqueue,
      updateRequests: change.updateRequests?.map((update) => (update === approving ? { ...update, set } : update)),
      updateGrants: [...(change.updateGrants ?? []), ...started.grants.map((grant) => ({ id: grant.id, set: { principal: grant.principal } }))],
    },
    after,
  };
}

/**
 * After a commit: starts the grant it claimed (startGrantAtOnce) from the request as that
 * commit left it, and the runner then takes up the rest; otherwise wakes it.
 */
export function startCommitted(ctx: LatchContext, committed: CommitResult, atOnce?: GrantAtOnce): void {
  if (committed.ok && committed.claimed && committed.claimed.length > 0 && ctx.jobsAtOnce) ctx.jobsAtOnce.start(committed.claimed, atOnce?.after ?? undefined);
  else ctx.wake();
}
