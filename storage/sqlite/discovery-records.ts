import { and, desc, eq, isNull, lt, max, min, ne, count } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { ActivityHistory, DiscoveryStore, RemediationChange, RemediationRecord, ScanSummaryRow } from '../discovery-store.js';
import type { AuditInput } from '../store.js';
import * as schema from './schema.js';

type Db = BetterSQLite3Database<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The principal of the row that says an integration was sampled at all. */
const SAMPLED = '';

const toRecord = (row: typeof schema.discoveryRemediations.$inferSelect): RemediationRecord => ({ ...row, changes: JSON.parse(row.changes) as RemediationChange[] });

/** Access discovery's tables in the SQLite store; writes are immediate transactions with their audit events. */
export class SqliteDiscoveryRecords implements DiscoveryStore {
  constructor(private readonly db: Db, private readonly write: <T>(work: (tx: Tx) => T) => T, private readonly appendAudit: (tx: Tx, events: AuditInput[]) => void) {}

  async recordSample(integration: string, at: number, sessions: ReadonlyMap<string, number>): Promise<void> {
    this.write((tx) => {
      const s = schema.discoverySamples;
      tx.insert(s).values({ integration, principal: SAMPLED, sampledAt: at, sessions: 0 }).onConflictDoNothing().run();
      for (const [principal, open] of sessions) if (open > 0 && principal !== SAMPLED) tx.insert(s).values({ integration, principal, sampledAt: at, sessions: open }).onConflictDoNothing().run();
    });
  }

  async activity(integration: string): Promise<ActivityHistory> {
    const s = schema.discoverySamples;
    const first = this.db.select({ at: min(s.sampledAt), n: count() }).from(s).where(and(eq(s.integration, integration), eq(s.principal, SAMPLED))).get();
    const rows = this.db.select({ principal: s.principal, at: max(s.sampledAt) }).from(s).where(and(eq(s.integration, integration), ne(s.principal, SAMPLED))).groupBy(s.principal).all();
    return { watchedSince: first?.at ?? null, samples: first?.n ?? 0, lastSeen: new Map(rows.map((row) => [row.principal, row.at ?? 0])) };
  }

  async recordScan(at: number, summary: readonly ScanSummaryRow[]): Promise<void> {
    this.write((tx) => tx.insert(schema.discoveryScans).values({ scannedAt: at, summary: JSON.stringify(summary) }).run());
  }

  async lastScan(before?: number): Promise<{ scannedAt: number; summary: ScanSummaryRow[] } | null> {
    const s = schema.discoveryScans;
    const row = this.db.select().from(s).where(before === undefined ? undefined : lt(s.scannedAt, before)).orderBy(desc(s.scannedAt), desc(s.id)).limit(1).get();
    return row ? { scannedAt: row.scannedAt, summary: JSON.parse(row.summary) as ScanSummaryRow[] } : null;
  }

  async recordRemediation(record: RemediationRecord, audit: readonly AuditInput[]): Promise<void> {
    this.write((tx) => {
      tx.insert(schema.discoveryRemediations).values({ ...record, changes: JSON.stringify(record.changes) }).run();
      if (audit.length > 0) this.appendAudit(tx, [...audit]);
    });
  }

  async remediation(id: string): Promise<RemediationRecord | null> {
    const row = this.db.select().from(schema.discoveryRemediations).where(eq(schema.discoveryRemediations.id, id)).get();
    return row ? toRecord(row) : null;
  }

  async markUndone(id: string, by: string, at: number, audit: readonly AuditInput[]): Promise<boolean> {
    return this.write((tx) => {
      const r = schema.discoveryRemediations;
      const changed = tx.update(r).set({ undoneAt: at, undoneBy: by }).where(and(eq(r.id, id), isNull(r.undoneAt))).run().changes;
      if (changed === 0) return false;
      if (audit.length > 0) this.appendAudit(tx, [...audit]);
      return true;
    });
  }
}
