// A mover: someone still here who left the group a flow's requesters name. Decisions they
// can no longer make are refused at the click anyway (policy reads the directory then);
// access already granted through a flow with `revokeWhenIneligible` ends at the sync that
// shows the move.
import { mayRequest } from '../core/policy.js';
import type { LatchContext } from './context.js';
import { revokeForIdentity } from './offboard.js';

/** Revokes active grants whose flow says so and whose grantee may no longer request it; returns their ids. */
export async function revokeIneligible(ctx: LatchContext): Promise<string[]> {
  const { config, directory } = ctx.current();
  const strict = new Map(config.flows.filter((flow) => flow.revokeWhenIneligible).map((flow) => [flow.name, flow]));
  if (strict.size === 0) return [];
  const revoked: string[] = [];
  for (const record of await ctx.store.listRequests({ states: ['active'], kinds: ['access'], limit: 10_000 })) {
    const { request } = record;
    const flow = strict.get(request.flow);
    if (!flow || request.context?.emergency || mayRequest(flow, request.grantee, directory)) continue;
    const reason = `${request.grantee} is no longer among the requesters of flow ${flow.name}`;
    if (await revokeForIdentity(ctx, record, reason, { mover: request.grantee, flow: flow.name })) revoked.push(request.id);
  }
  if (revoked.length > 0) ctx.wake();
  return revoked;
}
