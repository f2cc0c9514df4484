// Open-loop load: requests are sent on a fixed schedule whether or not earlier ones were
// answered, and each latency counts from the moment its request was due, not from when it
// could be sent. A closed loop (send the next when the last returns) would slow down with
// the server and hide exactly the queueing a steady load should show.
import { sleep } from './stats.js';

export interface LoadResult {
  /** Milliseconds from due time to answer, one per request. */
  latencies: number[];
  /** Answers that were not 200 (or failed), by status; 0 = no answer. */
  failures: Map<number, number>;
  /** Requests per second actually offered. */
  offeredRate: number;
}

/**
 * Sends `rate` requests per second for `seconds`. `send(index, dueAt)` issues request
 * `index` and resolves with its status and latency measured from `dueAt`.
 */
export async function openLoop(rate: number, seconds: number, send: (index: number, dueAt: number) => Promise<{ status: number; ms: number }>): Promise<LoadResult> {
  const total = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const failures = new Map<number, number>();
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let index = 0; index < total; index += 1) {
    const dueAt = started + index * interval;
    const wait = dueAt - performance.now();
    // setTimeout's granularity is ~1 ms; requests that fall due meanwhile go out together, each still timed from its due time.
    if (wait > 1) await sleep(wait);
    pending.push(send(index, dueAt).then(({ status, ms }) => {
      latencies.push(ms);
      if (status !== 200) failures.set(status, (failures.get(status) ?? 0) + 1);
    }, () => {
      latencies.push(performance.now() - dueAt);
      failures.set(0, (failures.get(0) ?? 0) + 1);
    }));
  }
  const offeredRate = total / ((performance.now() - started) / 1000 || 1);
  await Promise.all(pending);
  return { latencies, failures, offeredRate };
}

/** Runs `work(index)` for `count` indexes with at most `concurrency` at once. */
export async function inParallel(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await work(index);
    }
  }));
}
