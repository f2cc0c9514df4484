// What the request form offers a person, shared by the Slack modal and the Teams card.
import { formatDuration, parseDuration } from '../core/duration.js';
import { bundleOffered, flowsFor, itemKey, offeredItems, type RequestInput } from '../core/policy.js';
import { DEFAULT_REASON_PROMPT, reasonRule } from '../core/reason-rule.js';
import type { LatchContext } from '../handlers/context.js';
import { unavailableReason } from '../handlers/integration-status.js';

export interface RequestChoice {
  label: string;
  /** `item:integration/resource/permission` or `bundle:name`. */
  value: string;
}

export interface FormOptions {
  choices: RequestChoice[];
  /** Durations up to the longest any of the person's flows allows. */
  durations: string[];
  reasonRequired: boolean;
  /** The reason field's label: the flows' own prompt when they agree on one. */
  reasonPrompt: string;
  /** Integrations among the choices that are down now, with why: named in the form rather than failing after approval. */
  unavailable: string[];
}

const STANDARD_DURATIONS = ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '1d', '3d', '7d'];

export function durationChoices(maxMs: number, typedMs?: number): string[] {
  const within = STANDARD_DURATIONS.filter((text) => (parseDuration(text) ?? Infinity) <= maxMs);
  if (maxMs > 0 && !within.some((text) => parseDuration(text) === maxMs)) within.push(formatDuration(maxMs));
  // Keep what was typed (e.g. 90m) even when it is not one of the usual choices.
  if (typedMs !== undefined && typedMs <= maxMs && !within.some((text) => parseDuration(text) === typedMs)) within.push(formatDuration(typedMs));
  return within;
}

export function formOptions(ctx: LatchContext, email: string, typedMs?: number): FormOptions {
  const { config, directory } = ctx.current();
  const flows = flowsFor(config, email, directory);
  const choices = new Map<string, RequestChoice>();
  for (const flow of flows) {
    for (const item of offeredItems(config, flow)) {
      const value = `item:${item.integration}/${item.resource}/${item.permission}`;
      choices.set(value, { value, label: `${item.resource} · ${item.permission} (${item.integration})` });
    }
    for (const entry of flow.access) if ('bundle' in entry) choices.set(`bundle:${entry.bundle}`, { value: `bundle:${entry.bundle}`, label: `Bundle: ${entry.bundle}` });
  }
  const maxMs = Math.max(0, ...flows.map((flow) => flow.duration.max));
  const integrations = new Set([...choices.values()].flatMap((choice) => (choice.value.startsWith('item:') ? [choice.value.slice(5).split('/')[0] ?? ''] : [])));
  const unavailable = [...integrations].flatMap((name) => {
    const reason = unavailableReason(name, ctx.now());
    return reason === null ? [] : [`${name} is unavailable right now: ${reason}`];
  });
  return {
    unavailable,
    choices: [...choices.values()],
    durations: durationChoices(maxMs, typedMs),
    reasonRequired: flows.length > 0 && flows.every((flow) => reasonRule(flow).required),
    reasonPrompt: reasonPromptFor(flows.map((flow) => reasonRule(flow).prompt)),
  };
}

/** One form serves all of a person's flows: their prompt if they share one, the plain question otherwise. */
function reasonPromptFor(prompts: string[]): string {
  const distinct = new Set(prompts);
  return distinct.size === 1 ? (prompts[0] ?? DEFAULT_REASON_PROMPT) : DEFAULT_REASON_PROMPT;
}

/**
 * The reason field's label for a form opened on a choice (`/access request orders-prod read`):
 * the prompt of the flow that will take the request, as checkRequest picks it.
 */
export function reasonPromptForChoice(ctx: LatchContext, email: string, choice: string | undefined, fallback: string): string {
  if (!choice) return fallback;
  const { config, directory } = ctx.current();
  const flows = flowsFor(config, email, directory);
  const flow = choice.startsWith('bundle:')
    ? flows.find((candidate) => bundleOffered(candidate, choice.slice(7)))
    : flows.find((candidate) => offeredItems(config, candidate).some((item) => `item:${itemKey(item)}` === choice));
  return flow ? reasonRule(flow).prompt : fallback;
}

/** The choice matching what was typed (`orders-prod read`, `orders/orders-prod`, `bundle x`), if any. */
export function choiceFor(choices: RequestChoice[], typed: { resource?: string; permission?: string; bundle?: string }): string | undefined {
  if (typed.bundle) return choices.find((choice) => choice.value === `bundle:${typed.bundle ?? ''}`)?.value;
  if (!typed.resource) return undefined;
  return choices.find((choice) => {
    const [integration, resource, permission] = choice.value.replace(/^item:/, '').split('/');
    const named = typed.resource === resource || typed.resource === `${integration ?? ''}/${resource ?? ''}`;
    return choice.value.startsWith('item:') && named && (typed.permission === undefined || typed.permission === permission);
  })?.value;
}

/** A submitted form, as handler input. */
export function formInput(target: string, durationText: string | undefined, reason: string | undefined): RequestInput {
  const durationMs = durationText ? parseDuration(durationText) ?? undefined : undefined;
  const what: RequestInput = target.startsWith('bundle:')
    ? { bundle: target.slice(7) }
    : (() => {
      const [integration, resource, permission] = target.replace(/^item:/, '').split('/');
      return { resource: `${integration ?? ''}/${resource ?? ''}`, permission: permission ?? '' };
    })();
  return { ...what, ...(durationMs !== undefined ? { durationMs } : {}), ...(reason?.trim() ? { reason } : {}) };
}

/** Which form field a refusal belongs to, so the form shows it in place. */
export function fieldOf(reason: string): 'target' | 'duration' | 'reason' {
  if (reason === 'duration_over_max' || reason === 'duration_invalid') return 'duration';
  if (reason === 'justification_required' || reason === 'reason_too_long' || reason === 'reason_pattern') return 'reason';
  return 'target';
}
