// `latch discover`: scan, print the principals riskiest first and write the JSON report;
// `discover remediate PRINCIPAL --integration NAME [--confirm]` shows (and on --confirm
// applies) the revocation and the flow that replaces the standing access; `discover undo ID`.
import { writeFileSync } from 'node:fs';
import type { LatchConfig } from '../config/schema.js';
import type { ScoredPrincipal } from '../core/discovery.js';
import { formatDuration } from '../core/duration.js';
import { discover, DiscoveryInputError, type DiscoveryReport } from '../handlers/discover.js';
import { proposeRemediation, remediate, undoRemediation, type RemediationProposal } from '../handlers/discovery-remediation.js';
import type { ProvisionerRegistry } from '../provisioners/registry.js';
import type { DiscoveryStore } from '../storage/discovery-store.js';
import type { Store } from '../storage/store.js';

export interface DiscoverIo {
  out(text: string): void;
  err(text: string): void;
}

/** The command looked and found a problem to tell: exit 1. */
export class DiscoverProblem extends Error {}

export interface DiscoverContext {
  io: DiscoverIo;
  store: Store;
  config: LatchConfig;
  env: NodeJS.ProcessEnv;
  provisioners?: ProvisionerRegistry;
  by: string;
  now?: number;
}

function recordsOf(store: Store): DiscoveryStore {
  if (!store.discovery) throw new DiscoverProblem('this store does not keep access discovery records; run npm run latch -- migrate');
  return store.discovery;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The readable report: one line per principal, riskiest first, with its reasons under it. */
export function reportTable(report: DiscoveryReport): string {
  const lines: string[] = [];
  for (const outcome of report.integrations) {
    lines.push(outcome.ok
      ? `${outcome.integration} (${outcome.type}): ${outcome.principals} principals${outcome.connector ? `, connector ${outcome.connector} not scored` : ''}${outcome.skipped.length ? `; not read: ${outcome.skipped.join('; ')}` : ''}`
      : `${outcome.integration} (${outcome.type}): NOT SCANNED: ${outcome.error ?? 'unknown error'}`);
  }
  lines.push('');
  const rows = report.principals.filter((principal) => principal.level !== null);
  const width = Math.min(48, Math.max(9, ...rows.map((row) => row.principal.length)));
  const integrationWidth = Math.max(11, ...rows.map((row) => row.integration.length));
  lines.push(`${pad('RISK', 5)} ${pad('LEVEL', 9)} ${pad('USAGE', 8)} ${pad('INTEGRATION', integrationWidth)} PRINCIPAL`);
  for (const row of rows) {
    lines.push(`${pad(String(row.score), 5)} ${pad(row.level ?? '-', 9)} ${pad(row.usage, 8)} ${pad(row.integration, integrationWidth)} ${row.principal}`);
    for (const reason of row.reasons) lines.push(`${' '.repeat(25 + integrationWidth)}- ${reason}`);
  }
  if (rows.length === 0) lines.push('(no principal holds standing privileges)');
  if (report.changes) {
    lines.push('', `Since the scan of ${new Date(report.previousScanAt ?? 0).toISOString()}: ${report.changes.length === 0 ? 'no change' : ''}`);
    for (const change of report.changes) lines.push(`  ${change.change}: ${change.integration} ${change.principal} (${change.previousScore ?? '-'} → ${change.change === 'gone' ? '-' : change.score})`);
  }
  lines.push('', `Dormant: not seen in use for ${formatDuration(report.dormantAfterMs)} (discovery.dormantAfter).`);
  return `${lines.join('\n')}\n`;
}

function proposalText(proposal: RemediationProposal): string {
  const lines = [`${proposal.principal} in ${proposal.integration} (risk ${proposal.score})`, '', 'Revoking would run:'];
  for (const change of proposal.changes) lines.push(`  ${change.revoke};${change.database ? `   -- in database ${change.database}` : ''}   -- ${change.privilege}`);
  if (proposal.changes.length === 0) lines.push('  (nothing Latch can revoke directly)');
  if (proposal.left.length > 0) lines.push('', 'Left for a person:', ...proposal.left.map((item) => `  ${item}`));
  lines.push('', 'The access flow that replaces it (add to the config):', '', proposal.flowSnippet);
  return `${lines.join('\n')}\n`;
}

export async function discoverReport(context: DiscoverContext, options: { only: string[]; json?: string }): Promise<number> {
  const records = recordsOf(context.store);
  let report: DiscoveryReport;
  try {
    report = await discover({
      config: context.config, env: context.env, now: context.now ?? Date.now(), store: records, only: options.only, recordScan: true,
      ...(context.provisioners ? { provisioners: context.provisioners } : {}),
    });
  } catch (error) {
    if (error instanceof DiscoveryInputError) throw new DiscoverProblem(error.message);
    throw error;
  }
  context.io.out(reportTable(report));
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    context.io.err(`report written to ${options.json}\n`);
  }
  return report.integrations.every((outcome) => outcome.ok) ? 0 : 1;
}

async function findPrincipal(context: DiscoverContext, integration: string, principal: string): Promise<ScoredPrincipal> {
  let report: DiscoveryReport;
  try {
    report = await discover({
      config: context.config, env: context.env, now: context.now ?? Date.now(), store: recordsOf(context.store), only: [integration],
      ...(context.provisioners ? { provisioners: context.provisioners } : {}),
    });
  } catch (error) {
    if (error instanceof DiscoveryInputError) throw new DiscoverProblem(error.message);
    throw error;
  }
  const failed = report.integrations.find((outcome) => !outcome.ok);
  if (failed) throw new DiscoverProblem(`integration "${integration}" could not be scanned: ${failed.error ?? 'unknown error'}`);
  const found = report.principals.find((candidate) => candidate.principal === principal);
  if (!found) {
    const near = report.principals.filter((candidate) => candidate.principal.toLowerCase().includes(principal.toLowerCase().slice(0, 4))).slice(0, 5).map((candidate) => candidate.principal);
    throw new DiscoverProblem(`integration "${integration}" has no standing principal ${JSON.stringify(principal.slice(0, 80))} (Latch's own principals are never remediated)${near.length ? `; did you mean ${near.join(', ')}?` : ''}`);
  }
  return found;
}

export async function discoverRemediate(context: DiscoverContext, options: { integration: string; principal: string; confirm: boolean }): Promise<number> {
  const principal = await findPrincipal(context, options.integration, options.principal);
  const proposal = proposeRemediation(context.config, principal);
  context.io.out(proposalText(proposal));
  if (!options.confirm) {
    context.io.out(proposal.changes.length > 0 ? 'Nothing was changed. Run again with --confirm to revoke.\n' : 'Nothing to revoke.\n');
    return 0;
  }
  const outcome = await remediate(proposal, { config: context.config, env: context.env, store: recordsOf(context.store), actor: context.by, now: context.now ?? Date.now() });
  if (!outcome.ok) throw new DiscoverProblem(outcome.message);
  context.io.out(`Revoked, recorded as ${outcome.record.id} (discovery.remediated, by ${context.by}). Undo until ${new Date(outcome.record.undoUntil).toISOString()} with: npm run latch -- discover undo ${outcome.record.id}\n`);
  return 0;
}

export async function discoverUndo(context: DiscoverContext, id: string): Promise<number> {
  const outcome = await undoRemediation(id, { config: context.config, env: context.env, store: recordsOf(context.store), actor: context.by, now: context.now ?? Date.now() });
  if (!outcome.ok) throw new DiscoverProblem(outcome.message);
  context.io.out(`Restored what ${outcome.record.id} removed from ${outcome.record.principal} in ${outcome.record.integration}:\n${outcome.record.changes.map((change) => `  ${change.restore};`).join('\n')}\nRecorded as discovery.undone by ${context.by}.\n`);
  return 0;
}
