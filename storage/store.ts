// The storage contract. Handlers and workers speak only to this interface, so a
// PostgreSQL store can stand beside the SQLite one without touching them.
import type { RequestState } from '../core/lifecycle.js';
import type { AccessRequest, Decision, Grant, Instant, RequestKind, RequestRecord } from '../core/types.js';
import type { IdentitySnapshotStore } from './identity-store.js';
import type { DiscoveryStore } from './discovery-store.js';

export const JOB_KINDS = ['grant', 'revoke', 'extend', 'timeout', 'notify', 'remind', 'expiry_warning', 'prune_audit', 'reconcile', 'activate', 'lapse', 'incident_note', 'oncall_handover', 'emergency_review', 'identity_sync', 'discovery_digest', 'discovery_sample', 'rds_discovery'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type JobState = 'pending' | 'running' | 'done' | 'dead' | 'cancelled';
export type JobPayload = Record<string, unknown>;

export interface NewJob {
  kind: JobKind;
  requestId: string | null;
  runAt: Instant;
  payload?: JobPayload;
  /** Enqueuing twice with the same key leaves one job. */
  dedupeKey?: string;
  /**
   * Inserted already claimed (running, its first attempt) for this owner and lease, so the
   * runner can start it the moment the commit returns, without a claim of its own. A job the
   * dedupe key already holds is not claimed.
   */
  claim?: JobClaim;
}

export interface JobClaim {
  owner: string;
  leaseUntil: Instant;
}

export interface Job {
  id: number;
  kind: JobKind;
  requestId: string | null;
  runAt: Instant;
  payload: JobPayload;
  state: JobState;
  attempts: number;
  claimedBy: string | null;
  leaseUntil: Instant | null;
  lastError: string | null;
  createdAt: Instant;
  finishedAt: Instant | null;
}

export interface AuditInput {
  type: string;
  requestId: string | null;
  /** E-mail of the person, or `latch` for the system. */
  actor: string;
  data: Record<string, unknown>;
  at: Instant;
}

export interface AuditEvent extends AuditInput {
  seq: number;
  prevHash: string;
  hash: string;
}

/** Where an audit sink stands in the audit log. */
export interface AuditSinkCursor {
  sink: string;
  /** The `seq` of the last event the sink acknowledged; it receives the events after it next. */
  deliveredSeq: number;
  deliveredAt: Instant | null;
  createdAt: Instant;
  /** Who streams to the sink, until when (null: nobody). */
  owner: string | null;
  leaseUntil: Instant | null;
}

/** What a sink has not received yet. */
export interface AuditBacklog {
  events: number;
  /** When the oldest of them happened. */
  oldestAt: Instant | null;
}

/** A conditional update: it applies only if the request is still in `expectState` at `expectVersion`. */
export interface RequestUpdate {
  id: string;
  expectState: RequestState;
  expectVersion: number;
  set: Partial<Omit<AccessRequest, 'id' | 'version' | 'kind' | 'createdAt'>>;
}

export interface GrantUpdate {
  id: string;
  set: Partial<Pick<Grant, 'state' | 'principal' | 'grantedAt' | 'revokedAt' | 'lastError'>>;
}

/** Everything one step of the life cycle writes. It commits whole or not at all. */
export interface Change {
  insertRequest?: { request: AccessRequest; grants: Grant[] };
  updateRequests?: RequestUpdate[];
  updateGrants?: GrantUpdate[];
  insertDecisions?: Decision[];
  audit?: AuditInput[];
  enqueue?: NewJob[];
  /** Cancel not-yet-finished jobs of these kinds for a request (e.g. the expiry job on early revoke). */
  cancelJobs?: { requestId: string; kinds: JobKind[] }[];
  /** Move pending jobs of a kind to a new time (e.g. expiry after an extension). */
  rescheduleJobs?: { requestId: string; kind: JobKind; runAt: Instant }[];
  /**
   * The chat delivery (Slack retry, double click) that caused this change. A second change
   * with the same id is refused whole, so a repeated delivery never acts twice.
   */
  deliveryId?: string;
  /** Mark the job that produced this change done, in the same transaction. */
  finishJob?: { id: number; claimedBy: string };
}

export type CommitResult =
  /** `claimed`: the jobs this change inserted claimed (NewJob.claim); absent when there are none. */
  | { ok: true; claimed?: Job[] }
  | { ok: false; conflict: 'version'; requestId: string }
  | { ok: false; conflict: 'lease'; jobId: number }
  | { ok: false; conflict: 'duplicate_decision'; requestId: string }
  | { ok: false; conflict: 'duplicate_delivery'; deliveryId: string };

export interface RequestQuery {
  /** Requests this person asked for or receives. */
  involving?: string;
  /** Requests any of these people receive. */
  grantees?: readonly string[];
  states?: readonly RequestState[];
  kinds?: readonly RequestKind[];
  parentId?: string;
  /** Requests extending any of these. */
  parentIds?: readonly string[];
  limit?: number;
}

/** A bound chat account of a person: where Latch reaches them (Store.platformIdsFor). */
export interface PlatformAccount {
  platform: string;
  platformUserId: string;
  chatId: string | null;
  address: string | null;
  updatedAt: Instant;
}

export interface ChatMessage {
  requestId: string;
  platform: string;
  channel: string;
  messageId: string;
  recipient: string | null;
  purpose: string;
  createdAt: Instant;
}

/** `bound`: Latch acts for the account. Otherwise why it refuses to, until an admin rebinds it. */
export type IdentityState = 'bound' | 'email_changed' | 'duplicate_email';

export interface IdentityBinding {
  platform: string;
  /** The platform's immutable id: a Slack user id, a Teams AAD object id (its 29: id only without one). */
  platformUserId: string;
  /** The Latch identity the account acts as; for a `duplicate_email` account, the e-mail it claims. */
  email: string;
  state: IdentityState;
  /** What the platform reports when it is not `email`. */
  reportedEmail: string | null;
  /** The id the platform addresses the account by, when it is not `platformUserId` (Teams: the 29: id). */
  chatId: string | null;
  /** How to reach the person proactively (a Teams conversation reference), as JSON. */
  address: string | null;
  boundAt: Instant;
  /** `latch` when bound on first sight, else who rebound it. */
  boundBy: string;
  /** When the platform's e-mail was last read (0: not since the binding was made or migrated). */
  checkedAt: Instant;
  updatedAt: Instant;
}

export interface IdentitySighting {
  platform: string;
  platformUserId: string;
  /** The e-mail the platform reports now; an account may report more than one (Teams: e-mail and UPN), the first is the one it goes by. */
  emails: readonly [string, ...string[]];
  at: Instant;
  /** Replaces how to reach the person, when given. */
  address?: string;
  chatId?: string;
  /** An e-mail belongs to one account of this platform (Slack: one per person in a workspace). */
  exclusive?: boolean;
}

/** `bound`: first sight. `confirmed`: as bound. `still_stopped`: stopped before, nothing new. */
export type SightingOutcome = 'bound' | 'confirmed' | 'email_changed' | 'duplicate_email' | 'still_stopped';

export interface IdentityRebind {
  platform: string;
  platformUserId: string;
  email: string;
  at: Instant;
  /** Who rebound it, for the audit event. */
  by: string;
}

export interface StoreStats {
  requestsByState: Partial<Record<RequestState, number>>;
  activeGrants: number;
  jobsPending: number;
  jobsRunning: number;
  jobsDead: number;
  revokeFailed: number;
}

export interface ClaimOptions {
  now: Instant;
  limit: number;
  owner: string;
  leaseMs: number;
  kinds?: readonly JobKind[];
}

/**
 * What RDS discovery knew of one block's region after its last pass (bot/rds-discovery.ts
 * gives the shapes; the store keeps them as JSON). Nothing in it is a secret: instances carry
 * only the tags discovery reads, integrations are config sources, whose secrets are references.
 */
export interface RdsDiscoveryListing {
  discovery: string;
  region: string;
  /** When the instances were listed; null when the region never was. */
  listedAt: Instant | null;
  instances: Record<string, unknown>[] | null;
  /** The listing's own problems (the region, or an instance's tags, could not be read). */
  problems: Record<string, unknown>[];
  /** The integrations in force found in this region, as config sources: offered, and kept only for live grants. */
  offered: Record<string, unknown>[];
  retained: Record<string, unknown>[];
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Identity sources' snapshots (storage/identity-store.ts); without it identity sources are off. */
  readonly identitySnapshots?: IdentitySnapshotStore;
  /** Access discovery's samples, scans and remediations (storage/discovery-store.ts); without it discovery keeps nothing. */
  readonly discovery?: DiscoveryStore;
  commit(change: Change): Promise<CommitResult>;
  /**
   * `commit` of each change, one promise per change that settles as `commit(change)` would
   * (a change commits whole or not at all, whatever becomes of the others), but in as few
   * transactions as the store can: a batch of jobs' results share one commit.
   */
  commitEach(changes: readonly Change[]): Promise<CommitResult>[];

  getRequest(id: string): Promise<RequestRecord | null>;
  /** The requests of these ids that exist, in no particular order. */
  getRequests(ids: readonly string[]): Promise<RequestRecord[]>;
  listRequests(query: RequestQuery): Promise<RequestRecord[]>;

  /** Claims due jobs (and jobs whose lease ran out) for `owner` until the lease ends. */
  claimJobs(options: ClaimOptions): Promise<Job[]>;
  renewLeases(ids: readonly number[], owner: string, until: Instant): Promise<void>;
  /** Gives a claimed job back to run again at `runAt`. */
  retryJob(id: number, owner: string, runAt: Instant, error: string): Promise<void>;
  /** A job that must never run again (its attempts are spent, or it cannot be understood). */
  buryJob(id: number, owner: string, error: string, at: Instant): Promise<void>;
  finishJob(id: number, owner: string, at: Instant): Promise<void>;
  /** Gives back every job this owner holds (graceful stop). */
  releaseJobs(owner: string): Promise<void>;
  /** The owners holding claims on running jobs now. */
  jobClaimants(): Promise<string[]>;
  /** Ends `owner`'s leases now: its jobs are claimed again as if the leases had run out (the attempt counts). */
  endLeases(owner: string, now: Instant): Promise<number>;
  nextJobAt(): Promise<Instant | null>;
  jobsFor(requestId: string): Promise<Job[]>;

  auditEvents(query: { afterSeq?: number; since?: Instant; requestId?: string; limit?: number }): Promise<AuditEvent[]>;
  /**
   * Deletes audit events older than `before` and, in the same transaction, appends an
   * `audit.pruned` event carrying the last deleted hash, so the shortened chain still
   * verifies from a recorded anchor. Returns how many events were removed.
   */
  pruneAudit(before: Instant, at: Instant): Promise<number>;
  /**
   * The cursor of an audit sink, made when the sink is new: after the last event in the log
   * (`now`) or before the first (`beginning`). An existing cursor is returned as it is.
   */
  openAuditCursor(sink: string, from: 'now' | 'beginning', at: Instant): Promise<AuditSinkCursor>;
  /** Takes or renews the right to stream to `sink` until `until`; false while another owner's lease runs. */
  leaseAuditCursor(sink: string, owner: string, now: Instant, until: Instant): Promise<boolean>;
  /** Moves the cursor from `fromSeq` to `toSeq`; false (and nothing changed) when it is elsewhere or `owner` lost the lease. */
  advanceAuditCursor(sink: string, owner: string, fromSeq: number, toSeq: number, at: Instant): Promise<boolean>;
  /** Gives back every sink lease this owner holds (graceful stop). */
  releaseAuditCursors(owner: string): Promise<void>;
  /** The events after `afterSeq`: how many, and when the oldest happened. */
  auditBacklog(afterSeq: number): Promise<AuditBacklog>;
  /** Forgets delivery ids older than `before` (chat platforms stop retrying after minutes). */
  pruneDeliveries(before: Instant): Promise<number>;

  /** The binding of one chat account, whatever its state. */
  identityOf(platform: string, platformUserId: string): Promise<IdentityBinding | null>;
  /**
   * Records what the platform reports for an account, in one transaction with its audit
   * event: an unknown account is bound to the reported e-mail, unless it
   * is `exclusive` and another account of the platform has that e-mail (`duplicate_email`);
   * a bound account reporting another e-mail keeps its binding and is stopped
   * (`email_changed`). Both write `identity.mismatch`. Nothing but `rebindIdentity` changes
   * a bound e-mail or lifts a stop; a stopped account reporting yet another e-mail is
   * recorded (and audited) again.
   */
  observeIdentity(sighting: IdentitySighting): Promise<{ binding: IdentityBinding; outcome: SightingOutcome }>;
  /** An admin binds an account to `email` (creating it if unknown) and lifts any stop; audited as `identity.rebound`. */
  rebindIdentity(rebind: IdentityRebind): Promise<{ before: IdentityBinding | null; binding: IdentityBinding }>;
  /** Moves an account to a new key (Teams: from its 29: id to its AAD object id); false when there is nothing to move or the new key is taken. */
  rekeyIdentity(platform: string, fromId: string, toId: string): Promise<boolean>;
  /** Every binding, stopped ones first, then by platform and e-mail. */
  listIdentities(): Promise<IdentityBinding[]>;
  /** Every bound platform account of a person (stopped ones never), most recently seen first. */
  platformIdsFor(email: string): Promise<PlatformAccount[]>;

  recordMessage(message: ChatMessage): Promise<void>;
  messagesFor(requestId: string): Promise<ChatMessage[]>;

  stats(): Promise<StoreStats>;
  close(): Promise<void>;

  /**
   * The grants of an integration that were given a backend principal, with their requests, a
   * page at a time in grant id order: at most `limit` grants whose id comes after `afterId`
   * (null: from the first). Only pages, so that what a reader (reconcile) holds does not grow
   * with the number of grants in the store.
   */
  grantsWithPrincipalPage(integration: string, afterId: string | null, limit: number): Promise<{ grant: Grant; request: AccessRequest }[]>;

  /** RDS discovery's last listings, every block's, in discovery and region order (read at start-up). */
  rdsDiscoveryListings(): Promise<RdsDiscoveryListing[]>;
  /** Replaces every RDS discovery listing with `listings`, with the audit events of what changed, in one transaction. */
  replaceRdsDiscoveryListings(listings: readonly RdsDiscoveryListing[], audit: readonly AuditInput[]): Promise<void>;
}
