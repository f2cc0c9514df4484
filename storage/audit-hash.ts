import { createHash } from 'node:crypto';
import type { AuditInput } from './store.js';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with keys sorted at every level, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, v]) => `${JSON.stringify(key)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Each event's hash covers its content and the previous event's hash: one edit breaks every later link. */
export function auditHash(prevHash: string, seq: number, event: AuditInput): string {
  const body = canonicalJson({ seq, at: event.at, type: event.type, requestId: event.requestId, actor: event.actor, data: event.data });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}
