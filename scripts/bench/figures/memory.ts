// Memory: RSS of the Latch process over a store holding many active grants, and how much it
// grows from the small store to the large one (it must not grow per grant). The grants are
// seeded into the store (SQLite or PostgreSQL) before Latch starts, written through the storage
// layer (storage/open-store.ts, Store.commit) as the grant job would leave them: an active
// request and grant, the audit events, and the revoke job at the expiry. Making 100,000
// grants through chat would measure the chat path again, not the memory.
import { newId, newRequestId } from '../../../core/ids.js';
import { openStore } from '../../../storage/open-store.js';
import type { Store } from '../../../storage/store.js';
import { revokeJob } from '../../../handlers/jobs.js';
import type { BenchBackends } from '../backends.js';
import type { Figure } from '../figure.js';
import { LatchUnderTest } from '../latch-under-test.js';
import type { BenchStore } from '../stores.js';
import type { SlackDouble } from '../../../test/support/slack-double.js';
import { sleep } from '../stats.js';

const MB = 1024 * 1024;

/** Adds active grants `from`..`to`-1 to the store, each expiring a day from now. */
async function seed(store: Store, backends: BenchBackends, from: number, to: number): Promise<void> {
  const now = Date.now();
  const expiresAt = now + 24 * 3_600_000;
  for (let n = from; n < to; n += 1) {
    const id = newRequestId();
    const email = `seed${n}@bench.example`;
    const principal = `${backends.instance}_seed${n}_${n.toString(36)}`;
    const item = { integration: 'pg', resource: 'fast', permission: 'read' };
    const committed = await store.commit({
      insertRequest: {
        request: {
          id, kind: 'access', parentId: null, flow: 'automatic', bundle: null, requester: email, grantee: email, reason: 'bench-seed',
          durationMs: expiresAt - now, state: 'active', version: 3, step: 0, createdAt: now, updatedAt: now, timeoutAt: null,
          decidedAt: now, decidedBy: 'latch', expiresAt, endedAt: null, endedBy: null, outcome: null, policy: null, context: null, startAt: null,
        },
        grants: [{ id: newId('gr'), requestId: id, ...item, state: 'active', principal, grantedAt: now, revokedAt: null, lastError: null }],
      },
      audit: [
        { type: 'request.created', requestId: id, actor: email, at: now, data: { flow: 'automatic', items: [item], durationMs: expiresAt - now } },
        { type: 'grant.granted', requestId: id, actor: 'latch', at: now, data: { ...item, principal, grantee: email, expiresAt } },
      ],
      enqueue: [revokeJob(id, expiresAt, 'expired', expiresAt)],
    });
    if (!committed.ok) throw new Error(`seeding grant ${n} failed: ${committed.conflict}`);
  }
}

/** RSS once the start-up work (migrations, reconcile, overdue jobs) is over: the median of samples a second apart. */
async function settledRss(latch: LatchUnderTest, seconds: number): Promise<number> {
  if (process.env.BENCH_MEMORY_TRACE === '1') {
    for (let second = 0; second < 5; second += 1) {
      process.stdout.write(`    RSS ${second} s after ready: ${(latch.rss() / MB).toFixed(1)} MB\n`);
      await sleep(1_000);
    }
  } else {
    await sleep(5_000);
  }
  const samples: number[] = [];
  for (let index = 0; index < seconds; index += 1) {
    samples.push(latch.rss());
    await sleep(1_000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

/** `store` is an empty store of its own (not the one the other phases filled), so both sizes are exact. */
export async function memoryWithActiveGrants(options: { configFile: string; store: BenchStore; backends: BenchBackends; slack: SlackDouble; small: number; large: number }): Promise<{ small: Figure; large: Figure; growth: Figure }> {
  const rssNow = async (): Promise<number> => {
    const latch = await LatchUnderTest.start({ configFile: options.configFile, databaseUrl: options.store.url, people: [], slack: options.slack });
    try {
      return await settledRss(latch, 5);
    } finally {
      await latch.stop();
    }
  };
  const store = await openStore(options.store.url);
  const seedStarted = performance.now();
  try {
    await seed(store, options.backends, 0, options.small);
  } finally {
    await store.close();
  }
  const small = await rssNow();
  const more = await openStore(options.store.url);
  try {
    await seed(more, options.backends, options.small, options.large);
  } finally {
    await more.close();
  }
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const large = await rssNow();
  const note = `grants seeded into the ${options.store.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} store through the storage layer before Latch started (${seedSeconds.toFixed(0)} s of seeding)`;
  const single = (key: string, name: string, value: number): Figure => ({ key, name, unit: 'MB', median: value, p99: value, count: 1, floor: null, ratio: null, note });
  return {
    small: single('memory.rss.small', `RSS with ${options.small.toLocaleString('en')} active grants`, small / MB),
    large: single('memory.rss.large', `RSS with ${options.large.toLocaleString('en')} active grants`, large / MB),
    growth: single('memory.rss.growth', `RSS growth ${options.small.toLocaleString('en')} → ${options.large.toLocaleString('en')} grants`, (large - small) / MB),
  };
}
