// The storage contract. Handlers and workers speak only to this interface, so a
// PostgreSQL store can stand beside the SQLite one without touching them.
import type { RequestState } from '../core/lifecycle.js';
import type { AccessRequest, Decision, Grant, Instant, RequestKind, RequestRecord } from '../core/types.js';

export const JOB_KINDS = ['grant', 'revoke', 'extend', 'timeout', 'notify', 'remind', 'expiry_warning', 'prune_audit', 'reconcile', 'activate', 'lapse'] as const;
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
  | { ok: true }
  | { ok: false; conflict: 'version'; requestId: string }
  | { ok: false; conflict: 'lease'; jobId: number }
  | { ok: false; conflict: 'duplicate_decision'; requestId: string }
  | { ok: false; conflict: 'duplicate_delivery'; deliveryId: string };

export interface RequestQuery {
  /** Requests this person asked for or receives. */
  involving?: string;
  states?: readonly RequestState[];
  kinds?: readonly RequestKind[];
  parentId?: string;
  limit?: number;
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

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  commit(change: Change): Promise<CommitResult>;

  getRequest(id: string): Promise<RequestRecord | null>;
  /** Every grant of an integration that was given a backend principal, with its request. */
  grantsWithPrincipal(integration: string): Promise<{ grant: Grant; request: AccessRequest }[]>;
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
  nextJobAt(): Promise<Instant | null>;
  jobsFor(requestId: string): Promise<Job[]>;

  auditEvents(query: { afterSeq?: number; since?: Instant; requestId?: string; limit?: number }): Promise<AuditEvent[]>;
  /**
   * Deletes audit events older than `before` and, in the same transaction, appends an
   * `audit.pruned` event carrying the last deleted hash, so the shortened chain still
   * verifies from a recorded anchor. Returns how many events were removed.
   */
  pruneAudit(before: Instant, at: Instant): Promise<number>;
  /** Forgets delivery ids older than `before` (chat platforms stop retrying after minutes). */
  pruneDeliveries(before: Instant): Promise<number>;

  /** Records who a platform user is; `address` (when given) replaces how to reach them proactively. */
  linkIdentity(platform: string, platformUserId: string, email: string, at: Instant, address?: string): Promise<void>;
  emailFor(platform: string, platformUserId: string): Promise<string | null>;
  /** Every platform account known for a person, most recently seen first. */
  platformIdsFor(email: string): Promise<{ platform: string; platformUserId: string; address: string | null; updatedAt: Instant }[]>;

  recordMessage(message: ChatMessage): Promise<void>;
  messagesFor(requestId: string): Promise<ChatMessage[]>;

  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
