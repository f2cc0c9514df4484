// What the store says about the grants of one bench phase. Each phase tags its requests with
// a reason of its own (`because <tag>`), so these queries find exactly its grants.
import type { LatchUnderTest } from './latch-under-test.js';

export interface GrantTimes {
  expiresAt: number;
  revokedAt: number | null;
  grantedAt: number | null;
  state: string;
}

export function grantTimes(latch: LatchUnderTest, tag: string): GrantTimes[] {
  return latch.db().prepare(`
    SELECT r.expires_at AS expiresAt, g.revoked_at AS revokedAt, g.granted_at AS grantedAt, g.state AS state
      FROM requests r JOIN grants g ON g.request_id = r.id WHERE r.reason = ?`).all(tag) as GrantTimes[];
}

export function countByState(latch: LatchUnderTest, tag: string): Map<string, number> {
  const rows = latch.db().prepare(`
    SELECT g.state AS state, count(*) AS n FROM requests r JOIN grants g ON g.request_id = r.id WHERE r.reason = ? GROUP BY g.state`).all(tag) as { state: string; n: number }[];
  return new Map(rows.map((row) => [row.state, row.n]));
}

export function requestStates(latch: LatchUnderTest, tag: string): Map<string, number> {
  const rows = latch.db().prepare('SELECT state, count(*) AS n FROM requests WHERE reason = ? GROUP BY state').all(tag) as { state: string; n: number }[];
  return new Map(rows.map((row) => [row.state, row.n]));
}

export const describeCounts = (counts: Map<string, number>): string => [...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'none';
