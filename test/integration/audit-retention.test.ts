import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { createHarness, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';

let dir = '';
let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

describe('audit retention', () => {
  it('removes events older than the retention and anchors the rest of the chain on a prune record', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-audit-'));
    const store = new SqliteStore({ path: join(dir, 'latch.db') });
    store.migrate();
    const now = Date.UTC(2026, 10, 23);
    for (const [index, age] of [500, 450, 401, 300, 10].entries()) {
      await store.commit({ audit: [{ type: 'request.created', requestId: `AR-0000000${index}`, actor: 'alice@example.com', at: now - age * DAY, data: { index } }] });
    }
    const before = await store.auditEvents({});
    expect(await store.pruneAudit(now - 400 * DAY, now)).toBe(3);

    const after = await store.auditEvents({});
    expect(after.map((event) => event.seq)).toEqual([4, 5, 6]);
    // The first kept event still links to the last removed one, whose hash the prune record keeps.
    expect(after[0]?.prevHash).toBe(before[2]?.hash);
    expect(after[2]).toMatchObject({ type: 'audit.pruned', actor: 'latch', data: { throughSeq: 3, lastHash: before[2]?.hash, removed: 3 }, prevHash: before[4]?.hash });
    expect(await store.pruneAudit(now - 400 * DAY, now)).toBe(0);
    await store.close();
  });

  it('runs daily from the outbox with the configured retention', async () => {
    harness = await createHarness(orgConfig({ settings: '  auditRetention: 30d' }));
    const { pruneAuditJob } = await import('../../jobs/prune-audit.js');
    await harness.store.commit({ audit: [{ type: 'config.loaded', requestId: null, actor: 'latch', at: harness.ctx.now() - 31 * DAY, data: {} }], enqueue: [pruneAuditJob(harness.ctx.now())] });
    await harness.drain();
    expect((await harness.store.auditEvents({})).map((event) => event.type)).toEqual(['audit.pruned']);
    harness.advance(DAY);
    await harness.drain();
    expect((await harness.store.auditEvents({})).map((event) => event.type)).toEqual(['audit.pruned']);
  });
});
