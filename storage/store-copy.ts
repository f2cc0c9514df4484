// Moves an installation from its SQLite file to PostgreSQL (`latch store copy`): every
// table, row for row, in one PostgreSQL transaction, then the audit chain is verified on
// the target and must end in the same hash as the source's.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sql, type Table } from 'drizzle-orm';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { verifyStoreAudit, type AuditVerification } from './audit-verify.js';
import { PgStore } from './postgres/pg-store.js';
import * as pgSchema from './postgres/schema.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import * as sqliteSchema from './sqlite/schema.js';

interface TablePair {
  name: string;
  read(db: ReturnType<typeof drizzleSqlite>): Record<string, unknown>[];
  target: PgTable;
  /** The column whose identity sequence must continue after the copied ids. */
  identity?: string;
}

/**
 * One table in both dialects. `convert` is the identity function at every call site; its
 * type is what proves the SQLite row fits the PostgreSQL table column for column.
 */
function pair<S extends SQLiteTable, P extends PgTable>(
  name: string, source: S, target: P, convert: (row: S['$inferSelect']) => P['$inferInsert'], identity?: string,
): TablePair {
  return {
    name, target, identity,
    read: (db) => (db.select().from(source as SQLiteTable).all() as S['$inferSelect'][]).map(convert) as Record<string, unknown>[],
  };
}

/** Parents before children (grants and decisions reference requests). */
const TABLES: readonly TablePair[] = [
  pair('requests', sqliteSchema.requests, pgSchema.requests, (row) => row),
  pair('grants', sqliteSchema.grants, pgSchema.grants, (row) => row),
  pair('decisions', sqliteSchema.decisions, pgSchema.decisions, (row) => row),
  pair('jobs', sqliteSchema.jobs, pgSchema.jobs, (row) => row, 'id'),
  pair('audit_events', sqliteSchema.auditEvents, pgSchema.auditEvents, (row) => row),
  pair('chat_messages', sqliteSchema.chatMessages, pgSchema.chatMessages, (row) => row, 'id'),
  pair('identities', sqliteSchema.identities, pgSchema.identities, (row) => row),
  pair('deliveries', sqliteSchema.deliveries, pgSchema.deliveries, (row) => row),
  pair('audit_sink_cursors', sqliteSchema.auditSinkCursors, pgSchema.auditSinkCursors, (row) => row),
  pair('identity_people', sqliteSchema.identityPeople, pgSchema.identityPeople, (row) => row),
  pair('identity_groups', sqliteSchema.identityGroups, pgSchema.identityGroups, (row) => row),
  pair('identity_syncs', sqliteSchema.identitySyncs, pgSchema.identitySyncs, (row) => row),
  pair('discovery_samples', sqliteSchema.discoverySamples, pgSchema.discoverySamples, (row) => row),
  pair('discovery_remediations', sqliteSchema.discoveryRemediations, pgSchema.discoveryRemediations, (row) => row),
  pair('discovery_scans', sqliteSchema.discoveryScans, pgSchema.discoveryScans, (row) => row, 'id'),
  pair('rds_discovery_listings', sqliteSchema.rdsDiscoveryListings, pgSchema.rdsDiscoveryListings, (row) => row),
];

/** Rows per INSERT: well under PostgreSQL's 65535 bind parameters for the widest table. */
const BATCH = 500;

export class StoreCopyRefused extends Error {}

export interface StoreCopyReport {
  rows: Record<string, number>;
  audit: Extract<AuditVerification, { ok: true }>;
}

export interface StoreCopyOptions {
  /** Path of the SQLite file (the installation must be stopped). */
  fromPath: string;
  /** postgres:// URL of an empty (or not yet migrated) database. */
  toUrl: string;
  progress?: (table: string, rows: number) => void;
}

export async function copySqliteToPostgres(options: StoreCopyOptions): Promise<StoreCopyReport> {
  if (!existsSync(options.fromPath)) throw new StoreCopyRefused(`there is no SQLite store at ${options.fromPath}`);
  const sourceStore = new SqliteStore({ path: options.fromPath });
  // Bring the source to the current schema first, so its tables are the ones copied below.
  sourceStore.migrate();
  const file = new Database(options.fromPath, { readonly: true, fileMustExist: true });
  const target = new PgStore({ url: options.toUrl, maxConnections: 2 });
  try {
    const source = drizzleSqlite(file);
    const known = new Set(TABLES.map((table) => table.name));
    const present = file.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").all() as { name: string }[];
    // A table this copy does not know would be left behind: refuse rather than move part of an installation.
    const unknown = present.map((row) => row.name).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new StoreCopyRefused(`the SQLite store has table(s) this copy does not know: ${unknown.join(', ')}; nothing was copied`);
    const sourceAudit = await verifyStoreAudit(sourceStore);
    if (!sourceAudit.ok) throw new StoreCopyRefused(`the source's audit chain is broken at event #${sourceAudit.firstBroken.seq}: ${sourceAudit.firstBroken.message}; nothing was copied`);

    await target.migrate();
    const db = target.database;
    const filled: string[] = [];
    for (const table of TABLES) {
      const [row] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(table.target);
      if ((row?.n ?? 0) > 0) filled.push(`${table.name} (${row?.n ?? 0} rows)`);
    }
    if (filled.length > 0) throw new StoreCopyRefused(`the target database is not empty: ${filled.join(', ')}; copy into a new database`);

    const rows: Record<string, number> = {};
    await db.transaction(async (tx) => {
      for (const table of TABLES) {
        const all = table.read(source);
        for (let start = 0; start < all.length; start += BATCH) {
          await tx.insert(table.target).values(all.slice(start, start + BATCH) as PgTable['$inferInsert'][]);
        }
        if (table.identity) {
          // Ids were copied as they were; new rows continue after the highest.
          await tx.execute(sql`SELECT setval(pg_get_serial_sequence(${table.name}, ${table.identity}), COALESCE((SELECT max(${sql.identifier(table.identity)}) FROM ${table.target as Table}), 0) + 1, false)`);
        }
        rows[table.name] = all.length;
        options.progress?.(table.name, all.length);
      }
    });

    const targetAudit = await verifyStoreAudit(target);
    if (!targetAudit.ok) throw new Error(`the copied audit chain does not verify at event #${targetAudit.firstBroken.seq}: ${targetAudit.firstBroken.message}`);
    if (targetAudit.lastHash !== sourceAudit.lastHash || targetAudit.count !== sourceAudit.count) {
      throw new Error(`the copied audit chain (${targetAudit.count} events, last hash ${targetAudit.lastHash}) differs from the source's (${sourceAudit.count}, ${sourceAudit.lastHash})`);
    }
    return { rows, audit: targetAudit };
  } finally {
    file.close();
    await sourceStore.close();
    await target.close();
  }
}
