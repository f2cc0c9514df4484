// A Latch worker in a process of its own, for the crash test: the test kills it with
// SIGKILL mid-batch and starts another on the same store.
import { randomUUID } from 'node:crypto';
import { directoryFromConfig } from '../../config/directory.js';
import { formatConfigErrors } from '../../config/parse.js';
import { loadConfigFile } from '../../config/load.js';
import type { LatchContext } from '../../handlers/context.js';
import { jobBatchHandlers, jobHandlers } from '../../jobs/handlers.js';
import { JobRunner, jobsAtOnceVia } from '../../jobs/runner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { quietLogger } from './harness.js';
import { MemoryProvisioner } from './memory-provisioner.js';
import { RecordingNotifier } from './recording-notifier.js';

const { LATCH_TEST_DB, LATCH_TEST_CONFIG, LATCH_TEST_JOURNAL, LATCH_TEST_DELAY_MS } = process.env;
if (!LATCH_TEST_DB || !LATCH_TEST_CONFIG || !LATCH_TEST_JOURNAL) throw new Error('worker-child needs LATCH_TEST_DB, LATCH_TEST_CONFIG and LATCH_TEST_JOURNAL');
const loaded = loadConfigFile(LATCH_TEST_CONFIG);
if (!loaded.ok) throw new Error(formatConfigErrors(loaded.errors));

const store = new SqliteStore({ path: LATCH_TEST_DB });
store.migrate();
const provisioner = new MemoryProvisioner({ journalFile: LATCH_TEST_JOURNAL, delayMs: Number(LATCH_TEST_DELAY_MS ?? 0) });
const provisioners = new ProvisionerRegistry({});
for (const integration of loaded.config.integrations) provisioners.use(integration.name, provisioner);
const active = { config: loaded.config, directory: directoryFromConfig(loaded.config), hash: loaded.hash, file: loaded.file };
let runner: JobRunner | null = null;
const ctx: LatchContext = {
  store, current: () => active, provisioners, notifier: new RecordingNotifier(), log: quietLogger, now: Date.now, wake: () => runner?.wake(), jobsAtOnce: jobsAtOnceVia(() => runner),
};
runner = new JobRunner(ctx, jobHandlers, { owner: `child-${randomUUID()}`, leaseMs: 1_000, batchSize: 40, concurrency: 8, sweep: '*/1 * * * * *' }, jobBatchHandlers);
runner.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void runner?.stop().then(() => store.close()).then(() => process.exit(0));
});
