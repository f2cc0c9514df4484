import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, desc, eq, getTableColumns, getTableName, gt, gte, inArray, isNotNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { AccessRequest, Grant, RequestRecord } from '../../core/types.js';
import { auditHash, GENESIS_HASH } from '../audit-hash.js';
import { fromRdsDiscoveryListing, toAudit, toDecision, toGrant, toIdentity, toJob, toRdsDiscoveryListing, toRequest, requestColumns } from '../row-mappers.js';
import type {
  AuditBacklog, AuditEvent, AuditInput, AuditSinkCursor, ChatMessage, ClaimOptions, CommitResult, Change, IdentityBinding, IdentityRebind, IdentitySighting, IdentityState, Job,
  PlatformAccount, RdsDiscoveryListing, RequestQuery, SightingOutcome, Store, StoreStats,
} from '../store.js';
import { SqliteIdentitySnapshots } from './identity-snapshots.js';
import { SqliteDiscoveryRecords } from './discovery-records.js';
import * as schema from './schema.js';

const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), 'migrations');

type Db = BetterSQLite3Database<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A group commit whose transaction ended under it; its writes are run again one by one. */
class GroupLost extends Error {
  constructor(readonly reason: unknown) {
    super('group commit lost its transaction');
  }
}

interface PendingWrite {
  work: (tx: Tx) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Writes in one group commit at most; a mass expiry's turn rarely holds more. */
const MAX_GROUP = 500;

/** Thrown inside a transaction to roll it back and report why; never escapes the store. */
class Rollback extends Error {
  constructor(readonly result: Exclude<CommitResult, { ok: true }>) {
    super('rollback');
  }
}

type Params = Record<string, string | number | null>;

/**
 * The statements a commit and a job's settlement run, prepared once per connection. Built
 * by drizzle at every call, their SQL text and better-sqlite3's compilation of it were most
 * of the CPU of a mass expiry's commits. An update's SET list depends on the fields it
 * changes, so there is one statement per shape; column names come from the schema, values
 * only ever go in as parameters.
 */
class PreparedWrites {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly sqlite: Database.Database) {}

  private statement(key: string, text: () => string): Database.Statement {
    let statement = this.cache.get(key);
    if (!statement) this.cache.set(key, (statement = this.sqlite.prepare(text())));
    return statement;
  }

  /** `UPDATE table SET …` of the defined fields of `set`, with `where` naming further `@params`. */
  update(table: typeof schema.requests | typeof schema.grants, set: Record<string, unknown>, where: string, params: Params): number {
    const columns = getTableColumns(table) as Record<string, { name: string }>;
    const fields = Object.keys(set).filter((field) => set[field] !== undefined).sort();
    const name = getTableName(table);
    const statement = this.statement(`update ${name} ${fields.join(',')} where ${where}`, () => {
      const assignments = fields.map((field) => {
        const column = columns[field];
        if (!column) throw new Error(`${name} has no column for ${field}`);
        return `"${column.name}" = @set_${field}`;
      });
      return `UPDATE "${name}" SET ${assignments.join(', ')} WHERE ${where}`;
    });
    const values: Params = { ...params };
    for (const field of fields) values[`set_${field}`] = set[field] as string | number | null;
    return statement.run(values).changes;
  }

  run(key: string, text: string, params: Params): number {
    return this.statement(key, () => text).run(params).changes;
  }

  get<T>(key: string, text: string, params: Params = {}): T | undefined {
    return this.statement(key, () => text).get(params) as T | undefined;
  }
}

function isUniqueViolation(error: unknown, index: string): boolean {
  return error instanceof Error && 'code' in error && String((error as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT') && error.message.includes(index);
}

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** How long a writer waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

/**
 * The embedded store. WAL lets readers run beside the writer; synchronous=FULL means a
 * committed transition survives a power cut; BEGIN IMMEDIATE takes the write lock up
 * front so two processes never both read-then-write the same row.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly sqlite: Database.Database;
  private readonly db: Db;
  readonly identitySnapshots: SqliteIdentitySnapshots;
  readonly discovery: SqliteDiscoveryRecords;
  private pending: PendingWrite[] = [];
  private flushTimer: NodeJS.Immediate | null = null;
  private readonly savepoint: Database.Statement;
  private readonly releaseSavepoint: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;
  private readonly writes: PreparedWrites;
  private readonly claims = new Map<string, ReturnType<SqliteStore['prepareClaim']>>();

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true });
    this.sqlite = new Database(options.path);
    this.sqlite.pragma('journal_mode = WAL');
    this.sqlite.pragma('synchronous = FULL');
    this.sqlite.pragma('foreign_keys = ON');
    this.sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    this.db = drizzle(this.sqlite, { schema });
    this.savepoint = this.sqlite.prepare('SAVEPOINT latch_write');
    this.releaseSavepoint = this.sqlite.prepare('RELEASE latch_write');
    this.rollbackToSavepoint = this.sqlite.prepare('ROLLBACK TO latch_write');
    this.writes = new PreparedWrites(this.sqlite);
    this.identitySnapshots = new SqliteIdentitySnapshots(this.db, (work) => this.write(work), (tx, events) => this.appendAudit(tx, events));
    this.discovery = new SqliteDiscoveryRecords(this.db, (work) => this.write(work), (tx, events) => this.appendAudit(tx, events));
  }

  /** Applies pending migrations. Safe to run at every start. */
  migrate(): void {
    migrate(this.db, { migrationsFolder: MIGRATIONS });
  }

  private write<T>(work: (tx: Tx) => T): T {
    return this.db.transaction(work, { behavior: 'immediate' });
  }

  /**
   * Group commit. Every commit is an fsync (synchronous=FULL) that blocks the event loop, so
   * the writes that arrive in one event-loop turn (the results of a batch of revokes, the
   * jobs they finish) share one BEGIN IMMEDIATE … COMMIT. Each runs in a savepoint of its
   * own: one that fails rolls back alone and its caller gets the error, the others commit.
   * No caller hears of its write before the shared COMMIT is on disk, and nothing of the
   * group is visible before it, since the group runs synchronously on this connection.
   */
  private grouped<T>(work: (tx: Tx) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.flushTimer ??= setImmediate(() => this.flushGroup());
    });
  }

  private flushGroup(): void {
    this.flushTimer = null;
    while (this.pending.length > 0) {
      // A bounded group keeps the event loop from stalling behind one huge transaction.
      const group = this.pending.splice(0, MAX_GROUP);
      this.runGroup(group);
    }
  }

  private runGroup(group: PendingWrite[]): void {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.db.transaction((tx) => {
        for (const { work } of group) {
          this.savepoint.run();
          try {
            const value = work(tx);
            this.releaseSavepoint.run();
            outcomes.push({ ok: true, value });
          } catch (error) {
            // Some errors (SQLITE_FULL, an I/O error) end the whole transaction: nothing of the group holds.
            if (!this.sqlite.inTransaction) throw new GroupLost(error);
            this.rollbackToSavepoint.run();
            this.releaseSavepoint.run();
            outcomes.push({ ok: false, error });
          }
        }
      }, { behavior: 'immediate' });
    } catch (error) {
      // BEGIN failed (another process held the lock past busy_timeout): the same answer for all.
      if (outcomes.length === 0 && !(error instanceof GroupLost)) {
        for (const entry of group) entry.reject(error);
        return;
      }
      // The group was lost after it began (at COMMIT, or an error that ended it): each write runs alone, so one bad change cannot take the others down.
      for (const entry of group) {
        try {
          entry.resolve(this.write(entry.work));
        } catch (alone) {
          entry.reject(alone);
        }
      }
      return;
    }
    group.forEach((entry, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok) entry.resolve(outcome.value);
      else entry.reject(outcome ? outcome.error : new Error('group commit lost a write'));
    });
  }

  async commit(change: Change): Promise<CommitResult> {
    try {
      const claimed = await this.grouped((tx) => this.apply(tx, change));
      return claimed.length > 0 ? { ok: true, claimed } : { ok: true };
    } catch (error) {
      if (error instanceof Rollback) return error.result;
      throw error;
    }
  }

  /** The changes of one call are in one event-loop turn, so they share one group commit. */
  commitEach(changes: readonly Change[]): Promise<CommitResult>[] {
    return changes.map((change) => this.commit(change));
  }

  /** Applies one change; returns the jobs it inserted claimed. */
  private apply(tx: Tx, change: Change): Job[] {
    const w = this.writes;
    const now = Date.now();
    if (change.deliveryId) {
      const seen = w.run('delivery', 'INSERT INTO deliveries (id, at) VALUES (@id, @at) ON CONFLICT DO NOTHING', { id: change.deliveryId, at: now });
      if (seen !== 1) throw new Rollback({ ok: false, conflict: 'duplicate_delivery', deliveryId: change.deliveryId });
    }
    if (change.finishJob) {
      const { id, claimedBy } = change.finishJob;
      const held = w.run('finish', "UPDATE jobs SET state = 'done', finished_at = @at, lease_until = NULL WHERE id = @id AND state = 'running' AND claimed_by = @owner", { id, owner: claimedBy, at: now });
      // Another worker took the job over after our lease ran out: its work wins, ours is dropped.
      if (held !== 1) throw new Rollback({ ok: false, conflict: 'lease', jobId: id });
    }
    if (change.insertRequest) {
      const { context, ...request } = change.insertRequest.request;
      tx.insert(schema.requests).values({ ...request, context: context ? JSON.stringify(context) : null }).run();
      if (change.insertRequest.grants.length > 0) tx.insert(schema.grants).values(change.insertRequest.grants).run();
    }
    for (const update of change.updateRequests ?? []) {
      const set = { ...requestColumns(update.set), version: update.expectVersion + 1 };
      const changed = w.update(schema.requests, set, 'id = @id AND state = @expectState AND version = @expectVersion', { id: update.id, expectState: update.expectState, expectVersion: update.expectVersion });
      if (changed !== 1) throw new Rollback({ ok: false, conflict: 'version', requestId: update.id });
    }
    for (const update of change.updateGrants ?? []) w.update(schema.grants, update.set, 'id = @id', { id: update.id });
    for (const decision of change.insertDecisions ?? []) {
      try {
        w.run('decision', 'INSERT INTO decisions (id, request_id, step, approver, verdict, comment, at) VALUES (@id, @requestId, @step, @approver, @verdict, @comment, @at)', { ...decision });
      } catch (error) {
        if (isUniqueViolation(error, 'decisions')) throw new Rollback({ ok: false, conflict: 'duplicate_decision', requestId: decision.requestId });
        throw error;
      }
    }
    for (const cancel of change.cancelJobs ?? []) {
      const params = { requestId: cancel.requestId, kinds: JSON.stringify(cancel.kinds), at: now };
      const cancelled = "UPDATE jobs SET state = 'cancelled', finished_at = @at, lease_until = NULL WHERE request_id = @requestId AND kind IN (SELECT value FROM json_each(@kinds)) AND state IN ('pending', 'running')";
      if (change.finishJob) w.run('cancel but', `${cancelled} AND id <> @but`, { ...params, but: change.finishJob.id });
      else w.run('cancel', cancelled, params);
    }
    for (const move of change.rescheduleJobs ?? []) {
      w.run('reschedule', "UPDATE jobs SET run_at = @runAt WHERE request_id = @requestId AND kind = @kind AND state = 'pending'", { runAt: move.runAt, requestId: move.requestId, kind: move.kind });
    }
    const claimed: Job[] = [];
    for (const job of change.enqueue ?? []) {
      if (job.claim) {
        const payload = job.payload ?? {};
        const inserted = w.get<{ id: number }>('enqueue claimed', "INSERT INTO jobs (kind, request_id, run_at, payload, state, attempts, claimed_by, lease_until, dedupe_key, created_at) VALUES (@kind, @requestId, @runAt, @payload, 'running', 1, @owner, @leaseUntil, @dedupeKey, @at) ON CONFLICT DO NOTHING RETURNING id", {
          kind: job.kind, requestId: job.requestId, runAt: job.runAt, payload: JSON.stringify(payload), owner: job.claim.owner, leaseUntil: job.claim.leaseUntil, dedupeKey: job.dedupeKey ?? null, at: now,
        });
        if (inserted) {
          claimed.push({
            id: inserted.id, kind: job.kind, requestId: job.requestId, runAt: job.runAt, payload, state: 'running', attempts: 1,
            claimedBy: job.claim.owner, leaseUntil: job.claim.leaseUntil, lastError: null, createdAt: now, finishedAt: null,
          });
        }
        continue;
      }
      w.run('enqueue', "INSERT INTO jobs (kind, request_id, run_at, payload, state, dedupe_key, created_at) VALUES (@kind, @requestId, @runAt, @payload, 'pending', @dedupeKey, @at) ON CONFLICT DO NOTHING", {
        kind: job.kind, requestId: job.requestId, runAt: job.runAt, payload: JSON.stringify(job.payload ?? {}), dedupeKey: job.dedupeKey ?? null, at: now,
      });
    }
    if (change.audit && change.audit.length > 0) this.appendAudit(tx, change.audit);
    return claimed;
  }

  private appendAudit(_tx: Tx, events: NonNullable<Change['audit']>): void {
    const last = this.writes.get<{ seq: number; hash: string }>('audit last', 'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    for (const event of events) {
      seq += 1;
      const hash = auditHash(prevHash, seq, event);
      this.writes.run('audit append', 'INSERT INTO audit_events (seq, at, type, request_id, actor, data, prev_hash, hash) VALUES (@seq, @at, @type, @requestId, @actor, @data, @prevHash, @hash)', {
        seq, at: event.at, type: event.type, requestId: event.requestId, actor: event.actor, data: JSON.stringify(event.data), prevHash, hash,
      });
      prevHash = hash;
    }
  }

  private records(rows: (typeof schema.requests.$inferSelect)[]): RequestRecord[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((row) => row.id));
    const reads = readsOf(this.db);
    const grantRows = reads.grantsOf.all({ ids });
    const decisionRows = reads.decisionsOf.all({ ids });
    return rows.map((row) => ({
      request: toRequest(row),
      grants: grantRows.filter((grant) => grant.requestId === row.id).map(toGrant),
      decisions: decisionRows.filter((decision) => decision.requestId === row.id).map(toDecision),
    }));
  }

  async getRequest(id: string): Promise<RequestRecord | null> {
    const reads = readsOf(this.db);
    const row = reads.request.get({ id });
    if (!row) return null;
    return { request: toRequest(row), grants: reads.grantsOfOne.all({ id }).map(toGrant), decisions: reads.decisionsOfOne.all({ id }).map(toDecision) };
  }

  async getRequests(ids: readonly string[]): Promise<RequestRecord[]> {
    if (ids.length === 0) return [];
    return this.records(readsOf(this.db).requests.all({ ids: JSON.stringify(ids) }));
  }

  async listRequests(query: RequestQuery): Promise<RequestRecord[]> {
    const shape: ListingShape = {
      involving: Boolean(query.involving), grantees: query.grantees !== undefined, states: query.states !== undefined, kinds: query.kinds !== undefined,
      parentId: Boolean(query.parentId), parentIds: query.parentIds !== undefined,
    };
    const rows = readsOf(this.db).listing(shape).all({
      involving: query.involving ?? null, grantees: JSON.stringify(query.grantees ?? []), states: JSON.stringify(query.states ?? []), kinds: JSON.stringify(query.kinds ?? []),
      parentId: query.parentId ?? null, parentIds: JSON.stringify(query.parentIds ?? []), limit: query.limit ?? 500,
    });
    return this.records(rows);
  }

  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    const { now, limit, owner, leaseMs, kinds } = options;
    const claim = this.claimStatements(kinds);
    return this.grouped(() => {
      const due = claim.due.all({ now, limit });
      if (due.length === 0) return [];
      return claim.take.all({ owner, leaseUntil: now + leaseMs, ids: JSON.stringify(due.map((job) => job.id)) })
        .map(toJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
    });
  }

  /** The claim's two statements, prepared once per set of kinds (each runner pool asks with the same few). */
  private claimStatements(kinds: ClaimOptions['kinds']): ReturnType<SqliteStore['prepareClaim']> {
    const key = kinds ? [...kinds].sort().join(',') : '*';
    let statements = this.claims.get(key);
    if (!statements) this.claims.set(key, (statements = this.prepareClaim(kinds)));
    return statements;
  }

  private prepareClaim(kinds: ClaimOptions['kinds']) {
    const { jobs } = schema;
    return {
      due: this.db.select({ id: jobs.id }).from(jobs)
        .where(and(
          or(and(eq(jobs.state, 'pending'), lte(jobs.runAt, sql.placeholder('now'))), and(eq(jobs.state, 'running'), lte(jobs.leaseUntil, sql.placeholder('now')))),
          kinds ? inArray(jobs.kind, [...kinds]) : undefined,
        ))
        .orderBy(asc(jobs.runAt), asc(jobs.id)).limit(sql.placeholder('limit')).prepare(),
      take: this.db.update(jobs)
        .set({ state: 'running', claimedBy: sql`${sql.placeholder('owner')}`, leaseUntil: sql`${sql.placeholder('leaseUntil')}`, attempts: sql`${jobs.attempts} + 1` })
        .where(sql`${jobs.id} in (select value from json_each(${sql.placeholder('ids')}))`)
        .returning().prepare(),
    };
  }

  async renewLeases(ids: readonly number[], owner: string, until: number): Promise<void> {
    if (ids.length === 0) return;
    await this.grouped((tx) => tx.update(schema.jobs).set({ leaseUntil: until })
      .where(and(inArray(schema.jobs.id, [...ids]), eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running'))).run());
  }

  private async settle(id: number, owner: string, set: 'retry' | 'bury' | 'finish', values: Params): Promise<void> {
    const assignments = { retry: "state = 'pending', run_at = @runAt, last_error = @error", bury: "state = 'dead', last_error = @error, finished_at = @at", finish: "state = 'done', finished_at = @at" }[set];
    await this.grouped(() => this.writes.run(`settle ${set}`, `UPDATE jobs SET ${assignments}, lease_until = NULL WHERE id = @id AND claimed_by = @owner AND state = 'running'`, { ...values, id, owner }));
  }

  async retryJob(id: number, owner: string, runAt: number, error: string): Promise<void> {
    await this.settle(id, owner, 'retry', { runAt, error });
  }

  async buryJob(id: number, owner: string, error: string, at: number): Promise<void> {
    await this.settle(id, owner, 'bury', { error, at });
  }

  async finishJob(id: number, owner: string, at: number): Promise<void> {
    await this.settle(id, owner, 'finish', { at });
  }

  async releaseJobs(owner: string): Promise<void> {
    this.write((tx) => tx.update(schema.jobs).set({ state: 'pending', leaseUntil: null, claimedBy: null, attempts: sql`max(${schema.jobs.attempts} - 1, 0)` })
      .where(and(eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running'))).run());
  }

  async jobClaimants(): Promise<string[]> {
    return this.db.selectDistinct({ owner: schema.jobs.claimedBy }).from(schema.jobs).where(eq(schema.jobs.state, 'running')).all()
      .flatMap((row) => (row.owner ? [row.owner] : []));
  }

  async endLeases(owner: string, now: number): Promise<number> {
    return this.write((tx) => tx.update(schema.jobs).set({ leaseUntil: now })
      .where(and(eq(schema.jobs.claimedBy, owner), eq(schema.jobs.state, 'running'))).run().changes);
  }

  async nextJobAt(): Promise<number | null> {
    const pending = this.db.select({ at: sql<number | null>`min(${schema.jobs.runAt})` }).from(schema.jobs).where(eq(schema.jobs.state, 'pending')).get();
    const leased = this.db.select({ at: sql<number | null>`min(${schema.jobs.leaseUntil})` }).from(schema.jobs).where(eq(schema.jobs.state, 'running')).get();
    const times = [pending?.at, leased?.at].filter((at): at is number => typeof at === 'number');
    return times.length > 0 ? Math.min(...times) : null;
  }

  async jobsFor(requestId: string): Promise<Job[]> {
    return this.db.select().from(schema.jobs).where(eq(schema.jobs.requestId, requestId)).orderBy(asc(schema.jobs.id)).all().map(toJob);
  }

  async auditEvents(query: { afterSeq?: number; since?: number; requestId?: string; limit?: number }): Promise<AuditEvent[]> {
    return this.db.select().from(schema.auditEvents)
      .where(and(
        query.afterSeq !== undefined ? gt(schema.auditEvents.seq, query.afterSeq) : undefined,
        query.since !== undefined ? gte(schema.auditEvents.at, query.since) : undefined,
        query.requestId !== undefined ? eq(schema.auditEvents.requestId, query.requestId) : undefined,
      ))
      .orderBy(asc(schema.auditEvents.seq)).limit(query.limit ?? 10_000).all().map(toAudit);
  }

  async pruneAudit(before: number, at: number): Promise<number> {
    return this.write((tx) => {
      const last = tx.select({ seq: schema.auditEvents.seq, hash: schema.auditEvents.hash }).from(schema.auditEvents)
        .where(lt(schema.auditEvents.at, before)).orderBy(desc(schema.auditEvents.seq)).limit(1).get();
      if (!last) return 0;
      const removed = tx.delete(schema.auditEvents).where(lte(schema.auditEvents.seq, last.seq)).run().changes;
      this.appendAudit(tx, [{ type: 'audit.pruned', requestId: null, actor: 'latch', at, data: { throughSeq: last.seq, lastHash: last.hash, before, removed } }]);
      return removed;
    });
  }

  async openAuditCursor(sink: string, from: 'now' | 'beginning', at: number): Promise<AuditSinkCursor> {
    return this.write((tx) => {
      const last = from === 'now' ? tx.select({ seq: sql<number | null>`max(${schema.auditEvents.seq})` }).from(schema.auditEvents).get()?.seq ?? 0 : 0;
      tx.insert(schema.auditSinkCursors).values({ sink, deliveredSeq: last, createdAt: at }).onConflictDoNothing().run();
      const row = tx.select().from(schema.auditSinkCursors).where(eq(schema.auditSinkCursors.sink, sink)).get();
      if (!row) throw new Error(`audit sink cursor ${sink} vanished`);
      return row;
    });
  }

  async leaseAuditCursor(sink: string, owner: string, now: number, until: number): Promise<boolean> {
    const c = schema.auditSinkCursors;
    return this.write((tx) => tx.update(c).set({ owner, leaseUntil: until })
      .where(and(eq(c.sink, sink), or(sql`${c.owner} IS NULL`, eq(c.owner, owner), lte(c.leaseUntil, now)))).run().changes === 1);
  }

  async advanceAuditCursor(sink: string, owner: string, fromSeq: number, toSeq: number, at: number): Promise<boolean> {
    const c = schema.auditSinkCursors;
    return this.write((tx) => tx.update(c).set({ deliveredSeq: toSeq, deliveredAt: at })
      .where(and(eq(c.sink, sink), eq(c.owner, owner), eq(c.deliveredSeq, fromSeq))).run().changes === 1);
  }

  async releaseAuditCursors(owner: string): Promise<void> {
    const c = schema.auditSinkCursors;
    this.write((tx) => tx.update(c).set({ owner: null, leaseUntil: null }).where(eq(c.owner, owner)).run());
  }

  async auditBacklog(afterSeq: number): Promise<AuditBacklog> {
    // Read at every scrape: the seqs after the cursor are contiguous (only the oldest events are ever
    // pruned), so the first and last of them count the backlog without scanning it.
    const oldest = this.db.select({ seq: schema.auditEvents.seq, at: schema.auditEvents.at }).from(schema.auditEvents)
      .where(gt(schema.auditEvents.seq, afterSeq)).orderBy(asc(schema.auditEvents.seq)).limit(1).get();
    if (!oldest) return { events: 0, oldestAt: null };
    const last = this.db.select({ seq: sql<number>`max(${schema.auditEvents.seq})` }).from(schema.auditEvents).get()?.seq ?? oldest.seq;
    return { events: last - oldest.seq + 1, oldestAt: oldest.at };
  }

  async pruneDeliveries(before: number): Promise<number> {
    return this.write((tx) => tx.delete(schema.deliveries).where(lt(schema.deliveries.at, before)).run().changes);
  }

  async identityOf(platform: string, platformUserId: string): Promise<IdentityBinding | null> {
    const row = readsOf(this.db).identity.get({ platform, platformUserId });
    return row ? toIdentity(row) : null;
  }

  private identityRow(tx: Tx | Db, platform: string, platformUserId: string): IdentityBinding | null {
    const row = tx.select().from(schema.identities)
      .where(and(eq(schema.identities.platform, platform), eq(schema.identities.platformUserId, platformUserId))).get();
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
    return this.write((tx) => {
      const known = this.identityRow(tx, platform, platformUserId);
      if (!known) {
        const holder = sighting.exclusive
          ? tx.select({ platformUserId: schema.identities.platformUserId }).from(schema.identities)
            .where(and(eq(schema.identities.platform, platform), eq(schema.identities.email, primary))).orderBy(asc(schema.identities.boundAt)).get()
          : undefined;
        const state: IdentityState = holder ? 'duplicate_email' : 'bound';
        tx.insert(schema.identities).values({
          platform, platformUserId, email: primary, state, address: sighting.address ?? null, chatId: sighting.chatId ?? null,
          boundAt: at, boundBy: 'latch', checkedAt: at, updatedAt: at,
        }).run();
        // First sight is the row itself (bound_at, bound_by); only what needs an admin goes to the audit log.
        if (holder) this.appendAudit(tx, [mismatch('duplicate_email', primary, holder.platformUserId)]);
        return { binding: this.identityRow(tx, platform, platformUserId) as IdentityBinding, outcome: holder ? 'duplicate_email' : 'bound' };
      }
      if (known.state === 'bound' && reported.includes(known.email)) {
        tx.update(schema.identities).set({
          checkedAt: at, updatedAt: at, ...(sighting.address !== undefined ? { address: sighting.address } : {}), ...(sighting.chatId !== undefined ? { chatId: sighting.chatId } : {}),
        }).where(key).run();
        return { binding: this.identityRow(tx, platform, platformUserId) as IdentityBinding, outcome: 'confirmed' };
      }
      // A stopped account stays stopped; what it reports is recorded, and audited when it is news.
      const lastReported = known.reportedEmail ?? known.email;
      const news = known.state === 'bound' || !reported.includes(lastReported);
      const state: IdentityState = known.state === 'bound' ? 'email_changed' : known.state;
      tx.update(schema.identities).set({ state, reportedEmail: news ? primary : known.reportedEmail, checkedAt: at }).where(key).run();
      if (news) this.appendAudit(tx, [mismatch(state, known.email, null)]);
      return { binding: this.identityRow(tx, platform, platformUserId) as IdentityBinding, outcome: news ? state : 'still_stopped' };
    });
  }

  async rebindIdentity(rebind: IdentityRebind): Promise<{ before: IdentityBinding | null; binding: IdentityBinding }> {
    const { platform, platformUserId, at, by } = rebind;
    const email = rebind.email.trim().toLowerCase();
    return this.write((tx) => {
      const before = this.identityRow(tx, platform, platformUserId);
      const set = { email, state: 'bound', reportedEmail: null, boundAt: at, boundBy: by, updatedAt: at };
      tx.insert(schema.identities).values({ platform, platformUserId, ...set })
        .onConflictDoUpdate({ target: [schema.identities.platform, schema.identities.platformUserId], set }).run();
      this.appendAudit(tx, [{
        type: 'identity.rebound', requestId: null, actor: by, at,
        data: { platform, user: platformUserId, email, previousEmail: before?.email ?? null, previousState: before?.state ?? null, reportedEmail: before?.reportedEmail ?? null, by },
      }]);
      return { before, binding: this.identityRow(tx, platform, platformUserId) as IdentityBinding };
    });
  }

  async rekeyIdentity(platform: string, fromId: string, toId: string): Promise<boolean> {
    return this.write((tx) => {
      if (fromId === toId || this.identityRow(tx, platform, toId)) return false;
      return tx.update(schema.identities).set({ platformUserId: toId })
        .where(and(eq(schema.identities.platform, platform), eq(schema.identities.platformUserId, fromId))).run().changes > 0;
    });
  }

  async listIdentities(): Promise<IdentityBinding[]> {
    const rows = this.db.select().from(schema.identities)
      .orderBy(sql`${schema.identities.state} = 'bound'`, asc(schema.identities.platform), asc(schema.identities.email), asc(schema.identities.platformUserId)).all();
    return rows.map(toIdentity);
  }

  async platformIdsFor(email: string): Promise<PlatformAccount[]> {
    return readsOf(this.db).platformIds.all({ email: email.toLowerCase() });
  }

  async recordMessage(message: ChatMessage): Promise<void> {
    await this.grouped(() => this.writes.run('message', 'INSERT INTO chat_messages (request_id, platform, channel, message_id, recipient, purpose, created_at) VALUES (@requestId, @platform, @channel, @messageId, @recipient, @purpose, @createdAt) ON CONFLICT DO NOTHING', { ...message }));
  }

  async messagesFor(requestId: string): Promise<ChatMessage[]> {
    return readsOf(this.db).messages.all({ requestId });
  }

  async stats(): Promise<StoreStats> {
    const byState = this.db.select({ state: schema.requests.state, count: sql<number>`count(*)` }).from(schema.requests).groupBy(schema.requests.state).all();
    const count = (where: SQL | undefined, table: typeof schema.jobs | typeof schema.grants): number =>
      this.db.select({ count: sql<number>`count(*)` }).from(table).where(where).get()?.count ?? 0;
    const requestsByState = Object.fromEntries(byState.map((row) => [row.state, row.count])) as StoreStats['requestsByState'];
    return {
      requestsByState,
      activeGrants: count(eq(schema.grants.state, 'active'), schema.grants),
      jobsPending: count(eq(schema.jobs.state, 'pending'), schema.jobs),
      jobsRunning: count(eq(schema.jobs.state, 'running'), schema.jobs),
      jobsDead: count(eq(schema.jobs.state, 'dead'), schema.jobs),
      revokeFailed: requestsByState.revoke_failed ?? 0,
    };
  }

  async close(): Promise<void> {
    // Writes already asked for are committed (or refused) before the file closes, never dropped.
    if (this.flushTimer) clearImmediate(this.flushTimer);
    if (this.sqlite.open) this.flushGroup();
    if (this.sqlite.open) this.sqlite.close();
  }

  async grantsWithPrincipalPage(integration: string, afterId: string | null, limit: number): Promise<{ grant: Grant; request: AccessRequest }[]> {
    return this.db.select({ grant: schema.grants, request: schema.requests }).from(schema.grants)
      .innerJoin(schema.requests, eq(schema.grants.requestId, schema.requests.id))
      .where(and(eq(schema.grants.integration, integration), isNotNull(schema.grants.principal), afterId === null ? undefined : gt(schema.grants.id, afterId)))
      .orderBy(asc(schema.grants.id)).limit(limit).all()
      .map((row) => ({ grant: toGrant(row.grant), request: toRequest(row.request) }));
  }

  async rdsDiscoveryListings(): Promise<RdsDiscoveryListing[]> {
    const l = schema.rdsDiscoveryListings;
    return this.db.select().from(l).orderBy(asc(l.discovery), asc(l.region)).all().map(toRdsDiscoveryListing);
  }

  async replaceRdsDiscoveryListings(listings: readonly RdsDiscoveryListing[], audit: readonly AuditInput[]): Promise<void> {
    this.write((tx) => {
      tx.delete(schema.rdsDiscoveryListings).run();
      if (listings.length > 0) tx.insert(schema.rdsDiscoveryListings).values(listings.map(fromRdsDiscoveryListing)).run();
      if (audit.length > 0) this.appendAudit(tx, [...audit]);
    });
  }
}

/**
 * The reads every click and notification makes, prepared once per store. Unprepared, drizzle
 * builds the SQL text and better-sqlite3 compiles it again on every call, which was most of the
 * CPU of a button click (docs/PERFORMANCE.md). Lists of ids and states go in as one JSON array
 * (`json_each`), so one statement serves any number of them. Prepared on first use, after the
 * migrations made the tables.
 */
function prepareReads(db: Db) {
  const inJson = (column: SQLiteColumn, name: string): SQL => sql`${column} in (select value from json_each(${sql.placeholder(name)}))`;
  const { requests, grants, decisions, identities, chatMessages } = schema;
  const listings = new Map<string, ReturnType<typeof listing>>();
  function listing(shape: ListingShape) {
    return db.select().from(requests).where(and(
      shape.involving ? or(eq(requests.requester, sql.placeholder('involving')), eq(requests.grantee, sql.placeholder('involving'))) : undefined,
      shape.grantees ? inJson(requests.grantee, 'grantees') : undefined,
      shape.states ? inJson(requests.state, 'states') : undefined,
      shape.kinds ? inJson(requests.kind, 'kinds') : undefined,
      shape.parentId ? eq(requests.parentId, sql.placeholder('parentId')) : undefined,
      shape.parentIds ? inJson(requests.parentId, 'parentIds') : undefined,
    )).orderBy(desc(requests.createdAt)).limit(sql.placeholder('limit')).prepare();
  }
  return {
    request: db.select().from(requests).where(eq(requests.id, sql.placeholder('id'))).prepare(),
    requests: db.select().from(requests).where(inJson(requests.id, 'ids')).prepare(),
    grantsOfOne: db.select().from(grants).where(eq(grants.requestId, sql.placeholder('id'))).orderBy(asc(grants.id)).prepare(),
    decisionsOfOne: db.select().from(decisions).where(eq(decisions.requestId, sql.placeholder('id'))).orderBy(asc(decisions.at)).prepare(),
    grantsOf: db.select().from(grants).where(inJson(grants.requestId, 'ids')).orderBy(asc(grants.id)).prepare(),
    decisionsOf: db.select().from(decisions).where(inJson(decisions.requestId, 'ids')).orderBy(asc(decisions.at)).prepare(),
    listing(shape: ListingShape) {
      const key = `${+shape.involving}${+shape.grantees}${+shape.states}${+shape.kinds}${+shape.parentId}${+shape.parentIds}`;
      let prepared = listings.get(key);
      if (!prepared) listings.set(key, (prepared = listing(shape)));
      return prepared;
    },
    identity: db.select().from(identities)
      .where(and(eq(identities.platform, sql.placeholder('platform')), eq(identities.platformUserId, sql.placeholder('platformUserId')))).prepare(),
    platformIds: db.select({ platform: identities.platform, platformUserId: identities.platformUserId, chatId: identities.chatId, address: identities.address, updatedAt: identities.updatedAt })
      .from(identities).where(and(eq(identities.email, sql.placeholder('email')), eq(identities.state, 'bound'))).orderBy(desc(identities.updatedAt)).prepare(),
    messages: db.select({
      requestId: chatMessages.requestId, platform: chatMessages.platform, channel: chatMessages.channel,
      messageId: chatMessages.messageId, recipient: chatMessages.recipient, purpose: chatMessages.purpose, createdAt: chatMessages.createdAt,
    }).from(chatMessages).where(eq(chatMessages.requestId, sql.placeholder('requestId'))).orderBy(asc(chatMessages.id)).prepare(),
  };
}

/** Which filters a request listing has; one prepared statement per shape. */
interface ListingShape { involving: boolean; grantees: boolean; states: boolean; kinds: boolean; parentId: boolean; parentIds: boolean }

const preparedReads = new WeakMap<Db, ReturnType<typeof prepareReads>>();

function readsOf(db: Db): ReturnType<typeof prepareReads> {
  let reads = preparedReads.get(db);
  if (!reads) preparedReads.set(db, (reads = prepareReads(db)));
  return reads;
}
