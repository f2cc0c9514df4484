import type { RequestState } from '../core/lifecycle.js';
import type { Grant, RequestRecord } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import type { HeldPermission, RevokeInput } from '../provisioners/provisioner.js';
import { grantInput } from './grant.js';

/**
 * Requests whose access stays (or is about to arrive) while another of the same person's
 * requests is revoked. Approved is included because its grant may land while this revoke
 * runs; revoking requests are not, or two revoking at once would each keep the other's
 * memberships and both would be left behind.
 */
const KEEPS_ACCESS: readonly RequestState[] = ['approved', 'granting', 'active'];

export type RevokeReason = 'expired' | 'revoked' | 'cleanup';

/**
 * Builds the provisioner input for each grant of requests that are ending: what the grantee
 * keeps in the same integration through other requests (a backend principal they share must
 * keep those memberships), and how long the integration retains the principal. One read for
 * all the requests of a batch.
 */
export async function revokeInputsFor(ctx: LatchContext, endings: readonly { record: RequestRecord; reason: RevokeReason }[]): Promise<(record: RequestRecord, grant: Grant) => RevokeInput> {
  const grantees = [...new Set(endings.map(({ record }) => record.request.grantee))];
  const reasons = new Map(endings.map(({ record, reason }) => [record.request.id, reason]));
  const keeping = grantees.length === 0 ? [] : await ctx.store.listRequests({ grantees, states: KEEPS_ACCESS, limit: 500 * grantees.length });
  const othersOf = new Map<string, RequestRecord[]>();
  for (const other of keeping) {
    if (reasons.has(other.request.id)) continue;
    const list = othersOf.get(other.request.grantee) ?? [];
    list.push(other);
    othersOf.set(other.request.grantee, list);
  }
  const now = ctx.now();
  return (record, grant) => {
    const input = grantInput(ctx, record, grant);
    const stillHeld: HeldPermission[] = [];
    for (const other of othersOf.get(record.request.grantee) ?? []) {
      for (const held of other.grants) {
        if (held.integration !== grant.integration || held.state === 'revoked') continue;
        try {
          const { resource, permissionSettings, permission } = grantInput(ctx, other, held);
          stillHeld.push({ grantId: held.id, resource, permission, permissionSettings });
        } catch {
          // A grant whose resource left the config cannot be re-granted either; it keeps nothing.
        }
      }
    }
    const { retainRevoked } = input.integration;
    // A grant that failed half-way was never used: nothing of it is worth keeping.
    const retain = retainRevoked !== undefined && reasons.get(record.request.id) !== 'cleanup';
    const { expiresAt: _expiresAt, ...rest } = input;
    return { ...rest, ...(stillHeld.length > 0 ? { stillHeld } : {}), ...(retain ? { retainUntil: now + retainRevoked } : {}) };
  };
}
