// Runs a chat command or button for either platform and says what to answer, in words
// or as a screen to render. Adapters only render.
import { discoveryDetailView, discoveryListView, type DiscoveryDetailView, type DiscoveryListView } from '../cards/discovery.js';
import { requestView, type RequestView } from '../cards/request-view.js';
import { discoveryDetailForChat, discoveryForChat, remediateFromChat, undoFromChat } from '../handlers/discovery-chat.js';
import type { Actor } from '../core/types.js';
import { activateAccess } from '../handlers/activate.js';
import { cancelRequest } from '../handlers/cancel.js';
import { formatInstant, parseStartTime } from '../core/start-time.js';
import type { LatchContext } from '../handlers/context.js';
import { decide } from '../handlers/decide.js';
import { emergencyAccess } from '../handlers/emergency.js';
import { extendAccess } from '../handlers/extend.js';
import { listApprovals, listMine } from '../handlers/queries.js';
import { requestAccess } from '../handlers/request-access.js';
import { resetCredentials } from '../handlers/reset-credentials.js';
import { revokeAccess } from '../handlers/revoke.js';
import { helpText, type ChatCommand } from './commands.js';

export type CommandReply =
  /** `refused`: the person's action was not allowed or not possible; nothing changed. */
  | { kind: 'text'; text: string; refused?: true }
  /** Open the platform's request form, prefilled with what was typed. */
  | { kind: 'form'; prefill: Extract<ChatCommand, { kind: 'request' }> }
  | { kind: 'list'; views: RequestView[] }
  | { kind: 'approvals'; views: RequestView[] }
  /** Access the person already has or has asked for: say so, and offer to extend what is active. */
  | { kind: 'overlap'; text: string; extendable: string[] }
  /** Access discovery's top risks (admins), each with a button to open its detail. */
  | { kind: 'discovery'; view: DiscoveryListView }
  | { kind: 'discovery_detail'; view: DiscoveryDetailView }
  /** A repeated delivery: say nothing more. */
  | { kind: 'silent' };

const text = (value: string): CommandReply => ({ kind: 'text', text: value });
const refused = (value: string): CommandReply => ({ kind: 'text', text: value, refused: true });

/** Where a command was typed: an emergency grant is checked against, and announced in, its channel. */
export interface CommandPlace {
  platform: 'slack' | 'teams';
  /** The channel id; null in a direct message or the bot's own chat. */
  channel: string | null;
}

export async function runCommand(ctx: LatchContext, actor: Actor, command: ChatCommand, prefix: string, place?: CommandPlace): Promise<CommandReply> {
  const { config, directory } = ctx.current();
  const view = (record: Parameters<typeof requestView>[0]): RequestView => requestView(record, config, directory, ctx.now());
  switch (command.kind) {
    case 'help': return text(helpText(prefix));
    case 'invalid': return text(command.message);
    case 'request': {
      if (!((command.resource && command.permission) || command.bundle)) return { kind: 'form', prefill: command };
      const { start, ...typed } = command;
      let startAt: number | undefined;
      if (start !== undefined) {
        const parsed = parseStartTime(start, ctx.now(), config.settings.timeZone);
        if (parsed === null) return text(`"${start}" is not a start time; write it like 22:00 or 2026-12-24 22:00 (${config.settings.timeZone}), or 2026-12-24T22:00Z.\nUsage: \`${prefix}request [resource] [permission] [at START] [for DURATION] [because REASON]\``);
        startAt = parsed;
      }
      const result = await requestAccess(ctx, actor, { ...typed, ...(startAt !== undefined ? { startAt } : {}) });
      if (result.ok) return text(requestAnswer(result.record, result.autoApproved, config.settings.timeZone));
      if (result.reason === 'duplicate_delivery') return { kind: 'silent' };
      if (result.reason === 'justification_required') return { kind: 'form', prefill: command };
      if (result.reason === 'already_requested' && 'existing' in result) {
        return { kind: 'overlap', text: result.message, extendable: result.existing.filter((entry) => entry.state === 'active').map((entry) => entry.id) };
      }
      return text(`${result.message}\nUsage: \`${prefix}request [resource] [permission] [for DURATION] [because REASON]\``);
    }
    case 'list': return { kind: 'list', views: (await listMine(ctx, actor)).map(view) };
    case 'approvals': return { kind: 'approvals', views: (await listApprovals(ctx, actor)).map(view) };
    case 'extend': {
      const result = await extendAccess(ctx, actor, command.id, command.durationMs, command.reason);
      if (result.ok) return text(result.autoApproved ? `${command.id} was extended.` : `Extension ${result.extension.request.id} was sent for approval.`);
      return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : text(result.message);
    }
    case 'revoke': return runButton(ctx, actor, 'revoke', command.id, command.reason);
    case 'cancel': return runButton(ctx, actor, 'cancel', command.id);
    case 'credentials': {
      const result = await resetCredentials(ctx, actor, command.id);
      if (!result.ok) return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
      const skipped = result.unsupported.length > 0 ? ` ${result.unsupported.map((grant) => grant.integration).join(', ')} cannot issue new credentials; those stay as they were.` : '';
      return text(`New credentials for ${result.record.request.id} are in your direct messages; they replace the ones you had.${skipped}`);
    }
    case 'emergency': {
      const { kind: _kind, ...typed } = command;
      const channel = place?.channel ? { platform: place.platform, id: place.channel } : null;
      const result = await emergencyAccess(ctx, actor, { ...typed, channel });
      if (!result.ok) return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
      return text(emergencyAnswer(result.record.request, result.record.grants, config.settings.timeZone));
    }
    case 'discover': {
      const result = await discoveryForChat(ctx, actor, command.integration);
      if (!result.ok) return refused(result.reason === 'bad_input' ? `${result.message}\nUsage: \`${prefix}discover [INTEGRATION]\`` : result.message);
      return { kind: 'discovery', view: discoveryListView(result.report) };
    }
    case 'discover_undo': {
      const result = await undoFromChat(ctx, actor, command.id);
      if (!result.ok) return refused(result.message);
      return text(`Restored what ${result.record.id} removed from ${result.record.principal} in ${result.record.integration}; recorded as discovery.undone.`);
    }
    case 'audit': {
      if (!directory.isAdmin(actor.email)) return text('Only Latch admins can read the audit log.');
      const events = (await ctx.store.auditEvents({})).slice(-command.limit);
      const lines = events.map((event) => `#${event.seq} ${new Date(event.at).toISOString()} ${event.type} ${event.requestId ?? ''} by ${event.actor}`);
      return text(lines.length > 0 ? `\`\`\`${lines.join('\n').slice(0, 3800)}\`\`\`` : 'The audit log is empty.');
    }
  }
}

/** The Details button of `/access discover`: one principal, scanned anew. */
export async function runDiscoveryDetail(ctx: LatchContext, actor: Actor, integration: string, principal: string): Promise<CommandReply> {
  const result = await discoveryDetailForChat(ctx, actor, integration, principal);
  if (!result.ok) return refused(result.message);
  return { kind: 'discovery_detail', view: discoveryDetailView(result.principal, result.proposal) };
}

/** The confirmed Revoke button under a principal's detail. */
export async function runDiscoveryRemediate(ctx: LatchContext, actor: Actor, integration: string, principal: string): Promise<CommandReply> {
  const result = await remediateFromChat(ctx, actor, integration, principal);
  if (!result.ok) return refused(result.message);
  const until = new Date(result.record.undoUntil).toISOString();
  return text(`Revoked the standing access of ${result.record.principal} in ${result.record.integration} (${result.record.changes.length} change${result.record.changes.length === 1 ? '' : 's'}), recorded as ${result.record.id}. Undo until ${until}: discover undo ${result.record.id}`);
}

/**
 * Waits for the grant an approval or activation started at once (at most the runner's
 * holdForGrantMs): the answer to whoever clicked is an HTTP call of its own, and it goes out
 * once the grantee has the credentials instead of competing with the grant for the event loop.
 */
async function grantFirst(ctx: LatchContext, requestId: string): Promise<void> {
  await ctx.jobsAtOnce?.settled(requestId);
}

/** The buttons that change state without a form: approve, deny (with its reason), cancel, revoke, activate. */
export async function runButton(ctx: LatchContext, actor: Actor, verb: 'approve' | 'deny' | 'cancel' | 'revoke' | 'activate', requestId: string, comment?: string): Promise<CommandReply> {
  switch (verb) {
    case 'activate': {
      const result = await activateAccess(ctx, actor, requestId);
      if (result.ok) await grantFirst(ctx, result.record.request.id);
      if (result.ok) return text(`Activating ${result.record.request.id}: the access is being granted and its time starts now.`);
      return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
    }
    case 'approve':
    case 'deny': {
      const result = await decide(ctx, actor, requestId, verb, comment);
      if (result.ok) {
        const id = result.record.request.id;
        if (result.result === 'approved') await grantFirst(ctx, id);
        return text(result.result === 'denied' ? `You denied ${id}.` : result.result === 'approved' ? `You approved ${id}.` : `You approved ${id}; it now needs more approvals.`);
      }
      return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
    }
    case 'cancel': {
      const result = await cancelRequest(ctx, actor, requestId);
      if (result.ok) return text(`Cancelled ${result.record.request.id}.`);
      return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
    }
    case 'revoke': {
      const result = await revokeAccess(ctx, actor, requestId, comment);
      if (result.ok) return text(`Revoking ${result.record.request.id} now.`);
      return result.reason === 'duplicate_delivery' ? { kind: 'silent' } : refused(result.message);
    }
  }
}

/** What the requester is told right after asking: sent, approved automatically (and by which rule), or denied by a rule. */
export function requestAnswer(record: { request: { id: string; state: string; outcome: string | null; startAt: number | null; context: { automatic?: { rule: string } } | null } }, autoApproved: boolean, timeZone: string): string {
  const { request } = record;
  if (request.state === 'denied') return `${request.outcome ?? 'Denied automatically.'} Request ${request.id}; nothing was granted.`;
  const rule = request.context?.automatic?.rule;
  const starts = request.startAt !== null ? ` It starts at ${formatInstant(request.startAt, timeZone)}.` : '';
  if (autoApproved) {
    const waits = request.state === 'ready' && request.startAt === null ? ' Activate it when you need it; the time starts then.' : starts;
    return `Approved automatically${rule ? ` by rule "${rule}"` : ''}: ${request.id}.${waits} I'll message you as it moves.`;
  }
  return `Sent for approval: ${request.id}.${starts} I'll message you as it moves.`;
}

/** What the on-call engineer is told: granted (and until when), or why not yet. */
export function emergencyAnswer(request: { id: string; state: string; expiresAt: number | null; outcome: string | null }, grants: readonly { permission: string; integration: string; resource: string }[], timeZone: string): string {
  const what = grants.map((grant) => `${grant.permission} on ${grant.integration}/${grant.resource}`).join(', ');
  if (request.state === 'active' && request.expiresAt !== null) {
    return `Emergency access granted: ${what} until ${formatInstant(request.expiresAt, timeZone)} (${request.id}). Your credentials are in your direct messages. The grant is announced and will be reviewed.`;
  }
  if (request.state === 'failed') return `Emergency access ${request.id} could not be granted: ${request.outcome ?? 'the backend refused'}.`;
  return `Emergency access ${request.id} (${what}) is being granted; your credentials will arrive in your direct messages.`;
}
