import { auditHash, GENESIS_HASH } from './audit-hash.js';
import type { AuditEvent, Store } from './store.js';

export type ChainVerdict =
  | { ok: true; count: number; lastHash: string }
  | { ok: false; count: number; firstBroken: { seq: number; type: string; at: number; reason: string } };

const PAGE = 5_000;

/**
 * Walks the whole audit chain and names the first event that breaks it: content changed
 * (its hash no longer matches), an event removed or reordered (the link to the previous
 * hash is wrong, or a sequence number is skipped), or a missing beginning that no
 * retention record (`audit.pruned`) accounts for.
 */
export async function verifyAuditChain(store: Store): Promise<ChainVerdict> {
  let previous: AuditEvent | null = null;
  let first: AuditEvent | null = null;
  let count = 0;
  const anchors = new Map<number, string>();
  for (let afterSeq = 0; ;) {
    const page = await store.auditEvents({ afterSeq, limit: PAGE });
    if (page.length === 0) break;
    for (const event of page) {
      const broken = (reason: string): ChainVerdict => ({ ok: false, count, firstBroken: { seq: event.seq, type: event.type, at: event.at, reason } });
      if (previous === null) {
        first = event;
        if (event.seq === 1 && event.prevHash !== GENESIS_HASH) return broken('the first event does not start the chain');
      } else {
        if (event.seq !== previous.seq + 1) return broken(`event #${previous.seq + 1} is missing`);
        if (event.prevHash !== previous.hash) return broken(`it does not link to event #${previous.seq}: an event was removed, replaced or reordered`);
      }
      if (auditHash(event.prevHash, event.seq, event) !== event.hash) return broken('its content was changed after it was written');
      if (event.type === 'audit.pruned' && typeof event.data.throughSeq === 'number' && typeof event.data.lastHash === 'string') anchors.set(event.data.throughSeq, event.data.lastHash);
      previous = event;
      count += 1;
    }
    afterSeq = previous?.seq ?? afterSeq;
  }
  if (first && first.seq !== 1 && anchors.get(first.seq - 1) !== first.prevHash) {
    return { ok: false, count, firstBroken: { seq: first.seq, type: first.type, at: first.at, reason: `events before #${first.seq} are missing and no retention record accounts for them` } };
  }
  return { ok: true, count, lastHash: previous?.hash ?? GENESIS_HASH };
}
