// The one shape every sink sends: the stored audit event as it is, plus what a receiver
// needs to de-duplicate (`id`), order (`seq`) and check the chain (`prevHash`, `hash`).
import type { AuditEvent } from '../../storage/store.js';

/** Versioned, so a receiver can tell Latch's audit lines from its logs and from a later format. */
export const AUDIT_EVENT_SCHEMA = 'latch.audit/1';

export interface StreamedAuditEvent {
  schema: typeof AUDIT_EVENT_SCHEMA;
  /** The event's chain hash: the same every time the event is sent, unique across installations. */
  id: string;
  /** Position in this installation's audit log; every sink receives events in this order. */
  seq: number;
  /** ISO 8601, UTC, with milliseconds. */
  time: string;
  /** Epoch milliseconds, exactly as stored. */
  at: number;
  type: string;
  requestId: string | null;
  actor: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
  /** `settings.instance` of the Latch that recorded it. */
  instance: string;
}

export function streamedEvent(event: AuditEvent, instance: string): StreamedAuditEvent {
  return {
    schema: AUDIT_EVENT_SCHEMA, id: event.hash, seq: event.seq, time: new Date(event.at).toISOString(), at: event.at,
    type: event.type, requestId: event.requestId, actor: event.actor, data: event.data, prevHash: event.prevHash, hash: event.hash, instance,
  };
}
