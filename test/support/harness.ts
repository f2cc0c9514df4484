import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { directoryFromConfig } from '../../config/directory.js';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import type { Actor } from '../../core/types.js';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { jobHandlers } from '../../jobs/handlers.js';
import { JobRunner, type RunnerOptions } from '../../jobs/runner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { MemoryProvisioner } from './memory-provisioner.js';
import { RecordingNotifier } from './recording-notifier.js';

export const quietLogger: Logger & { errors: string[] } = {
  errors: [],
  info: () => {},
  warn: () => {},
  error(fields, message) { this.errors.push(`${message} ${JSON.stringify(fields)}`); },
};

export interface Harness {
  dir: string;
  dbFile: string;
  configFile: string;
  ctx: LatchContext;
  store: SqliteStore;
  provisioner: MemoryProvisioner;
  notifier: RecordingNotifier;
  runner: JobRunner;
  as(email: string): Actor;
  /** Moves Latch's clock forward, so what is due in an hour is due now. */
  advance(ms: number): void;
  /** Runs every job due now (and those they make due now), without the timer. */
  drain(): Promise<void>;
  /** A second connection to the same file, as another process would have. */
  openContext(): LatchContext;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Integrations served by the memory provisioner (default: every integration in the config). */
  runner?: Partial<Omit<RunnerOptions, 'owner'>>;
  startRunner?: boolean;
}

/** Latch on a temp SQLite file with a memory backend and a recording notifier. */
export async function createHarness(configYaml: string, options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-test-'));
  const configFile = join(dir, 'latch.yaml');
  writeFileSync(configFile, configYaml);
  const parsed = parseConfig(configYaml, configFile);
  if (!parsed.ok) throw new Error(`test config is invalid:\n${formatConfigErrors(parsed.errors)}`);
  const config = parsed.config;
  const dbFile = join(dir, 'latch.db');
  const store = new SqliteStore({ path: dbFile });
  store.migrate();
  const provisioner = new MemoryProvisioner();
  const provisioners = new ProvisionerRegistry({});
  for (const integration of config.integrations) provisioners.use(integration.name, provisioner);
  const notifier = new RecordingNotifier();
  const active = { config, directory: directoryFromConfig(config), hash: 'test', file: configFile };
  let runner: JobRunner | null = null;
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const makeContext = (contextStore: SqliteStore): LatchContext => ({
    store: contextStore, current: () => active, provisioners, notifier, log: quietLogger, now, wake: () => runner?.wake(),
  });
  const ctx = makeContext(store);
  runner = new JobRunner(ctx, jobHandlers, { owner: `test-${randomUUID()}`, leaseMs: 5_000, sweep: '*/1 * * * * *', ...options.runner });
  const extraStores: SqliteStore[] = [];
  if (options.startRunner) runner.start();
  const harness: Harness = {
    dir, dbFile, configFile, ctx, store, provisioner, notifier, runner,
    as: (email) => ({ email, via: 'test' }),
    advance: (ms) => { offset += ms; },
    async drain() {
      await runner?.runDue();
    },
    openContext() {
      const other = new SqliteStore({ path: dbFile });
      extraStores.push(other);
      return makeContext(other);
    },
    async close() {
      await runner?.stop();
      for (const other of extraStores) await other.close();
      await store.close();
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
