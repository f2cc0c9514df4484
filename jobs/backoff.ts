/**
 * Exponential backoff with jitter: attempt 1 waits about `baseMs`, each further attempt
 * doubles, up to `maxMs`. The random half keeps a fleet of failing jobs from retrying in step.
 */
export function backoffDelay(attempt: number, baseMs = 1_000, maxMs = 300_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
