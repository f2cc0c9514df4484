import { normalizeRequestId } from '../core/ids.js';
import type { RequestRecord } from '../core/types.js';
import type { LatchContext } from './context.js';
import { fail, type Failure } from './outcome.js';

/** Reads a request by what a person typed, or says why it can't. */
export async function loadRequest(ctx: LatchContext, idText: string): Promise<{ ok: true; record: RequestRecord } | Failure<'not_found'>> {
  const id = normalizeRequestId(idText);
  if (!id) return fail('not_found', `"${idText}" is not a request id; ids look like AR-7K3M9QX2.`);
  const record = await ctx.store.getRequest(id);
  return record ? { ok: true, record } : fail('not_found', `There is no request ${id}.`);
}

export function isInvolved(record: RequestRecord, email: string): boolean {
  return record.request.requester === email || record.request.grantee === email;
}
