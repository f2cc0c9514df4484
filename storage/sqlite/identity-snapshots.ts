import { and, eq } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { SourceGroup, SourcePerson } from '../../core/identity.js';
import type { IdentitySnapshotStore, IdentitySyncStatus, StoredSnapshot } from '../identity-store.js';
import type { AuditInput } from '../store.js';
import * as schema from './schema.js';

type Db = BetterSQLite3Database<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const toPerson = (row: typeof schema.identityPeople.$inferSelect): SourcePerson => ({
  id: row.sourceId, email: row.email, login: row.login, name: row.name, active: row.active, manager: row.manager, ...(row.deleted ? { deleted: true } : {}),
});
const toGroup = (row: typeof schema.identityGroups.$inferSelect): SourceGroup => ({ id: row.sourceId, name: row.name, members: JSON.parse(row.members) as string[] });
const personRow = (source: string, person: SourcePerson, at: number): typeof schema.identityPeople.$inferInsert => ({
  source, sourceId: person.id, email: person.email.toLowerCase(), login: person.login ?? null, name: person.name, manager: person.manager, active: person.active, deleted: person.deleted ?? false, updatedAt: at,
});

/** Identity snapshots in the SQLite store; every write is one immediate transaction with its audit events. */
export class SqliteIdentitySnapshots implements IdentitySnapshotStore {
  constructor(private readonly db: Db, private readonly write: <T>(work: (tx: Tx) => T) => T, private readonly appendAudit: (tx: Tx, events: AuditInput[]) => void) {}

  async snapshots(): Promise<StoredSnapshot[]> {
    const people = this.db.select().from(schema.identityPeople).all();
    const groups = this.db.select().from(schema.identityGroups).all();
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

  private counted(tx: Tx, source: string, set: Partial<typeof schema.identitySyncs.$inferInsert>): void {
    const people = tx.select({ id: schema.identityPeople.sourceId }).from(schema.identityPeople).where(eq(schema.identityPeople.source, source)).all().length;
    const groups = tx.select({ id: schema.identityGroups.sourceId }).from(schema.identityGroups).where(eq(schema.identityGroups.source, source)).all().length;
    tx.insert(schema.identitySyncs).values({ source, people, groups, ...set }).onConflictDoUpdate({ target: schema.identitySyncs.source, set: { people, groups, ...set } }).run();
  }

  async replaceSnapshot(source: string, snapshot: { people: SourcePerson[]; groups: SourceGroup[] }, at: number, audit: AuditInput[]): Promise<void> {
    this.write((tx) => {
      tx.delete(schema.identityPeople).where(eq(schema.identityPeople.source, source)).run();
      tx.delete(schema.identityGroups).where(eq(schema.identityGroups.source, source)).run();
      for (const person of snapshot.people) tx.insert(schema.identityPeople).values(personRow(source, person, at)).onConflictDoNothing().run();
      for (const group of snapshot.groups) {
        tx.insert(schema.identityGroups).values({ source, sourceId: group.id, name: group.name, members: JSON.stringify(group.members), updatedAt: at }).onConflictDoNothing().run();
      }
      this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null, heldAt: null, heldMessage: null });
      if (audit.length > 0) this.appendAudit(tx, audit);
    });
  }

  async recordAttempt(source: string, outcome: { at: number; error?: string; held?: string }, audit: AuditInput[]): Promise<void> {
    this.write((tx) => {
      this.counted(tx, source, {
        lastAttemptAt: outcome.at, lastError: outcome.error ?? outcome.held ?? null,
        ...(outcome.held ? { heldAt: outcome.at, heldMessage: outcome.held } : {}),
      });
      if (audit.length > 0) this.appendAudit(tx, audit);
    });
  }

  async syncs(): Promise<IdentitySyncStatus[]> {
    return this.db.select().from(schema.identitySyncs).all();
  }

  async putPerson(source: string, person: SourcePerson, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write((tx) => {
      const p = schema.identityPeople;
      const known = tx.select({ id: p.sourceId }).from(p).where(and(eq(p.source, source), eq(p.sourceId, person.id))).get();
      const row = personRow(source, person, at);
      tx.insert(p).values(row).onConflictDoUpdate({ target: [p.source, p.sourceId], set: row }).run();
      this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      if (audit.length > 0) this.appendAudit(tx, audit);
      return !known;
    });
  }

  private setMembers(tx: Tx, source: string, id: string, members: string[], at: number, name?: string): void {
    const g = schema.identityGroups;
    tx.update(g).set({ members: JSON.stringify(members), updatedAt: at, ...(name !== undefined ? { name } : {}) }).where(and(eq(g.source, source), eq(g.sourceId, id))).run();
  }

  async putGroup(source: string, group: SourceGroup, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write((tx) => {
      const g = schema.identityGroups;
      const known = tx.select({ id: g.sourceId }).from(g).where(and(eq(g.source, source), eq(g.sourceId, group.id))).get();
      const row = { source, sourceId: group.id, name: group.name, members: JSON.stringify([...new Set(group.members)]), updatedAt: at };
      tx.insert(g).values(row).onConflictDoUpdate({ target: [g.source, g.sourceId], set: row }).run();
      this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      if (audit.length > 0) this.appendAudit(tx, audit);
      return !known;
    });
  }

  async patchGroup(source: string, id: string, patch: { name?: string; add: string[]; remove: string[] | 'all' }, at: number, audit: AuditInput[]): Promise<SourceGroup | null> {
    return this.write((tx) => {
      const g = schema.identityGroups;
      const row = tx.select().from(g).where(and(eq(g.source, source), eq(g.sourceId, id))).get();
      if (!row) return null;
      const before = JSON.parse(row.members) as string[];
      const kept = patch.remove === 'all' ? [] : before.filter((member) => !(patch.remove as string[]).includes(member));
      const members = [...new Set([...kept, ...patch.add])];
      this.setMembers(tx, source, id, members, at, patch.name);
      this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
      if (audit.length > 0) this.appendAudit(tx, audit);
      return { id, name: patch.name ?? row.name, members };
    });
  }

  async deleteGroup(source: string, id: string, at: number, audit: AuditInput[]): Promise<boolean> {
    return this.write((tx) => {
      const g = schema.identityGroups;
      const removed = tx.delete(g).where(and(eq(g.source, source), eq(g.sourceId, id))).run().changes === 1;
      if (removed) {
        this.counted(tx, source, { lastAttemptAt: at, lastSuccessAt: at, lastError: null });
        if (audit.length > 0) this.appendAudit(tx, audit);
      }
      return removed;
    });
  }
}
