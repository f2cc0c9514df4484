// Teams answers 429 when a bot sends too fast. A 429 means the message was not taken, so it
// is safe to send again after Retry-After; other failures may have gone through and are left
// to the outbox job, which knows what it already recorded as sent.

const MAX_ATTEMPTS = 4;

function retryAfterMs(error: unknown): number | null {
  const candidate = error as { statusCode?: number; status?: number; response?: { status?: number; headers?: { get?(name: string): string | null } | Record<string, string> } };
  const status = candidate.statusCode ?? candidate.status ?? candidate.response?.status;
  if (status !== 429) return null;
  const headers = candidate.response?.headers;
  const raw = headers && typeof (headers as { get?: unknown }).get === 'function'
    ? (headers as { get(name: string): string | null }).get('retry-after')
    : (headers as Record<string, string> | undefined)?.['retry-after'];
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 60) * 1000 : 1000;
}

export async function withTeamsRetry<T>(send: () => Promise<T>, sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms))): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send();
    } catch (error) {
      const wait = retryAfterMs(error);
      if (wait === null || attempt >= MAX_ATTEMPTS) throw error;
      await sleep(wait);
    }
  }
}
