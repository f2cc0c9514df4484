// What an auditor asks of the audit log, one row per request: who asked for what and why,
// who decided and when, what was granted where, and when and how it ended. Built from the
// audit events alone, so it says what the tamper-evident log says. Used by `latch audit export`.
import { formatDuration, parseDuration } from '../core/duration.js';
import type { Instant } from '../core/types.js';
import { readAuditEvents } from './audit-verify.js';
import type { AuditEvent, Store } from './store.js';

export type ReportDecision = 'pending' | 'approved' | 'denied' | 'timed out' | 'cancelled';

/** How the access ended, or where it stands. `null` while it was never granted (pending, denied, ...). */
export type ReportEnd = 'granting' | 'still active' | 'revoking' | 'revoke failed' | 'expired' | 'revoked' | 'failed';

export interface ReportVote {
  /** The approval step, counted from 1 as people see it. */
  step: number | null;
  by: string;
  verdict: 'approve' | 'deny';
  at: Instant;
  comment: string | null;
}

export interface ReportGrant {
  grant: string | null;
  integration: string;
  resource: string;
  permission: string;
  /** The backend user/role Latch managed for it. */
  principal: string | null;
  grantedAt: Instant;
  revokedAt: Instant | null;
  /** expired, revoked or cleanup (after a failed grant). */
  revokedHow: string | null;
}

export interface AuditReportRow {
  requestId: string;
  kind: 'access' | 'extension';
  /** For an extension: the access request it extends. */
  parentId: string | null;
  requester: string | null;
  grantee: string | null;
  flow: string | null;
  /** The justification the requester gave. */
  reason: string | null;
  /** The ticket or incident the reason names, as the flow's link made it. */
  reasonLink: string | null;
  /** SHA-256 of the config the request was evaluated under. */
  policy: string | null;
  /** Time asked for (for an extension: the time added). */
  durationMs: number | null;
  createdAt: Instant | null;
  /** Every approval and denial, in order. */
  votes: ReportVote[];
  decision: ReportDecision;
  /** Decided with nobody deciding: by the flow's autoApprove, or by an automatic decision rule. */
  automatic: boolean;
  /** The automatic decision rule that decided, by name. */
  rule: string | null;
  decidedBy: string | null;
  decidedAt: Instant | null;
  grants: ReportGrant[];
  grantedAt: Instant | null;
  /** The last expiry the log records (it moves with each approved extension). */
  expiresAt: Instant | null;
  /** Approved extensions of this access, by id. */
  extensions: string[];
  ended: ReportEnd | null;
  endedAt: Instant | null;
  /** Who revoked it (or asked to), `latch` for an expiry. */
  endedBy: string | null;
  /** The denial or revocation comment. */
  note: string | null;
  /** Why granting failed, or the last error of a revocation the backend refused. */
  error: string | null;
  /** The request state the log last records (a RequestState). */
  state: string;
  firstEventAt: Instant;
  lastEventAt: Instant;
  /** The request's first events are no longer in the log (removed by retention). */
  partial: boolean;
  /** Only on an emergency (break-glass) grant: what let the person in, the incident, and the post-incident review. */
  emergency?: ReportEmergency;
}

export interface ReportEmergency {
  /** What let the person in without an approver: `oncall:SCHEDULE`, `group:NAME` or their e-mail. */
  matched: string | null;
  incident: string | null;
  review: 'pending' | 'acknowledged' | 'flagged';
  reviewedBy: string | null;
  reviewedAt: Instant | null;
  reviewComment: string | null;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function newRow(event: AuditEvent, requestId: string): AuditReportRow {
  return {
    requestId, kind: 'access', parentId: null, requester: null, grantee: null, flow: null, reason: null, reasonLink: null, policy: null, durationMs: null, createdAt: null,
    votes: [], decision: 'pending', automatic: false, rule: null, decidedBy: null, decidedAt: null,
    grants: [], grantedAt: null, expiresAt: null, extensions: [],
    ended: null, endedAt: null, endedBy: null, note: null, error: null, state: 'pending',
    firstEventAt: event.at, lastEventAt: event.at, partial: true,
  };
}

/** Applies one event to its request's row. Events must come in log order. */
function apply(row: AuditReportRow, event: AuditEvent): void {
  const { data } = event;
  const step = num(data.step);
  const decide = (decision: ReportDecision, state: string): void => {
    row.decision = decision;
    row.decidedBy = event.actor;
    row.decidedAt = event.at;
    row.state = state;
  };
  switch (event.type) {
    case 'request.created':
      Object.assign(row, {
        kind: 'access', requester: event.actor, grantee: str(data.grantee), flow: str(data.flow), reason: str(data.reason),
        reasonLink: str(data.reasonLink), policy: str(data.policy), durationMs: num(data.durationMs), createdAt: event.at, partial: false, state: 'pending',
      });
      if (typeof data.emergency === 'object' && data.emergency !== null) {
        const facts = data.emergency as Record<string, unknown>;
        const incident = typeof facts.incident === 'object' && facts.incident !== null ? str((facts.incident as Record<string, unknown>).id) : null;
        row.emergency = { matched: str(facts.matched), incident, review: 'pending', reviewedBy: null, reviewedAt: null, reviewComment: null };
      }
      break;
    case 'emergency.reviewed':
      if (row.emergency) Object.assign(row.emergency, { review: data.verdict === 'flagged' ? 'flagged' : 'acknowledged', reviewedBy: event.actor, reviewedAt: event.at, reviewComment: str(data.comment) });
      break;
    case 'extension.created':
      Object.assign(row, {
        kind: 'extension', parentId: str(data.parent), requester: event.actor, reason: str(data.reason), policy: str(data.policy),
        durationMs: num(data.byMs), createdAt: event.at, partial: false, state: 'pending',
      });
      break;
    case 'request.step_approved':
      row.votes.push({ step: step === null ? null : step + 1, by: event.actor, verdict: 'approve', at: event.at, comment: str(data.comment) });
      break;
    case 'request.approved':
      if (data.automatic === true) {
        row.automatic = true;
        row.rule = str(data.rule);
      }
      else row.votes.push({ step: step === null ? null : step + 1, by: event.actor, verdict: 'approve', at: event.at, comment: str(data.comment) });
      decide('approved', 'approved');
      // Access is granted next; an approved extension only moves the expiry of the access it extends.
      if (row.kind === 'access') row.ended = 'granting';
      break;
    case 'request.denied':
      if (data.automatic === true) {
        row.automatic = true;
        row.rule = str(data.rule);
      } else row.votes.push({ step: step === null ? null : step + 1, by: event.actor, verdict: 'deny', at: event.at, comment: str(data.comment) });
      decide('denied', 'denied');
      row.note = str(data.comment);
      break;
    case 'request.timed_out':
      decide('timed out', 'timed_out');
      break;
    case 'request.cancelled':
      decide('cancelled', 'cancelled');
      if (data.why === 'parent_ended') row.note = 'the access it extends ended first';
      break;
    case 'grant.granted': {
      const integration = str(data.integration);
      const resource = str(data.resource);
      const permission = str(data.permission);
      if (integration && resource && permission) {
        row.grants.push({ grant: str(data.grant), integration, resource, permission, principal: str(data.principal), grantedAt: event.at, revokedAt: null, revokedHow: null });
      }
      row.grantedAt ??= event.at;
      row.expiresAt = num(data.expiresAt) ?? row.expiresAt;
      row.grantee ??= str(data.grantee);
      row.state = 'active';
      row.ended = 'still active';
      break;
    }
    case 'request.extended': {
      row.expiresAt = num(data.expiresAt) ?? row.expiresAt;
      const extension = str(data.extension);
      if (extension) row.extensions.push(extension);
      break;
    }
    case 'request.revoke_requested':
      row.state = 'revoking';
      row.ended = 'revoking';
      row.endedBy = event.actor;
      row.note = str(data.comment);
      break;
    case 'grant.revoked': {
      const id = str(data.grant);
      const grant = row.grants.find((candidate) => (id !== null && candidate.grant === id)
        || (id === null && candidate.integration === data.integration && candidate.resource === data.resource && candidate.permission === data.permission));
      if (grant) {
        grant.revokedAt = event.at;
        grant.revokedHow = str(data.how);
      }
      break;
    }
    case 'revoke.failed':
      row.state = 'revoke_failed';
      row.ended = 'revoke failed';
      row.error = str(data.error);
      break;
    case 'request.expired':
      row.state = 'expired';
      row.ended = 'expired';
      row.endedAt = event.at;
      row.endedBy = event.actor;
      break;
    case 'request.revoked':
      row.state = 'revoked';
      row.ended = 'revoked';
      row.endedAt = event.at;
      row.endedBy = event.actor === 'latch' && row.endedBy ? row.endedBy : event.actor;
      break;
    case 'request.failed':
      row.state = 'failed';
      row.ended = 'failed';
      row.endedAt = event.at;
      row.endedBy = event.actor;
      row.error = str(data.error);
      break;
    default:
      break;
  }
}

/** Builds report rows incrementally, so a long log can be read page by page. */
export class AuditReportBuilder {
  private readonly rows = new Map<string, AuditReportRow>();

  add(event: AuditEvent): void {
    // Events without a request (refused requests, config loads, prune records) are not about one request.
    if (!event.requestId) return;
    let row = this.rows.get(event.requestId);
    if (!row) {
      row = newRow(event, event.requestId);
      this.rows.set(event.requestId, row);
    }
    row.lastEventAt = Math.max(row.lastEventAt, event.at);
    apply(row, event);
  }

  /** The requests with any event at or after `since` (all of them without it), oldest first. */
  build(since?: Instant): AuditReportRow[] {
    const all = [...this.rows.values()];
    // An extension is for the same person and flow as the access it extends.
    for (const row of all) {
      if (row.kind !== 'extension' || !row.parentId) continue;
      const parent = this.rows.get(row.parentId);
      row.grantee ??= parent?.grantee ?? null;
      row.flow ??= parent?.flow ?? null;
    }
    return all.filter((row) => since === undefined || row.lastEventAt >= since).map((row) => structuredClone(row));
  }
}

/** Report rows from audit events given in log order. */
export function buildAuditReport(events: Iterable<AuditEvent>, options: { since?: Instant } = {}): AuditReportRow[] {
  const builder = new AuditReportBuilder();
  for (const event of events) builder.add(event);
  return builder.build(options.since);
}

/** Report rows from a store's whole audit log, read page by page. */
export async function auditReportFromStore(store: Pick<Store, 'auditEvents'>, options: { since?: Instant } = {}): Promise<AuditReportRow[]> {
  const builder = new AuditReportBuilder();
  for await (const event of readAuditEvents(store)) builder.add(event);
  return builder.build(options.since);
}

// ---- --since ----

const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Reads `--since`: an ISO date or date-time (`2026-11-01`, `2026-11-01T10:00Z`; no zone
 * means UTC) or a duration back from `now` (`7d`, `24h`, `1h30m`). Null when it is neither.
 */
export function parseSince(text: string, now: Instant): Instant | null {
  const trimmed = text.trim();
  const duration = parseDuration(trimmed);
  if (duration !== null) return now - duration;
  const match = ISO_PATTERN.exec(trimmed);
  if (!match) return null;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone] = match;
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return null;
  if (zone && zone.toUpperCase() !== 'Z') {
    const [zh, zm] = [Number(zone.slice(1, 3)), Number(zone.slice(-2))];
    if (zh > 23 || zm > 59) return null;
  }
  const normalized = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone ? (zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`) : 'Z'}`;
  const at = Date.parse(normalized);
  return Number.isNaN(at) ? null : at;
}

// ---- CSV and JSON ----

const iso = (at: Instant | null): string => (at === null ? '' : new Date(at).toISOString());

export const REPORT_CSV_COLUMNS = [
  'request_id', 'kind', 'parent_id', 'requester', 'grantee', 'flow', 'reason', 'duration', 'created_at',
  'approvals', 'decision', 'decided_by', 'decided_at', 'granted', 'granted_at', 'expires_at',
  'ended', 'ended_at', 'note', 'error', 'state', 'history', 'reason_link', 'policy',
] as const;

/** Cells a spreadsheet would run as a formula start with one of these; a leading quote makes them text. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: made inert for spreadsheets, then quoted as RFC 4180 requires. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function votesText(row: AuditReportRow): string {
  const votes = row.votes.map((vote) => `${vote.step !== null ? `step ${vote.step} ` : ''}${vote.verdict === 'approve' ? 'approved' : 'denied'} by ${vote.by} at ${iso(vote.at)}${vote.comment ? ` (${vote.comment})` : ''}`);
  if (row.emergency) {
    const { matched, incident, review, reviewedBy, reviewComment } = row.emergency;
    const outcome = review === 'pending' ? 'review pending' : `review: ${review} by ${reviewedBy ?? '?'}${reviewComment ? ` (${reviewComment})` : ''}`;
    votes.push(`emergency access without approval (${matched ?? 'break-glass'}${incident ? `, incident ${incident}` : ''}); ${outcome}`);
  } else if (row.automatic) {
    const verdict = row.decision === 'denied' ? 'denied' : 'approved';
    votes.push(`${verdict} automatically by ${row.rule ? `rule "${row.rule}"` : 'the flow'}`);
  }
  return votes.join('; ');
}

function grantsText(row: AuditReportRow): string {
  return row.grants.map((grant) => `${grant.integration}/${grant.resource} ${grant.permission}${grant.principal ? ` as ${grant.principal}` : ''}`).join('; ');
}

function endedText(row: AuditReportRow): string {
  if (row.ended === 'revoked') return row.endedBy ? `revoked by ${row.endedBy}` : 'revoked';
  if (row.ended === 'revoking') return row.endedBy ? `revoke requested by ${row.endedBy}` : 'revoking';
  return row.ended ?? '';
}

function csvRecord(row: AuditReportRow): string[] {
  return [
    row.requestId, row.kind, row.parentId ?? '', row.requester ?? '', row.grantee ?? '', row.flow ?? '', row.reason ?? '',
    row.durationMs !== null ? formatDuration(row.durationMs) : '', iso(row.createdAt),
    votesText(row), row.decision, row.decidedBy ?? '', iso(row.decidedAt), grantsText(row), iso(row.grantedAt), iso(row.expiresAt),
    endedText(row), iso(row.endedAt), row.note ?? '', row.error ?? '', row.state, row.partial ? 'partial: earlier events were removed by retention' : 'complete',
    row.reasonLink ?? '', row.policy ?? '',
  ];
}

/** RFC 4180 CSV with a header row, CRLF line ends and ISO-8601 UTC times. */
export function reportToCsv(rows: readonly AuditReportRow[]): string {
  return [[...REPORT_CSV_COLUMNS], ...rows.map(csvRecord)].map((record) => `${record.map(csvCell).join(',')}\r\n`).join('');
}

/** The rows as JSON, with ISO-8601 UTC times in place of epoch milliseconds. */
export function reportToJson(rows: readonly AuditReportRow[]): string {
  const isoKeys = new Set(['at', 'createdAt', 'decidedAt', 'grantedAt', 'revokedAt', 'expiresAt', 'endedAt', 'firstEventAt', 'lastEventAt', 'reviewedAt']);
  return `${JSON.stringify(rows, (key, value: unknown) => (isoKeys.has(key) && typeof value === 'number' ? new Date(value).toISOString() : value), 2)}\n`;
}
