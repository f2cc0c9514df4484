// A runner holds the claims of the jobs it has claimed but not started yet (queued behind a
// busy lane) as it does those it runs: were their leases to lapse while they wait, another
// Latch would claim them, and both would run the same job.
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../jobs/runner.js';
import { jobHandlers } from '../../jobs/handlers.js';
import type { JobHandler } from '../../jobs/job-handler.js';
import { createHarness, eventually, type Harness } from '../support/harness.js';
import { STORE_DIALECTS } from '../support/test-store.js';

const config = `version: 1
settings: { admins: [sec@example.com] }
integrations: []
flows: []
`;

const LEASE_MS = 600;

describe.each(STORE_DIALECTS)('job leases (%s store)', (dialect) => {
  let harness: Harness | null = null;
  let runner: JobRunner | null = null;

  afterEach(async () => {
    await runner?.stop();
    runner = null;
    await harness?.close();
    harness = null;
  });

  it('renews the lease of a claimed job waiting in the queue, so no other runner takes it meanwhile', { timeout: 20_000 }, async () => {
    harness = await createHarness(config, { dialect });
    const h = harness;
    const ran: string[] = [];
    let finishFirst: () => void = () => undefined;
    const firstMayFinish = new Promise<void>((resolve) => {
      finishFirst = resolve;
    });
    const notify: JobHandler = async (job) => {
      const key = String(job.payload.name);
      ran.push(key);
      if (key === 'first') await firstMayFinish;
      return { status: 'done' };
    };
    const now = Date.now();
    await h.store.commit({ enqueue: [
      { kind: 'notify', requestId: null, runAt: now - 2, payload: { name: 'first' } },
      { kind: 'notify', requestId: null, runAt: now - 1, payload: { name: 'second' } },
    ] });

    // One lane: the second job is claimed with the first and waits behind it.
    runner = new JobRunner(h.ctx, { ...jobHandlers, notify }, { owner: 'holder', leaseMs: LEASE_MS, concurrency: 1, sweep: '0 0 1 1 *' });
    runner.start();
    await eventually(() => ran.length === 1, 'the first job to start');
    const other = h.openContext().store;
    expect(await other.claimJobs({ now: Date.now(), limit: 10, owner: 'intruder', leaseMs: LEASE_MS })).toEqual([]);

    // Three leases long, while the second job still waits in the queue.
    await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
    expect(ran).toEqual(['first']);
    expect(await other.claimJobs({ now: Date.now(), limit: 10, owner: 'intruder', leaseMs: LEASE_MS })).toEqual([]);

    finishFirst();
    await eventually(() => ran.length === 2, 'the second job to run');
    await runner.idle();
    expect(ran).toEqual(['first', 'second']);
    // Both settled as done: even long after every lease, nothing is left to claim.
    expect(await other.claimJobs({ now: Date.now() + 100 * LEASE_MS, limit: 10, owner: 'intruder', leaseMs: LEASE_MS })).toEqual([]);
  });
});
