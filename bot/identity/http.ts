// The one HTTP call every identity-source client makes: JSON, a time limit, and 429 or 503
// answered by waiting as long as Retry-After says (bounded) before asking again. Any other
// failure throws, so a sync never mistakes a failed page for an empty one.

export class SourceError extends Error {}

export interface SourceResponse {
  status: number;
  body: unknown;
  headers: Headers;
}

const TIMEOUT_MS = 15_000;
const MAX_THROTTLED = 5;
/** Longer waits are the source telling Latch to come back at the next sync, not in this one. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After in seconds or as an HTTP date; a missing or unreadable value waits a second. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 1_000;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : 1_000;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body, or form fields (sent as application/x-www-form-urlencoded). */
  body?: unknown;
  form?: Record<string, string>;
  /** How long to sleep; tests shorten it. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `url`; the error names the source and what failed, never a token. */
export async function callSource(source: string, url: string, options: CallOptions = {}): Promise<SourceResponse> {
  const sleep = options.sleep ?? defaultSleep;
  for (let throttled = 0; ; throttled += 1) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: options.method ?? 'GET',
        headers: {
          Accept: 'application/json',
          ...options.headers,
          ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(options.form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.form ? { body: new URLSearchParams(options.form).toString() } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new SourceError(`${source} could not be reached: ${error instanceof Error ? error.message : String(error)}`);
    }
    const text = await response.text();
    if ((response.status === 429 || response.status === 503) && throttled < MAX_THROTTLED) {
      const wait = retryAfterMs(response.headers.get('retry-after'));
      if (wait <= MAX_RETRY_AFTER_MS) {
        await sleep(wait);
        continue;
      }
    }
    let body: unknown = null;
    try {
      body = text ? (JSON.parse(text) as unknown) : null;
    } catch {
      throw new SourceError(`${source} answered ${response.status} with a body that is not JSON (${url.replace(/\?.*$/, '')})`);
    }
    if (!response.ok) {
      const detail = JSON.stringify(body ?? text).slice(0, 300);
      throw new SourceError(`${source} answered ${response.status} for ${new URL(url).pathname}: ${detail}`);
    }
    return { status: response.status, body, headers: response.headers };
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
export const stringOf = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

/** The items of a page, which must be a list: a page without one is a broken answer, not an empty one. */
export function itemsOf(source: string, body: unknown, key: string): Record<string, unknown>[] {
  const list = isRecord(body) ? body[key] : body;
  if (!Array.isArray(list)) throw new SourceError(`${source} answered a page without "${key}"`);
  return list.filter(isRecord);
}
