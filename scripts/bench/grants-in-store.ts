// What the store says about the grants of one bench phase. Each phase tags its requests with
// a reason of its own (`because <tag>`), so these queries find exactly its grants, on either store.
import type { LatchUnderTest } from './latch-under-test.js';
import type { GrantTimes } from './store-reader.js';

export type { GrantTimes } from './store-reader.js';

export function grantTimes(latch: LatchUnderTest, tag: string): Promise<GrantTimes[]> {
  return latch.store().grantTimes(tag);
}

export function countByState(latch: LatchUnderTest, tag: string): Promise<Map<string, number>> {
  return latch.store().grantStates(tag);
}

export function requestStates(latch: LatchUnderTest, tag: string): Promise<Map<string, number>> {
  return latch.store().requestStates(tag);
}

export const describeCounts = (counts: Map<string, number>): string => [...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'none';
