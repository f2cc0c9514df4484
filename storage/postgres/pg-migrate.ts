import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type pg from 'pg';

const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * The advisory lock key every Latch instance takes while it migrates: 'latch' as ASCII
 * bytes, one well-known number so an operator can see it in pg_locks.
 */
export const MIGRATION_LOCK_KEY = 0x6c61746368;

/**
 * Applies pending migrations, one instance at a time. Drizzle's migrator creates its schema
 * and bookkeeping table outside its transaction, so two instances starting at once would
 * race there (and then both try the same migration); a session advisory lock makes the
 * second wait and then find nothing left to do. The lock is on one pooled connection and
 * given back before that connection returns to the pool.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that failed may still hold the lock: destroy it rather than pool it.
    client.release(failed);
  }
}
