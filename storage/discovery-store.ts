// The storage contract for access discovery: activity samples (who held a session when a
// scan looked), each scan's scores (for what changed since), and remediations with what it
// takes to undo them. Separate from Store so a store without these tables still satisfies it.
import type { Instant } from '../core/types.js';
import type { AuditInput } from './store.js';

export interface ActivityHistory {
  /** The first sample of the integration; null before any. */
  watchedSince: Instant | null;
  /** Principal → the last sample that saw it with a session. */
  lastSeen: Map<string, Instant>;
  samples: number;
}

/** One statement a remediation ran, and the one that puts back what it removed. */
export interface RemediationChange {
  /** The privilege in words (`SUPERUSER`, `member of orders_writer`, `INSERT on table shop.public.orders`). */
  privilege: string;
  /** The database the statements run in (PostgreSQL object privileges); absent: the connector's own. */
  database?: string;
  revoke: string;
  restore: string;
}

export interface RemediationRecord {
  id: string;
  integration: string;
  principal: string;
  changes: RemediationChange[];
  actor: string;
  createdAt: Instant;
  undoUntil: Instant;
  undoneAt: Instant | null;
  undoneBy: string | null;
}

export interface ScanSummaryRow {
  integration: string;
  principal: string;
  score: number;
  level: string | null;
  usage: string;
}

export interface DiscoveryStore {
  /** Records that `integration` was sampled at `at`, and who held how many sessions then. */
  recordSample(integration: string, at: Instant, sessions: ReadonlyMap<string, number>): Promise<void>;
  activity(integration: string): Promise<ActivityHistory>;
  recordScan(at: Instant, summary: readonly ScanSummaryRow[]): Promise<void>;
  /** The newest scan before `before` (the one a new scan is compared with). */
  lastScan(before?: Instant): Promise<{ scannedAt: Instant; summary: ScanSummaryRow[] } | null>;
  /** Stores what a remediation changed with its audit events, in one transaction. */
  recordRemediation(record: RemediationRecord, audit: readonly AuditInput[]): Promise<void>;
  remediation(id: string): Promise<RemediationRecord | null>;
  /** Marks a remediation undone with its audit events; false when it already was (two undos race: one wins). */
  markUndone(id: string, by: string, at: Instant, audit: readonly AuditInput[]): Promise<boolean>;
}
