import type { AccessRequest, Grant } from '../core/types.js';
import type { Change, CommitResult } from '../storage/store.js';
import type { LatchContext } from './context.js';
import { grantingStart } from './granting-start.js';

/**
 * The change that approves a request, and so makes its grant job due now, also starts the
 * grant when the runner can take it at once: the job is inserted claimed by this runner, and
 * the request goes on to granting with its expiry and principals fixed (the grant job's own
 * first write). When the commit returns, startCommitted hands the job to the runner and it
 * goes straight to the backend: no claim of the runner's own, no wait for one under way, no
 * commit in between. A person is waiting for these credentials. When the runner cannot take
 * it now (stopped, full) the change is returned as it was.
 *
 * `record` is the request as the change found it (for a new request, as it inserts it).
 */
export function startGrantAtOnce(ctx: LatchContext, change: Change, record: { request: AccessRequest; grants: readonly Grant[] }): Change {
  const now = ctx.now();
  const { id } = record.request;
  const job = change.enqueue?.find((each) => each.kind === 'grant' && each.requestId === id && each.runAt <= now);
  const claim = job ? ctx.jobsAtOnce?.claim('grant') : null;
  if (!job || !claim || !change.enqueue) return change;
  const enqueue = change.enqueue.map((each) => (each === job ? { ...each, claim } : each));
  const started = grantingStart(record.request, record.grants, ctx.current().config.settings.instance, now);

  const inserted = change.insertRequest;
  if (inserted?.request.id === id) {
    if (inserted.request.state !== 'approved') return { ...change, enqueue };
    return { ...change, enqueue, insertRequest: { request: { ...inserted.request, state: started.state, expiresAt: started.expiresAt }, grants: started.grants } };
  }
  const approving = change.updateRequests?.find((update) => update.id === id && update.set.state === 'approved');
  if (!approving) return { ...change, enqueue };
  return {
    ...change,
    enqueue,
    updateRequests: change.updateRequests?.map((update) => (update === approving ? { ...update, set: { ...update.set, state: started.state, expiresAt: started.expiresAt } } : update)),
    updateGrants: [...(change.updateGrants ?? []), ...started.grants.map((grant) => ({ id: grant.id, set: { principal: grant.principal } }))],
  };
}

/** After a commit: starts the grant it claimed (startGrantAtOnce), and the runner then takes up the rest; otherwise wakes it. */
export function startCommitted(ctx: LatchContext, committed: CommitResult): void {
  if (committed.ok && committed.claimed && committed.claimed.length > 0 && ctx.jobsAtOnce) ctx.jobsAtOnce.start(committed.claimed);
  else ctx.wake();
}
