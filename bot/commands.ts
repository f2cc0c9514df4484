// The words people type after `/access` in Slack or to the bot in Teams. Pure: text in,
// an intent or a sentence saying what was wrong (with the right usage) out.
import { parseDuration } from '../core/duration.js';
import { normalizeRequestId } from '../core/ids.js';

export const USAGE: Record<string, string> = {
  request: 'request [resource] [permission] [at START] [for DURATION] [because REASON]   e.g. request orders-prod read at 22:00 for 2h because CHG-7',
  list: 'list   your requests and active access',
  approvals: 'approvals   requests waiting for your decision',
  extend: 'extend ID DURATION [because REASON]   e.g. extend AR-7K3M9QX2 30m',
  revoke: 'revoke ID [because REASON]   give access back early',
  credentials: 'credentials ID   new credentials for your active access, by direct message',
  cancel: 'cancel ID   withdraw a request that is still pending',
  emergency: 'emergency RESOURCE [PERMISSION] [for DURATION] because REASON [incident ID]   break-glass access for people on call, granted at once and announced',
  audit: 'audit [COUNT]   recent audit events (admins)',
  discover: 'discover [INTEGRATION] | discover undo ID   standing access, riskiest first; undo a remediation (admins)',
  help: 'help   this list',
};

export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'request'; resource?: string; permission?: string; bundle?: string; durationMs?: number; reason?: string; start?: string }
  | { kind: 'list' }
  | { kind: 'approvals' }
  | { kind: 'extend'; id: string; durationMs: number; reason?: string }
  | { kind: 'revoke'; id: string; reason?: string }
  | { kind: 'cancel'; id: string }
  | { kind: 'credentials'; id: string }
  | { kind: 'emergency'; resource?: string; permission?: string; bundle?: string; durationMs?: number; reason?: string; incident?: string }
  | { kind: 'audit'; limit: number }
  | { kind: 'discover'; integration?: string }
  | { kind: 'discover_undo'; id: string }
  | { kind: 'invalid'; message: string };

export function helpText(prefix: string): string {
  return ['Latch understands:', ...Object.values(USAGE).map((line) => `• \`${prefix}${line.split('   ')[0] ?? line}\`  ${line.split('   ')[1] ?? ''}`.trimEnd())].join('\n');
}

function invalid(message: string, usage: keyof typeof USAGE, prefix: string): ChatCommand {
  return { kind: 'invalid', message: `${message}\nUsage: \`${prefix}${USAGE[usage]?.split('   ')[0] ?? ''}\`` };
}

/** Splits `because ...` (the free-text reason) off the end, keeping its words as typed. */
function splitReason(words: string[]): { words: string[]; reason?: string } {
  const at = words.findIndex((word) => word.toLowerCase() === 'because');
  if (at < 0) return { words };
  const reason = words.slice(at + 1).join(' ').trim();
  return { words: words.slice(0, at), ...(reason ? { reason } : {}) };
}

/**
 * `emergency RESOURCE [PERMISSION] [for DURATION] because REASON [incident ID]`: the
 * incident id, when given, is the last two words, so a reason may say anything before it.
 */
function parseEmergency(words: string[], prefix: string): ChatCommand {
  const { words: rest, reason: told } = splitReason(words);
  let reason = told;
  let incident: string | undefined;
  const tail = /^(.*?)\s*\bincident\s+([A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$/i.exec(reason ?? '');
  if (tail) {
    incident = tail[2];
    reason = tail[1]?.trim() || undefined;
  }
  if (!reason) return invalid('Say why after `because`: emergency access is announced and reviewed with its reason.', 'emergency', prefix);
  const forAt = rest.findIndex((word) => word.toLowerCase() === 'for');
  let durationMs: number | undefined;
  if (forAt >= 0) {
    const parsed = parseDuration(rest.slice(forAt + 1).join(''));
    if (parsed === null) return invalid(`"${rest.slice(forAt + 1).join(' ') || '(nothing)'}" is not a duration; write it like 30m or 1h.`, 'emergency', prefix);
    durationMs = parsed;
    rest.splice(forAt);
  }
  const extras = { ...(durationMs !== undefined ? { durationMs } : {}), reason, ...(incident ? { incident } : {}) };
  if (rest[0]?.toLowerCase() === 'bundle') {
    if (!rest[1] || rest.length > 2) return invalid('Name one bundle after `bundle`.', 'emergency', prefix);
    return { kind: 'emergency', bundle: rest[1], ...extras };
  }
  if (!rest[0]) return invalid('Say which resource you need.', 'emergency', prefix);
  if (rest.length > 2) return invalid(`Too many words before "for"/"because": ${rest.slice(2).join(' ')}.`, 'emergency', prefix);
  return { kind: 'emergency', resource: rest[0], ...(rest[1] ? { permission: rest[1].toLowerCase() } : {}), ...extras };
}

export function parseCommand(text: string, prefix = '/access '): ChatCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const verb = (words.shift() ?? 'help').toLowerCase();
  switch (verb) {
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'list':
    case 'approvals':
      if (words.length > 0) return invalid(`\`${verb}\` takes no arguments.`, verb, prefix);
      return { kind: verb };
    case 'request': {
      const { words: rest, reason } = splitReason(words);
      // `at START` (22:00, or 2026-12-24 22:00): read against the clock and zone by the runner.
      let start: string | undefined;
      const startAt = rest.findIndex((word) => word.toLowerCase() === 'at');
      if (startAt >= 0) {
        const end = rest.findIndex((word, index) => index > startAt && word.toLowerCase() === 'for');
        const taken = rest.slice(startAt + 1, end < 0 ? undefined : end);
        if (taken.length === 0) return invalid('Say when the access should start after `at`, like 22:00 or 2026-12-24 22:00.', 'request', prefix);
        start = taken.join(' ');
        rest.splice(startAt, taken.length + 1);
      }
      const forAt = rest.findIndex((word) => word.toLowerCase() === 'for');
      let durationMs: number | undefined;
      if (forAt >= 0) {
        const durationText = rest.slice(forAt + 1).join('');
        const parsed = parseDuration(durationText);
        if (parsed === null) return invalid(`"${rest.slice(forAt + 1).join(' ') || '(nothing)'}" is not a duration; write it like 30m, 2h or 1h30m.`, 'request', prefix);
        durationMs = parsed;
        rest.splice(forAt);
      }
      if (rest[0]?.toLowerCase() === 'bundle') {
        if (!rest[1] || rest.length > 2) return invalid('Name one bundle after `bundle`.', 'request', prefix);
        return { kind: 'request', bundle: rest[1], ...(durationMs !== undefined ? { durationMs } : {}), ...(reason ? { reason } : {}), ...(start ? { start } : {}) };
      }
      if (rest.length > 2) return invalid(`Too many words before "for"/"because": ${rest.slice(2).join(' ')}.`, 'request', prefix);
      return {
        kind: 'request',
        ...(rest[0] ? { resource: rest[0] } : {}),
        ...(rest[1] ? { permission: rest[1].toLowerCase() } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(reason ? { reason } : {}),
        ...(start ? { start } : {}),
      };
    }
    case 'extend': {
      const { words: rest, reason } = splitReason(words);
      const id = rest[0] ? normalizeRequestId(rest[0]) : null;
      if (!id) return invalid(rest[0] ? `"${rest[0]}" is not a request id; ids look like AR-7K3M9QX2.` : 'Say which access to extend.', 'extend', prefix);
      const durationText = rest.slice(1).filter((word) => word.toLowerCase() !== 'by' && word.toLowerCase() !== 'for').join('');
      const durationMs = parseDuration(durationText);
      if (durationMs === null) return invalid(durationText ? `"${durationText}" is not a duration; write it like 30m or 2h.` : 'Say how much longer you need.', 'extend', prefix);
      return { kind: 'extend', id, durationMs, ...(reason ? { reason } : {}) };
    }
    case 'revoke':
    case 'cancel': {
      const { words: rest, reason } = splitReason(words);
      const id = rest[0] ? normalizeRequestId(rest[0]) : null;
      if (!id) return invalid(rest[0] ? `"${rest[0]}" is not a request id; ids look like AR-7K3M9QX2.` : `Say which request to ${verb}.`, verb, prefix);
      if (rest.length > 1) return invalid(`Unexpected words after the id: ${rest.slice(1).join(' ')}.`, verb, prefix);
      return verb === 'revoke' ? { kind: 'revoke', id, ...(reason ? { reason } : {}) } : { kind: 'cancel', id };
    }
    case 'credentials': {
      const id = words[0] ? normalizeRequestId(words[0]) : null;
      if (!id) return invalid(words[0] ? `"${words[0]}" is not a request id; ids look like AR-7K3M9QX2.` : 'Say which access needs new credentials.', 'credentials', prefix);
      if (words.length > 1) return invalid(`Unexpected words after the id: ${words.slice(1).join(' ')}.`, 'credentials', prefix);
      return { kind: 'credentials', id };
    }
    case 'emergency': return parseEmergency(words, prefix);
    case 'discover':
      if (words[0]?.toLowerCase() === 'undo') {
        if (words.length !== 2 || !words[1]) return invalid('Name the remediation to undo, like DR-7K3M9QX2.', 'discover', prefix);
        return { kind: 'discover_undo', id: words[1] };
      }
      if (words.length > 1) return invalid('Name at most one integration.', 'discover', prefix);
      return words[0] ? { kind: 'discover', integration: words[0] } : { kind: 'discover' };
    case 'audit': {
      const limit = words[0] === undefined ? 20 : Number(words[0]);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100 || words.length > 1) return invalid('The count must be a whole number from 1 to 100.', 'audit', prefix);
      return { kind: 'audit', limit };
    }
    default:
      return { kind: 'invalid', message: `Unknown command "${verb}".\n${helpText(prefix)}` };
  }
}
