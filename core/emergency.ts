// Emergency (break-glass) policy: which emergency flow offers what was asked for, whether
// the person is among its requesters right now (on call, or in its groups), and whether
// the terms hold (where it is asked, for how long, why, how often). Pure: the config, the
// directory and the on-call answers in, a verdict with a sentence out.
import type { ChannelTarget, EmergencyFlow, LatchConfig, Principal } from '../config/schema.js';
import type { Directory } from './directory.js';
import { formatDuration } from './duration.js';
import type { OnCallAnswer } from './oncall.js';
import { itemKey, offeredItems, resolveItem, type Refusal } from './policy.js';
import { MAX_REASON_LENGTH } from './reason-rule.js';
import type { AccessItem, EmergencyContext } from './types.js';

export interface EmergencyAsk {
  resource?: string;
  permission?: string;
  bundle?: string;
  durationMs?: number;
  reason?: string;
  /** Where it is asked for; null in the bot's own chat or outside chat. */
  channel: { platform: 'slack' | 'teams'; id: string } | null;
}

export type EmergencyRefusal = Refusal<
  | 'no_emergency_flow' | 'unknown_resource' | 'unknown_permission' | 'ambiguous_resource' | 'unknown_bundle' | 'permission_needed' | 'nothing_requested'
  | 'not_on_call' | 'on_call_unknown' | 'wrong_channel' | 'duration_over_max' | 'duration_invalid' | 'reason_required' | 'reason_too_long' | 'daily_limit'
>;

export interface EmergencyTarget {
  ok: true;
  items: AccessItem[];
  bundle: string | null;
  /** The emergency flows that offer it, in config order. */
  flows: EmergencyFlow[];
}

export function principalText(principal: Principal): string {
  switch (principal.kind) {
    case 'user': return principal.email;
    case 'group': return `group:${principal.group}`;
    case 'oncall': return `oncall:${principal.schedule}`;
    default: return principal.kind;
  }
}

function describe(items: readonly AccessItem[], bundle: string | null): string {
  const first = items[0];
  return bundle ? `bundle "${bundle}"` : first ? `${first.permission} on ${first.integration}/${first.resource}` : 'that';
}

/** What was asked for, and which emergency flows offer it. */
export function emergencyTarget(config: LatchConfig, ask: EmergencyAsk): EmergencyTarget | EmergencyRefusal {
  if (config.emergency.length === 0) return { ok: false, reason: 'no_emergency_flow', message: 'No emergency access is set up in this Latch. Request access the usual way with `request`, or ask an admin.' };
  let items: AccessItem[];
  let bundle: string | null = null;
  if (ask.bundle) {
    const found = config.bundles.find((candidate) => candidate.name === ask.bundle);
    if (!found) return { ok: false, reason: 'unknown_bundle', message: `There is no bundle called "${ask.bundle}".` };
    items = found.items;
    bundle = found.name;
  } else if (ask.resource) {
    let permission = ask.permission;
    if (!permission) {
      // One permission offered for the resource in emergencies: that is the one meant.
      const offered = [...new Set(config.emergency.flatMap((flow) => offeredItems(config, flow)).filter((item) => item.resource === ask.resource || `${item.integration}/${item.resource}` === ask.resource).map((item) => item.permission))];
      if (offered.length !== 1) {
        return { ok: false, reason: 'permission_needed', message: offered.length === 0 ? `No emergency flow offers "${ask.resource}".` : `Say which permission you need on ${ask.resource}: ${offered.join(' or ')}.` };
      }
      permission = offered[0] as string;
    }
    const resolved = resolveItem(config, ask.resource, permission);
    if (!resolved.ok) return resolved as EmergencyRefusal;
    items = [resolved.item];
  } else {
    return { ok: false, reason: 'nothing_requested', message: 'Say what you need: a resource (and permission), then `because` and the reason.' };
  }
  const flows = config.emergency.filter((flow) => (bundle
    ? flow.access.some((entry) => 'bundle' in entry && entry.bundle === bundle)
    : items.every((item) => offeredItems(config, flow).some((offered) => itemKey(offered) === itemKey(item)))));
  if (flows.length === 0) return { ok: false, reason: 'no_emergency_flow', message: `No emergency flow offers ${describe(items, bundle)}. Request it the usual way with \`request\`.` };
  return { ok: true, items, bundle, flows };
}

/** The schedules an emergency flow's requesters name. */
export function schedulesOf(flow: EmergencyFlow): string[] {
  return flow.requesters.flatMap((principal) => (principal.kind === 'oncall' ? [principal.schedule] : []));
}

export interface EmergencyMatch {
  ok: true;
  flow: EmergencyFlow;
  matched: string;
  onCall: EmergencyContext['onCall'];
}

/**
 * The first flow (in config order) whose requesters include the person now: on call by
 * the answers given (fresh, or stale within its bound), or by group or name.
 */
export function emergencyRequester(flows: readonly EmergencyFlow[], directory: Directory, email: string, answers: ReadonlyMap<string, OnCallAnswer>, what: string): EmergencyMatch | EmergencyRefusal {
  // A leaver is refused even where an on-call provider or the flow still names them.
  const departed = directory.departed(email);
  if (departed) return { ok: false, reason: 'not_on_call', message: `Latch no longer grants you access: ${departed}. Ask an admin if that is wrong.` };
  for (const flow of flows) {
    for (const principal of flow.requesters) {
      if (principal.kind === 'oncall') {
        const answer = answers.get(principal.schedule);
        if (answer && (answer.state === 'fresh' || answer.state === 'stale') && answer.people.includes(email)) {
          return { ok: true, flow, matched: principalText(principal), onCall: { schedule: principal.schedule, state: answer.state, readAt: answer.readAt } };
        }
      } else if ((principal.kind === 'user' && principal.email === email) || (principal.kind === 'group' && directory.membersOf(principal.group).has(email))) {
        return { ok: true, flow, matched: principalText(principal), onCall: null };
      }
    }
  }
  const schedules = [...new Set(flows.flatMap(schedulesOf))];
  const groups = [...new Set(flows.flatMap((flow) => flow.requesters.filter((principal) => principal.kind === 'group').map(principalText)))];
  const unknown = schedules.map((schedule) => answers.get(schedule)).filter((answer): answer is OnCallAnswer => answer !== undefined && (answer.state === 'unavailable' || answer.state === 'unknown_schedule'));
  const fallback = ` Ask for it the usual way: \`request ${what} because ...\`.`;
  if (unknown.length > 0 && unknown.length === schedules.length && groups.length === 0) {
    const why = unknown.map((answer) => `"${answer.schedule}"${answer.source ? ` (${answer.source}: ${answer.error ?? 'no answer'})` : ''}`).join(', ');
    return { ok: false, reason: 'on_call_unknown', message: `Latch cannot tell who is on call for ${why} right now, so it cannot grant emergency access.${fallback}` };
  }
  const who = [...schedules.map((schedule) => `on call for "${schedule}"`), ...groups.map((group) => `in ${group}`)].join(' or ');
  return { ok: false, reason: 'not_on_call', message: `Emergency access to ${what} is for people ${who || 'named in its flow'}, and you are not right now.${fallback}` };
}

function channelLabel(target: ChannelTarget): string {
  return target.platform === 'slack' ? `<#${target.id}>` : `the Teams channel ${target.id}`;
}

/** Where, how long and why: the terms of the flow. Returns the duration to grant. */
export function emergencyTerms(flow: EmergencyFlow, ask: EmergencyAsk): { ok: true; durationMs: number; reason: string } | EmergencyRefusal {
  if (flow.invokeIn && !flow.invokeIn.some((target) => ask.channel !== null && target.platform === ask.channel.platform && target.id === ask.channel.id)) {
    return { ok: false, reason: 'wrong_channel', message: `Emergency access of "${flow.name}" can only be asked for in ${flow.invokeIn.map(channelLabel).join(' or ')}, where it is announced. Ask there.` };
  }
  const durationMs = ask.durationMs ?? flow.defaultDuration ?? flow.maxDuration;
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0) return { ok: false, reason: 'duration_invalid', message: 'The duration must be a positive length of time, like 30m or 1h.' };
  if (durationMs > flow.maxDuration) return { ok: false, reason: 'duration_over_max', message: `Emergency access lasts at most ${formatDuration(flow.maxDuration)}; ask for ${formatDuration(flow.maxDuration)} or less.` };
  const reason = ask.reason?.trim() ?? '';
  if (!reason) return { ok: false, reason: 'reason_required', message: 'Say why after `because`: emergency access is announced and reviewed with its reason.' };
  if (reason.length > MAX_REASON_LENGTH) return { ok: false, reason: 'reason_too_long', message: `The reason is too long (${reason.length} characters; at most ${MAX_REASON_LENGTH}).` };
  return { ok: true, durationMs, reason };
}

/** The daily limit: `used` is how many emergency grants of this flow the person had in the last 24 hours. */
export function withinDailyLimit(flow: EmergencyFlow, used: number): { ok: true } | EmergencyRefusal {
  if (used < flow.dailyLimit) return { ok: true };
  return { ok: false, reason: 'daily_limit', message: `You have had ${used} emergency grant(s) of "${flow.name}" in the last 24 hours, the most it allows. The admins were told; ask for access the usual way with \`request\`.` };
}

/** Whether `email` may end this emergency grant early as one of the flow's leads. */
export function isEmergencyLead(flow: EmergencyFlow | undefined, directory: Directory, email: string): boolean {
  if (directory.departed(email)) return false;
  return (flow?.leads ?? []).some((principal) => (principal.kind === 'user' && principal.email === email)
    || (principal.kind === 'group' && directory.membersOf(principal.group).has(email))
    || (principal.kind === 'oncall' && directory.onCall(principal.schedule).has(email)));
}

/** Where an emergency grant is announced: the channel it was asked in, the flow's channels and the security channels. */
export function emergencyChannels(config: LatchConfig, emergency: EmergencyContext): ChannelTarget[] {
  const flow = config.emergency.find((candidate) => candidate.name === emergency.flow);
  const all = [...(emergency.channel ? [emergency.channel] : []), ...(flow?.announceIn ?? []), ...(flow?.securityChannels ?? [])];
  return all.filter((target, index) => all.findIndex((other) => other.platform === target.platform && other.id === target.id) === index);
}

/** Who reviews an emergency grant afterwards: the flow's reviewers, else the admins; never the person who had it. */
export function emergencyReviewers(config: LatchConfig, directory: Directory, emergency: EmergencyContext, grantee: string): Set<string> {
  const flow = config.emergency.find((candidate) => candidate.name === emergency.flow);
  const reviewers = new Set<string>();
  for (const principal of flow?.reviewers ?? []) {
    if (principal.kind === 'user') reviewers.add(principal.email);
    if (principal.kind === 'group') directory.membersOf(principal.group).forEach((email) => reviewers.add(email));
    if (principal.kind === 'oncall') directory.onCall(principal.schedule).forEach((email) => reviewers.add(email));
  }
  if (reviewers.size === 0) directory.admins().forEach((email) => reviewers.add(email));
  reviewers.delete(grantee);
  return reviewers;
}

/** Whether a channel hears of this grant as one of its flow's security channels (it gets the security notice). */
export function isSecurityChannel(config: LatchConfig, emergency: EmergencyContext | undefined, platform: string, channelId: string): boolean {
  if (!emergency) return false;
  const flow = config.emergency.find((candidate) => candidate.name === emergency.flow);
  return (flow?.securityChannels ?? []).some((target) => target.platform === platform && target.id === channelId);
}
