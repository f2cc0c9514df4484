// Checks the audit hash chain: every event's hash covers its own content and the hash of
// the event before it, so an edited, removed or reordered event breaks the chain at
// exactly that point. Used by `latch audit verify`.
import { auditHash, GENESIS_HASH } from './audit-hash.js';
import type { AuditEvent, Store } from './store.js';

/** Why an event does not verify. */
export type AuditBreakReason =
  /** The event's content no longer hashes to its stored hash: it was edited. */
  | 'hash_mismatch'
  /** The event does not link to the event before it (or the first one to the genesis): an event was removed, reordered or rewritten. */
  | 'prev_hash_mismatch'
  /** A sequence number is missing (an event was removed) or repeats / goes backwards. */
  | 'seq_gap'
  /** The log starts after #1 but no intact `audit.pruned` record accounts for the earlier events. */
  | 'unanchored_start';

export interface AuditBreak {
  seq: number;
  type: string;
  at: number;
  reason: AuditBreakReason;
  /** One sentence for people, naming what is wrong. */
  message: string;
}

export type AuditVerification =
  | {
    ok: true;
    /** Events checked. */
    count: number;
    /** The hash of the last event (the genesis hash for an empty log): note it down to detect later truncation. */
    lastHash: string;
    firstSeq: number | null;
    lastSeq: number | null;
    /** When retention removed the oldest events: the last removed seq, vouched for by an `audit.pruned` record. */
    prunedThroughSeq: number | null;
  }
  | {
    ok: false;
    /** Events that verified before the first broken one. */
    count: number;
    firstBroken: AuditBreak;
  };

export const AUDIT_PAGE_SIZE = 5_000;

/** Every audit event in seq order, read in pages so a long log never sits in memory at once. */
export async function* readAuditEvents(store: Pick<Store, 'auditEvents'>, pageSize = AUDIT_PAGE_SIZE): AsyncGenerator<AuditEvent> {
  let afterSeq = 0;
  for (;;) {
    const page = await store.auditEvents({ afterSeq, limit: pageSize });
    for (const event of page) yield event;
    const last = page.at(-1);
    if (!last || page.length < pageSize) return;
    afterSeq = last.seq;
  }
}

/** What an `audit.pruned` record vouches for: the hash of the last event it removed. */
function pruneAnchor(event: AuditEvent): { throughSeq: number; lastHash: string } | null {
  if (event.type !== 'audit.pruned') return null;
  const { throughSeq, lastHash } = event.data;
  return typeof throughSeq === 'number' && typeof lastHash === 'string' ? { throughSeq, lastHash } : null;
}

function broken(event: AuditEvent, reason: AuditBreakReason, message: string): AuditBreak {
  return { seq: event.seq, type: event.type, at: event.at, reason, message };
}

/**
 * Verifies the chain and names the first broken event. Events must come in the order they
 * were stored (ascending seq), as `store.auditEvents` and `readAuditEvents` give them.
 *
 * A log shortened by retention starts after #1: its first event must link to the hash an
 * intact `audit.pruned` record (anywhere in the log) kept of the last removed event.
 */
export async function verifyAuditChain(events: Iterable<AuditEvent> | AsyncIterable<AuditEvent>): Promise<AuditVerification> {
  let count = 0;
  let first: AuditEvent | null = null;
  let previous: AuditEvent | null = null;
  let firstBroken: AuditBreak | null = null;
  /** The start still waiting for an `audit.pruned` record to vouch for it. */
  let unanchored: AuditEvent | null = null;
  let prunedThroughSeq: number | null = null;

  for await (const event of events) {
    if (firstBroken && !unanchored) break;
    // Each prune record whose own content is intact can anchor the start, even one after a break.
    const anchor = pruneAnchor(event);
    if (unanchored && anchor && auditHash(event.prevHash, event.seq, event) === event.hash
      && anchor.throughSeq === unanchored.seq - 1 && anchor.lastHash === unanchored.prevHash) {
      prunedThroughSeq = anchor.throughSeq;
      unanchored = null;
    }
    if (firstBroken) continue;

    let problem: AuditBreak | null = null;
    if (previous === null) {
      first = event;
      if (event.seq === 1) {
        if (event.prevHash !== GENESIS_HASH) problem = broken(event, 'prev_hash_mismatch', 'the first event does not start from the genesis hash (events before it were removed or rewritten)');
      } else if (event.seq > 1) {
        unanchored = event;
        // A prune record that is itself the first event anchors the start on its own.
        if (anchor && anchor.throughSeq === event.seq - 1 && anchor.lastHash === event.prevHash && auditHash(event.prevHash, event.seq, event) === event.hash) {
          prunedThroughSeq = anchor.throughSeq;
          unanchored = null;
        }
      } else {
        problem = broken(event, 'seq_gap', `sequence number ${event.seq} is not a valid position in the log`);
      }
    } else if (event.seq !== previous.seq + 1) {
      problem = event.seq > previous.seq + 1
        ? broken(event, 'seq_gap', event.seq === previous.seq + 2
          ? `event #${previous.seq + 1} is missing: the log jumps from #${previous.seq} to #${event.seq}`
          : `events #${previous.seq + 1}-#${event.seq - 1} are missing: the log jumps from #${previous.seq} to #${event.seq}`)
        : broken(event, 'seq_gap', `event #${event.seq} comes after #${previous.seq}: sequence numbers repeat or go backwards`);
    } else if (event.prevHash !== previous.hash) {
      problem = broken(event, 'prev_hash_mismatch', `its prevHash does not match the hash of event #${previous.seq}: an event was removed, reordered or rewritten`);
    }
    if (!problem && auditHash(event.prevHash, event.seq, event) !== event.hash) {
      problem = broken(event, 'hash_mismatch', 'its content does not match its hash: the event was edited after it was written');
    }
    if (problem) {
      firstBroken = problem;
      continue;
    }
    count += 1;
    previous = event;
  }

  // An unaccounted-for start is the earliest break of all.
  if (unanchored) {
    return {
      ok: false, count: 0,
      firstBroken: broken(unanchored, 'unanchored_start', `the log starts at #${unanchored.seq}, but no intact audit.pruned record accounts for events #1-#${unanchored.seq - 1}: the oldest events were removed`),
    };
  }
  if (firstBroken) return { ok: false, count, firstBroken };
  return { ok: true, count, lastHash: previous?.hash ?? GENESIS_HASH, firstSeq: first?.seq ?? null, lastSeq: previous?.seq ?? null, prunedThroughSeq };
}

/** Verifies the whole audit log of a store, page by page. */
export function verifyStoreAudit(store: Pick<Store, 'auditEvents'>, pageSize = AUDIT_PAGE_SIZE): Promise<AuditVerification> {
  return verifyAuditChain(readAuditEvents(store, pageSize));
}
