// What a reason must look like in a flow, and the link its reference becomes. Pure.
import type { Flow } from '../config/schema.js';

export const MAX_REASON_LENGTH = 1000;
export const DEFAULT_REASON_PROMPT = 'Why do you need it?';
export const REFERENCE_PLACEHOLDER = '{{reference}}';

export interface ReasonRule {
  required: boolean;
  prompt: string;
  pattern: RegExp | null;
  patternError: string;
  link: string | null;
}

export function reasonRule(flow: Flow): ReasonRule {
  const rule = flow.reason ?? {};
  const pattern = rule.pattern ? new RegExp(rule.pattern) : null;
  return {
    required: rule.required ?? flow.justification === 'required',
    prompt: rule.prompt ?? DEFAULT_REASON_PROMPT,
    pattern,
    patternError: rule.patternError ?? `The reason must match ${rule.pattern ?? ''} in flow "${flow.name}".`,
    link: rule.link ?? null,
  };
}

export type ReasonCheck =
  | { ok: true; reason: string | null }
  | { ok: false; reason: 'justification_required' | 'reason_too_long' | 'reason_pattern'; message: string };

/** Checks what a person wrote as their reason against the flow's rule. */
export function checkReason(flow: Flow, text: string | undefined): ReasonCheck {
  const rule = reasonRule(flow);
  const reason = text?.trim() || null;
  if (rule.required && !reason) {
    return { ok: false, reason: 'justification_required', message: `Flow "${flow.name}" needs a reason: ${rule.prompt === DEFAULT_REASON_PROMPT ? 'say why you need this access' : rule.prompt.replace(/[?:.]+$/, '').toLowerCase()}.` };
  }
  if (reason && reason.length > MAX_REASON_LENGTH) return { ok: false, reason: 'reason_too_long', message: `The reason is too long (${reason.length} characters; at most ${MAX_REASON_LENGTH}).` };
  if (reason && rule.pattern && !rule.pattern.test(reason)) return { ok: false, reason: 'reason_pattern', message: rule.patternError };
  return { ok: true, reason };
}

/** The ticket or incident a reason names: what the flow's pattern matched, or its group named `ref` if it has one. */
export function reasonReference(flow: Flow, reason: string | null): string | null {
  const rule = reasonRule(flow);
  if (!reason || !rule.pattern) return null;
  const match = rule.pattern.exec(reason);
  if (!match) return null;
  return (match.groups?.ref ?? match[0]).trim() || null;
}

/** The link the reference becomes; the reference is URL-encoded, so a reason cannot change where it points. */
export function reasonLink(flow: Flow, reason: string | null): { reference: string; url: string } | null {
  const rule = reasonRule(flow);
  const reference = reasonReference(flow, reason);
  if (!rule.link || !reference) return null;
  // encodeURIComponent leaves !'()* alone; ( and ) would end a markdown link early.
  const encoded = encodeURIComponent(reference).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return { reference, url: rule.link.split(REFERENCE_PLACEHOLDER).join(encoded) };
}
