// What an admin sees of access discovery in chat, one view model for Slack and Teams: the
// riskiest principals with their first reasons, and one principal's detail.
import type { ScoredPrincipal } from '../core/discovery.js';
import type { DiscoveryReport } from '../handlers/discover.js';
import type { RemediationProposal } from '../handlers/discovery-remediation.js';

export interface DiscoveryRow {
  integration: string;
  principal: string;
  score: number;
  /** `identity control`, `admin`, ... */
  level: string;
  usage: string;
  reasons: string[];
}

export interface DiscoveryListView {
  title: string;
  summary: string;
  rows: DiscoveryRow[];
  /** Integrations that could not be read, with why. */
  problems: string[];
}

export interface DiscoveryDetailView {
  integration: string;
  principal: string;
  title: string;
  facts: [string, string][];
  reasons: string[];
  /** The privileges, strongest first, in words. */
  privileges: string[];
  revokes: string[];
  left: string[];
  snippet: string;
  howToRemediate: string;
  /** Whether a confirmed Revoke would change something. */
  canRevoke: boolean;
}

const levelName = (level: string | null): string => (level === 'identity' ? 'identity control' : level ?? '–');

export function discoveryListView(report: DiscoveryReport, limit = 10): DiscoveryListView {
  const held = report.principals.filter((principal) => principal.level !== null);
  const rows = held.slice(0, limit).map((principal) => ({
    integration: principal.integration, principal: principal.principal, score: principal.score, level: levelName(principal.level), usage: principal.usage, reasons: principal.reasons.slice(0, 3),
  }));
  const scanned = report.integrations.filter((outcome) => outcome.ok).map((outcome) => outcome.integration);
  const dormant = held.filter((principal) => principal.usage === 'dormant').length;
  return {
    title: 'Standing access, riskiest first',
    summary: `${held.length} principal${held.length === 1 ? '' : 's'} with standing privileges in ${scanned.join(', ') || 'no integration'}; ${dormant} dormant.${held.length > rows.length ? ` The top ${rows.length} are shown.` : ''}`,
    rows,
    problems: report.integrations.filter((outcome) => !outcome.ok).map((outcome) => `${outcome.integration}: ${outcome.error ?? 'could not be read'}`),
  };
}

function privilegeText(privilege: ScoredPrincipal['privileges'][number]): string {
  const what = privilege.kind === 'membership' ? `member of ${privilege.name}` : privilege.kind === 'ownership' ? `owns ${privilege.name} ${privilege.on ?? ''}`.trim() : `${privilege.name}${privilege.on ? ` on ${privilege.on}` : ''}`;
  return `${levelName(privilege.level)}: ${what}${privilege.via.length > 0 ? ` (through ${privilege.via.join(' → ')})` : ''}`;
}

const LEVEL_ORDER = ['identity', 'admin', 'write', 'read'];

export function discoveryDetailView(principal: ScoredPrincipal, proposal: RemediationProposal): DiscoveryDetailView {
  const privileges = [...principal.privileges].sort((a, b) => LEVEL_ORDER.indexOf(a.level) - LEVEL_ORDER.indexOf(b.level)).map(privilegeText);
  return {
    integration: principal.integration, principal: principal.principal, canRevoke: proposal.changes.length > 0,
    title: `${principal.principal} in ${principal.integration}`,
    facts: [
      ['Risk', String(principal.score)], ['Level', levelName(principal.level)], ['Use', principal.usage],
      ['Last seen in use', principal.lastUsedAt ? new Date(principal.lastUsedAt).toISOString() : 'never seen'], ['Kind', principal.kind],
    ],
    reasons: principal.reasons,
    privileges: privileges.slice(0, 20).concat(privileges.length > 20 ? [`and ${privileges.length - 20} more`] : []),
    revokes: proposal.changes.map((change) => `${change.revoke};`),
    left: proposal.left,
    snippet: proposal.flowSnippet,
    howToRemediate: proposal.changes.length > 0
      ? `Revoke runs these statements once confirmed (or: npm run latch -- discover remediate ${principal.principal} --integration ${principal.integration} --confirm); discover undo ID puts them back within the grace period.`
      : 'Latch cannot revoke this itself; change it in the backend.',
  };
}

/** The digest the admins get after a scheduled scan: what changed since the scan before, then the top risks. */
export function discoveryDigestText(report: DiscoveryReport, top = 5): string {
  const list = discoveryListView(report, top);
  const lines = [`Access discovery digest: ${list.summary}`];
  if (report.changes === null) lines.push('This is the first scan; the next digest says what changed.');
  else if (report.changes.length === 0) lines.push(`No change since the scan of ${new Date(report.previousScanAt ?? 0).toISOString()}.`);
  else {
    lines.push(`Since the scan of ${new Date(report.previousScanAt ?? 0).toISOString()}:`);
    for (const change of report.changes.slice(0, 20)) {
      const score = change.change === 'gone' ? `was ${change.previousScore ?? '-'}` : change.previousScore === null ? `risk ${change.score}` : `${change.previousScore} → ${change.score}`;
      lines.push(`• ${change.change}: ${change.principal} in ${change.integration} (${score})`);
    }
    if (report.changes.length > 20) lines.push(`• and ${report.changes.length - 20} more`);
  }
  if (list.rows.length > 0) {
    lines.push('Top risks:');
    for (const row of list.rows) lines.push(`• ${row.score} ${row.principal} in ${row.integration}: ${row.level}, ${row.usage}; ${row.reasons[0] ?? ''}`);
  }
  for (const problem of list.problems) lines.push(`Not scanned: ${problem}`);
  lines.push('Details: /access discover (Slack) or discover (Teams).');
  return lines.join('\n');
}
