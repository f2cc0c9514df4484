import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { DEFAULT_DATABASE_URL } from '../storage/open-store.js';
import { ConfigRefused, SHUTDOWN_TIMEOUT_MS, startLatch } from './latch.js';
import { createLogger, toggleDebug } from './logger.js';
import { pidFileFor, removePidFile, writePidFile } from './pid-file.js';
import { SlackTokenRefused } from './slack/socket-receiver.js';

const log = createLogger();
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  log.fatal(`PORT must be a port number, not "${process.env.PORT ?? ''}"`);
  process.exit(1);
}

// The exit status a shell gives a process killed by the signal, for a stop that was cut short.
const SIGNAL_EXIT = { SIGTERM: 143, SIGINT: 130 } as const;

try {
  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  // Slack refusing the app-level token while Latch runs ends the process (latch.ts logged why): retrying cannot help.
  let fatal: () => void = () => {};
  const failed = new Promise<void>((resolve) => { fatal = resolve; });
  const latch = await startLatch({ configFile: process.env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE, databaseUrl, port, logger: log, onFatal: () => fatal() });
  // `latch config reload` finds the process here; it is written once Latch answers, and goes with it.
  const pidFile = pidFileFor(databaseUrl);
  writePidFile(pidFile);
  process.on('exit', () => removePidFile(pidFile));
  let stopping = false;
  const shutdown = (signal: keyof typeof SIGNAL_EXIT | 'fatal'): void => {
    if (stopping) {
      if (signal === 'fatal') return;
      // Whoever sends a second signal wants out now; claims left behind return when their lease ends.
      log.warn(`${signal} received again: exiting without finishing in-flight work`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    stopping = true;
    log.info(`${signal === 'fatal' ? 'Stopping' : `${signal} received`}: finishing in-flight work (at most ${SHUTDOWN_TIMEOUT_MS / 1000} s)`);
    // stop() bounds its own waits; this only catches a close that hangs.
    const backstop = setTimeout(() => {
      log.error('shutdown did not complete; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS + 5_000);
    backstop.unref();
    latch.stop({ timeoutMs: SHUTDOWN_TIMEOUT_MS }).then(() => process.exit(signal === 'fatal' ? 1 : 0), (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  void failed.then(() => shutdown('fatal'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    log.info('SIGHUP received: reloading the config');
    latch.reload('signal').catch((error: unknown) => log.error({ err: error }, 'config reload failed'));
  });
  // Debug logging on and off without a restart; the level LOG_LEVEL set is what "off" returns to.
  process.on('SIGUSR2', () => {
    const level = toggleDebug(log);
    log[level === 'debug' ? 'debug' : 'info']({ logLevel: level }, `SIGUSR2 received: log level is now ${level}`);
  });
} catch (error) {
  if (error instanceof ConfigRefused) {
    process.stderr.write(`${error.message}\n`);
  } else if (error instanceof SlackTokenRefused) {
    log.fatal({ reason: error.reason }, error.message);
  } else {
    log.fatal({ err: error }, 'Latch failed to start');
  }
  process.exit(1);
}
