// The local PostgreSQL plays an RDS instance, which has a role `rds_iam`; the tests make a
// stand-in. The role is cluster-wide and several test files use it at once (in other
// workers), so none may drop or rename it under another: each file holds a shared advisory
// lock while it uses the role, and whoever can take the lock alone (the last one out) drops
// it, if it is the tests' stand-in and not a role of the server's own.
import type pg from 'pg';
import { connectAs } from './postgres.js';

/** Any fixed number works, as long as only this file uses it. */
const LOCK_KEY = 74_711_001;
const MARK = 'latch test stand-in for the RDS rds_iam role';

export interface RdsIamStandIn {
  /** Runs `work` while no other test file uses the role (to rename it away for a test). */
  alone<T>(work: () => Promise<T>): Promise<T>;
  release(): Promise<void>;
}

export async function useRdsIamStandIn(): Promise<RdsIamStandIn> {
  const session: pg.Client = await connectAs();
  await session.query('SELECT pg_advisory_lock_shared($1)', [LOCK_KEY]);
  // Two files may arrive together: creating under an exclusive transaction lock keeps them from both trying.
  await session.query('BEGIN');
  await session.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY + 1]);
  const { rows } = await session.query("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'");
  if (rows.length === 0) {
    await session.query('CREATE ROLE rds_iam NOLOGIN');
    await session.query(`COMMENT ON ROLE rds_iam IS '${MARK}'`);
  }
  await session.query('COMMIT');
  return {
    async alone(work) {
      // The session's own shared lock does not stand in its way; the other files' do.
      await session.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
      try {
        return await work();
      } finally {
        await session.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
      }
    },
    async release() {
      try {
        const { rows: [last] } = await session.query<{ alone: boolean }>('SELECT pg_try_advisory_lock($1) AS alone', [LOCK_KEY]);
        if (last?.alone) {
          const { rows: [role] } = await session.query<{ comment: string | null }>("SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'rds_iam'");
          if (role?.comment === MARK) await session.query('DROP ROLE rds_iam');
        }
      } finally {
        await session.end().catch(() => undefined);
      }
    },
  };
}
