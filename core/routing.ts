// Where a request's cards and updates go: the flow's `notify`, unless a routing rule in
// `settings.routing` matches the request first. Pure: the config in, a plan out.
import type { ChannelTarget, Flow, LatchConfig, NotifyRoute } from '../config/schema.js';
import type { AccessItem } from './types.js';

export interface NotifyPlan {
  /** Approval cards and reminders by DM to each approver of the current step. */
  approverDMs: boolean;
  /** Channels that get the request's card, and every change of it in the card's thread. */
  channels: ChannelTarget[];
  /** A request decided without a person posts nothing to the channels. */
  quietWhenAutomatic: boolean;
  /** The routing rule that decided, or null when the flow's own `notify` did. */
  rule: string | null;
}

function itemMatches(config: LatchConfig, route: NotifyRoute, item: AccessItem): boolean {
  const { when } = route;
  if (when.integrations && !when.integrations.includes(item.integration)) return false;
  if (when.resources && !when.resources.includes(item.resource)) return false;
  if (!when.labels && !when.levels) return true;
  const resource = config.integrations.find((candidate) => candidate.name === item.integration)?.resources.find((candidate) => candidate.name === item.resource);
  if (!resource) return false;
  if (when.labels && !when.labels.some((label) => resource.labels.includes(label))) return false;
  const level = resource.levels[item.permission];
  if (when.levels && (level === undefined || !when.levels.includes(level))) return false;
  return true;
}

/**
 * Whether a rule applies to a request of `flow` for `items`. Item conditions hold when any
 * one item meets all of them: a bundle with one production item is routed as production.
 */
export function routeMatches(config: LatchConfig, route: NotifyRoute, flow: string, items: readonly AccessItem[]): boolean {
  if (route.when.flows && !route.when.flows.includes(flow)) return false;
  const itemConditions = route.when.integrations || route.when.resources || route.when.labels || route.when.levels;
  if (!itemConditions) return true;
  return items.some((item) => itemMatches(config, route, item));
}

/** The first matching rule replaces the keys it sets; every other key stays the flow's. */
export function notifyPlan(config: LatchConfig, flow: Flow, items: readonly AccessItem[]): NotifyPlan {
  const own: NotifyPlan = { approverDMs: flow.notify.approverDMs, channels: flow.notify.channels, quietWhenAutomatic: flow.notify.quietWhenAutomatic ?? false, rule: null };
  const route = (config.settings.routing ?? []).find((candidate) => routeMatches(config, candidate, flow.name, items));
  if (!route) return own;
  return {
    approverDMs: route.approverDMs ?? own.approverDMs,
    channels: route.channels ?? own.channels,
    quietWhenAutomatic: route.quietWhenAutomatic ?? own.quietWhenAutomatic,
    rule: route.name,
  };
}
