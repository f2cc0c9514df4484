// `type: webhook`: each event POSTed alone as JSON, signed like the http provisioner's
// requests (docs/OPERATORS.md, "Feeding your SIEM", shows how a receiver checks it).
import { IDEMPOTENCY_HEADER, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../provisioners/http.js';
import type { StreamedAuditEvent } from './event.js';
import { postWithin } from './http-post.js';
import { secretFrom, type SinkTransport } from './transport.js';

export const EVENT_ID_HEADER = 'X-Latch-Event-Id';

export interface WebhookOptions {
  url: string;
  /** The variable holding the HMAC key. */
  secretEnv: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** Epoch milliseconds, for the timestamp that is signed. */
  now(): number;
}

/** One event per request: the receiver answers for each, so its 2xx is the acknowledgement of exactly that event. */
export function webhookTransport(options: WebhookOptions): SinkTransport {
  return {
    batchSize: 1,
    async deliver(events: readonly StreamedAuditEvent[]) {
      const secret = secretFrom(options.env, options.secretEnv);
      for (const event of events) {
        const body = JSON.stringify(event);
        const timestamp = String(Math.floor(options.now() / 1000));
        await postWithin(options.url, body, {
          'content-type': 'application/json',
          'user-agent': 'latch-audit-webhook',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signature(secret, timestamp, body),
          [EVENT_ID_HEADER]: event.id,
          [IDEMPOTENCY_HEADER]: event.id,
        }, options.timeoutMs);
      }
    },
    async close() {},
  };
}
