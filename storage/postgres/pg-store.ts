import { and, asc, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { AccessRequest, Grant, RequestRecord } from '../../core/types.js';
import { auditHash, GENESIS_HASH } from '../audit-hash.js';
import { fromRdsDiscoveryListing, toAudit, toDecision, toGrant, toIdentity, toJob, toRdsDiscoveryListing, toRequest, requestColumns } from '../row-mappers.js';
import type {
  AuditBacklog, AuditEvent, AuditInput, AuditSinkCursor, ChatMessage, ClaimOptions, CommitResult, Change, IdentityBinding, IdentityRebind, IdentitySighting, IdentityState, Job,
  PlatformAccount, RdsDiscoveryListing, RequestQuery, SightingOutcome, Store, StoreStats,
} from '../store.js';
import { applyInBulk, appliesInBulk, BulkRefused } from './pg-bulk-apply.js';
import { PgIdentitySnapshots } from './pg-identity-snapshots.js';
import { appliesInOneStatement, writeInOneStatement } from './pg-one-statement.js';
import { PgDiscoveryRecords } from './pg-discovery-records.js';
import { isRetryableConflict, isUniqueViolation } from './pg-errors.js';
import { migratePostgres } from './pg-migrate.js';
import * as schema from './schema.js';

type Db = NodePgDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The transaction-scoped advisory lock every audit append takes before it reads the chain's
 * head: appends from all instances form one sequence, each linking to the one committed
 * before it, with no gap and no fork. Held until commit, so the next append sees this one.
 */
const AUDIT_CHAIN_LOCK_KEY = 0x6c61746361;

/** How often a transaction that hit a deadlock or serialization failure is run again. */
const CONFLICT_ATTEMPTS = 5;

/** A commit's success, with the jobs it inserted claimed when there are any. */
function committedWith(claimed: Job[]): CommitResult {
  return claimed.length > 0 ? { ok: true, claimed } : { ok: true };
}

/** What became of one change of a shared transaction: its result, or the error it alone failed with. */
type SharedOutcome = { ok: true; result: CommitResult } | { ok: false; error: unknown };

/** Thrown inside a transaction to roll it back and report why; never escapes the store. */
class Rollback extends Error {
  constructor(readonly result: Exclude<CommitResult, { ok: true }>) {
    super('rollback');
  }
}

const count = sql<number>`count(*)`.mapWith(Number);

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database (any libpq URL node-postgres accepts). */
  url: string;
  /** Connections this instance keeps open at most. */
  maxConnections?: number;
}

/**
 * The shared store: any number of Latch instances on one PostgreSQL database. Transactions
 * run at READ COMMITTED; what must happen once is made so by the database itself: a
 * conditional UPDATE on state and version (the second writer re-reads the row after the
 * first commits and matches nothing), the deliveries and decisions primary and unique keys,
 * jobs claimed with FOR UPDATE SKIP LOCKED, and the audit chain's advisory lock.
 */
export class PgStore implements Store {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly db: Db;
  readonly identitySnapshots: PgIdentitySnapshots;
  readonly discovery: PgDiscoveryRecords;

  constructor(options: PgStoreOptions) {
    this.pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000 });
    // An idle connection the server dropped: the pool replaces it on the next query, which reports any real outage.
    this.pool.on('error', () => undefined);
    // One dropped while checked out (a failover, pg_terminate_backend) emits 'error' on its client, which
    // unhandled would end the process; the query on it fails instead, and its work is retried.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.db = drizzle(this.pool, { schema });
    this.identitySnapshots = new PgIdentitySnapshots(this.db, (work) => this.write(work), (tx, events) => this.appendAudit(tx, events));
    this.discovery = new PgDiscoveryRecords(this.db, (work) => this.write(work), (tx, events) => this.appendAudit(tx, events));
  }

  /** The drizzle database, for moving rows in and out (`latch store copy`); not for handlers. */
  get database(): Db {
    return this.db;
  }

  /** Applies pending migrations under an advisory lock. Safe to run at every start of every instance. */
  async migrate(): Promise<void> {
    await migratePostgres(this.pool);
  }

  private async write<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.db.transaction(work);
      } catch (error) {
        if (attempt < CONFLICT_ATTEMPTS && isRetryableConflict(error)) continue;
        throw error;
      }
    }
  }

  async commit(change: Change): Promise<CommitResult> {
    try {
      return committedWith(await this.write((tx) => this.apply(tx, change)));
    } catch (error) {
      if (error instanceof Rollback) return error.result;
      throw error;
    }
  }

  /**
   * The changes in one transaction. A batch of jobs' results goes set-based (a few statements
   * for all of them, storage/postgres/pg-bulk-apply.ts); when one of its conditions does not
   * hold, or the batch holds other kinds of writes, each change gets a savepoint of its own
   * instead: one that is refused or fails rolls back alone. The audit events of all of them
   * are appended together at the end, so the chain lock is still the last lock taken and is
   * taken once. No promise settles before the COMMIT; a transaction lost as a whole (after the
   * deadlock retries, or at COMMIT) runs each change alone instead.
   */
  commitEach(changes: readonly Change[]): Promise<CommitResult>[] {
    if (changes.length <= 1) return changes.map((change) => this.commit(change));
    const together = appliesInBulk(changes)
      ? this.inBulk(changes).catch((error: unknown) => (error instanceof BulkRefused ? this.withSavepoints(changes) : Promise.reject(error)))
      : this.withSavepoints(changes);
    const fallback = together.catch(() => null);
    return changes.map(async (change, index) => {
      const outcomes = await fallback;
      if (!outcomes) return this.commit(change);
      const outcome = outcomes[index];
      if (!outcome) throw new Error('the shared commit lost a change');
      if (!outcome.ok) throw outcome.error;
      return outcome.result;
    });
  }

  private inBulk(changes: readonly Change[]): Promise<SharedOutcome[]> {
    return this.write(async (tx) => {
      await applyInBulk((query) => tx.execute(query), changes, Date.now());
      const audit = changes.flatMap((change) => change.audit ?? []);
      if (audit.length > 0) await this.appendAudit(tx, audit);
      return changes.map((): SharedOutcome => ({ ok: true, result: { ok: true } }));
    });
  }

  private withSavepoints(changes: readonly Change[]): Promise<SharedOutcome[]> {
    return this.write(async (tx) => {
      const outcomes: SharedOutcome[] = [];
      const audit: AuditInput[] = [];
      for (const change of changes) {
        try {
          const claimed = await tx.transaction((savepoint) => this.apply(savepoint, { ...change, audit: [] }));
          outcomes.push({ ok: true, result: committedWith(claimed) });
          audit.push(...(change.audit ?? []));
        } catch (error) {
          // A deadlock or serialization failure runs the whole transaction again, as it would one change.
          if (isRetryableConflict(error)) throw error;
          outcomes.push(error instanceof Rollback ? { ok: true, result: error.result } : { ok: false, error });
        }
      }
      if (audit.length > 0) await this.appendAudit(tx, audit);
      return outcomes;
    });
  }

  /** Applies one change; returns the jobs it inserted claimed. */
  private async apply(tx: Tx, change: Change): Promise<Job[]> {
    if (appliesInOneStatement(change)) return this.applyInOneStatement(tx, change);
    return this.applyByStatement(tx, change);
  }

  /** A change's rows in one statement (pg-one-statement.ts), which also takes the chain's lock when it has audit events; then those. */
  private async applyInOneStatement(tx: Tx, change: Change): Promise<Job[]> {
    const audit = change.audit ?? [];
    const { query, read } = writeInOneStatement(this.db, change, Date.now(), audit.length > 0 ? AUDIT_CHAIN_LOCK_KEY : null);
    const outcome = read(query ? (await tx.execute<Record<string, unknown>>(query)).rows[0] : undefined);
    if (outcome.refused) throw new Rollback(outcome.refused);
    if (audit.length > 0) await this.appendAudit(tx, audit, true);
    return outcome.claimed;
  }

  /** The writes of a change one statement each, in order, for a change whose parts touch the same rows. */
  private async applyByStatement(tx: Tx, change: Change): Promise<Job[]> {
    if (change.deliveryId) {
      // Another instance inserting the same id waits for our commit, then inserts nothing.
      const seen = await tx.insert(schema.deliveries).values({ id: change.deliveryId, at: Date.now() }).onConflictDoNothing();
      if (seen.rowCount !== 1) throw new Rollback({ ok: false, conflict: 'duplicate_delivery', deliveryId: change.deliveryId });
    }
    if (change.finishJob) {
      const { id, claimedBy } = change.finishJob;
      const held = await tx.update(schema.jobs).set({ state: 'done', finishedAt: Date.now(), leaseUntil: null })
        .where(and(eq(schema.jobs.id, id), eq(schema.jobs.state, 'running'), eq(schema.jobs.claimedBy, claimedBy)));
      // Another instance took the job over after our lease ran out: its work wins, ours is dropped.
      if (held.rowCount !== 1) throw new Rollback({ ok: false, conflict: 'lease', jobId: id });
    }
    if (change.insertRequest) {
      const { context, ...request } = change.insertRequest.request;
      await tx.insert(schema.requests).values({ ...request, context: context ? JSON.stringify(context) : null });
      if (change.insertRequest.grants.length > 0) await tx.insert(schema.grants).values(change.insertRequest.grants);
    }
    for (const update of change.updateRequests ?? []) {
      const result = await tx.update(schema.requests)
        .set({ ...requestColumns(update.set), version: update.expectVersion + 1 })
        .where(and(eq(schema.requests.id, update.id), eq(schema.requests.state, update.expectState), eq(schema.requests.version, update.expectVersion)));
      if (result.rowCount !== 1) throw new Rollback({ ok: false, conflict: 'version', requestId: update.id });
    }
    for (const update of change.updateGrants ?? []) {
      await tx.update(schema.grants).set(update.set).where(eq(schema.grants.id, update.id));
    }
    for (const decision of change.insertDecisions ?? []) {
      try {
        await tx.insert(schema.decisions).values(decision);
      } catch (error) {
        if (isUniqueViolation(error, 'decisions_once')) throw new Rollback({ ok: false, conflict: 'duplicate_decision', requestId: decision.requestId });
        throw error;
      }
    }
    for (const cancel of change.cancelJobs ?? []) {
      await tx.update(schema.jobs).set({ state: 'cancelled', finishedAt: Date.now(), leaseUntil: null })
        .where(and(eq(schema.jobs.requestId, cancel.requestId), inArray(schema.jobs.kind, cancel.kinds), inArray(schema.jobs.state, ['pending', 'running']),
          change.finishJob ? sql`${schema.jobs.id} <> ${change.finishJob.id}` : undefined));
    }
    for (const move of change.rescheduleJobs ?? []) {
      await tx.update(schema.jobs).set({ runAt: move.runAt })
        .where(and(eq(schema.jobs.requestId, move.requestId), eq(schema.jobs.kind, move.kind), eq(schema.jobs.state, 'pending')));
    }
    const now = Date.now();
    const claimed: Job[] = [];
    for (const job of change.enqueue ?? []) {
      const row = {
        kind: job.kind, requestId: job.requestId, runAt: job.runAt, payload: JSON.stringify(job.payload ?? {}),
        state: 'pending', dedupeKey: job.dedupeKey ?? null, createdAt: now,
      };
      if (!job.claim) {
        await tx.insert(schema.jobs).values(row).onConflictDoNothing();
        continue;
      }
      const rows = await tx.insert(schema.jobs).values({ ...row, state: 'running', claimedBy: job.claim.owner, leaseUntil: job.claim.leaseUntil, attempts: 1 })
        .onConflictDoNothing().returning();
      claimed.push(...rows.map(toJob));
    }
    if (change.audit && change.audit.length > 0) await this.appendAudit(tx, change.audit);
    return claimed;
  }

  /**
   * Appends to the chain; call last in a transaction, so the chain lock is the last lock it
   * takes and is held briefly. `locked`: this transaction took the lock in an earlier statement.
   */
  private async appendAudit(tx: Tx, events: readonly AuditInput[], locked = false): Promise<void> {
    if (!locked) await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
    const [last] = await tx.select({ seq: schema.auditEvents.seq, hash: schema.auditEvents.hash }).from(schema.auditEvents)
      .orderBy(desc(schema.auditEvents.seq)).limit(1);
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const rows: (typeof schema.auditEvents.$inferInsert)[] = [];
    for (const event of events) {
      seq += 1;
      const hash = auditHash(prevHash, seq, event);
      rows.push({ seq, at: event.at, type: event.type, requestId: event.requestId, actor: event.actor, data: JSON.stringify(event.data), prevHash, hash });
      prevHash = hash;
    }
    await tx.insert(schema.auditEvents).values(rows);
  }

  private async records(rows: (typeof schema.requests.$inferSelect)[]): Promise<RequestRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const [grantRows, decisionRows] = await Promise.all([
      this.db.select().from(schema.grants).where(inArray(schema.grants.requestId, ids)).orderBy(asc(schema.grants.id)),
      this.db.select().from(schema.decisions).where(inArray(schema.decisions.requestId, ids)).orderBy(asc(schema.decisions.at), asc(schema.decisions.id)),
    ]);
    return rows.map((row) => ({
      request: toRequest(row),
      grants: grantRows.filter((grant) => grant.requestId === row.id).map(toGrant),
      decisions: decisionRows.filter((decision) => decision.requestId === row.id).map(toDecision),
    }));
  }

  async getRequest(id: string): Promise<RequestRecord | null> {
    const [row] = await this.db.select().from(schema.requests).where(eq(schema.requests.id, id));
    return row ? ((await this.records([row]))[0] ?? null) : null;
  }

  async getRequests(ids: readonly string[]): Promise<RequestRecord[]> {
    if (ids.length === 0) return [];
    return this.records(await this.db.select().from(schema.requests).where(inArray(schema.requests.id, [...ids])));
  }

  async listRequests(query: RequestQuery): Promise<RequestRecord[]> {
    const conditions: (SQL | undefined)[] = [];
    if (query.involving) conditions.push(or(eq(schema.requests.requester, query.involving), eq(schema.requests.grantee, query.involving)));
    if (query.grantees) conditions.push(inArray(schema.requests.grantee, [...query.grantees]));
    if (query.parentIds) conditions.push(inArray(schema.requests.parentId, [...query.parentIds]));
    if (query.states) conditions.push(inArray(schema.requests.state, [...query.states]));
    if (query.kinds) conditions.push(inArray(schema.requests.kind, [...query.kinds]));
    if (query.parentId) conditions.push(eq(schema.requests.parentId, query.parentId));
    const rows = await this.db.select().from(schema.requests).where(and(...conditions))
      .orderBy(desc(schema.requests.createdAt)).limit(query.limit ?? 500);
    return this.records(rows);
  }

  /**
   * Locks the due rows it picks and skips rows another instance is claiming right now, so
   * two instances never claim the same job and neither waits for the other. A running job
   * whose lease ran out (its instance died) is due again.
   */
  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    const { now, limit, owner, leaseMs, kinds } = options;
    return this.write(async (tx) => {
      const due = await tx.select({ id: schema.jobs.id }).from(schema.jobs)
        .where(and(
          or(and(eq(schema.jobs.state, 'pending'), lte(schema.jobs.runAt, now)), and(eq(schema.jobs.state, 'running'), lte(schema.jobs.leaseUntil, now))),
          kinds ? inArray(schema.jobs.kind, [...kinds]) : undefined,
        ))
        .orderBy(asc(schema.jobs.runAt), asc(schema.jobs.id)).limit(limit)
        .for('update', { skipLocked: true });
      if (due.length === 0) return [];
      const claimed = await tx.update(schema.jobs)
        .set({ state: 'running', claimedBy: owner, leaseUntil: now + leaseMs, attempts: sql`${schema.jobs.attempts} + 1` })
        .where(inArray(schema.jobs.id, due.map((job) => job.id)))
        .returning();
      return claimed.map(toJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
    });
  }

  async renewLeases(ids: readonly number[], owner: string, until: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.update(schema.jobs).set({ leaseUntil: until })
      .where(and(inArray(schema.jobs.id, [...ids]), eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running')));
  }

  private async settle(id: number, owner: string, set: Partial<typeof schema.jobs.$inferInsert>): Promise<void> {
    await this.db.update(schema.jobs).set({ ...set, leaseUntil: null })
      .where(and(eq(schema.jobs.id, id), eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running')));
  }

  async retryJob(id: number, owner: string, runAt: number, error: string): Promise<void> {
    await this.settle(id, owner, { state: 'pending', runAt, lastError: error });
  }

  async buryJob(id: number, owner: string, error: string, at: number): Promise<void> {
    await this.settle(id, owner, { state: 'dead', lastError: error, finishedAt: at });
  }

  async finishJob(id: number, owner: string, at: number): Promise<void> {
    await this.settle(id, owner, { state: 'done', finishedAt: at });
  }

  async releaseJobs(owner: string): Promise<void> {
    await this.db.update(schema.jobs).set({ state: 'pending', leaseUntil: null, claimedBy: null, attempts: sql`greatest(${schema.jobs.attempts} - 1, 0)` })
      .where(and(eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running')));
  }

  async jobClaimants(): Promise<string[]> {
    const rows = await this.db.selectDistinct({ owner: schema.jobs.claimedBy }).from(schema.jobs).where(eq(schema.jobs.state, 'running'));
    return rows.flatMap((row) => (row.owner ? [row.owner] : []));
  }

  async endLeases(owner: string, now: number): Promise<number> {
    const ended = await this.db.update(schema.jobs).set({ leaseUntil: now })
      .where(and(eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running')));
    return ended.rowCount ?? 0;
  }

  async nextJobAt(): Promise<number | null> {
    const [pending] = await this.db.select({ at: sql<number | null>`min(${schema.jobs.runAt})`.mapWith(Number) }).from(schema.jobs).where(eq(schema.jobs.state, 'pending'));
    const [leased] = await this.db.select({ at: sql<number | null>`min(${schema.jobs.leaseUntil})`.mapWith(Number) }).from(schema.jobs).where(eq(schema.jobs.state, 'running'));
    const times = [pending?.at, leased?.at].filter((at): at is number => typeof at === 'number');
    return times.length > 0 ? Math.min(...times) : null;
  }

  async jobsFor(requestId: string): Promise<Job[]> {
    return (await this.db.select().from(schema.jobs).where(eq(schema.jobs.requestId, requestId)).orderBy(asc(schema.jobs.id))).map(toJob);
  }

  async auditEvents(query: { afterSeq?: number; since?: number; requestId?: string; limit?: number }): Promise<AuditEvent[]> {
    const rows = await this.db.select().from(schema.auditEvents)
      .where(and(
        query.afterSeq !== undefined ? gt(schema.auditEvents.seq, query.afterSeq) : undefined,
        query.since !== undefined ? gte(schema.auditEvents.at, query.since) : undefined,
        query.requestId !== undefined ? eq(schema.auditEvents.requestId, query.requestId) : undefined,
      ))
      .orderBy(asc(schema.auditEvents.seq)).limit(query.limit ?? 10_000);
    return rows.map(toAudit);
  }

  async pruneAudit(before: number, at: number): Promise<number> {
    return this.write(async (tx) => {
      // The chain lock first: no append may link to an event this transaction deletes.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
      const [last] = await tx.select({ seq: schema.auditEvents.seq, hash: schema.auditEvents.hash }).from(schema.auditEvents)
        .where(lt(schema.auditEvents.at, before)).orderBy(desc(schema.auditEvents.seq)).limit(1);
      if (!last) return 0;
      const removed = (await tx.delete(schema.auditEvents).where(lte(schema.auditEvents.seq, last.seq))).rowCount ?? 0;
      await this.appendAudit(tx, [{ type: 'audit.pruned', requestId: null, actor: 'latch', at, data: { throughSeq: last.seq, lastHash: last.hash, before, removed } }]);
      return removed;
    });
  }

  async openAuditCursor(sink: string, from: 'now' | 'beginning', at: number): Promise<AuditSinkCursor> {
    return this.write(async (tx) => {
      const last = from === 'now'
        ? (await tx.select({ seq: sql<number | null>`max(${schema.auditEvents.seq})`.mapWith(Number) }).from(schema.auditEvents))[0]?.seq ?? 0
        : 0;
      await tx.insert(schema.auditSinkCursors).values({ sink, deliveredSeq: last, createdAt: at }).onConflictDoNothing();
      const [row] = await tx.select().from(schema.auditSinkCursors).where(eq(schema.auditSinkCursors.sink, sink));
      if (!row) throw new Error(`audit sink cursor ${sink} vanished`);
      return row;
    });
  }

  async leaseAuditCursor(sink: string, owner: string, now: number, until: number): Promise<boolean> {
    const c = schema.auditSinkCursors;
    // One UPDATE: two instances racing for a free cursor are serialised on its row, and the second finds it taken.
    const taken = await this.db.update(c).set({ owner, leaseUntil: until })
      .where(and(eq(c.sink, sink), or(isNull(c.owner), eq(c.owner, owner), lte(c.leaseUntil, now))));
    return taken.rowCount === 1;
  }

  async advanceAuditCursor(sink: string, owner: string, fromSeq: number, toSeq: number, at: number): Promise<boolean> {
    const c = schema.auditSinkCursors;
    const moved = await this.db.update(c).set({ deliveredSeq: toSeq, deliveredAt: at })
      .where(and(eq(c.sink, sink), eq(c.owner, owner), eq(c.deliveredSeq, fromSeq)));
    return moved.rowCount === 1;
  }

  async releaseAuditCursors(owner: string): Promise<void> {
    const c = schema.auditSinkCursors;
    await this.db.update(c).set({ owner: null, leaseUntil: null }).where(eq(c.owner, owner));
  }

  async auditBacklog(afterSeq: number): Promise<AuditBacklog> {
    // Read at every scrape: the seqs after the cursor are contiguous (only the oldest events are ever
    // pruned), so the first and last of them count the backlog without scanning it.
    const [oldest] = await this.db.select({ seq: schema.auditEvents.seq, at: schema.auditEvents.at }).from(schema.auditEvents)
      .where(gt(schema.auditEvents.seq, afterSeq)).orderBy(asc(schema.auditEvents.seq)).limit(1);
    if (!oldest) return { events: 0, oldestAt: null };
    const [last] = await this.db.select({ seq: sql<number>`max(${schema.auditEvents.seq})`.mapWith(Number) }).from(schema.auditEvents);
    return { events: (last?.seq ?? oldest.seq) - oldest.seq + 1, oldestAt: oldest.at };
  }

  async pruneDeliveries(before: number): Promise<number> {
    return (await this.db.delete(schema.deliveries).where(lt(schema.deliveries.at, before))).rowCount ?? 0;
  }

  async identityOf(platform: string, platformUserId: string): Promise<IdentityBinding | null> {
    return this.identityRow(this.db, platform, platformUserId);
  }

  private async identityRow(tx: Tx | Db, platform: string, platformUserId: string, lock = false): Promise<IdentityBinding | null> {
    const query = tx.select().from(schema.identities)
      .where(and(eq(schema.identities.platform, platform), eq(schema.identities.platformUserId, platformUserId)));
    const [row] = lock ? await query.for('update') : await query;
    return row ? toIdentity(row) : null;
  }

  async observeIdentity(sighting: IdentitySighting): Promise<{ binding: IdentityBinding; outcome: SightingOutcome }> {
    const { platform, platformUserId, at } = sighting;
    const reported = sighting.emails.map((email) => email.trim().toLowerCase());
    const primary = reported[0] ?? '';
    const key = and(eq(schema.identities.platform, platform), eq(schema.identities.platformUserId, platformUserId));
    const mismatch = (reason: IdentityState, bound: string, other: string | null): AuditInput => ({
      type: 'identity.mismatch', requestId: null, actor: 'latch', at,
      data: { platform, user: platformUserId, reason, boundEmail: bound, reportedEmail: primary, ...(other ? { boundTo: other } : {}) },
    });
    return this.write(async (tx) => {
      // Exclusive first sightings of one e-mail on two instances at once: the lock makes the second see the first.
      if (sighting.exclusive) await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`identity:${platform}:${primary}`}))`);
      const known = await this.identityRow(tx, platform, platformUserId, true);
      if (!known) {
        const [holder] = sighting.exclusive
          ? await tx.select({ platformUserId: schema.identities.platformUserId }).from(schema.identities)
            .where(and(eq(schema.identities.platform, platform), eq(schema.identities.email, primary))).orderBy(asc(schema.identities.boundAt)).limit(1)
          : [];
        const state: IdentityState = holder ? 'duplicate_email' : 'bound';
        const inserted = await tx.insert(schema.identities).values({
          platform, platformUserId, email: primary, state, address: sighting.address ?? null, chatId: sighting.chatId ?? null,
          boundAt: at, boundBy: 'latch', checkedAt: at, updatedAt: at,
        }).onConflictDoNothing();
        // The same account seen first on two instances at once: the other's binding stands, and this sighting confirms it.
        if (inserted.rowCount !== 1) {
          const binding = await this.identityRow(tx, platform, platformUserId);
          if (binding) return { binding, outcome: 'confirmed' as const };
        }
        // First sight is the row itself (bound_at, bound_by); only what needs an admin goes to the audit log.
        if (holder) await this.appendAudit(tx, [mismatch('duplicate_email', primary, holder.platformUserId)]);
        return { binding: (await this.identityRow(tx, platform, platformUserId)) as IdentityBinding, outcome: holder ? 'duplicate_email' as const : 'bound' as const };
      }
      if (known.state === 'bound' && reported.includes(known.email)) {
        await tx.update(schema.identities).set({
          checkedAt: at, updatedAt: at, ...(sighting.address !== undefined ? { address: sighting.address } : {}), ...(sighting.chatId !== undefined ? { chatId: sighting.chatId } : {}),
        }).where(key);
        return { binding: (await this.identityRow(tx, platform, platformUserId)) as IdentityBinding, outcome: 'confirmed' as const };
      }
      // A stopped account stays stopped; what it reports is recorded, and audited when it is news.
      const lastReported = known.reportedEmail ?? known.email;
      const news = known.state === 'bound' || !reported.includes(lastReported);
      const state: IdentityState = known.state === 'bound' ? 'email_changed' : known.state;
      await tx.update(schema.identities).set({ state, reportedEmail: news ? primary : known.reportedEmail, checkedAt: at }).where(key);
      if (news) await this.appendAudit(tx, [mismatch(state, known.email, null)]);
      return { binding: (await this.identityRow(tx, platform, platformUserId)) as IdentityBinding, outcome: news ? state : 'still_stopped' as const };
    });
  }

  async rebindIdentity(rebind: IdentityRebind): Promise<{ before: IdentityBinding | null; binding: IdentityBinding }> {
    const { platform, platformUserId, at, by } = rebind;
    const email = rebind.email.trim().toLowerCase();
    return this.write(async (tx) => {
      const before = await this.identityRow(tx, platform, platformUserId, true);
      const set = { email, state: 'bound', reportedEmail: null, boundAt: at, boundBy: by, updatedAt: at };
      await tx.insert(schema.identities).values({ platform, platformUserId, ...set })
        .onConflictDoUpdate({ target: [schema.identities.platform, schema.identities.platformUserId], set });
      await this.appendAudit(tx, [{
        type: 'identity.rebound', requestId: null, actor: by, at,
        data: { platform, user: platformUserId, email, previousEmail: before?.email ?? null, previousState: before?.state ?? null, reportedEmail: before?.reportedEmail ?? null, by },
      }]);
      return { before, binding: (await this.identityRow(tx, platform, platformUserId)) as IdentityBinding };
    });
  }

  async rekeyIdentity(platform: string, fromId: string, toId: string): Promise<boolean> {
    if (fromId === toId) return false;
    try {
      return await this.write(async (tx) => {
        if (await this.identityRow(tx, platform, toId)) return false;
        const moved = await tx.update(schema.identities).set({ platformUserId: toId })
          .where(and(eq(schema.identities.platform, platform), eq(schema.identities.platformUserId, fromId)));
        return (moved.rowCount ?? 0) > 0;
      });
    } catch (error) {
      // Another instance made the new key between our look and our move: it is taken.
      if (isUniqueViolation(error, 'identities_platform_platform_user_id_pk')) return false;
      throw error;
    }
  }

  async listIdentities(): Promise<IdentityBinding[]> {
    // Byte order, as SQLite compares text, whatever collation the database was created with.
    const rows = await this.db.select().from(schema.identities)
      .orderBy(sql`${schema.identities.state} = 'bound'`, sql`${schema.identities.platform} COLLATE "C"`, sql`${schema.identities.email} COLLATE "C"`, sql`${schema.identities.platformUserId} COLLATE "C"`);
    return rows.map(toIdentity);
  }

  async platformIdsFor(email: string): Promise<PlatformAccount[]> {
    return this.db.select({
      platform: schema.identities.platform, platformUserId: schema.identities.platformUserId, chatId: schema.identities.chatId,
      address: schema.identities.address, updatedAt: schema.identities.updatedAt,
    }).from(schema.identities).where(and(eq(schema.identities.email, email.toLowerCase()), eq(schema.identities.state, 'bound')))
      .orderBy(desc(schema.identities.updatedAt));
  }

  async recordMessage(message: ChatMessage): Promise<void> {
    await this.db.insert(schema.chatMessages).values(message).onConflictDoNothing();
  }

  async messagesFor(requestId: string): Promise<ChatMessage[]> {
    return this.db.select({
      requestId: schema.chatMessages.requestId, platform: schema.chatMessages.platform, channel: schema.chatMessages.channel,
      messageId: schema.chatMessages.messageId, recipient: schema.chatMessages.recipient, purpose: schema.chatMessages.purpose, createdAt: schema.chatMessages.createdAt,
    }).from(schema.chatMessages).where(eq(schema.chatMessages.requestId, requestId)).orderBy(asc(schema.chatMessages.id));
  }

  async stats(): Promise<StoreStats> {
    const byState = await this.db.select({ state: schema.requests.state, count }).from(schema.requests).groupBy(schema.requests.state);
    const countOf = async (where: SQL | undefined, table: typeof schema.jobs | typeof schema.grants): Promise<number> =>
      (await this.db.select({ count }).from(table).where(where))[0]?.count ?? 0;
    const requestsByState = Object.fromEntries(byState.map((row) => [row.state, row.count])) as StoreStats['requestsByState'];
    const [activeGrants, jobsPending, jobsRunning, jobsDead] = await Promise.all([
      countOf(eq(schema.grants.state, 'active'), schema.grants),
      countOf(eq(schema.jobs.state, 'pending'), schema.jobs),
      countOf(eq(schema.jobs.state, 'running'), schema.jobs),
      countOf(eq(schema.jobs.state, 'dead'), schema.jobs),
    ]);
    return { requestsByState, activeGrants, jobsPending, jobsRunning, jobsDead, revokeFailed: requestsByState.revoke_failed ?? 0 };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  async grantsWithPrincipalPage(integration: string, afterId: string | null, limit: number): Promise<{ grant: Grant; request: AccessRequest }[]> {
    const rows = await this.db.select({ grant: schema.grants, request: schema.requests }).from(schema.grants)
      .innerJoin(schema.requests, eq(schema.grants.requestId, schema.requests.id))
      .where(and(eq(schema.grants.integration, integration), isNotNull(schema.grants.principal), afterId === null ? undefined : gt(schema.grants.id, afterId)))
      .orderBy(asc(schema.grants.id)).limit(limit);
    return rows.map((row) => ({ grant: toGrant(row.grant), request: toRequest(row.request) }));
  }

  async rdsDiscoveryListings(): Promise<RdsDiscoveryListing[]> {
    const l = schema.rdsDiscoveryListings;
    // Byte order, as SQLite compares text.
    return (await this.db.select().from(l).orderBy(sql`${l.discovery} COLLATE "C"`, sql`${l.region} COLLATE "C"`)).map(toRdsDiscoveryListing);
  }

  async replaceRdsDiscoveryListings(listings: readonly RdsDiscoveryListing[], audit: readonly AuditInput[]): Promise<void> {
    await this.write(async (tx) => {
      await tx.delete(schema.rdsDiscoveryListings);
      if (listings.length > 0) await tx.insert(schema.rdsDiscoveryListings).values(listings.map(fromRdsDiscoveryListing));
      if (audit.length > 0) await this.appendAudit(tx, audit);
    });
  }
}
