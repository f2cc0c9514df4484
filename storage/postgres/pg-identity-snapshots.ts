import { and, eq, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { SourceGroup, SourcePerson } from '../../core/identity.js';
import type { IdentitySnapshotStore, IdentitySyncStatus, StoredSnapshot } from '../identity-store.js';
import type { AuditInput } from '../store.js';
import * as schema from './schema.js';

type Db = NodePgDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const toPerson = (row: typeof schema.identityPeople.$inferSelect): SourcePerson => ({
  id: row.sourceId, email: row.email, login: row.login, name: row.name, active: row.active, manager: row.manager, ...(row.deleted ? { deleted: true } : {}),
});
const toGroup = (row: typeof schema.identityGroups.$inferSelect): SourceGroup => ({ id: row.sourceId, name: row.name, members: JSON.parse(row.members) as string[] });
const personRow = (source: string, person: SourcePerson, at: number): typeof schema.identityPeople.$inferInsert => ({
  source, sourceId: person.id, email: person.email.toLowerCase(), login: person.login ?? null, name: person.name, manager: person.manager, active: person.active, deleted: person.deleted ?? false, updatedAt: at,
});
const count = sql<number>`count(*)`.mapWith(Number);

/**
 * Identity snapshots in the PostgreSQL store. Every write first takes a transaction lock on
 * its source: two instances syncing (or receiving SCIM pushes for) one source apply their
 * answers one after the other, never interleaved into a mix of both.
 */
export class PgIdentitySnapshots implements IdentitySnapshotStore {
  constructor(private readonly db: Db, private readonly write: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>, private readonly appendAudit: (tx: Tx, events: readonly AuditInput[]) => Promise<void>) {}

  private async lockSource(tx: Tx, source: string): Promise<void> {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`identity-source:${source}`}))`);
  }

  async snapshots(): Promise<StoredSnapshot[]> {
    const [people, groups] = await Promise.all([this.db.select().from(schema.identityPeople), this.db.select().from(schema.identityGroups)]);
    const sources = new Map<string, StoredSnapshot>();
    const of = (source: string): StoredSnapshot => {
      let snapshot = sources.get(source);
      if (!snapshot) sources.set(source, snapshot = { source, people: [], groups: [] });
      return snapshot;
    };
    for (const row of people) of(row.source).people.push(toPerson(row));
    for (const row of groups) of(row.source).groups.push(toGroup(row));
    return [...sources.values()];
  }

  private async counted(tx: Tx, source: string, set: Partial<typeof schema.identitySyncs.$inferInsert>): Promise<void> {
    const [people] = await tx.select({ count }).from(schema.identityPeople).where(eq(schema.identityPeople.source, source));
    const [groups] = await tx.select({ count }).from(schema.identityGroups).where(eq(schema.identityGroups.source, source));
    const counts = { people: people?.count ?? 0, groups: groups?.count ?? 0 };
    await tx.insert(schema.identitySyncs).values({ source, ...counts, ...set }).onConflictDoUpdate({ target: schema.identitySyncs.source, set: { ...counts, ...set } });
  }

  private async audited(tx: Tx, audit: AuditInput[]): Promise<void> {
    if (audit.length > 0) await this.appendAudit(tx, audit);
  }

  async replaceSnapshot(source: string, snapshot: { people: SourcePerson[]; groups: SourceGroup[] }, at: number, audit: AuditInput[]): Promise<void> {
    await this.write(async (tx) => {
      await this.lockSource(tx, source);
      await tx.delete(schema.identityPeople).where(eq(schema.identityPeople.source, source));
      await tx.delete(schema.identityGroups).where(eq(schema.identityGroups.source, source));
      if (snapshot.people.length > 0) await tx.insert(schema.identityPeople).values(snapshot.people.map((person) => personRow(source, person, at))).onConflictDoNothing();
      if (snapshot.groups.length > 0) {
        await tx.insert(schema.identityGroups).values(snapshot.groups.map((group) => ({ source, sourceId: group.id, name: group.name, members: JSON.stringify(group.members), updatedAt: at }))).onConflictDoNothing();
      }
      await this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null, heldAt: null, heldMessage: null });
      await this.audited(tx, audit);
    });
  }

  async recordAttempt(source: string, outcome: { at: number; error?: string; held?: string }, audit: AuditInput[]): Promise<void> {
    await this.write(async (tx) => {
      await this.lockSource(tx, source);
      await this.counted(tx, source, {
        lastAttemptAt: outcome.at, lastError: outcome.error ?? outcome.held ?? null,
        ...(outcome.held ? { heldAt: outcome.at, heldMessage: outcome.held } : {}),
      });
      await this.audited(tx, audit);
    });
  }

  async syncs(): Promise<IdentitySyncStatus[]> {
    return this.db.select().from(schema.identitySyncs);
  }

  async putPerson(source: string, person: SourcePerson, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write(async (tx) => {
      await this.lockSource(tx, source);
      const p = schema.identityPeople;
      const [known] = await tx.select({ id: p.sourceId }).from(p).where(and(eq(p.source, source), eq(p.sourceId, person.id)));
      const row = personRow(source, person, at);
      await tx.insert(p).values(row).onConflictDoUpdate({ target: [p.source, p.sourceId], set: row });
      await this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      await this.audited(tx, audit);
      return !known;
    });
  }

  async putGroup(source: string, group: SourceGroup, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write(async (tx) => {
      await this.lockSource(tx, source);
      const g = schema.identityGroups;
      const [known] = await tx.select({ id: g.sourceId }).from(g).where(and(eq(g.source, source), eq(g.sourceId, group.id)));
      const row = { source, sourceId: group.id, name: group.name, members: JSON.stringify([...new Set(group.members)]), updatedAt: at };
      await tx.insert(g).values(row).onConflictDoUpdate({ target: [g.source, g.sourceId], set: row });
      await this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      await this.audited(tx, audit);
      return !known;
    });
  }

  async patchGroup(source: string, id: string, patch: { name?: string; add: string[]; remove: string[] | 'all' }, at: number, audit: AuditInput[]): Promise<SourceGroup | null> {
    return this.write(async (tx) => {
      await this.lockSource(tx, source);
      const g = schema.identityGroups;
      const [row] = await tx.select().from(g).where(and(eq(g.source, source), eq(g.sourceId, id)));
      if (!row) return null;
      const before = JSON.parse(row.members) as string[];
      const removed = patch.remove;
      const kept = removed === 'all' ? [] : before.filter((member) => !removed.includes(member));
      const members = [...new Set([...kept, ...patch.add])];
      await tx.update(g).set({ members: JSON.stringify(members), updatedAt: at, ...(patch.name !== undefined ? { name: patch.name } : {}) }).where(and(eq(g.source, source), eq(g.sourceId, id)));
      await this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      await this.audited(tx, audit);
      return { id, name: patch.name ?? row.name, members };
    });
  }

  async deleteGroup(source: string, id: string, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write(async (tx) => {
      await this.lockSource(tx, source);
      const g = schema.identityGroups;
      const removed = (await tx.delete(g).where(and(eq(g.source, source), eq(g.sourceId, id)))).rowCount === 1;
      if (removed) {
        await this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
        await this.audited(tx, audit);
      }
      return removed;
    });
  }
}
