import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/latch.db';

/**
 * Opens the store named by DATABASE_URL (`sqlite:PATH`, `file:PATH` or a bare path) and
 * applies migrations. `postgres://` is reserved for the PostgreSQL store.
 */
export async function openStore(url: string = DEFAULT_DATABASE_URL): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('DATABASE_URL names PostgreSQL, but this build of Latch stores its state only in SQLite; use sqlite:./data/latch.db');
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  // Anything else with a scheme would otherwise become a file path (credentials and all) on disk.
  if (scheme && !/^(sqlite|file)$/i.test(scheme)) throw new Error(`DATABASE_URL names a ${scheme}: database, which Latch cannot use; use sqlite:./data/latch.db`);
  const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
  const store = new SqliteStore({ path });
  store.migrate();
  return store;
}
