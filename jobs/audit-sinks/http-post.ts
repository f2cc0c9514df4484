import { describeFetchError, MAX_HTTP_ANSWER_BYTES, readLimited } from '../../provisioners/http.js';
import { SinkError } from './transport.js';

/** Where a request went, for messages: no query string (it might hold a key) and no credentials. */
export function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * One POST under one deadline; resolves with the answer for a 2xx status, throws a
 * SinkError for anything else. Redirects are not followed: a signed event goes only where
 * the config says.
 */
export async function postWithin(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<string> {
  if (url.startsWith('https:') && process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new SinkError('NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate verification in this process; Latch sends no audit events without it');
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: controller.signal });
    // Bounded: a receiver that answers with megabytes must not cost Latch the memory.
    const text = await readLimited(response, MAX_HTTP_ANSWER_BYTES);
    if (response.status < 200 || response.status > 299) throw new SinkError(`${endpointOf(url)} answered HTTP ${response.status}`);
    if (text === null) throw new SinkError(`${endpointOf(url)} answered HTTP ${response.status} with more than ${MAX_HTTP_ANSWER_BYTES} bytes`);
    return text;
  } catch (error) {
    if (error instanceof SinkError) throw error;
    if (controller.signal.aborted) throw new SinkError(`${endpointOf(url)} did not answer within ${timeoutMs} ms`);
    throw new SinkError(`cannot reach ${endpointOf(url)}: ${describeFetchError(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
