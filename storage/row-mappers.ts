// Rows of the store's tables as the domain sees them. Both dialects keep the same columns
// with the same JavaScript types (epoch-ms numbers, text), so one mapping serves both; the
// SQLite schema's row types stand for that shape.
import type { RequestState } from '../core/lifecycle.js';
import type { AccessRequest, Decision, Grant, RequestContext } from '../core/types.js';
import type * as schema from './sqlite/schema.js';
import type { AuditEvent, IdentityBinding, IdentityState, Job, JobKind, RdsDiscoveryListing } from './store.js';

export function toRequest(row: typeof schema.requests.$inferSelect): AccessRequest {
  return { ...row, kind: row.kind as AccessRequest['kind'], state: row.state as RequestState, context: row.context ? (JSON.parse(row.context) as RequestContext) : null };
}

export function withoutContext<T extends { context?: unknown }>(set: T): Omit<T, 'context'> {
  const { context: _context, ...rest } = set;
  return rest;
}

/** A request update's fields as columns: `context`, when it is set, as its JSON text. */
export function requestColumns<T extends { context?: unknown }>(set: T): Omit<T, 'context'> & { context?: string | null } {
  return { ...withoutContext(set), ...(set.context !== undefined ? { context: set.context ? JSON.stringify(set.context) : null } : {}) };
}

export function toGrant(row: typeof schema.grants.$inferSelect): Grant {
  return { ...row, state: row.state as Grant['state'] };
}

export function toDecision(row: typeof schema.decisions.$inferSelect): Decision {
  return { ...row, verdict: row.verdict as Decision['verdict'] };
}

export function toJob(row: typeof schema.jobs.$inferSelect): Job {
  return {
    id: row.id, kind: row.kind as JobKind, requestId: row.requestId, runAt: row.runAt,
    payload: JSON.parse(row.payload) as Job['payload'], state: row.state as Job['state'], attempts: row.attempts,
    claimedBy: row.claimedBy, leaseUntil: row.leaseUntil, lastError: row.lastError, createdAt: row.createdAt, finishedAt: row.finishedAt,
  };
}

export function toAudit(row: typeof schema.auditEvents.$inferSelect): AuditEvent {
  return { ...row, data: JSON.parse(row.data) as Record<string, unknown> };
}

export function toIdentity(row: typeof schema.identities.$inferSelect): IdentityBinding {
  return { ...row, state: row.state as IdentityState };
}

type JsonRows = Record<string, unknown>[];

export function toRdsDiscoveryListing(row: typeof schema.rdsDiscoveryListings.$inferSelect): RdsDiscoveryListing {
  return {
    discovery: row.discovery, region: row.region, listedAt: row.listedAt,
    instances: row.instances === null ? null : (JSON.parse(row.instances) as JsonRows),
    problems: JSON.parse(row.problems) as JsonRows, offered: JSON.parse(row.offered) as JsonRows, retained: JSON.parse(row.retained) as JsonRows,
  };
}

export function fromRdsDiscoveryListing(listing: RdsDiscoveryListing): typeof schema.rdsDiscoveryListings.$inferInsert {
  return {
    discovery: listing.discovery, region: listing.region, listedAt: listing.listedAt,
    instances: listing.instances === null ? null : JSON.stringify(listing.instances),
    problems: JSON.stringify(listing.problems), offered: JSON.stringify(listing.offered), retained: JSON.stringify(listing.retained),
  };
}
