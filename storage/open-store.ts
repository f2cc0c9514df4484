import pg from 'pg';
import type { Store } from './store.js';
import { PgStore } from './postgres/pg-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/latch.db';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** The dialect DATABASE_URL names: `postgres://` / `postgresql://` for PostgreSQL, else a SQLite file. */
export function storeDialectOf(url: string): 'sqlite' | 'postgres' {
  return POSTGRES_URL.test(url) ? 'postgres' : 'sqlite';
}

/** The path of a SQLite DATABASE_URL (`sqlite:PATH`, `file:PATH` or a bare path); refuses other schemes. */
export function sqlitePathOf(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  // Anything else with a scheme would otherwise become a file path (credentials and all) on disk.
  if (scheme && !/^(sqlite|file)$/i.test(scheme)) throw new Error(`DATABASE_URL names a ${scheme}: database, which Latch cannot use; use sqlite:./data/latch.db or postgres://…`);
  return url.replace(/^(sqlite|file):(\/\/)?/, '');
}

export interface OpenStoreOptions {
  /** Apply pending migrations first (default true); a reader of evidence opens without. */
  migrate?: boolean;
}

/**
 * Opens the store named by DATABASE_URL: `postgres://…` or `postgresql://…` the shared
 * PostgreSQL store (several instances may use one), `sqlite:PATH`, `file:PATH` or a bare
 * path the embedded one. Migrations are applied unless told otherwise.
 */
export async function openStore(url: string = DEFAULT_DATABASE_URL, options: OpenStoreOptions = {}): Promise<Store> {
  const migrate = options.migrate ?? true;
  if (storeDialectOf(url) === 'postgres') {
    await reachPostgres(url);
    const store = new PgStore({ url });
    try {
      if (migrate) await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }
  const store = new SqliteStore({ path: sqlitePathOf(url) });
  if (migrate) store.migrate();
  return store;
}

/** Where a PostgreSQL URL points, without its credentials: what an error may name. */
export function postgresLocation(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname || ''}`;
  } catch {
    return '(an unparseable URL)';
  }
}

/** Connects once, so an unreachable server or refused login is one clear sentence, before anything else runs. */
async function reachPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach Latch's PostgreSQL store at ${postgresLocation(url)}: ${reason}`);
  } finally {
    await client.end().catch(() => {});
  }
}
