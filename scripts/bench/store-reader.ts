// What the bench asks Latch's store while Latch runs: when grants were made and ended, how
// many are in each state, whether work is still due. It reads, never writes, so a figure is
// taken from the same rows Latch committed, whichever store Latch runs on. The SQL is written
// once for both dialects (the tables and columns have the same names in storage/sqlite/schema.ts
// and storage/postgres/schema.ts); only how rows are fetched differs.
import Database from 'better-sqlite3';
import pg from 'pg';
import { sqlitePathOf, storeDialectOf } from '../../storage/open-store.js';

export interface GrantTimes {
  expiresAt: number;
  revokedAt: number | null;
  grantedAt: number | null;
  state: string;
}

export interface StoreReader {
  /** The grants of the requests tagged `because <tag>`, with their request's expiry. */
  grantTimes(tag: string): Promise<GrantTimes[]>;
  /** How many grants of the tagged requests are in each state. */
  grantStates(tag: string): Promise<Map<string, number>>;
  /** How many tagged requests are in each state. */
  requestStates(tag: string): Promise<Map<string, number>>;
  /** The state of a request's (first) grant, or undefined while it has none. */
  grantStateOf(requestId: string): Promise<string | undefined>;
  /** Jobs pending or running whose time has come by `at` (epoch ms). */
  dueJobs(at: number): Promise<number>;
  close(): Promise<void>;
}

type Row = Record<string, unknown>;

/** Parameters are `?` in the text; each implementation binds them its own way. */
interface RowSource {
  all(sql: string, params: readonly (string | number)[]): Promise<Row[]>;
  close(): Promise<void>;
}

// PostgreSQL returns bigint instants and count(*) as strings (they may exceed 2^53); every
// value read here is an epoch ms or a small count, well inside a double.
const numberOf = (value: unknown): number => Number(value);
const numberOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const counts = (rows: Row[]): Map<string, number> => new Map(rows.map((row) => [String(row.state), numberOf(row.n)]));

class SqlStoreReader implements StoreReader {
  constructor(private readonly source: RowSource) {}

  async grantTimes(tag: string): Promise<GrantTimes[]> {
    const rows = await this.source.all(`
      SELECT r.expires_at AS expires_at, g.revoked_at AS revoked_at, g.granted_at AS granted_at, g.state AS state
        FROM requests r JOIN grants g ON g.request_id = r.id WHERE r.reason = ?`, [tag]);
    return rows.map((row) => ({ expiresAt: numberOf(row.expires_at), revokedAt: numberOrNull(row.revoked_at), grantedAt: numberOrNull(row.granted_at), state: String(row.state) }));
  }

  async grantStates(tag: string): Promise<Map<string, number>> {
    return counts(await this.source.all('SELECT g.state AS state, count(*) AS n FROM requests r JOIN grants g ON g.request_id = r.id WHERE r.reason = ? GROUP BY g.state', [tag]));
  }

  async requestStates(tag: string): Promise<Map<string, number>> {
    return counts(await this.source.all('SELECT state, count(*) AS n FROM requests WHERE reason = ? GROUP BY state', [tag]));
  }

  async grantStateOf(requestId: string): Promise<string | undefined> {
    const [row] = await this.source.all('SELECT state FROM grants WHERE request_id = ? ORDER BY id LIMIT 1', [requestId]);
    return row ? String(row.state) : undefined;
  }

  async dueJobs(at: number): Promise<number> {
    const [row] = await this.source.all("SELECT count(*) AS n FROM jobs WHERE state IN ('pending', 'running') AND run_at <= ?", [at]);
    return numberOf(row?.n ?? 0);
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/** The SQLite file opened read-only; WAL lets it read beside Latch's writer. */
class SqliteRows implements RowSource {
  private readonly db: Database.Database;
  // The throughput phase polls the same few statements hundreds of times a second.
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
  }

  all(sql: string, params: readonly (string | number)[]): Promise<Row[]> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return Promise.resolve(statement.all(...params) as Row[]);
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

/** A small pool on the store database: the throughput phase polls from 16 cycles at once. */
class PostgresRows implements RowSource {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    // A connection the server ends (the database dropped at cleanup) must not end the bench.
    this.pool.on('error', () => undefined);
  }

  async all(sql: string, params: readonly (string | number)[]): Promise<Row[]> {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await this.pool.query(text, [...params])).rows as Row[];
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** A reader for the store DATABASE_URL names: `postgres://…` or a SQLite file. */
export function openStoreReader(url: string): StoreReader {
  return new SqlStoreReader(storeDialectOf(url) === 'postgres' ? new PostgresRows(url) : new SqliteRows(sqlitePathOf(url)));
}
