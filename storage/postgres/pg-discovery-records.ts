import { and, count, desc, eq, isNull, lt, max, min, ne } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { ActivityHistory, DiscoveryStore, RemediationChange, RemediationRecord, ScanSummaryRow } from '../discovery-store.js';
import type { AuditInput } from '../store.js';
import * as schema from './schema.js';

type Db = NodePgDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const SAMPLED = '';

const toRecord = (row: typeof schema.discoveryRemediations.$inferSelect): RemediationRecord => ({ ...row, changes: JSON.parse(row.changes) as RemediationChange[] });

/** Access discovery's tables in the PostgreSQL store (storage/sqlite/discovery-records.ts). */
export class PgDiscoveryRecords implements DiscoveryStore {
  constructor(private readonly db: Db, private readonly write: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>, private readonly appendAudit: (tx: Tx, events: readonly AuditInput[]) => Promise<void>) {}

  async recordSample(integration: string, at: number, sessions: ReadonlyMap<string, number>): Promise<void> {
    await this.write(async (tx) => {
      const rows = [{ integration, principal: SAMPLED, sampledAt: at, sessions: 0 }];
      for (const [principal, open] of sessions) if (open > 0 && principal !== SAMPLED) rows.push({ integration, principal, sampledAt: at, sessions: open });
      await tx.insert(schema.discoverySamples).values(rows).onConflictDoNothing();
    });
  }

  async activity(integration: string): Promise<ActivityHistory> {
    const s = schema.discoverySamples;
    const [first] = await this.db.select({ at: min(s.sampledAt), n: count() }).from(s).where(and(eq(s.integration, integration), eq(s.principal, SAMPLED)));
    const rows = await this.db.select({ principal: s.principal, at: max(s.sampledAt) }).from(s).where(and(eq(s.integration, integration), ne(s.principal, SAMPLED))).groupBy(s.principal);
    return { watchedSince: first?.at ?? null, samples: first?.n ?? 0, lastSeen: new Map(rows.map((row) => [row.principal, row.at ?? 0])) };
  }

  async recordScan(at: number, summary: readonly ScanSummaryRow[]): Promise<void> {
    await this.db.insert(schema.discoveryScans).values({ scannedAt: at, summary: JSON.stringify(summary) });
  }

  async lastScan(before?: number): Promise<{ scannedAt: number; summary: ScanSummaryRow[] } | null> {
    const s = schema.discoveryScans;
    const [row] = await this.db.select().from(s).where(before === undefined ? undefined : lt(s.scannedAt, before)).orderBy(desc(s.scannedAt), desc(s.id)).limit(1);
    return row ? { scannedAt: row.scannedAt, summary: JSON.parse(row.summary) as ScanSummaryRow[] } : null;
  }

  async recordRemediation(record: RemediationRecord, audit: readonly AuditInput[]): Promise<void> {
    await this.write(async (tx) => {
      await tx.insert(schema.discoveryRemediations).values({ ...record, changes: JSON.stringify(record.changes) });
      if (audit.length > 0) await this.appendAudit(tx, audit);
    });
  }

  async remediation(id: string): Promise<RemediationRecord | null> {
    const [row] = await this.db.select().from(schema.discoveryRemediations).where(eq(schema.discoveryRemediations.id, id));
    return row ? toRecord(row) : null;
  }

  async markUndone(id: string, by: string, at: number, audit: readonly AuditInput[]): Promise<boolean> {
    return this.write(async (tx) => {
      const r = schema.discoveryRemediations;
      const changed = await tx.update(r).set({ undoneAt: at, undoneBy: by }).where(and(eq(r.id, id), isNull(r.undoneAt))).returning({ id: r.id });
      if (changed.length === 0) return false;
      if (audit.length > 0) await this.appendAudit(tx, audit);
      return true;
    });
  }
}
