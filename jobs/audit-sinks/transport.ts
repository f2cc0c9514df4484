import type { StreamedAuditEvent } from './event.js';

/**
 * One receiver of audit events. `deliver` resolves only once the receiver has taken every
 * event of the batch, in order; when it throws, the whole batch is sent again later, so a
 * receiver may see an event twice (it de-duplicates by `id`) but never out of order.
 */
export interface SinkTransport {
  /** The most events one `deliver` is given. */
  readonly batchSize: number;
  deliver(events: readonly StreamedAuditEvent[]): Promise<void>;
  /** Closes connections and files; a closed transport is not used again. */
  close(): Promise<void>;
}

/** A delivery that did not reach the receiver; its message says why, without secrets. */
export class SinkError extends Error {}

/** The variable a secret is read from; a clear failure, retried, while it is unset. */
export function secretFrom(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new SinkError(`environment variable ${name} is not set`);
  return value;
}
