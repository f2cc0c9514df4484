// The HTTP call every on-call provider client makes, and the error it fails with.
export type { IncidentProvider, OnCallProvider } from '../../core/oncall.js';

/** The provider cannot answer (unreachable, refused, or an answer Latch cannot read). */
export class ProviderError extends Error {}

const TIMEOUT_MS = 5_000;

/** One JSON call with a time limit; any failure becomes a ProviderError that names the provider and what failed, never the token. */
export async function callJson(provider: string, url: string, init: { method?: string; headers: Record<string, string>; body?: unknown }): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { Accept: 'application/json', ...init.headers, ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    // Some HTTP stacks put the request, headers and all, in their error text: the credential never leaves here.
    const credential = init.headers.Authorization ?? '';
    const text = error instanceof Error ? error.message : String(error);
    throw new ProviderError(`${provider} could not be reached: ${credential ? text.split(credential).join('[redacted]') : text}`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) as unknown : null;
  } catch {
    body = null;
  }
  if (response.status === 404) return { status: 404, body };
  if (!response.ok) {
    const detail = typeof body === 'object' && body !== null ? JSON.stringify(body).slice(0, 200) : text.slice(0, 200);
    throw new ProviderError(`${provider} answered ${response.status}${detail ? `: ${detail}` : ''}`);
  }
  return { status: response.status, body };
}

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
