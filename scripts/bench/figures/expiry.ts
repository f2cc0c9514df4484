// Expiry → revoked lag, from the store: `revoked_at − expires_at` of every grant.
// - steady: grants with spread expiries, made through signed slash commands in a flow
//   without approval; the floor is one revoke's statements run directly;
// - mass: grants that all expire in the same second (a scheduled start `at T for D` gives
//   them one expiry instant), how long until the last is revoked, and the ack latency of
//   commands while that drains; the floor is the same revoke statements run directly,
//   batched, on as many roles made for it.
import type { BenchBackends } from '../backends.js';
import { REQUESTS } from '../bench-config.js';
import type { Figure } from '../figure.js';
import { figureOf } from '../figure.js';
import { makeFloorRoles, postgresBatchedRevokeFloor } from '../floors.js';
import { countByState, describeCounts, grantTimes, requestStates } from '../grants-in-store.js';
import { postSigned, type LatchUnderTest } from '../latch-under-test.js';
import { openLoop } from '../load-generator.js';
import { sleep, waitUntil } from '../stats.js';
import { slashCommandBody } from '../../../test/support/slack-signing.js';

const SPREAD_TAG = 'bench-spread';
const MASS_TAG = 'bench-mass';

/** Sends one signed `/access <text>` per requester at `rate`/s; says how many were not acknowledged with 200. */
async function submit(latch: LatchUnderTest, requesters: readonly { slackId: string }[], rate: number, text: (index: number) => string): Promise<void> {
  const result = await openLoop(rate, requesters.length / rate, (index, dueAt) => {
    const requester = requesters[index];
    if (!requester) return Promise.resolve({ status: 200, ms: 0 });
    return latch.command(requester.slackId, text(index), dueAt);
  });
  if (result.failures.size > 0) process.stdout.write(`  warning: requests not acknowledged with 200: ${[...result.failures].map(([status, n]) => `${n}×${status === 0 ? 'no answer' : status}`).join(', ')}\n`);
}

async function revokedLags(latch: LatchUnderTest, tag: string): Promise<number[]> {
  return (await grantTimes(latch, tag)).filter((grant) => grant.revokedAt !== null).map((grant) => (grant.revokedAt as number) - grant.expiresAt);
}

/** One revoke at a time, direct: what a lone expiry costs at least. */
async function singleRevokeFloor(backends: BenchBackends, count: number): Promise<number[]> {
  const roles = await makeFloorRoles(backends, 'single', count);
  return (await postgresBatchedRevokeFloor(backends, roles, 1, 1)).batchMs;
}

export async function steadyExpiry(latch: LatchUnderTest, backends: BenchBackends, requesters: readonly { slackId: string }[]): Promise<Figure> {
  const rate = 50;
  // Durations of 30–60 s, requests over N/50 s: expiries fall all through the run, one or a few at a time.
  await submit(latch, requesters, rate, (index) => `${REQUESTS.postgresAutomatic} for ${30 + (index % 31)}s because ${SPREAD_TAG}`);
  const total = requesters.length;
  await waitUntil(`${total} spread grants to be revoked`, async () => {
    const states = await countByState(latch, SPREAD_TAG);
    return [...states.values()].reduce((a, b) => a + b, 0) > 0 && !states.has('active') && !states.has('pending') ? true : undefined;
  }, 120_000 + (total / rate) * 1000, 500).catch(async (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (grants: ${describeCounts(await countByState(latch, SPREAD_TAG))})`);
  });
  const floor = await singleRevokeFloor(backends, 50);
  return figureOf('expiry.steady', `expiry → revoked lag, ${total} spread expiries`, 'ms', await revokedLags(latch, SPREAD_TAG), floor,
    'revoked_at − expires_at from the store; floor: one revoke\'s statements direct');
}

export interface MassResult {
  lag: Figure;
  ackDuringDrain: Figure;
}

export interface MassOptions {
  /** Grants Latch can make per second, to leave enough time between the scheduled start and the expiry. */
  grantsPerSecond: number;
  floorBatch: number;
  floorConnections: number;
  /** People who send `/access list` while the mass expiry drains. */
  senders: readonly string[];
  floorUrl: string;
}

export async function massExpiry(latch: LatchUnderTest, backends: BenchBackends, requesters: readonly { slackId: string }[], options: MassOptions): Promise<MassResult> {
  const total = requesters.length;
  const submitRate = 100;
  // The start leaves time to submit everything; the duration leaves time to grant everything with
  // half as much again to spare (at least 35 grants/s is assumed; fewer shows as a warning below).
  const startAt = Math.ceil((Date.now() + (total / submitRate) * 1000 * 1.5 + 15_000) / 1000) * 1000;
  const durationS = Math.ceil(20 + (1.5 * total) / Math.max(35, options.grantsPerSecond));
  const expiresAt = startAt + durationS * 1000;
  const at = new Date(startAt).toISOString().replace('.000Z', 'Z');
  process.stdout.write(`  mass expiry: ${total} grants start at ${at} for ${durationS}s, all expiring at ${new Date(expiresAt).toISOString()}\n`);
  await submit(latch, requesters, submitRate, () => `${REQUESTS.postgresAutomatic} at ${at} for ${durationS}s because ${MASS_TAG}`);

  await waitUntil(`the ${total} mass grants to be active`, async () => {
    const states = await requestStates(latch, MASS_TAG);
    if ((states.get('active') ?? 0) >= total) return true;
    return Date.now() >= expiresAt ? false : undefined;
  }, expiresAt - Date.now() + 5_000, 500);
  const activeAtExpiry = (await requestStates(latch, MASS_TAG)).get('active') ?? 0;
  if (activeAtExpiry < total) process.stdout.write(`  warning: only ${activeAtExpiry} of ${total} mass grants were active at their expiry\n`);

  await sleep(Math.max(0, expiresAt - Date.now()));
  // Commands keep coming while the revocations drain: ack latency is measured alongside.
  let draining = true;
  const eventsUrl = `${latch.process.base}/slack/events`;
  const body = (index: number): string => {
    const userId = options.senders[index % options.senders.length] as string;
    return slashCommandBody({ userId, text: 'list', triggerId: latch.slack.issueTrigger(userId), responseUrl: latch.slack.responseUrl() });
  };
  const ackLatencies: number[] = [];
  const ackLoad = (async () => {
    while (draining) {
      const result = await openLoop(50, 1, (index, dueAt) => postSigned(eventsUrl, body(index), dueAt));
      ackLatencies.push(...result.latencies);
    }
  })();
  // When the store shows the last one revoked: revoked_at is stamped when a revoke job starts
  // its backend work, so the moment the last commit is visible is the honest end of the drain.
  const drained = await waitUntil(`the ${total} mass grants to be revoked`, async () => {
    const states = await countByState(latch, MASS_TAG);
    return !states.has('active') && !states.has('pending') ? Date.now() : undefined;
  }, 300_000, 25).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  draining = false;
  await ackLoad;
  if (drained instanceof Error) throw new Error(`${drained.message} (grants: ${describeCounts(await countByState(latch, MASS_TAG))})`);

  const lags = await revokedLags(latch, MASS_TAG);
  const last = drained - expiresAt;
  const lastStamped = Math.max(...lags);
  const floorAck = await openLoop(50, Math.max(1, ackLatencies.length / 50), (index, dueAt) => postSigned(options.floorUrl, body(index), dueAt));
  const roles = await makeFloorRoles(backends, 'mass', total);
  const floor = await postgresBatchedRevokeFloor(backends, roles, options.floorBatch, options.floorConnections);
  const lag = figureOf('expiry.mass', `mass expiry: ${total} grants due in one second`, 'ms', lags, null,
    `all revoked in the store ${(last / 1000).toFixed(2)} s after the expiry (largest revoked_at − expires_at ${(lastStamped / 1000).toFixed(2)} s); ${activeAtExpiry} of ${total} were active at the expiry; floor: the revoke statements direct, ${options.floorBatch} roles a batch, ${options.floorConnections} connections: ${(floor.totalMs / 1000).toFixed(2)} s`);
  lag.floor = { median: floor.totalMs, p99: floor.totalMs };
  lag.last = last;
  lag.ratio = floor.totalMs > 0 ? last / floor.totalMs : null;
  const ackDuringDrain = figureOf('ack.command.during_mass_expiry', 'ack: slash command at 50/s while the mass expiry drains', 'ms', ackLatencies, floorAck.latencies);
  return { lag, ackDuringDrain };
}
