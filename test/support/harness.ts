import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { directoryFromConfig } from '../../config/directory.js';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import type { Actor } from '../../core/types.js';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { jobBatchHandlers, jobHandlers } from '../../jobs/handlers.js';
import { JobRunner, jobsAtOnceVia, type RunnerOptions } from '../../jobs/runner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { openStore } from '../../storage/open-store.js';
import { PgStore } from '../../storage/postgres/pg-store.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { Store } from '../../storage/store.js';
import { MemoryProvisioner } from './memory-provisioner.js';
import { RecordingNotifier } from './recording-notifier.js';
import { createPostgresDatabase, type StoreDialect } from './test-store.js';

export const quietLogger: Logger & { errors: string[] } = {
  errors: [],
  info: () => {},
  warn: () => {},
  error(fields, message) { this.errors.push(`${message} ${JSON.stringify(fields)}`); },
};

export interface Harness {
  dir: string;
  /** The SQLite file (dialect sqlite only; empty on PostgreSQL). */
  dbFile: string;
  /** DATABASE_URL of the harness's store. */
  databaseUrl: string;
  dialect: StoreDialect;
  configFile: string;
  ctx: LatchContext;
  store: Store;
  provisioner: MemoryProvisioner;
  notifier: RecordingNotifier;
  runner: JobRunner;
  as(email: string): Actor;
  /** Moves Latch's clock forward, so what is due in an hour is due now. */
  advance(ms: number): void;
  /** Runs every job due now (and those they make due now), without the timer. */
  drain(): Promise<void>;
  /** A second connection to the same store, as another process or instance would have. */
  openContext(): LatchContext;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Integrations served by the memory provisioner (default: every integration in the config). */
  runner?: Partial<Omit<RunnerOptions, 'owner'>>;
  startRunner?: boolean;
  /** The store Latch keeps its state in: a temp SQLite file (default), or a fresh PostgreSQL database on the local server. */
  dialect?: StoreDialect;
}

/** Latch on a temp SQLite file (or a fresh PostgreSQL database) with a memory backend and a recording notifier. */
export async function createHarness(configYaml: string, options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-test-'));
  const configFile = join(dir, 'latch.yaml');
  writeFileSync(configFile, configYaml);
  const parsed = parseConfig(configYaml, configFile);
  if (!parsed.ok) throw new Error(`test config is invalid:\n${formatConfigErrors(parsed.errors)}`);
  const config = parsed.config;
  const dialect = options.dialect ?? 'sqlite';
  const postgres = dialect === 'postgres' ? await createPostgresDatabase('latch_harness') : null;
  const dbFile = postgres ? '' : join(dir, 'latch.db');
  const databaseUrl = postgres ? postgres.url : `sqlite:${dbFile}`;
  const store = await openStore(databaseUrl);
  const anotherStore = (): Store => (postgres ? new PgStore({ url: postgres.url }) : new SqliteStore({ path: dbFile }));
  const provisioner = new MemoryProvisioner();
  const provisioners = new ProvisionerRegistry({});
  for (const integration of config.integrations) provisioners.use(integration.name, provisioner);
  const notifier = new RecordingNotifier();
  const active = { config, directory: directoryFromConfig(config), hash: 'test', file: configFile };
  let runner: JobRunner | null = null;
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const makeContext = (contextStore: Store): LatchContext => ({
    store: contextStore, current: () => active, provisioners, notifier, log: quietLogger, now, wake: () => runner?.wake(), jobsAtOnce: jobsAtOnceVia(() => runner),
  });
  const ctx = makeContext(store);
  runner = new JobRunner(ctx, jobHandlers, { owner: `test-${randomUUID()}`, leaseMs: 5_000, sweep: '*/1 * * * * *', ...options.runner }, jobBatchHandlers);
  const extraStores: Store[] = [];
  if (options.startRunner) runner.start();
  const harness: Harness = {
    dir, dbFile, databaseUrl, dialect, configFile, ctx, store, provisioner, notifier, runner,
    as: (email) => ({ email, via: 'test' }),
    advance: (ms) => { offset += ms; },
    async drain() {
      await runner?.runDue();
    },
    openContext() {
      const other = anotherStore();
      extraStores.push(other);
      return makeContext(other);
    },
    async close() {
      await runner?.stop();
      for (const other of extraStores) await other.close();
      await store.close();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Waits until `check` is true, polling; fails with `what` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
