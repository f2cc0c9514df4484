import { getTableColumns, getTableName, type SQL, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { requestColumns } from '../row-mappers.js';
import type { Change } from '../store.js';
import * as schema from './schema.js';

/** What runs a statement in the transaction: the rows it touched. */
type Execute = (query: SQL) => Promise<{ rowCount: number | null }>;

/** One of the changes did not hold (a request moved on, a lease was lost): the set-based path gives up. */
export class BulkRefused extends Error {
  constructor(readonly why: string) {
    super(`set-based apply refused: ${why}`);
  }
}

/**
 * Whether a batch can be applied set-based: only the writes a batch of jobs' results makes
 * (conditional request updates, grant updates, finished, cancelled and new jobs, audit), no
 * request updated or job finished twice.
 */
export function appliesInBulk(changes: readonly Change[]): boolean {
  const requests = new Set<string>();
  const jobs = new Set<number>();
  for (const change of changes) {
    if (change.insertRequest || change.insertDecisions?.length || change.deliveryId || change.rescheduleJobs?.length) return false;
    // A job inserted claimed is handed back to its caller, which the set-based insert does not do.
    if (change.enqueue?.some((job) => job.claim)) return false;
    for (const update of change.updateRequests ?? []) {
      if (requests.has(update.id)) return false;
      requests.add(update.id);
    }
    if (change.finishJob) {
      if (jobs.has(change.finishJob.id)) return false;
      jobs.add(change.finishJob.id);
    }
  }
  return true;
}

type Row = Record<string, string | number | null>;

/**
 * `UPDATE table AS t SET … FROM unnest(…) AS v(…) WHERE …`: one statement for every row of a
 * group of updates setting the same fields, each column's values sent as one typed array.
 * Returns the statement; `where` joins `t` and `v`.
 */
function unnestUpdate(table: PgTable, keys: Record<string, PgColumn>, fields: readonly string[], rows: readonly Row[], where: SQL, extraSet: SQL[] = []): SQL {
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  const name = getTableName(table);
  const arrays: SQL[] = [];
  const aliases: string[] = [];
  for (const [alias, column] of Object.entries(keys)) {
    arrays.push(sql`${sql.param(rows.map((row) => row[alias] ?? null))}::${sql.raw(column.getSQLType())}[]`);
    aliases.push(alias);
  }
  const assignments: SQL[] = [];
  for (const field of fields) {
    const column = columns[field];
    if (!column) throw new Error(`${name} has no column for ${field}`);
    const alias = `set_${column.name}`;
    arrays.push(sql`${sql.param(rows.map((row) => row[field] ?? null))}::${sql.raw(column.getSQLType())}[]`);
    aliases.push(alias);
    assignments.push(sql`${sql.identifier(column.name)} = v.${sql.identifier(alias)}`);
  }
  return sql`UPDATE ${sql.identifier(name)} AS t SET ${sql.join([...assignments, ...extraSet], sql`, `)}
    FROM unnest(${sql.join(arrays, sql`, `)}) AS v(${sql.join(aliases.map((alias) => sql.identifier(alias)), sql`, `)})
    WHERE ${where}`;
}

/** Updates grouped by the fields they set, so each group is one statement. */
function byShape<T extends { set: Record<string, unknown> }>(updates: readonly T[]): Map<string, { fields: string[]; updates: T[] }> {
  const groups = new Map<string, { fields: string[]; updates: T[] }>();
  for (const update of updates) {
    const fields = Object.keys(update.set).filter((field) => update.set[field] !== undefined).sort();
    const key = fields.join(',');
    const group = groups.get(key) ?? { fields, updates: [] };
    group.updates.push(update);
    groups.set(key, group);
  }
  return groups;
}

/**
 * Applies a batch of changes with a few set-based statements instead of several per change:
 * a mass expiry's results cost a handful of round trips per batch, not a dozen per request.
 * Every condition a change carries is still checked (each request at its expected state and
 * version, each job still running under its claimant); when one does not hold, it throws
 * BulkRefused and the caller rolls the transaction back and applies the changes one by one,
 * where each gets its own result. Audit events are left to the caller.
 */
export async function applyInBulk(execute: Execute, changes: readonly Change[], now: number): Promise<void> {
  const finishing = changes.flatMap((change) => (change.finishJob ? [change.finishJob] : []));
  if (finishing.length > 0) {
    const finished = await execute(sql`UPDATE jobs AS j SET state = 'done', finished_at = ${now}, lease_until = NULL
      FROM unnest(${sql.param(finishing.map((job) => job.id))}::integer[], ${sql.param(finishing.map((job) => job.claimedBy))}::text[]) AS f(id, owner)
      WHERE j.id = f.id AND j.state = 'running' AND j.claimed_by = f.owner`);
    if (finished.rowCount !== finishing.length) throw new BulkRefused('a job is no longer held by its claimant');
  }

  const requestUpdates = changes.flatMap((change) => change.updateRequests ?? []).map((update) => ({
    ...update,
    set: requestColumns(update.set) as Record<string, unknown>,
  }));
  for (const { fields, updates } of byShape(requestUpdates).values()) {
    const rows = updates.map((update) => ({ id: update.id, expect_state: update.expectState, expect_version: update.expectVersion, ...(update.set as Row) }));
    const { requests } = schema;
    const updated = await execute(unnestUpdate(requests, { id: requests.id, expect_state: requests.state, expect_version: requests.version }, fields, rows,
      sql`t.id = v.id AND t.state = v.expect_state AND t.version = v.expect_version`, [sql`version = v.expect_version + 1`]));
    if (updated.rowCount !== updates.length) throw new BulkRefused('a request moved on');
  }

  for (const { fields, updates } of byShape(changes.flatMap((change) => change.updateGrants ?? [])).values()) {
    const rows = updates.map((update) => ({ id: update.id, ...(update.set as Row) }));
    await execute(unnestUpdate(schema.grants, { id: schema.grants.id }, fields, rows, sql`t.id = v.id`));
  }

  const cancels = changes.flatMap((change) => (change.cancelJobs ?? []).flatMap((cancel) => cancel.kinds.map((kind) => ({ requestId: cancel.requestId, kind }))));
  if (cancels.length > 0) {
    // The batch's own finished jobs are done by now, so the state filter leaves them alone.
    await execute(sql`UPDATE jobs AS j SET state = 'cancelled', finished_at = ${now}, lease_until = NULL
      FROM unnest(${sql.param(cancels.map((cancel) => cancel.requestId))}::text[], ${sql.param(cancels.map((cancel) => cancel.kind))}::text[]) AS c(request_id, kind)
      WHERE j.request_id = c.request_id AND j.kind = c.kind AND j.state IN ('pending', 'running')`);
  }

  const enqueue = changes.flatMap((change) => change.enqueue ?? []);
  if (enqueue.length > 0) {
    await execute(sql`INSERT INTO jobs (kind, request_id, run_at, payload, state, dedupe_key, created_at)
      SELECT kind, request_id, run_at, payload, 'pending', dedupe_key, ${now}
      FROM unnest(${sql.param(enqueue.map((job) => job.kind))}::text[], ${sql.param(enqueue.map((job) => job.requestId))}::text[], ${sql.param(enqueue.map((job) => job.runAt))}::bigint[],
        ${sql.param(enqueue.map((job) => JSON.stringify(job.payload ?? {})))}::text[], ${sql.param(enqueue.map((job) => job.dedupeKey ?? null))}::text[]) AS n(kind, request_id, run_at, payload, dedupe_key)
      ON CONFLICT DO NOTHING`);
  }
}
