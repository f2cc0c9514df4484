// Automatic decisions as rules: ordered conditions on who asks, for what, for how long and
// when; a request they match is approved or denied at once, by the rule's name. Pure.
import type { AutoDecision, LatchConfig, TimeWindow } from '../config/schema.js';
import { WEEKDAYS } from '../config/schema.js';
import type { Directory } from './directory.js';
import { findResource } from './policy.js';
import type { AccessItem } from './types.js';

export interface DecisionSubject {
  flow: string;
  requester: string;
  items: readonly AccessItem[];
  durationMs: number;
}

export interface AutomaticDecision {
  verdict: 'approve' | 'deny';
  rule: string;
  reason: string | null;
}

function principalMatches(rule: AutoDecision, email: string, directory: Directory): boolean {
  const wanted = rule.when.requesters;
  if (!wanted) return true;
  return wanted.some((principal) => {
    switch (principal.kind) {
      case 'user': return principal.email === email;
      case 'group': return directory.membersOf(principal.group).has(email);
      case 'oncall': return directory.onCall(principal.schedule).has(email);
      default: return false;
    }
  });
}

function itemMatches(config: LatchConfig, rule: AutoDecision, item: AccessItem): boolean {
  const { when } = rule;
  if (when.integrations && !when.integrations.includes(item.integration)) return false;
  if (when.resources && !when.resources.includes(item.resource)) return false;
  if (when.permissions && !when.permissions.includes(item.permission)) return false;
  if (when.labels) {
    const labels = findResource(config, item.integration, item.resource)?.resource.labels ?? [];
    if (!when.labels.some((label) => labels.includes(label))) return false;
  }
  return true;
}

/** The weekday and minute of the day at `at` in the window's time zone. */
function localTime(at: number, timeZone: string): { day: (typeof WEEKDAYS)[number]; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(at));
  const part = (type: string): string => parts.find((entry) => entry.type === type)?.value ?? '';
  const day = part('weekday').slice(0, 3).toLowerCase() as (typeof WEEKDAYS)[number];
  return { day, minute: Number(part('hour')) * 60 + Number(part('minute')) };
}

const minutes = (clock: string): number => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** Inside the window; a window whose end is before its start runs past midnight (22:00-06:00). */
export function insideWindow(window: TimeWindow, at: number): boolean {
  const { day, minute } = localTime(at, window.timeZone);
  const from = minutes(window.from);
  const to = minutes(window.to);
  if (from <= to) return window.days.includes(day) && minute >= from && minute < to;
  // Past midnight the time belongs to the day the window opened.
  const previous = WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] ?? day;
  return (window.days.includes(day) && minute >= from) || (window.days.includes(previous) && minute < to);
}

export function ruleMatches(config: LatchConfig, directory: Directory, rule: AutoDecision, subject: DecisionSubject, now: number): boolean {
  const { when } = rule;
  if (when.flows && !when.flows.includes(subject.flow)) return false;
  if (!principalMatches(rule, subject.requester, directory)) return false;
  if (when.maxDuration !== undefined && subject.durationMs > when.maxDuration) return false;
  if (when.window && !insideWindow(when.window, now)) return false;
  return subject.items.every((item) => itemMatches(config, rule, item));
}

/** The first matching deny, else the first matching approve, else null (people decide). */
export function automaticDecision(config: LatchConfig, directory: Directory, subject: DecisionSubject, now: number): AutomaticDecision | null {
  const matching = config.autoDecisions.filter((rule) => ruleMatches(config, directory, rule, subject, now));
  const rule = matching.find((candidate) => candidate.decision === 'deny') ?? matching[0];
  return rule ? { verdict: rule.decision, rule: rule.name, reason: rule.reason ?? null } : null;
}
