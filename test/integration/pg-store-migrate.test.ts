// Several instances starting at once on an empty PostgreSQL database: one migrates, the
// others wait for its advisory lock and find nothing left to do.
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../storage/postgres/pg-migrate.js';
import { PgStore } from '../../storage/postgres/pg-store.js';
import { openStore } from '../../storage/open-store.js';
import { asSuperuser } from '../support/postgres.js';
import { createPostgresDatabase } from '../support/test-store.js';

let drop: (() => Promise<void>) | null = null;
afterEach(async () => {
  await drop?.();
  drop = null;
});

describe('PostgreSQL store migrations', () => {
  it('are applied once when four instances start on an empty database at the same moment', async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(created.url)));
    try {
      expect(stores.map((store) => store.dialect)).toEqual(['postgres', 'postgres', 'postgres', 'postgres']);
      const applied = await asSuperuser((client) => client.query<{ n: string }>('SELECT count(*)::text AS n FROM drizzle.__drizzle_migrations'), created.database);
      expect(Number(applied.rows[0]?.n)).toBeGreaterThan(0);
      const tables = await asSuperuser((client) => client.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"), created.database);
      expect(tables.rows.map((row) => row.name)).toEqual(expect.arrayContaining(['audit_events', 'audit_sink_cursors', 'chat_messages', 'decisions', 'deliveries', 'grants', 'identities', 'jobs', 'requests']));
      // Again at a later start: nothing to do, nothing applied twice.
      const again = new PgStore({ url: created.url });
      await again.migrate();
      await again.close();
      const after = await asSuperuser((client) => client.query<{ n: string }>('SELECT count(*)::text AS n FROM drizzle.__drizzle_migrations'), created.database);
      expect(after.rows[0]?.n).toBe(applied.rows[0]?.n);
      // The migration lock is given back: nobody holds it once they have started.
      // pg_locks is the whole server's: look at this database and the migration key (a bigint key shows as classid:objid, objsubid 1).
      const locks = await asSuperuser((client) => client.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`, [MIGRATION_LOCK_KEY]), created.database);
      expect(locks.rowCount).toBe(0);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('names PostgreSQL in a refusal to connect without printing the password', async () => {
    const error = await openStore('postgres://latch:s3cret-pass@127.0.0.1:1/latch').then(() => null, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(Error);
    const text = error instanceof Error ? `${error.message} ${error.stack ?? ''}` : '';
    expect(text).toMatch(/ECONNREFUSED|connect/);
    expect(text).not.toContain('s3cret-pass');
  });
});
