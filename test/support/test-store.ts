import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { asSuperuser, localServer, randomSuffix } from './postgres.js';

// A Latch store of its own for one test, in either dialect, so the same contract suite runs
// on the embedded SQLite file and on the local PostgreSQL (a fresh database per store,
// dropped afterwards). No PostgreSQL server fails the test; it is never skipped.

export const STORE_DIALECTS = ['sqlite', 'postgres'] as const;
export type StoreDialect = (typeof STORE_DIALECTS)[number];

export interface TestStoreLocation {
  dialect: StoreDialect;
  /** DATABASE_URL of the store: every instance opened on it shares its state. */
  url: string;
  /** Opens (and migrates) another connection to the same store, as another instance would. */
  open(): Promise<Store>;
  /** Drops the database or removes the file. */
  cleanup(): Promise<void>;
}

/** An empty PostgreSQL database on the local server, and its URL. */
export async function createPostgresDatabase(prefix = 'latch_store'): Promise<{ database: string; url: string; drop(): Promise<void> }> {
  const database = `${prefix}_${randomSuffix()}`;
  await asSuperuser((client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`));
  const url = `postgres://${encodeURIComponent(localServer.user)}@${localServer.host}:${localServer.port}/${database}`;
  return {
    database, url,
    async drop() {
      await asSuperuser((client) => client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`));
    },
  };
}

export async function createStoreLocation(dialect: StoreDialect): Promise<TestStoreLocation> {
  if (dialect === 'postgres') {
    const created = await createPostgresDatabase();
    return { dialect, url: created.url, open: () => openStore(created.url), cleanup: created.drop };
  }
  const dir = mkdtempSync(join(tmpdir(), 'latch-store-'));
  const url = `sqlite:${join(dir, 'latch.db')}`;
  return { dialect, url, open: () => openStore(url), async cleanup() { rmSync(dir, { recursive: true, force: true }); } };
}

/** A location and the stores opened on it, closed and removed together. */
export async function createTestStore(dialect: StoreDialect): Promise<{ store: Store; location: TestStoreLocation; another(): Promise<Store>; cleanup(): Promise<void> }> {
  const location = await createStoreLocation(dialect);
  const opened: Store[] = [];
  const open = async (): Promise<Store> => {
    const store = await location.open();
    opened.push(store);
    return store;
  };
  const store = await open();
  return {
    store, location, another: open,
    async cleanup() {
      for (const each of opened) await each.close();
      await location.cleanup();
    },
  };
}
