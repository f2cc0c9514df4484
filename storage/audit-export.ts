import type { AuditEvent } from './store.js';

/** One line of an access review: who asked, why, who decided, what was granted where, how it ended. */
export interface AccessRecord {
  requestId: string;
  requester: string;
  grantee: string;
  flow: string;
  reason: string;
  requestedAt: number;
  decision: string;
  decidedBy: string;
  decidedAt: number | null;
  granted: string;
  grantedAt: number | null;
  ended: string;
  endedAt: number | null;
}

const str = (value: unknown): string => (typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value));

/** Folds the audit events of each request into one record, for requests with any event at or after `since`. */
export function accessRecords(events: readonly AuditEvent[], since = 0): AccessRecord[] {
  const byRequest = new Map<string, AuditEvent[]>();
  for (const event of events) {
    if (!event.requestId) continue;
    byRequest.set(event.requestId, [...(byRequest.get(event.requestId) ?? []), event]);
  }
  const records: AccessRecord[] = [];
  for (const [requestId, trail] of byRequest) {
    if (!trail.some((event) => event.at >= since)) continue;
    const created = trail.find((event) => event.type === 'request.created' || event.type === 'extension.created');
    const record: AccessRecord = {
      requestId, requester: created?.actor ?? '', grantee: str(created?.data.grantee ?? created?.actor), flow: str(created?.data.flow), reason: str(created?.data.reason),
      requestedAt: created?.at ?? trail[0]?.at ?? 0, decision: 'pending', decidedBy: '', decidedAt: null, granted: '', grantedAt: null, ended: '', endedAt: null,
    };
    const approvers: string[] = [];
    const grants: string[] = [];
    for (const event of trail) {
      switch (event.type) {
        case 'request.step_approved': approvers.push(`${event.actor} (step ${Number(event.data.step ?? 0) + 1})`); break;
        case 'request.approved':
          approvers.push(event.data.automatic ? 'automatic' : `${event.actor} (step ${Number(event.data.step ?? 0) + 1})`);
          Object.assign(record, { decision: 'approved', decidedAt: event.at });
          break;
        case 'request.denied': Object.assign(record, { decision: `denied${event.data.comment ? `: ${str(event.data.comment)}` : ''}`, decidedBy: event.actor, decidedAt: event.at, ended: 'denied', endedAt: event.at }); break;
        case 'request.cancelled': Object.assign(record, { decision: 'cancelled', ended: `cancelled by ${event.actor}`, endedAt: event.at }); break;
        case 'request.timed_out': Object.assign(record, { decision: 'timed out', ended: 'timed out', endedAt: event.at }); break;
        case 'grant.granted':
          grants.push(`${str(event.data.permission)} on ${str(event.data.integration)}/${str(event.data.resource)} as ${str(event.data.principal)}`);
          record.grantedAt = record.grantedAt ?? event.at;
          break;
        case 'request.failed': Object.assign(record, { ended: `failed: ${str(event.data.error)}`, endedAt: event.at }); break;
        case 'request.revoke_requested': record.ended = `revoked by ${event.actor}`; break;
        case 'request.revoked': Object.assign(record, { ended: record.ended || `revoked by ${event.actor}`, endedAt: event.at }); break;
        case 'request.expired': Object.assign(record, { ended: 'expired', endedAt: event.at }); break;
      }
    }
    if (approvers.length > 0 && !record.decidedBy) record.decidedBy = approvers.join('; ');
    record.granted = grants.join('; ');
    if (!record.ended && record.grantedAt !== null) record.ended = 'still active';
    records.push(record);
  }
  return records.sort((a, b) => a.requestedAt - b.requestedAt);
}

const COLUMNS: [keyof AccessRecord, string][] = [
  ['requestId', 'request'], ['requester', 'requester'], ['grantee', 'grantee'], ['flow', 'flow'], ['reason', 'reason'], ['requestedAt', 'requested_at'],
  ['decision', 'decision'], ['decidedBy', 'decided_by'], ['decidedAt', 'decided_at'], ['granted', 'granted'], ['grantedAt', 'granted_at'], ['ended', 'ended'], ['endedAt', 'ended_at'],
];

function cell(value: string | number | null, isTime: boolean): string {
  let text = value === null ? '' : isTime ? new Date(value).toISOString() : String(value);
  // A spreadsheet would run a cell starting with these as a formula: keep it text.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(records: readonly AccessRecord[]): string {
  const lines = [COLUMNS.map(([, header]) => header).join(',')];
  for (const record of records) lines.push(COLUMNS.map(([key]) => cell(record[key], key.endsWith('At'))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function toJson(records: readonly AccessRecord[]): string {
  return `${JSON.stringify(records.map((record) => Object.fromEntries(COLUMNS.map(([key, header]) => {
    const value = record[key];
    return [header, key.endsWith('At') && typeof value === 'number' ? new Date(value).toISOString() : value];
  }))), null, 2)}\n`;
}
