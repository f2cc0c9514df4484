import pino, { type DestinationStream, type Logger } from 'pino';
import { currentLogContext } from './log-context.js';
import { redactValue, rememberSecretsFrom, REDACTED, scrubText } from './redact.js';

/**
 * Fields that could carry a secret, blanked by pino itself at the top level and one level
 * down. `redactValue` goes deeper and by name ending; patterns and known values are
 * scrubbed from every string and from the finished line (bot/redact.ts).
 */
export const REDACTED_PATHS = [
  'password', '*.password', 'secrets', '*.secrets', 'token', '*.token', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-slack-signature"]', 'credentials', '*.credentials',
];

// Their own serializers pick what is safe from these (method, url; status code); the finished line is still scrubbed.
const SERIALIZED = new Set(['req', 'res']);

export interface LoggerOptions {
  level?: string;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
  /** Variables named like secrets here are scrubbed from every line by value (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  rememberSecretsFrom(env);
  const level = options.level ?? env.LOG_LEVEL ?? 'info';
  const logger = pino({
    level,
    base: { service: 'latch' },
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    // formatters.log already made errors plain (and scrubbed) objects; pino's own serializer would rename their type.
    serializers: { err: (value: unknown) => value },
    mixin(_fields, _level, instance) {
      const context = currentLogContext();
      // Fastify's request loggers carry reqId already.
      if (!context || 'reqId' in instance.bindings()) return {};
      return { reqId: context.reqId };
    },
    formatters: {
      log(fields) {
        const safe: Record<string, unknown> = {};
        const rest: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(fields)) (SERIALIZED.has(key) ? safe : rest)[key] = value;
        return { ...(redactValue(rest) as Record<string, unknown>), ...safe };
      },
    },
    hooks: {
      logMethod(args, method) {
        // The message and any printf-style arguments; the first argument, when an object, goes through formatters.log.
        const safe = args.map((arg, index) => (index === 0 && typeof arg === 'object' && arg !== null ? arg : redactValue(arg)));
        return method.apply(this, safe as Parameters<typeof method>);
      },
      // The last net: whatever serializers and bindings produced is scrubbed on the finished line.
      streamWrite: (line) => scrubText(line),
    },
  }, options.destination);
  configuredLevels.set(logger, level);
  return logger;
}

const configuredLevels = new WeakMap<Logger, string>();
const DEBUG = 20; // pino's number for debug

/**
 * SIGUSR2: debug on, or back to the configured level (LOG_LEVEL). Returns the new level.
 * Child loggers made from now on follow; request loggers already made keep theirs.
 */
export function toggleDebug(logger: Logger): string {
  const configured = configuredLevels.get(logger) ?? 'info';
  const verbose = logger.levelVal <= DEBUG;
  logger.level = verbose ? (configured === 'debug' || configured === 'trace' ? 'info' : configured) : 'debug';
  return logger.level;
}
