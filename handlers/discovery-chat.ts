// `/access discover` in Slack and Teams: admins see the top standing-access risks and open
// one for its detail (privileges, the statements a remediation would run, the replacing
// flow); an admin's confirmed click revokes, and `discover undo ID` puts it back.
import type { Actor } from '../core/types.js';
import type { ScoredPrincipal } from '../core/discovery.js';
import type { LatchContext } from './context.js';
import { discover, DiscoveryInputError, type DiscoveryReport } from './discover.js';
import { proposeRemediation, remediate, undoRemediation, type RemediationOutcome, type RemediationProposal } from './discovery-remediation.js';

export type DiscoveryChatResult =
  | { ok: true; report: DiscoveryReport }
  | { ok: false; reason: 'not_admin' | 'bad_input'; message: string };

export type DiscoveryDetailResult =
  | { ok: true; principal: ScoredPrincipal; proposal: RemediationProposal }
  | { ok: false; reason: 'not_admin' | 'bad_input' | 'not_found'; message: string };

const NOT_ADMIN = 'Only Latch admins can see access discovery.';

// Backends read the same environment the provisioners were made with: the server's own.
const environment = (): NodeJS.ProcessEnv => process.env;

export async function discoveryForChat(ctx: LatchContext, actor: Actor, integration?: string): Promise<DiscoveryChatResult> {
  const { config, directory } = ctx.current();
  if (!directory.isAdmin(actor.email)) return { ok: false, reason: 'not_admin', message: NOT_ADMIN };
  try {
    const report = await discover({
      config, env: environment(), now: ctx.now(), provisioners: ctx.provisioners, only: integration ? [integration] : [],
      ...(ctx.store.discovery ? { store: ctx.store.discovery } : {}),
    });
    return { ok: true, report };
  } catch (error) {
    if (error instanceof DiscoveryInputError) return { ok: false, reason: 'bad_input', message: `${error.message[0]?.toUpperCase() ?? ''}${error.message.slice(1)}.` };
    throw error;
  }
}

/** One principal, found again by a fresh scan of its integration (a button's values are only a name, never trusted as facts). */
export async function discoveryDetailForChat(ctx: LatchContext, actor: Actor, integration: string, principal: string): Promise<DiscoveryDetailResult> {
  const scanned = await discoveryForChat(ctx, actor, integration);
  if (!scanned.ok) return scanned;
  const found = scanned.report.principals.find((candidate) => candidate.principal === principal);
  if (!found) return { ok: false, reason: 'not_found', message: `${principal.slice(0, 80)} no longer holds standing access in ${integration}.` };
  return { ok: true, principal: found, proposal: proposeRemediation(ctx.current().config, found) };
}

/** The confirmed Revoke button: the principal is scanned anew and what it holds now is what is revoked. */
export async function remediateFromChat(ctx: LatchContext, actor: Actor, integration: string, principal: string): Promise<RemediationOutcome | { ok: false; reason: 'not_admin' | 'bad_input' | 'not_found'; message: string }> {
  const detail = await discoveryDetailForChat(ctx, actor, integration, principal);
  if (!detail.ok) return detail;
  if (!ctx.store.discovery) return { ok: false, reason: 'not_found', message: 'This store keeps no remediation records, so Latch could not undo one; nothing was changed.' };
  return remediate(detail.proposal, { config: ctx.current().config, env: environment(), store: ctx.store.discovery, actor: actor.email, now: ctx.now() });
}

export async function undoFromChat(ctx: LatchContext, actor: Actor, id: string): Promise<RemediationOutcome | { ok: false; reason: 'not_admin'; message: string }> {
  const { config, directory } = ctx.current();
  if (!directory.isAdmin(actor.email)) return { ok: false, reason: 'not_admin', message: NOT_ADMIN };
  if (!ctx.store.discovery) return { ok: false, reason: 'not_found', message: 'This store keeps no remediation records.' };
  return undoRemediation(id, { config, env: environment(), store: ctx.store.discovery, actor: actor.email, now: ctx.now() });
}
