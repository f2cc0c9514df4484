// When access may be extended, and by how much, under a flow's extension rules. Pure: the
// flow, the access and its extensions so far in, a verdict out, with a sentence for the person.
import type { Flow } from '../config/schema.js';
import { formatDuration } from './duration.js';
import type { AccessRequest, RequestRecord } from './types.js';

export type ExtensionRefusal = {
  ok: false;
  reason: 'not_extendable' | 'extension_step' | 'extension_limit' | 'extension_too_early' | 'duration_over_max' | 'duration_invalid';
  message: string;
};

/** What the access has used of its extension allowance. */
export interface ExtensionHistory {
  /** Approved extensions so far. */
  count: number;
  usedMs: number;
  /** When the access became active. */
  startedAt: number | null;
}

export function extensionHistory(parent: RequestRecord, approved: readonly AccessRequest[]): ExtensionHistory {
  const granted = parent.grants.map((grant) => grant.grantedAt).filter((at): at is number => at !== null);
  return {
    count: approved.length,
    usedMs: approved.reduce((sum, extension) => sum + extension.durationMs, 0),
    startedAt: granted.length > 0 ? Math.min(...granted) : null,
  };
}

const utc = (at: number): string => `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Refuses what the rules forbid for any duration right now: extensions off, too many, too early. */
export function extensionBlocked(flow: Flow, parent: AccessRequest, history: ExtensionHistory, now: number): ExtensionRefusal | null {
  const rules = flow.extensions;
  if (!rules.allowed) return { ok: false, reason: 'not_extendable', message: `Flow "${flow.name}" does not allow extensions; request the access again when it ends.` };
  if (rules.maxCount !== undefined && history.count >= rules.maxCount) {
    return { ok: false, reason: 'extension_limit', message: `${parent.id} has been extended ${history.count} time(s), the most flow "${flow.name}" allows. Request the access again when it ends.` };
  }
  if (rules.maxTotal !== undefined && rules.maxTotal - history.usedMs < (rules.step ?? 60_000)) {
    return { ok: false, reason: 'extension_limit', message: `${parent.id} has used ${formatDuration(history.usedMs)} of the ${formatDuration(rules.maxTotal)} of extensions flow "${flow.name}" allows. Request the access again when it ends.` };
  }
  if (rules.after !== undefined && history.startedAt !== null && parent.expiresAt !== null) {
    const from = history.startedAt + Math.ceil((parent.expiresAt - history.startedAt) * rules.after);
    if (now < from) {
      return { ok: false, reason: 'extension_too_early', message: `${parent.id} can be extended from ${utc(from)} on, once ${Math.round(rules.after * 100)}% of its time has passed (flow "${flow.name}").` };
    }
  }
  return null;
}

/** Checks one extension of `durationMs` against every rule of the flow. */
export function checkExtension(flow: Flow, parent: AccessRequest, history: ExtensionHistory, durationMs: number, now: number): ExtensionRefusal | null {
  const blocked = extensionBlocked(flow, parent, history, now);
  if (blocked) return blocked;
  const rules = flow.extensions;
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0) return { ok: false, reason: 'duration_invalid', message: 'Say how much longer you need, like 30m or 2h.' };
  if (rules.step !== undefined && durationMs !== rules.step) {
    return { ok: false, reason: 'extension_step', message: `Extensions in flow "${flow.name}" add exactly ${formatDuration(rules.step)}; ask for ${formatDuration(rules.step)}.` };
  }
  if (durationMs > flow.duration.max) return { ok: false, reason: 'duration_over_max', message: `${formatDuration(durationMs)} is more than flow "${flow.name}" allows at once: at most ${formatDuration(flow.duration.max)}.` };
  if (rules.maxTotal !== undefined && history.usedMs + durationMs > rules.maxTotal) {
    return { ok: false, reason: 'extension_limit', message: `Flow "${flow.name}" allows at most ${formatDuration(rules.maxTotal)} of extensions in all; ${parent.id} has used ${formatDuration(history.usedMs)}, so at most ${formatDuration(rules.maxTotal - history.usedMs)} more.` };
  }
  return null;
}

/** The durations an Extend button or form may offer now: the step, or what fits the rules. */
export function extensionDurations(flow: Flow, history: ExtensionHistory, standard: (maxMs: number) => string[], parse: (text: string) => number | null): string[] {
  const rules = flow.extensions;
  if (rules.step !== undefined) return [formatDuration(rules.step)];
  const room = rules.maxTotal !== undefined ? rules.maxTotal - history.usedMs : Infinity;
  return standard(Math.min(flow.duration.max, room)).filter((text) => (parse(text) ?? Infinity) <= room);
}

/** What one Extend click asks for: the step, or an hour, within the flow's maximum. */
export function defaultExtension(flow: Flow): number {
  return flow.extensions.step ?? Math.min(60 * 60_000, flow.duration.max);
}
