// One Latch instance in a process of its own, for the tests that run several on one store:
// startLatch (bot/latch.ts) as bot/main.ts runs it, but with a memory backend that journals
// every grant and revoke to a file all instances share, and the short job lease the test
// asks for (LATCH_TEST_LEASE_MS), so a killed instance's jobs return within seconds.
import { startLatch } from '../../bot/latch.js';
import { createLogger } from '../../bot/logger.js';
import { loadConfigFile } from '../../config/load.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { MemoryProvisioner } from './memory-provisioner.js';

const { LATCH_CONFIG, DATABASE_URL, LATCH_TEST_JOURNAL, LATCH_TEST_DELAY_MS, LATCH_TEST_LEASE_MS } = process.env;
if (!LATCH_CONFIG || !DATABASE_URL || !LATCH_TEST_JOURNAL) throw new Error('latch-instance-child needs LATCH_CONFIG, DATABASE_URL and LATCH_TEST_JOURNAL');
const loaded = loadConfigFile(LATCH_CONFIG);
if (!loaded.ok) throw new Error(`${LATCH_CONFIG} is invalid`);

const provisioner = new MemoryProvisioner({ journalFile: LATCH_TEST_JOURNAL, delayMs: Number(LATCH_TEST_DELAY_MS ?? 0) });
const provisioners = new ProvisionerRegistry({});
for (const integration of loaded.config.integrations) provisioners.use(integration.name, provisioner);

const latch = await startLatch({
  configFile: LATCH_CONFIG, databaseUrl: DATABASE_URL, port: Number(process.env.PORT ?? 0), host: '127.0.0.1', logger: createLogger(), provisioners, watchConfig: false,
  runner: { leaseMs: Number(LATCH_TEST_LEASE_MS ?? 30_000), sweep: '*/1 * * * * *' },
});
process.on('SIGTERM', () => void latch.stop().then(() => process.exit(0), () => process.exit(1)));
