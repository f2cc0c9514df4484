// The storage contract for identity sources: each source's last good snapshot of people
// and groups, and how its syncs went. Separate from Store so a store that does not keep
// identity sources yet still satisfies Store.
import type { SourceGroup, SourcePerson } from '../core/identity.js';
import type { Instant } from '../core/types.js';
import type { AuditInput } from './store.js';

export interface StoredSnapshot {
  source: string;
  people: SourcePerson[];
  groups: SourceGroup[];
}

export interface IdentitySyncStatus {
  source: string;
  lastAttemptAt: Instant | null;
  /** When the source last answered in full and the answer was applied. */
  lastSuccessAt: Instant | null;
  /** Why the last attempt failed; null after a success. */
  lastError: string | null;
  /** While an answer is held for disabling too many people at once: when, and what it would have done. */
  heldAt: Instant | null;
  heldMessage: string | null;
  people: number;
  groups: number;
}

export interface IdentitySnapshotStore {
  /** Every source's people and groups as last applied. */
  snapshots(): Promise<StoredSnapshot[]>;
  /**
   * Replaces a source's people and groups with a complete answer, records the success and
   * appends `audit`, in one transaction. Only ever called with an answer read in full.
   */
  replaceSnapshot(source: string, snapshot: { people: SourcePerson[]; groups: SourceGroup[] }, at: Instant, audit: AuditInput[]): Promise<void>;
  /** Records a failed or held attempt; the snapshot stays as it was. */
  recordAttempt(source: string, outcome: { at: Instant; error?: string; held?: string }, audit: AuditInput[]): Promise<void>;
  syncs(): Promise<IdentitySyncStatus[]>;

  /** SCIM pushes: one person created or replaced (by source id); true when it was new. */
  putPerson(source: string, person: SourcePerson, at: Instant, audit: AuditInput[]): Promise<boolean>;
  /** Creates or replaces a group (name and members); true when it was new. */
  putGroup(source: string, group: SourceGroup, at: Instant, audit: AuditInput[]): Promise<boolean>;
  /** Adds and removes members (`remove: 'all'` empties it first) and renames, atomically; null when unknown. */
  patchGroup(source: string, id: string, patch: { name?: string; add: string[]; remove: string[] | 'all' }, at: Instant, audit: AuditInput[]): Promise<SourceGroup | null>;
  deleteGroup(source: string, id: string, at: Instant, audit: AuditInput[]): Promise<boolean>;
}
