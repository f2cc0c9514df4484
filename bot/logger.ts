import pino, { type Logger } from 'pino';

/** Fields that could carry a secret are removed wherever they appear, so a careless log line cannot leak one. */
export const REDACTED_PATHS = [
  'password', '*.password', 'secrets', '*.secrets', 'token', '*.token', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers["x-slack-signature"]', 'credentials', '*.credentials',
];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, remove: true }, base: { service: 'latch' } });
}
