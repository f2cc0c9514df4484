// Throughput of the whole life cycle through the HTTP surface: `/access request` → Approve
// click → grant (credentials DM) → "Revoke now" click → the grant revoked in the store, with
// a fixed number of people going through it side by side. The floor: the same grant and
// revoke statements run directly, side by side as often.
import type { BenchBackends } from '../backends.js';
import { APPROVER, REQUESTS } from '../bench-config.js';
import type { Figure } from '../figure.js';
import { figureOf } from '../figure.js';
import { postgresBatchedRevokeFloor, postgresGrantFloor } from '../floors.js';
import type { LatchUnderTest } from '../latch-under-test.js';
import { inParallel } from '../load-generator.js';
import { waitUntil } from '../stats.js';

const TAG = 'bench-cycle';

async function oneCycle(latch: LatchUnderTest, requester: { slackId: string }): Promise<void> {
  const asked = await latch.command(requester.slackId, `${REQUESTS.postgresApproved} because ${TAG}`);
  const requestId = await latch.requestIdFrom(asked.responseUrl);
  const delivered = latch.credentialsDm(requester.slackId, requestId);
  await latch.click(APPROVER.slackId, 'latch.approve', requestId);
  await delivered;
  // The DM goes out before the grant is recorded; a Revoke click is for access that is active.
  const inState = (wanted: string) => async () => ((await latch.store().grantStateOf(requestId)) === wanted ? true : undefined);
  await waitUntil(`${requestId} to be active`, inState('active'), 180_000, 5);
  await latch.click(requester.slackId, 'latch.revoke', requestId);
  await waitUntil(`${requestId} to be revoked`, inState('revoked'), 180_000, 10);
}

export async function lifeCycleThroughput(latch: LatchUnderTest, backends: BenchBackends, requesters: readonly { slackId: string }[], concurrency: number): Promise<{ rate: Figure; cycle: Figure; perSecond: number }> {
  const cycles: number[] = [];
  const started = performance.now();
  await inParallel(requesters.length, concurrency, async (index) => {
    const at = performance.now();
    await oneCycle(latch, requesters[index] as { slackId: string });
    cycles.push(performance.now() - at);
  });
  const perSecond = requesters.length / ((performance.now() - started) / 1000);

  const floorCycles: number[] = [];
  const floorStarted = performance.now();
  await inParallel(requesters.length, concurrency, async (index) => {
    const at = performance.now();
    await postgresGrantFloor(backends, 200_000 + index);
    await postgresBatchedRevokeFloor(backends, [`${backends.instance}_floor_${200_000 + index}`], 1, 1);
    floorCycles.push(performance.now() - at);
  });
  const floorPerSecond = requesters.length / ((performance.now() - floorStarted) / 1000);

  const rate: Figure = {
    key: 'lifecycle.throughput', name: `life cycles per second (${concurrency} people at once)`, unit: 'per s',
    median: perSecond, p99: perSecond, count: requesters.length,
    floor: { median: floorPerSecond, p99: floorPerSecond }, ratio: floorPerSecond / perSecond,
    note: 'request → approve → grant → revoke through the HTTP surface; ratio = floor rate / Latch rate',
  };
  const cycle = figureOf('lifecycle.duration', 'one life cycle, end to end', 'ms', cycles, floorCycles, 'floor: grant statements + login + revoke statements direct');
  return { rate, cycle, perSecond };
}
