import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { DEFAULT_DATABASE_URL } from '../storage/open-store.js';
import { ConfigRefused, startLatch } from './latch.js';
import { createLogger } from './logger.js';

const log = createLogger();
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  log.fatal(`PORT must be a port number, not "${process.env.PORT ?? ''}"`);
  process.exit(1);
}

try {
  const latch = await startLatch({
    configFile: process.env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE,
    databaseUrl: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    port,
    logger: log,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received: finishing in-flight work`);
    const force = setTimeout(() => {
      log.error('shutdown took longer than 25 s; exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    latch.stop().then(() => process.exit(0), (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  if (error instanceof ConfigRefused) {
    process.stderr.write(`${error.message}\n`);
  } else {
    log.fatal({ err: error }, 'Latch failed to start');
  }
  process.exit(1);
}
