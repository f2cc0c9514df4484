// Asking for access one already has, or has asked for, is answered with what exists, never
// with a second grant. Pure: the items asked for and the person's open requests in, the
// overlap out.
import { itemKey } from './policy.js';
import type { AccessItem, RequestRecord } from './types.js';

/** Requests whose access the person has or is about to have. */
export const OPEN_FOR_OVERLAP = ['pending', 'approved', 'granting', 'active'] as const;

export interface Overlap {
  /** Each requested item that an open request already covers, with that request. */
  covered: { item: AccessItem; record: RequestRecord }[];
  /** What no open request covers. */
  uncovered: AccessItem[];
}

/** Which of `items` the grantee's open access requests already hold or ask for. */
export function findOverlap(items: readonly AccessItem[], open: readonly RequestRecord[]): Overlap {
  const holders = new Map<string, RequestRecord>();
  // Active access first, so the answer points at what can be extended.
  const ranked = [...open].sort((a, b) => Number(b.request.state === 'active') - Number(a.request.state === 'active'));
  for (const record of ranked) {
    if (record.request.kind !== 'access') continue;
    for (const grant of record.grants) {
      if (grant.state === 'revoked' || grant.state === 'failed') continue;
      const key = itemKey(grant);
      if (!holders.has(key)) holders.set(key, record);
    }
  }
  const covered: Overlap['covered'] = [];
  const uncovered: AccessItem[] = [];
  for (const item of items) {
    const record = holders.get(itemKey(item));
    if (record) covered.push({ item, record });
    else uncovered.push(item);
  }
  return { covered, uncovered };
}
