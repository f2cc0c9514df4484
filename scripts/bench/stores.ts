// The stores Latch keeps its own state in during a bench run (BENCH_STORES): a SQLite file
// in the run's temporary directory, or a PostgreSQL database of the run's own on the local
// server (`latch_bench_store_<random>`), dropped again by the registered cleanup. Latch
// applies its migrations to either when it starts.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { PG, pgAdmin } from './backends.js';
import { onCleanup } from './cleanup.js';

export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface BenchStore {
  kind: StoreKind;
  /** DATABASE_URL for Latch and for openStore(). */
  url: string;
  /** Where it is, for the log: a file path or host:port/database. */
  where: string;
}

/** A new, empty store of `kind`; `name` tells the stores of one run apart (`latch`, `memory`). */
export async function createStore(kind: StoreKind, work: string, name: string): Promise<BenchStore> {
  if (kind === 'sqlite') {
    const file = join(work, `${name}.db`);
    return { kind, url: `sqlite:${file}`, where: file };
  }
  const database = `latch_bench_store_${randomBytes(4).toString('hex')}`;
  onCleanup(`PostgreSQL store database ${database}`, () => dropStoreDatabase(database));
  await pgAdmin((client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`));
  const url = `postgres://${encodeURIComponent(PG.user)}@${PG.host}:${PG.port}/${database}`;
  return { kind, url, where: `${PG.host}:${PG.port}/${database}` };
}

/** FORCE ends the sessions of a Latch that did not stop, so an interrupted run still drops it. */
async function dropStoreDatabase(database: string): Promise<void> {
  await pgAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`));
}
