// Remediating a standing principal: propose the access flow that would replace it (as a
// config snippet), and only on an admin's confirmation take the standing privileges away
// in the real backend, recorded in the audit log with every statement run and the one that
// undoes it; `undo` puts them back until the grace period (discovery.undoWithin) ends.
import { stringify } from 'yaml';
import type { Integration, LatchConfig, Owner, Principal } from '../config/schema.js';
import type { ScoredPrincipal } from '../core/discovery.js';
import { randomToken } from '../core/ids.js';
import type { Instant } from '../core/types.js';
import { applyMysqlChanges, planMysqlRemediation } from '../provisioners/discovery/mysql-remediate.js';
import { applyPostgresChanges, planPostgresRemediation } from '../provisioners/discovery/postgres-remediate.js';
import type { DiscoveryStore, RemediationChange, RemediationRecord } from '../storage/discovery-store.js';

export interface RemediationProposal {
  integration: string;
  principal: string;
  score: number;
  /** The statements a confirmation runs, with their undo. Empty: nothing Latch can take away here. */
  changes: RemediationChange[];
  /** What stays and needs a person (ownership, an IAM policy). */
  left: string[];
  /** The resource and access flow to add to the config, so the access is requested when needed. */
  flowSnippet: string;
}

export type RemediationOutcome =
  | { ok: true; record: RemediationRecord }
  | { ok: false; reason: 'not_found' | 'nothing_to_revoke' | 'unsupported' | 'already_undone' | 'grace_period_over' | 'backend_failed'; message: string };

function principalText(principal: Principal | Owner): string {
  switch (principal.kind) {
    case 'user': return principal.email;
    case 'group': return `group:${principal.group}`;
    case 'oncall': return `oncall:${principal.schedule}`;
    default: return principal.kind;
  }
}

/** A config name from a backend name: lower-case letters, digits and "-". */
function configName(text: string): string {
  return text.toLowerCase().replace(/@.*$/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'principal';
}

/** The config resource and permission whose group roles are the ones the principal holds, if any. */
function existingResource(integration: Integration, roles: readonly string[]): { resource: string; permission: string } | null {
  for (const resource of integration.resources) {
    for (const [permission, settings] of Object.entries(resource.permissions)) {
      const named = Array.isArray(settings.roles) ? settings.roles.map(String) : [];
      if (named.length > 0 && named.every((role) => roles.includes(role))) return { resource: resource.name, permission };
    }
  }
  return null;
}

function flowSnippet(config: LatchConfig, integration: Integration, principal: ScoredPrincipal): string {
  const approvers = (config.discovery.approvers ?? config.settings.admins).map(principalText);
  const memberships = principal.privileges.filter((p) => p.kind === 'membership' && p.via.length === 0).map((p) => p.target?.role ?? p.name);
  const level = principal.level === 'identity' || principal.level === null ? 'admin' : principal.level;
  const found = existingResource(integration, memberships);
  const resource = found?.resource ?? `${configName(principal.principal)}-standing`;
  const permission = found?.permission ?? level;
  let settings: Record<string, unknown>;
  if (integration.type === 'mysql') {
    const grants = principal.privileges.filter((p) => p.via.length === 0 && (p.kind === 'schema' || p.kind === 'object' || p.kind === 'global'));
    const byLevel = new Map<string, string[]>();
    for (const grant of grants) byLevel.set(grant.on ?? '*.*', [...(byLevel.get(grant.on ?? '*.*') ?? []), grant.name]);
    settings = memberships.length > 0 ? { roles: memberships } : { grants: [...byLevel].map(([on, privileges]) => ({ privileges, on })) };
  } else {
    settings = { roles: memberships.length > 0 ? memberships : [`${configName(principal.principal).replace(/-/g, '_')}_jit`] };
  }
  const snippet: Record<string, unknown> = {
    ...(found ? {} : { integrations: [{ name: integration.name, resources: [{ name: resource, labels: integration.labels, permissions: { [permission]: { level, ...settings } } }] }] }),
    flows: [{
      name: `${configName(principal.principal)}-jit`,
      description: `Replaces the standing access of ${principal.principal} (risk ${principal.score}: ${principal.reasons[0] ?? ''})`,
      requesters: ['group:CHANGE-ME'],
      access: [{ integration: integration.name, resources: { names: [resource] }, permissions: [permission] }],
      approval: { steps: [{ approvers: approvers.length > 0 ? approvers : ['integration_owner'] }] },
      duration: { default: '1h', max: level === 'read' ? '8h' : '4h' },
    }],
  };
  const notes = [
    `# Access flow replacing the standing access of ${principal.principal} in ${integration.name}.`,
    ...(found ? [`# Uses the existing resource ${resource}, permission ${permission}.`] : [`# Add the resource under integration ${integration.name}'s resources.`]),
    ...(integration.type !== 'mysql' && memberships.length === 0 ? [`# Create the group role ${String((settings.roles as string[])[0])} holding what ${principal.principal} held directly, then grant it to Latch's connector WITH ADMIN OPTION.`] : []),
    '# requesters: name who used this access (a group), instead of group:CHANGE-ME.',
  ];
  return `${notes.join('\n')}\n${stringify(snippet)}`;
}

export function proposeRemediation(config: LatchConfig, principal: ScoredPrincipal): RemediationProposal {
  const integration = config.integrations.find((candidate) => candidate.name === principal.integration);
  if (!integration) throw new Error(`integration ${principal.integration} of a scanned principal is not in the config`);
  let plan: { changes: RemediationChange[]; left: string[] };
  if (principal.backend === 'postgresql') plan = planPostgresRemediation(principal.principal, principal.privileges);
  else if (principal.backend === 'mysql') plan = planMysqlRemediation(principal.privileges);
  else plan = { changes: [], left: principal.privileges.filter((p) => p.via.length > 0).map((p) => `${p.name} through policy ${p.via.join(', ')} (detach or narrow the policy in IAM)`) };
  return { integration: integration.name, principal: principal.principal, score: principal.score, changes: plan.changes, left: plan.left, flowSnippet: flowSnippet(config, integration, principal) };
}

async function apply(integration: Integration, env: NodeJS.ProcessEnv, changes: readonly RemediationChange[], side: 'revoke' | 'restore'): Promise<void> {
  if (integration.type === 'postgresql') await applyPostgresChanges(integration, env, changes, side);
  else if (integration.type === 'mysql') await applyMysqlChanges(integration, env, changes, side);
  else throw new Error(`integration "${integration.name}" (${integration.type}) has no remediation`);
}

export interface RemediateOptions {
  config: LatchConfig;
  env: NodeJS.ProcessEnv;
  store: DiscoveryStore;
  actor: string;
  now: Instant;
}

/** Takes the proposal's standing privileges away and records it; the caller has the admin's confirmation. */
export async function remediate(proposal: RemediationProposal, options: RemediateOptions): Promise<RemediationOutcome> {
  const integration = options.config.integrations.find((candidate) => candidate.name === proposal.integration);
  if (!integration) return { ok: false, reason: 'not_found', message: `there is no integration "${proposal.integration}" in the config` };
  if (integration.type !== 'postgresql' && integration.type !== 'mysql') {
    return { ok: false, reason: 'unsupported', message: `Latch does not revoke in ${integration.type} integrations; ${proposal.left.join('; ') || 'change the policies in the backend'}` };
  }
  if (proposal.changes.length === 0) return { ok: false, reason: 'nothing_to_revoke', message: `${proposal.principal} holds nothing Latch can revoke directly${proposal.left.length ? `; left for a person: ${proposal.left.join('; ')}` : ''}` };
  try {
    await apply(integration, options.env, proposal.changes, 'revoke');
  } catch (error) {
    return { ok: false, reason: 'backend_failed', message: `nothing was changed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const record: RemediationRecord = {
    id: `DR-${randomToken(8)}`, integration: integration.name, principal: proposal.principal, changes: proposal.changes, actor: options.actor,
    createdAt: options.now, undoUntil: options.now + options.config.discovery.undoWithin, undoneAt: null, undoneBy: null,
  };
  await options.store.recordRemediation(record, [{
    type: 'discovery.remediated', requestId: null, actor: options.actor, at: options.now,
    data: { remediation: record.id, integration: record.integration, principal: record.principal, score: proposal.score, changes: record.changes, left: proposal.left, undoUntil: record.undoUntil },
  }]);
  return { ok: true, record };
}

/** Puts back what a remediation removed, while its grace period lasts. */
export async function undoRemediation(id: string, options: RemediateOptions): Promise<RemediationOutcome> {
  const normalized = id.trim().toUpperCase();
  const record = /^DR-[0-9A-Z]{8}$/.test(normalized) ? await options.store.remediation(normalized) : null;
  if (!record) return { ok: false, reason: 'not_found', message: `there is no remediation ${JSON.stringify(id.slice(0, 40))}; the id looks like DR-7K3M9QX2 (latch discover prints it)` };
  if (record.undoneAt !== null) return { ok: false, reason: 'already_undone', message: `${record.id} was already undone by ${record.undoneBy ?? 'someone'} at ${new Date(record.undoneAt).toISOString()}` };
  if (options.now > record.undoUntil) return { ok: false, reason: 'grace_period_over', message: `${record.id} can no longer be undone: its grace period ended at ${new Date(record.undoUntil).toISOString()}; grant the access again by hand if it is needed` };
  const integration = options.config.integrations.find((candidate) => candidate.name === record.integration);
  if (!integration) return { ok: false, reason: 'not_found', message: `${record.id} was made in integration "${record.integration}", which is no longer in the config` };
  try {
    await apply(integration, options.env, [...record.changes].reverse(), 'restore');
  } catch (error) {
    return { ok: false, reason: 'backend_failed', message: `nothing was restored: ${error instanceof Error ? error.message : String(error)}` };
  }
  const marked = await options.store.markUndone(record.id, options.actor, options.now, [{
    type: 'discovery.undone', requestId: null, actor: options.actor, at: options.now,
    data: { remediation: record.id, integration: record.integration, principal: record.principal, restored: record.changes.map((change) => ({ privilege: change.privilege, statement: change.restore, ...(change.database ? { database: change.database } : {}) })) },
  }]);
  if (!marked) return { ok: false, reason: 'already_undone', message: `${record.id} was undone by someone else at the same time` };
  return { ok: true, record: { ...record, undoneAt: options.now, undoneBy: options.actor } };
}
