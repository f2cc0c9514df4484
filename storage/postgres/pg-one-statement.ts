import { and, eq, getTableColumns, inArray, type SQL, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { requestColumns, toJob } from '../row-mappers.js';
import type { Change, CommitResult, GrantUpdate, Job } from '../store.js';
import * as schema from './schema.js';

type Db = NodePgDatabase<typeof schema>;

/** What the one statement found: the change's refusal, if one of its conditions did not hold, and the jobs it inserted claimed. */
export type OneStatementOutcome = { refused: Exclude<CommitResult, { ok: true }> } | { refused: null; claimed: Job[] };

/**
 * Whether a change can be written by one statement (writeInOneStatement). The parts of one
 * statement all see the rows as they were before it and none sees another's writes, so a
 * change qualifies only where applying its writes in order would not have either: no row
 * updated by two of its parts (a request updated twice, a request it inserts and updates, a
 * job both cancelled and moved), and no two jobs with one dedupe key. Anything else takes the
 * statement-by-statement path, with the same result.
 */
export function appliesInOneStatement(change: Change): boolean {
  const requests = new Set<string>();
  if (change.insertRequest) requests.add(change.insertRequest.request.id);
  for (const update of change.updateRequests ?? []) {
    if (requests.has(update.id)) return false;
    requests.add(update.id);
  }
  const inserted = new Set(change.insertRequest?.grants.map((grant) => grant.id) ?? []);
  if (change.updateGrants?.some((update) => inserted.has(update.id))) return false;
  if (change.cancelJobs?.length && change.rescheduleJobs?.length) return false;
  const keys = (change.enqueue ?? []).flatMap((job) => (job.dedupeKey ? [job.dedupeKey] : []));
  return new Set(keys).size === keys.length;
}

/** Updates of one grant merged in order: each is an unconditional SET, so the later value of a field wins, as it would have. */
function mergedGrantUpdates(updates: readonly GrantUpdate[]): GrantUpdate[] {
  const byId = new Map<string, GrantUpdate>();
  for (const update of updates) byId.set(update.id, { id: update.id, set: { ...byId.get(update.id)?.set, ...update.set } });
  return [...byId.values()];
}

/** `json_build_object` of a row of `alias` with the table's property names, so a row read back maps like a drizzle select. */
function rowAsJson(columns: Record<string, PgColumn>, alias: string): SQL {
  const pairs = Object.entries(columns).map(([key, column]) => sql`${sql.raw(`'${key}'`)}, ${sql.identifier(alias)}.${sql.identifier(column.name)}`);
  return sql`json_build_object(${sql.join(pairs, sql`, `)})`;
}

interface Part {
  name: string;
  query: SQL;
  /** The refusal when the part touched no row; null when touching none is fine. */
  refusal: Exclude<CommitResult, { ok: true }> | null;
  /** Its rows are jobs inserted claimed, to hand back. */
  claimed?: boolean;
}

/**
 * Every row a change writes (storage/store.ts, Change) in one statement: each write is a
 * data-modifying WITH query, and the SELECT after them counts what each touched, so the
 * conditions (the delivery new, the job still held, each request at its expected state and
 * version, each decision the first of its kind) are judged from one answer and the
 * transaction rolled back when one does not hold. The parts are counted in the order the
 * statement-by-statement path runs them, which is also the order they lock rows in, and are
 * judged in that order, so the same refusal is reported. With `chainLock`, the audit chain's
 * lock is taken last, after every row lock: the next statement reads the chain's head with
 * it held. One round trip instead of one per write: on a busy server each is a wake-up of
 * its process.
 */
export function writeInOneStatement(db: Db, change: Change, now: number, chainLock: number | null): { query: SQL | null; read: (row: Record<string, unknown> | undefined) => OneStatementOutcome } {
  const parts: Part[] = [];
  const add = (query: SQL, refusal: Part['refusal'], claimed = false): void => {
    parts.push({ name: `w${parts.length}`, query, refusal, claimed });
  };
  const one = { one: sql<number>`1` };

  if (change.deliveryId) {
    add(db.insert(schema.deliveries).values({ id: change.deliveryId, at: now }).onConflictDoNothing().returning(one).getSQL(),
      { ok: false, conflict: 'duplicate_delivery', deliveryId: change.deliveryId });
  }
  if (change.finishJob) {
    const { id, claimedBy } = change.finishJob;
    add(db.update(schema.jobs).set({ state: 'done', finishedAt: now, leaseUntil: null })
      .where(and(eq(schema.jobs.id, id), eq(schema.jobs.state, 'running'), eq(schema.jobs.claimedBy, claimedBy))).returning(one).getSQL(),
    { ok: false, conflict: 'lease', jobId: id });
  }
  if (change.insertRequest) {
    const { context, ...request } = change.insertRequest.request;
    add(db.insert(schema.requests).values({ ...request, context: context ? JSON.stringify(context) : null }).returning(one).getSQL(), null);
    if (change.insertRequest.grants.length > 0) add(db.insert(schema.grants).values(change.insertRequest.grants).returning(one).getSQL(), null);
  }
  for (const update of change.updateRequests ?? []) {
    add(db.update(schema.requests).set({ ...requestColumns(update.set), version: update.expectVersion + 1 })
      .where(and(eq(schema.requests.id, update.id), eq(schema.requests.state, update.expectState), eq(schema.requests.version, update.expectVersion)))
      .returning(one).getSQL(), { ok: false, conflict: 'version', requestId: update.id });
  }
  for (const update of mergedGrantUpdates(change.updateGrants ?? [])) {
    add(db.update(schema.grants).set(update.set).where(eq(schema.grants.id, update.id)).returning(one).getSQL(), null);
  }
  for (const decision of change.insertDecisions ?? []) {
    // Another instance's decision of the same step by the same approver: its insert waits for that commit, then inserts nothing.
    add(db.insert(schema.decisions).values(decision)
      .onConflictDoNothing({ target: [schema.decisions.requestId, schema.decisions.step, schema.decisions.approver] }).returning(one).getSQL(),
    { ok: false, conflict: 'duplicate_decision', requestId: decision.requestId });
  }
  for (const cancel of change.cancelJobs ?? []) {
    add(db.update(schema.jobs).set({ state: 'cancelled', finishedAt: now, leaseUntil: null })
      .where(and(eq(schema.jobs.requestId, cancel.requestId), inArray(schema.jobs.kind, cancel.kinds), inArray(schema.jobs.state, ['pending', 'running']),
        change.finishJob ? sql`${schema.jobs.id} <> ${change.finishJob.id}` : undefined))
      .returning(one).getSQL(), null);
  }
  for (const move of change.rescheduleJobs ?? []) {
    add(db.update(schema.jobs).set({ runAt: move.runAt })
      .where(and(eq(schema.jobs.requestId, move.requestId), eq(schema.jobs.kind, move.kind), eq(schema.jobs.state, 'pending')))
      .returning(one).getSQL(), null);
  }
  for (const job of change.enqueue ?? []) {
    const row = {
      kind: job.kind, requestId: job.requestId, runAt: job.runAt, payload: JSON.stringify(job.payload ?? {}),
      state: 'pending', dedupeKey: job.dedupeKey ?? null, createdAt: now,
    };
    if (!job.claim) {
      add(db.insert(schema.jobs).values(row).onConflictDoNothing().returning(one).getSQL(), null);
      continue;
    }
    add(db.insert(schema.jobs).values({ ...row, state: 'running', claimedBy: job.claim.owner, leaseUntil: job.claim.leaseUntil, attempts: 1 })
      .onConflictDoNothing().returning().getSQL(), null, true);
  }

  const jobColumns = getTableColumns(schema.jobs) as Record<string, PgColumn>;
  // Each part is read in the SELECT list, left to right: a data-modifying WITH query that no one
  // reads runs only after the SELECT, which would take the chain's lock before its row locks.
  const columns = parts.map((part) => (part.claimed
    ? sql`(SELECT coalesce(json_agg(${rowAsJson(jobColumns, 'c')}), '[]'::json) FROM ${sql.identifier(part.name)} AS c) AS ${sql.identifier(part.name)}`
    : sql`(SELECT count(*)::int FROM ${sql.identifier(part.name)}) AS ${sql.identifier(part.name)}`));
  if (chainLock !== null) columns.push(sql`pg_advisory_xact_lock(${chainLock}) AS chain_lock`);
  const withs = parts.map((part) => sql`${sql.identifier(part.name)} AS (${part.query})`);
  const select = sql`SELECT ${sql.join(columns, sql`, `)}`;
  const query = columns.length === 0 ? null : withs.length > 0 ? sql`WITH ${sql.join(withs, sql`, `)} ${select}` : select;

  const read = (row: Record<string, unknown> | undefined): OneStatementOutcome => {
    if (query && !row) throw new Error('the statement writing a change answered no row');
    const claimed: Job[] = [];
    for (const part of parts) {
      const value = row?.[part.name];
      if (part.claimed) {
        claimed.push(...(value as (typeof schema.jobs.$inferSelect)[]).map(toJob));
        continue;
      }
      if (part.refusal && Number(value) === 0) return { refused: part.refusal };
    }
    return { refused: null, claimed };
  };
  return { query, read };
}
